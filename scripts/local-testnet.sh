#!/usr/bin/env bash
# Four-validator local testnet (alice, bob, charlie, dave) of the appchain on loopback.
# Run `scripts/local-testnet.sh --help` for usage.
set -euo pipefail

SCRIPT_NAME="local-testnet"
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

VALIDATORS=(alice bob charlie dave)
NET_DIR="${APPCHAIN_NET_DIR:-$PWD/.local/testnet}"
BASE_P2P_PORT="${BASE_P2P_PORT:-30333}"
BASE_RPC_PORT="${BASE_RPC_PORT:-9944}"
CHAIN="${APPCHAIN_CHAIN:-local}"
START_TIMEOUT="${START_TIMEOUT:-300}"
STOP_TIMEOUT="${STOP_TIMEOUT:-30}"
MIN_FINALIZED="${MIN_FINALIZED:-2}"
# Extra flags for every node, word-split (e.g. EXTRA_NODE_ARGS="-lbabe=debug").
EXTRA_NODE_ARGS="${EXTRA_NODE_ARGS:-}"

usage() {
  cat <<EOF
Usage: $(basename "$0") <command> [options] [name...]

Four-validator local network (--chain $CHAIN) on 127.0.0.1: ${VALIDATORS[*]}.

Commands:
  start [--timeout S] [--no-wait] [name...]
                 Start all validators (default) or only the named ones (e.g. to
                 restart a stopped validator: 'start bob'). Session keys (babe
                 sr25519, gran ed25519 of //Alice, //Bob, ...) are inserted in each
                 keystore before the first start. Waits until every started node
                 reports a finalized block number >= $MIN_FINALIZED (unless --no-wait).
  stop [name...] Stop all validators or only the named ones (SIGTERM, then SIGKILL
                 after \$STOP_TIMEOUT s).
  wipe           Stop everything and delete the network directory.
  status         Show state, RPC URL, best/finalized block and peers of each node.
  help, --help   Show this help.

Environment:
  NODE_BIN          node binary (now: $NODE_BIN)
  APPCHAIN_NET_DIR  data directory (now: $NET_DIR); node <name> uses <dir>/<name>,
                    logs to <dir>/<name>.log, pid in <dir>/<name>.pid
  BASE_P2P_PORT     p2p port of alice, +1 for bob, ... (now: $BASE_P2P_PORT)
  BASE_RPC_PORT     RPC port of alice, +1 for bob, ... (now: $BASE_RPC_PORT)
  START_TIMEOUT     seconds to wait for finality in 'start' (now: $START_TIMEOUT)
  STOP_TIMEOUT      seconds to wait for a graceful stop (now: $STOP_TIMEOUT)
  MIN_FINALIZED     finalized height 'start' waits for (now: $MIN_FINALIZED)
  EXTRA_NODE_ARGS   extra flags passed to every node
EOF
}

# ---------------------------------------------------------------- per-node facts

node_index() {
  local i
  for i in "${!VALIDATORS[@]}"; do
    [[ "${VALIDATORS[$i]}" == "$1" ]] && { echo "$i"; return 0; }
  done
  return 1
}

check_name() {
  node_index "$1" >/dev/null || die "unknown validator '$1' (expected one of: ${VALIDATORS[*]})"
}

p2p_port()  { echo $((BASE_P2P_PORT + $(node_index "$1"))); }
rpc_port()  { echo $((BASE_RPC_PORT + $(node_index "$1"))); }
rpc_url()   { echo "http://127.0.0.1:$(rpc_port "$1")"; }
ws_url()    { echo "ws://127.0.0.1:$(rpc_port "$1")"; }
base_path() { echo "$NET_DIR/$1"; }
log_file()  { echo "$NET_DIR/$1.log"; }
pid_file()  { echo "$NET_DIR/$1.pid"; }
# //Alice, //Bob, ...
suri()      { echo "//${1^}"; }
# Fixed, well-known (NOT secret!) libp2p ed25519 node keys, so that alice's peer id is
# stable and the others can use her as bootnode.
node_key()  { printf '%064x\n' $(( $(node_index "$1") + 1 )); }

# pid of a running node, empty when not running (stale pid files are removed).
running_pid() {
  local name="$1" pf pid args
  pf="$(pid_file "$name")"
  [[ -f "$pf" ]] || return 0
  pid="$(tr -dc '0-9' <"$pf")"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    # Make sure the pid still belongs to this node (pids get reused).
    if [[ -r "/proc/$pid/cmdline" ]]; then
      args="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    else
      args="$(ps -ww -o args= -p "$pid" 2>/dev/null || true)"
    fi
    if [[ "$args" == *"$(base_path "$name")"* ]]; then
      echo "$pid"
      return 0
    fi
  fi
  rm -f "$pf"
}

alice_peer_id() {
  local cache="$NET_DIR/alice.peer-id" key_file="$NET_DIR/alice.node-key" id
  if [[ -s "$cache" ]]; then cat "$cache"; return 0; fi
  printf '%s' "$(node_key alice)" >"$key_file"
  id="$("$NODE_BIN" key inspect-node-key --file "$key_file" 2>/dev/null | tail -n 1 | tr -d '[:space:]')" \
    || die "'$NODE_BIN key inspect-node-key --file $key_file' failed"
  [[ "$id" =~ ^[1-9A-HJ-NP-Za-km-z]{40,60}$ ]] || die "could not compute alice's peer id (got: '$id')"
  echo "$id" >"$cache"
  echo "$id"
}

insert_keys() {
  local name="$1" bp marker out
  bp="$(base_path "$name")"
  marker="$bp/.session-keys-inserted"
  [[ -f "$marker" ]] && return 0
  mkdir -p "$bp"
  log "$name: inserting session keys ($(suri "$name")) into $bp"
  if ! out="$("$NODE_BIN" key insert --base-path "$bp" --chain "$CHAIN" \
      --scheme Sr25519 --suri "$(suri "$name")" --key-type babe 2>&1)"; then
    die "$name: 'key insert' of the babe key failed: $out"
  fi
  if ! out="$("$NODE_BIN" key insert --base-path "$bp" --chain "$CHAIN" \
      --scheme Ed25519 --suri "$(suri "$name")" --key-type gran 2>&1)"; then
    die "$name: 'key insert' of the grandpa key failed: $out"
  fi
  touch "$marker"
}

launch() {
  local name="$1" bp p2p rpcp logf bootnode=() extra=() pid
  bp="$(base_path "$name")"; p2p="$(p2p_port "$name")"; rpcp="$(rpc_port "$name")"
  logf="$(log_file "$name")"

  port_in_use "$rpcp" && die "$name: RPC port $rpcp is already in use (set BASE_RPC_PORT)"
  port_in_use "$p2p" && die "$name: p2p port $p2p is already in use (set BASE_P2P_PORT)"

  insert_keys "$name"
  if [[ "$name" != alice ]]; then
    bootnode=(--bootnodes "/ip4/127.0.0.1/tcp/$(p2p_port alice)/p2p/$(alice_peer_id)")
  fi
  # shellcheck disable=SC2206
  [[ -n "$EXTRA_NODE_ARGS" ]] && extra=($EXTRA_NODE_ARGS)

  {
    echo
    echo "==== $(date -u +%Y-%m-%dT%H:%M:%SZ) starting $name"
  } >>"$logf"

  # Job control on: the node gets its own process group, so a Ctrl-C on this script
  # (e.g. while it waits for finality) does not reach the nodes; nohup ignores SIGHUP.
  set -m
  # ${arr[@]+...}: empty arrays are fine under `set -u` with old bash versions too.
  nohup "$NODE_BIN" \
    --chain "$CHAIN" \
    --base-path "$bp" \
    --name "$name" \
    --validator \
    --node-key "$(node_key "$name")" \
    --listen-addr "/ip4/127.0.0.1/tcp/$p2p" \
    --public-addr "/ip4/127.0.0.1/tcp/$p2p" \
    --rpc-port "$rpcp" \
    --rpc-cors all \
    --rpc-methods unsafe \
    --allow-private-ip \
    --no-prometheus \
    --no-telemetry \
    --no-mdns \
    ${bootnode[@]+"${bootnode[@]}"} \
    ${extra[@]+"${extra[@]}"} \
    >>"$logf" 2>&1 </dev/null &
  pid=$!
  set +m
  echo "$pid" >"$(pid_file "$name")"
  # Until the forked shell has exec'ed the node, /proc/<pid>/cmdline is this script's.
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -n "$(running_pid "$name")" ]] && break
    kill -0 "$pid" 2>/dev/null || break
    echo "$pid" >"$(pid_file "$name")"
    sleep 0.1
  done
  log "$name: started (pid $pid, p2p $p2p, rpc $rpcp, log $logf)"
}

show_log_tail() {
  local f
  f="$(log_file "$1")"
  [[ -f "$f" ]] || return 0
  echo "---- last lines of $f ----" >&2
  tail -n 30 "$f" >&2
  echo "----" >&2
}

# wait_ready TIMEOUT name... : RPC up and finalized >= MIN_FINALIZED on every node
wait_ready() {
  local timeout="$1"; shift
  local deadline=$((SECONDS + timeout)) name pid fin pending
  log "waiting up to ${timeout}s for finalized block >= $MIN_FINALIZED on: $*"
  while :; do
    pending=()
    for name in "$@"; do
      pid="$(running_pid "$name")"
      if [[ -z "$pid" ]]; then
        show_log_tail "$name"
        die "$name exited during start-up (see $(log_file "$name"))"
      fi
      fin="$(finalized_number "$(rpc_url "$name")" 2>/dev/null || true)"
      if [[ -z "$fin" ]] || ((fin < MIN_FINALIZED)); then
        pending+=("$name(finalized=${fin:-no rpc})")
      fi
    done
    ((${#pending[@]} == 0)) && break
    if ((SECONDS >= deadline)); then
      for name in "$@"; do show_log_tail "$name"; done
      die "timed out after ${timeout}s waiting for finality: ${pending[*]}
  are enough validators running? GRANDPA needs more than 2/3 of them (3 of 4)."
    fi
    sleep 2
  done
  log "finalized block >= $MIN_FINALIZED on: $*"
}

print_endpoints() {
  local name
  echo
  echo "Validators ($CHAIN, data in $NET_DIR):"
  for name in "$@"; do
    printf '  %-8s RPC %s  (ws %s)  log %s\n' "$name" "$(rpc_url "$name")" "$(ws_url "$name")" "$(log_file "$name")"
  done
  echo
  echo "polkadot.js apps: open $(apps_url "$(ws_url "${1:-alice}")")"
  echo "  (or Settings / custom endpoint: $(ws_url "${1:-alice}"); browsers allow ws://127.0.0.1 from the https page)"
}

# ---------------------------------------------------------------- commands

cmd_start() {
  local wait=1 timeout="$START_TIMEOUT" names=() name pid
  while (($#)); do
    case "$1" in
      --no-wait) wait=0 ;;
      --timeout)
        [[ $# -ge 2 ]] || die "--timeout needs a value (seconds)"
        is_uint "$2" || die "--timeout expects whole seconds, got '$2'"
        timeout="$2"; shift ;;
      --timeout=*)
        timeout="${1#--timeout=}"; is_uint "$timeout" || die "--timeout expects whole seconds, got '$timeout'" ;;
      -h|--help) usage; exit 0 ;;
      -*) die "unknown option for start: $1 (see --help)" ;;
      *) check_name "$1"; names+=("$1") ;;
    esac
    shift
  done
  ((${#names[@]})) || names=("${VALIDATORS[@]}")

  require_cmd curl ps
  require_node_bin
  mkdir -p "$NET_DIR"

  for name in "${names[@]}"; do
    pid="$(running_pid "$name")"
    if [[ -n "$pid" ]]; then
      log "$name: already running (pid $pid)"
      continue
    fi
    launch "$name"
  done

  if ((wait)); then
    wait_ready "$timeout" "${names[@]}"
  fi
  print_endpoints "${names[@]}"
}

stop_one() {
  local name="$1" pid deadline
  pid="$(running_pid "$name")"
  if [[ -z "$pid" ]]; then
    log "$name: not running"
    return 0
  fi
  log "$name: stopping (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      warn "$name: still running after ${STOP_TIMEOUT}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 1
      break
    fi
    sleep 0.5
  done
  rm -f "$(pid_file "$name")"
  log "$name: stopped"
}

cmd_stop() {
  local names=() name
  while (($#)); do
    case "$1" in
      -h|--help) usage; exit 0 ;;
      -*) die "unknown option for stop: $1 (see --help)" ;;
      *) check_name "$1"; names+=("$1") ;;
    esac
    shift
  done
  ((${#names[@]})) || names=("${VALIDATORS[@]}")
  [[ -d "$NET_DIR" ]] || { log "nothing to stop: $NET_DIR does not exist"; return 0; }
  require_cmd ps
  for name in "${names[@]}"; do stop_one "$name"; done
}

cmd_wipe() {
  (($# == 0)) || { [[ "$1" == -h || "$1" == --help ]] && { usage; exit 0; }; die "wipe takes no arguments"; }
  if [[ ! -d "$NET_DIR" ]]; then
    log "nothing to wipe: $NET_DIR does not exist"
    return 0
  fi
  cmd_stop
  local real
  real="$(cd "$NET_DIR" && pwd -P)"
  case "$real" in
    /|"$HOME"|"$(cd "$REPO_ROOT" && pwd -P)") die "refusing to delete '$real' (set APPCHAIN_NET_DIR to a dedicated directory)" ;;
  esac
  rm -rf -- "$real"
  log "wiped $real"
}

cmd_status() {
  (($# == 0)) || { [[ "$1" == -h || "$1" == --help ]] && { usage; exit 0; }; die "status takes no arguments"; }
  local name pid url best fin peers
  echo "network dir: $NET_DIR (chain $CHAIN)"
  for name in "${VALIDATORS[@]}"; do
    url="$(rpc_url "$name")"
    pid=""
    [[ -d "$NET_DIR" ]] && pid="$(running_pid "$name")"
    if [[ -z "$pid" ]]; then
      printf '  %-8s stopped   rpc %s\n' "$name" "$url"
      continue
    fi
    best="$(best_number "$url" 2>/dev/null || echo '?')"
    fin="$(finalized_number "$url" 2>/dev/null || echo '?')"
    peers="$(peer_count "$url" 2>/dev/null || echo '?')"
    printf '  %-8s running   rpc %s  pid %s  best #%s  finalized #%s  peers %s\n' \
      "$name" "$url" "$pid" "$best" "$fin" "$peers"
  done
  echo "polkadot.js apps: $(apps_url "$(ws_url alice)")"
}

main() {
  is_uint "$BASE_P2P_PORT" || die "BASE_P2P_PORT must be a number, got '$BASE_P2P_PORT'"
  is_uint "$BASE_RPC_PORT" || die "BASE_RPC_PORT must be a number, got '$BASE_RPC_PORT'"
  is_uint "$STOP_TIMEOUT" || die "STOP_TIMEOUT must be a number, got '$STOP_TIMEOUT'"
  is_uint "$MIN_FINALIZED" || die "MIN_FINALIZED must be a number, got '$MIN_FINALIZED'"
  is_uint "$START_TIMEOUT" || die "START_TIMEOUT must be a number, got '$START_TIMEOUT'"
  (($#)) || { usage >&2; exit 2; }
  local cmd="$1"; shift
  case "$cmd" in
    start)  cmd_start "$@" ;;
    stop)   cmd_stop "$@" ;;
    wipe)   cmd_wipe "$@" ;;
    status) cmd_status "$@" ;;
    help|-h|--help) usage ;;
    *) usage >&2; die "unknown command '$cmd'" ;;
  esac
}

main "$@"
