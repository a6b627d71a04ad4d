#!/usr/bin/env bash
# Hashing workers for the local network (scripts/local-testnet.sh) or a dev node.
# Run `scripts/local-workers.sh --help` for usage.
set -euo pipefail
SCRIPT_NAME=local-workers
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

WORKER_BIN="${WORKER_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/appchain-target}/release/appchain-worker}"
WORKERS_DIR="${APPCHAIN_WORKERS_DIR:-$REPO_ROOT/.local/workers}"
NODE_URL="${NODE_URL:-ws://127.0.0.1:9944}"
COLLATERAL="${COLLATERAL:-100}"
THREADS="${THREADS:-1}"
# Funded dev accounts that are not validators of the local network.
DEFAULT_WORKERS=(eve ferdie)

usage() {
  cat <<EOF
Usage: $(basename "$0") <command> [name...]

Hashing workers on $NODE_URL, each with its dev account (//Eve, //Ferdie, ...).

Commands:
  start [name...]  Register each worker's hashing node if it has none ($COLLATERAL CPU
                   collateral, hash rate measured on $THREADS thread(s)) and start
                   'appchain-worker run' in the background. Default: ${DEFAULT_WORKERS[*]}.
  stop [name...]   Stop workers (SIGTERM: a clean stop, nothing is lost).
  status           Each worker's process and 'appchain-worker status'.
  help, --help     Show this help.

Post work for them with, for example:
  APPCHAIN_SURI=//Alice $WORKER_BIN job post --text hello --zeros 24 --end 200000000 --budget 100 --watch

Environment:
  WORKER_BIN            worker binary (now: $WORKER_BIN)
  NODE_URL              node RPC (now: $NODE_URL)
  APPCHAIN_WORKERS_DIR  data directory (now: $WORKERS_DIR); worker <name> keeps its
                        journal in <dir>/<name>, logs to <dir>/<name>.log
  COLLATERAL, THREADS   as above
EOF
}

require_worker_bin() {
  [[ -x "$WORKER_BIN" ]] || die "worker binary not found: $WORKER_BIN
  build it with:  cargo build --release --manifest-path worker/Cargo.toml -p appchain-worker"
}

suri() { printf '//%s' "${1^}"; }

pid_of() {
  local f="$WORKERS_DIR/$1.pid"
  [[ -f "$f" ]] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"
}

cmd_start() {
  require_worker_bin
  local names=("$@")
  ((${#names[@]})) || names=("${DEFAULT_WORKERS[@]}")
  mkdir -p "$WORKERS_DIR"
  local name
  for name in "${names[@]}"; do
    if pid_of "$name" >/dev/null; then log "$name is already running"; continue; fi
    log "$name: registering (if needed)"
    APPCHAIN_SURI="$(suri "$name")" "$WORKER_BIN" --url "$NODE_URL" --base-path "$WORKERS_DIR/$name" \
      register --collateral "$COLLATERAL" --threads "$THREADS" || die "$name: register failed"
    APPCHAIN_SURI="$(suri "$name")" nohup "$WORKER_BIN" --url "$NODE_URL" --base-path "$WORKERS_DIR/$name" \
      run --threads "$THREADS" >>"$WORKERS_DIR/$name.log" 2>&1 &
    echo $! >"$WORKERS_DIR/$name.pid"
    log "$name: running (pid $!), log $WORKERS_DIR/$name.log"
  done
}

cmd_stop() {
  local names=("$@") f name pid
  if ((${#names[@]} == 0)); then
    for f in "$WORKERS_DIR"/*.pid; do [[ -e "$f" ]] && names+=("$(basename "$f" .pid)"); done
  fi
  for name in "${names[@]}"; do
    if pid="$(pid_of "$name")"; then
      kill -TERM "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      log "$name stopped"
    fi
    rm -f "$WORKERS_DIR/$name.pid"
  done
}

cmd_status() {
  require_worker_bin
  local f name pid found=0
  for f in "$WORKERS_DIR"/*.pid; do
    [[ -e "$f" ]] || continue
    found=1
    name="$(basename "$f" .pid)"
    if pid="$(pid_of "$name")"; then echo "== $name: running (pid $pid)"; else echo "== $name: not running"; fi
    APPCHAIN_SURI="$(suri "$name")" "$WORKER_BIN" --url "$NODE_URL" --base-path "$WORKERS_DIR/$name" status || true
  done
  ((found)) || log "no workers started"
}

main() {
  (($#)) || { usage >&2; exit 2; }
  local cmd="$1"
  shift
  case "$cmd" in
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status ;;
    help|-h|--help) usage ;;
    *) usage >&2; die "unknown command '$cmd'" ;;
  esac
}
main "$@"
