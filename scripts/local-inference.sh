#!/usr/bin/env bash
# Inference workers for the local network (scripts/local-testnet.sh) or a dev node: the real
# model registered once, three `serve` workers on layers [0,10), [10,20), [20,30).
# Run `scripts/local-inference.sh --help` for usage.
set -euo pipefail
SCRIPT_NAME=local-inference
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

WORKER_BIN="${WORKER_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/appchain-target}/release/appchain-worker}"
WORKERS_DIR="${APPCHAIN_WORKERS_DIR:-$REPO_ROOT/.local/inference}"
NODE_URL="${NODE_URL:-ws://127.0.0.1:9944}"
MODEL_FILE="${MODEL_FILE:-${APPCHAIN_MODELS:-$HOME/.cache/appchain-models}/SmolLM2-135M-Instruct.Q4_1.gguf}"
BASE_PORT="${BASE_PORT:-8701}"
PRICE="${PRICE:-0.001}"
# name:layers — dev accounts (//Dave, //Eve, //Ferdie); an account may also run a hashing worker.
WORKERS=(dave:0..10 eve:10..20 ferdie:20..30)

usage() {
  cat <<EOF
Usage: $(basename "$0") <command>

Inference workers on $NODE_URL serving SmolLM2-135M-Instruct (Q4_1) in three hops.

Commands:
  start    Register the model as //Alice unless a model with its digest is registered, then
           start 'appchain-worker serve' for ${WORKERS[*]} on ports $BASE_PORT.. (each
           checks the file against the chain, registers its node, heartbeats).
  stop     Stop them (SIGTERM).
  status   Each worker's process and the model list.
  help     Show this help.

Then generate through the network:
  $WORKER_BIN --url $NODE_URL infer --model <id> --file $MODEL_FILE --chat "Write a short poem about the sea."

Environment: WORKER_BIN, NODE_URL, MODEL_FILE (scripts/fetch-model.sh puts it there),
APPCHAIN_WORKERS_DIR (now: $WORKERS_DIR), BASE_PORT, PRICE (CPU per forward pass).
EOF
}

require_files() {
  [[ -x "$WORKER_BIN" ]] || die "worker binary not found: $WORKER_BIN
  build it with:  cargo build --release --manifest-path worker/Cargo.toml -p appchain-worker"
  [[ -f "$MODEL_FILE" ]] || die "model not found: $MODEL_FILE (run scripts/fetch-model.sh)"
}

pid_of() {
  local f="$WORKERS_DIR/$1.pid"
  [[ -f "$f" ]] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"
}

# The id of the registered model whose digest is the file's, registering it if there is none.
model_id() {
  local digest id
  digest="$("$WORKER_BIN" model inspect "$MODEL_FILE" | sed -n 's/^weights digest: //p')"
  id="$("$WORKER_BIN" --url "$NODE_URL" model list | sed -n "s/^model \([0-9]*\): .*digest $digest\$/\1/p" | head -n 1)"
  if [[ -z "$id" ]]; then
    log "registering the model as //Alice"
    id="$(APPCHAIN_SURI=//Alice "$WORKER_BIN" --url "$NODE_URL" model register --file "$MODEL_FILE" \
      --name smollm2-135m-instruct-q4_1 --shard-size 10 | sed -n 's/^registered model \([0-9]*\).*/\1/p')"
  fi
  [[ -n "$id" ]] || die "could not find or register the model"
  echo "$id"
}

cmd_start() {
  require_files
  mkdir -p "$WORKERS_DIR"
  local model i=0 entry name layers port
  model="$(model_id)"
  log "model $model"
  for entry in "${WORKERS[@]}"; do
    name="${entry%%:*}"
    layers="${entry#*:}"
    port=$((BASE_PORT + i))
    i=$((i + 1))
    if pid_of "$name" >/dev/null; then log "$name is already running"; continue; fi
    APPCHAIN_SURI="//${name^}" nohup "$WORKER_BIN" --url "$NODE_URL" --base-path "$WORKERS_DIR/$name" \
      serve --model "$model" --file "$MODEL_FILE" --layers "$layers" --listen "127.0.0.1:$port" --price "$PRICE" \
      >>"$WORKERS_DIR/$name.log" 2>&1 &
    echo $! >"$WORKERS_DIR/$name.pid"
    log "$name: serving layers $layers on 127.0.0.1:$port (pid $!), log $WORKERS_DIR/$name.log"
  done
  log "try: $WORKER_BIN --url $NODE_URL infer --model $model --file $MODEL_FILE --chat \"Write a short poem about the sea.\""
}

cmd_stop() {
  local f name pid
  for f in "$WORKERS_DIR"/*.pid; do
    [[ -e "$f" ]] || continue
    name="$(basename "$f" .pid)"
    if pid="$(pid_of "$name")"; then
      kill -TERM "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      log "$name stopped"
    fi
    rm -f "$f"
  done
}

cmd_status() {
  require_files
  local f name pid
  for f in "$WORKERS_DIR"/*.pid; do
    [[ -e "$f" ]] || continue
    name="$(basename "$f" .pid)"
    if pid="$(pid_of "$name")"; then echo "== $name: running (pid $pid)"; else echo "== $name: not running"; fi
    grep -o 'node [0-9]* serves layers[^(]*' "$WORKERS_DIR/$name.log" | tail -n 1 || true
  done
  "$WORKER_BIN" --url "$NODE_URL" model list
}

main() {
  (($#)) || { usage >&2; exit 2; }
  local cmd="$1"
  shift
  case "$cmd" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    help|-h|--help) usage ;;
    *) usage >&2; die "unknown command '$cmd'" ;;
  esac
}
main "$@"
