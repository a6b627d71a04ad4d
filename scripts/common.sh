# shellcheck shell=bash
# Shared helpers of the appchain scripts. Source it, do not execute it:
#   source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Repository root (the parent of scripts/).
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT

# The node binary, as agreed in the project:
#   ${NODE_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/appchain-target}/release/appchain-node}
NODE_BIN="${NODE_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/appchain-target}/release/appchain-node}"

if [[ -t 2 && -z "${NO_COLOR:-}" ]]; then
  _C_RED=$'\033[31m'; _C_YEL=$'\033[33m'; _C_GRN=$'\033[32m'; _C_OFF=$'\033[0m'
else
  _C_RED=''; _C_YEL=''; _C_GRN=''; _C_OFF=''
fi

log()  { printf '%s[%s]%s %s\n' "$_C_GRN" "${SCRIPT_NAME:-appchain}" "$_C_OFF" "$*" >&2; }
warn() { printf '%s[%s] warning:%s %s\n' "$_C_YEL" "${SCRIPT_NAME:-appchain}" "$_C_OFF" "$*" >&2; }
die()  { printf '%s[%s] error:%s %s\n' "$_C_RED" "${SCRIPT_NAME:-appchain}" "$_C_OFF" "$*" >&2; exit 1; }

require_cmd() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || die "required command '$c' not found in PATH"
  done
}

require_node_bin() {
  [[ -x "$NODE_BIN" ]] || die "node binary not found or not executable: $NODE_BIN
  build it with:  cargo build --release -p appchain-node
  or point NODE_BIN (or CARGO_TARGET_DIR) at an existing build."
}

# is_uint VALUE
is_uint() { [[ "${1:-}" =~ ^[0-9]+$ ]]; }

# port_in_use PORT -> 0 when something accepts TCP connections on 127.0.0.1:PORT
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port -> a free TCP port on 127.0.0.1 (random, so a running local network is never touched)
free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 30000))
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  die "no free TCP port found"
}

# rpc URL METHOD [PARAMS_JSON] -> prints the raw JSON-RPC response; fails when unreachable.
rpc() {
  local url="$1" method="$2" params="${3:-[]}"
  curl -sS --fail --max-time "${RPC_TIMEOUT:-5}" \
    -H 'Content-Type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"${method}\",\"params\":${params}}" \
    "$url" 2>/dev/null
}

# json_result_string JSON -> the value of "result" when it is a string
json_result_string() {
  sed -n 's/.*"result"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' <<<"$1"
}

# hex_to_dec 0x1f -> 31
hex_to_dec() {
  local h="${1#0x}"
  [[ "$h" =~ ^[0-9a-fA-F]+$ ]] || return 1
  printf '%d\n' "$((16#$h))"
}

# header_number URL [HASH] -> block number (decimal) of the header HASH (best when omitted)
header_number() {
  local url="$1" hash="${2:-}" params='[]' resp num
  [[ -n "$hash" ]] && params="[\"$hash\"]"
  resp="$(rpc "$url" chain_getHeader "$params")" || return 1
  num="$(sed -n 's/.*"number"[[:space:]]*:[[:space:]]*"\(0x[0-9a-fA-F]*\)".*/\1/p' <<<"$resp")"
  [[ -n "$num" ]] || return 1
  hex_to_dec "$num"
}

# finalized_number URL -> number of the finalized head
finalized_number() {
  local url="$1" resp hash
  resp="$(rpc "$url" chain_getFinalizedHead)" || return 1
  hash="$(json_result_string "$resp")"
  [[ "$hash" =~ ^0x[0-9a-fA-F]{64}$ ]] || return 1
  header_number "$url" "$hash"
}

# best_number URL -> number of the best block
best_number() { header_number "$1"; }

# peer_count URL -> number of connected peers (system_health)
peer_count() {
  local resp
  resp="$(rpc "$1" system_health)" || return 1
  sed -n 's/.*"peers"[[:space:]]*:[[:space:]]*\([0-9]*\).*/\1/p' <<<"$resp"
}

# polkadot.js apps link for a ws endpoint
apps_url() {
  local ws="$1" enc
  enc="${ws//:/%3A}"; enc="${enc//\//%2F}"
  printf 'https://polkadot.js.org/apps/?rpc=%s#/explorer\n' "$enc"
}
