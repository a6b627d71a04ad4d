#!/usr/bin/env bash
# Load figures: floods a chain with transfers and hash-job results and prints, per block, what
# was included against what the weights allow. Starts a `--dev --tmp` node unless --url is given.
# Run `scripts/load.sh --help` for usage.
set -euo pipefail
SCRIPT_NAME=load
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

E2E_DIR="$REPO_ROOT/tests/e2e"
LOAD_JS="$E2E_DIR/tools/load.mjs"

usage() {
  cat <<EOF
Usage: $(basename "$0") [--url ws://HOST:PORT] [load options...]

Without --url: starts '$NODE_BIN --dev --tmp' on free ports (extra node flags in
\$NODE_ARGS, e.g. NODE_ARGS='--pool-limit 4096'), runs the load against it and stops it.
With --url: runs the load against that node (a development chain: //Alice funds the load
accounts, //Bob, //Charlie, ... run hashing workers, //Ferdie posts their job).

The load options are those of tests/e2e/tools/load.mjs:

EOF
  node "$LOAD_JS" --help | sed -n '/^Options:/,$p'
}

url=''
args=()
while (($#)); do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --url) [[ $# -ge 2 ]] || die "--url needs a value"; url="$2"; args+=("$1" "$2"); shift 2 ;;
    --url=*) url="${1#--url=}"; args+=("$1"); shift ;;
    *) args+=("$1"); shift ;;
  esac
done

require_cmd node
[[ -d "$E2E_DIR/node_modules/@polkadot/api" ]] \
  || die "the end-to-end dependencies are missing: run 'npm ci' in tests/e2e (scripts/setup.sh does)"

node_pid=''
log_dir=''
stop_node() {
  if [[ -n "$node_pid" ]] && kill -0 "$node_pid" 2>/dev/null; then
    log "stopping the node (pid $node_pid)"
    kill -TERM "$node_pid" 2>/dev/null || true
    for _ in $(seq 1 75); do kill -0 "$node_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
  fi
  node_pid=''
}
cleanup() {
  local rc=$?
  stop_node
  if [[ -n "$log_dir" ]]; then
    if ((rc != 0)) && [[ -f "$log_dir/node.log" ]]; then
      warn "the node's log ends with:"; tail -n 30 "$log_dir/node.log" >&2
    fi
    rm -rf "$log_dir"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


if [[ -z "$url" ]]; then
  require_node_bin
  rpc_port="$(free_port)"
  p2p_port="$(free_port)"
  log_dir="$(mktemp -d "${TMPDIR:-/tmp}/appchain-load.XXXXXX")"
  # shellcheck disable=SC2086 # NODE_ARGS is a list of flags
  "$NODE_BIN" --dev --tmp --name load --rpc-port "$rpc_port" \
    --listen-addr "/ip4/127.0.0.1/tcp/$p2p_port" --no-prometheus --no-telemetry --no-mdns \
    ${NODE_ARGS:-} >"$log_dir/node.log" 2>&1 &
  node_pid=$!
  log "started a --dev --tmp node (pid $node_pid, RPC ws://127.0.0.1:$rpc_port, log $log_dir/node.log)"
  for _ in $(seq 1 120); do
    kill -0 "$node_pid" 2>/dev/null || die "the node exited early"
    [[ -n "$(best_number "http://127.0.0.1:$rpc_port" 2>/dev/null)" ]] && break
    sleep 0.5
  done
  best_number "http://127.0.0.1:$rpc_port" >/dev/null 2>&1 || die "the node's RPC did not answer within 60 s"
  # Wait for the first block, so that BABE and the pool are running.
  for _ in $(seq 1 60); do
    n="$(best_number "http://127.0.0.1:$rpc_port" 2>/dev/null || echo 0)"
    ((n >= 1)) && break
    sleep 0.5
  done
  args=(--url "ws://127.0.0.1:$rpc_port" "${args[@]}")
fi

rc=0
node "$LOAD_JS" "${args[@]}" || rc=$?
if [[ -n "$node_pid" ]]; then
  kill -0 "$node_pid" 2>/dev/null && log "the node is still running after the load" || warn "the node is NOT running after the load"
fi
exit "$rc"
