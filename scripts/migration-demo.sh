#!/usr/bin/env bash
# The payment channels' storage migration (version 0 -> 1, the payee index) on a live chain,
# forklessly: a dev chain whose genesis runs the runtime before the migration, channels opened
# on it, the upgrade to the checkout's runtime enacted by sudo, the migrated index checked.
# Run `scripts/migration-demo.sh --help` for usage.
set -euo pipefail
SCRIPT_NAME=migration-demo
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/appchain-target}"
UPGRADE_DIR="${APPCHAIN_UPGRADE_DIR:-$REPO_ROOT/.local/upgrade}"
DEMO_DIR="${MIGRATION_DEMO_DIR:-$REPO_ROOT/.local/migration-demo}"
NEW_WASM="${NEW_WASM:-$CARGO_TARGET_DIR/release/wbuild/appchain-runtime/appchain_runtime.compact.compressed.wasm}"
TOOL="$REPO_ROOT/tests/e2e/tools/migration.mjs"
UPGRADE_TOOL="$REPO_ROOT/tests/e2e/tools/upgrade.mjs"
# The runtime's own crates: the patch that makes the old runtime touches nothing else.
RUNTIME_PATHS=(runtime pallets primitives)

usage() {
  cat <<EOF
Usage: $(basename "$0") [--keep] [--rebuild]

Shows the payment channels' storage migration (storage version 0 -> 1: PayeeChannels, the
open channels listed by payee) happening on a live chain, without a fork:

  1. builds the OLD runtime: the runtime, pallets and primitives of MIGRATION_BASE (the commit
     before the migration), with scripts/upgrade-runtime.sh build --patch (a patch from the
     working tree back to that commit; the build copies the working tree), unless
     $UPGRADE_DIR/runtime-spec<old>-v0.wasm is up to date;
  2. makes a dev chain spec whose genesis code is the old runtime (build-spec --chain dev,
     code replaced, build-spec --raw: the old runtime builds its own genesis state);
  3. starts one validator (Alice) on it, logging runtime::payment-channels;
  4. tests/e2e/tools/migration.mjs prepare: model, inference nodes of Bob and Dave, channels
     Charlie->Bob, Eve->Bob, Charlie->Dave, Ferdie->Dave (one claimed from, one closing);
     storage version 0, channels_ofPayee refused (1010); records channels and holds;
  5. scripts/upgrade-runtime.sh enact: sudo upgrade to the checkout's runtime (NEW_WASM), with
     the block timeline;
  6. migration.mjs verify: storage version 1 from the block after the upgrade, every channel
     indexed under its payee, channels_ofPayee right for Bob and Dave, payer lists and holds
     unchanged, a channel closed after the upgrade leaves its payee's list; the node's log has
     the migration's lines.
  The node is stopped at the end, also on failure; the demo directory is removed on success.

Options:
  --keep      keep the demo directory (chain specs, node data and log, state, timeline)
  --rebuild   rebuild the old runtime even if it is up to date (passes --force)
  -h, --help  this help

Environment:
  MIGRATION_BASE      commit whose runtime is the old one (default: the parent of the commit
                      that added pallets/payment-channels/src/migrations.rs, or HEAD while
                      that file is uncommitted)
  NEW_WASM            the runtime to upgrade to (now: $NEW_WASM)
  MIGRATION_DEMO_DIR  demo data (now: $DEMO_DIR)
  MIGRATION_RPC_PORT, MIGRATION_P2P_PORT  the node's ports (default: free random ones)
  NODE_BIN, CARGO_TARGET_DIR, APPCHAIN_UPGRADE_DIR  as for scripts/upgrade-runtime.sh
EOF
}

KEEP=0
FORCE=()
while (($#)); do
  case "$1" in
    --keep) KEEP=1 ;;
    --rebuild) FORCE=(--force) ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
  shift
done

require_cmd git node jq xxd curl diff patch tar
require_node_bin
[[ -d "$REPO_ROOT/tests/e2e/node_modules/@polkadot/api" ]] ||
  die "the end-to-end dependencies are missing: run 'npm ci' in tests/e2e (scripts/setup.sh does)"
[[ -f "$NEW_WASM" ]] || die "no runtime to upgrade to: $NEW_WASM (cargo build --release -p appchain-node builds it; or set NEW_WASM)"

started=$SECONDS
# step TITLE: a numbered heading
STEP=0
step() { STEP=$((STEP + 1)); printf '\n== %d. %s\n' "$STEP" "$*"; }

# ---------------------------------------------------------------- the old runtime

cd "$REPO_ROOT"
base="${MIGRATION_BASE:-}"
if [[ -z "$base" ]]; then
  added="$(git log -1 --format=%H --diff-filter=A -- pallets/payment-channels/src/migrations.rs)"
  if [[ -n "$added" ]]; then
    base="$(git rev-parse "$added^")"
  else
    base="$(git rev-parse HEAD)" # the migration is not committed yet: HEAD is before it
  fi
fi
base="$(git rev-parse --verify -q "$base^{commit}")" || die "MIGRATION_BASE '${MIGRATION_BASE:-}' is not a commit"
git cat-file -e "$base:pallets/payment-channels/src/migrations.rs" 2>/dev/null &&
  die "the base ${base:0:10} already has pallets/payment-channels/src/migrations.rs: set MIGRATION_BASE to a commit before the migration"
old_spec="$(git show "$base:runtime/src/lib.rs" | sed -n -E 's/^[[:space:]]*spec_version:[[:space:]]*([0-9]+),.*/\1/p')"
new_spec="$(node "$UPGRADE_TOOL" --inspect --wasm "$NEW_WASM" | sed -n -E 's/.* spec ([0-9]+) .*/\1/p')"
is_uint "$old_spec" || die "cannot read spec_version of runtime/src/lib.rs at ${base:0:10}"
is_uint "$new_spec" || die "cannot read the spec version of $NEW_WASM"
((new_spec > old_spec)) || die "$NEW_WASM is spec $new_spec, not above the base's $old_spec"
OLD_WASM="$UPGRADE_DIR/runtime-spec$old_spec-v0.wasm"
PATCH="$UPGRADE_DIR/runtime-spec$old_spec-v0.patch"

step "the old runtime: spec $old_spec from ${base:0:10} ($(git log -1 --format=%s "$base" | cut -c1-60))"
mkdir -p "$UPGRADE_DIR"
# The patch from the working tree (what upgrade-runtime.sh copies: tracked and untracked, not
# ignored) to the base, over the runtime's crates; untracked files the base lacks are deleted.
# Both sides get the spec_version the build sets before it applies the patch.
ptmp="$(mktemp -d "${TMPDIR:-/tmp}/migration-demo-patch.XXXXXX")"
mkdir -p "$ptmp/work" "$ptmp/base"
git archive --format=tar "$base" -- "${RUNTIME_PATHS[@]}" | tar -x -C "$ptmp/base"
git ls-files -z --cached --others --exclude-standard -- "${RUNTIME_PATHS[@]}" |
  while IFS= read -r -d '' f; do [[ -e "$f" || -L "$f" ]] && printf '%s\0' "$f"; done |
  tar --null -T - -cf - | tar -x -C "$ptmp/work"
for side in work base; do
  sed -i -E "s/^([[:space:]]*spec_version:[[:space:]]*)[0-9]+,/\1${old_spec},/" "$ptmp/$side/runtime/src/lib.rs"
done
rc=0
(cd "$ptmp" && diff -ruN work base) >"$PATCH.new" || rc=$?
rm -rf -- "$ptmp"
((rc <= 1)) || die "diff failed making $PATCH"
mv -f "$PATCH.new" "$PATCH"
log "patch working tree -> ${base:0:10}: $PATCH ($(grep -c '^diff ' "$PATCH" || true) files, $(grep -c '^[-+][^-+]' "$PATCH" || true) lines changed)"
# The build's cargo output goes to a log; the WASM's size, hash and version are printed.
BUILD_LOG="$UPGRADE_DIR/runtime-spec$old_spec-v0.build.log"
log "scripts/upgrade-runtime.sh build --spec $old_spec --patch $(basename "$PATCH") (cargo output: $BUILD_LOG; the first build takes minutes)"
"$REPO_ROOT/scripts/upgrade-runtime.sh" build --spec "$old_spec" --patch "$PATCH" --out "$OLD_WASM" ${FORCE[@]+"${FORCE[@]}"} \
  2>"$BUILD_LOG" || { tail -n 30 "$BUILD_LOG" >&2; die "building the old runtime failed (log: $BUILD_LOG)"; }
grep -E "is up to date|built in [0-9]" "$BUILD_LOG" | sed -E 's/^\[[^]]*\] //; s/\x1b\[[0-9;]*m//g; s/^/  /' || true
old_inspect="$(node "$UPGRADE_TOOL" --inspect --wasm "$OLD_WASM")"
[[ "$old_inspect" == *" spec $old_spec "* ]] || die "$OLD_WASM is not spec $old_spec: $old_inspect"

# ---------------------------------------------------------------- the chain

NODE_PID=''
OK=0
stop_node() {
  if [[ -n "$NODE_PID" ]] && kill -0 "$NODE_PID" 2>/dev/null; then
    kill -TERM "$NODE_PID" 2>/dev/null || true
    for _ in $(seq 1 75); do kill -0 "$NODE_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$NODE_PID" 2>/dev/null || true
    wait "$NODE_PID" 2>/dev/null || true
    log "stopped the node (pid $NODE_PID)"
  fi
  NODE_PID=''
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  stop_node
  if ((rc != 0)) && [[ -f "$DEMO_DIR/node.log" ]]; then
    warn "the node's log ends with:"
    tail -n 20 "$DEMO_DIR/node.log" >&2
  fi
  if ((OK && !KEEP)); then
    rm -rf -- "$DEMO_DIR"
  elif [[ -d "$DEMO_DIR" ]]; then
    log "demo data kept in $DEMO_DIR (node.log, chain specs, state.json, timeline)"
  fi
  ((rc == 0 && !OK)) && rc=1
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


step "a dev chain whose genesis runs spec $old_spec"
rm -rf -- "$DEMO_DIR"
mkdir -p "$DEMO_DIR"
"$NODE_BIN" build-spec --chain dev --disable-default-bootnode >"$DEMO_DIR/dev-plain.json" 2>"$DEMO_DIR/build-spec.log" ||
  die "build-spec --chain dev failed: $(tail -n 3 "$DEMO_DIR/build-spec.log")"
jq -e '.genesis.runtimeGenesis.code | startswith("0x")' "$DEMO_DIR/dev-plain.json" >/dev/null ||
  die "the dev chain spec has no genesis.runtimeGenesis.code (keys: $(jq -c '.genesis | keys' "$DEMO_DIR/dev-plain.json"))"
log "dev chain spec: genesis $(jq -c '.genesis.runtimeGenesis | del(.code) | keys' "$DEMO_DIR/dev-plain.json") with the node's code (spec $new_spec)"
xxd -p "$OLD_WASM" | tr -d '\n' | sed 's/^/0x/' >"$DEMO_DIR/old-code.hex"
# Edited as text: jq would turn the genesis' u128 balances into floats (1e+18), which the
# runtime refuses.
node - "$DEMO_DIR/dev-plain.json" "$DEMO_DIR/old-code.hex" "$DEMO_DIR/plain.json" <<'EOF_JS' ||
const fs = require('fs');
const [src, hex, out] = process.argv.slice(2);
let text = fs.readFileSync(src, 'utf8');
const edit = (re, to, what) => {
  const n = (text.match(new RegExp(re.source, 'gm')) || []).length;
  if (n !== 1) throw new Error(`${n} ${what} in ${src}, expected 1`);
  text = text.replace(re, to);
};
edit(/"code": "0x[0-9a-fA-F]+"/m, () => `"code": "${fs.readFileSync(hex, 'utf8').trim()}"`, 'genesis codes');
edit(/^  "name": "[^"]*"/m, '  "name": "Development (migration demo)"', 'top-level names');
edit(/^  "id": "[^"]*"/m, '  "id": "migration_demo"', 'top-level ids');
JSON.parse(text);
fs.writeFileSync(out, text);
EOF_JS
  die "could not put the old runtime into the chain spec"
"$NODE_BIN" build-spec --chain "$DEMO_DIR/plain.json" --raw --disable-default-bootnode >"$DEMO_DIR/raw.json" 2>>"$DEMO_DIR/build-spec.log" ||
  die "build-spec --raw of the old runtime's spec failed: $(tail -n 3 "$DEMO_DIR/build-spec.log")"
[[ "$(jq -r '.genesis.raw.top["0x3a636f6465"]' "$DEMO_DIR/raw.json")" == "$(cat "$DEMO_DIR/old-code.hex")" ]] ||
  die "the raw genesis' :code is not the old runtime"
rm -f "$DEMO_DIR/old-code.hex" "$DEMO_DIR/dev-plain.json"
log "raw chain spec $DEMO_DIR/raw.json: genesis state built by spec $old_spec ($(jq '.genesis.raw.top | length' "$DEMO_DIR/raw.json") keys)"

step "one validator (Alice) on it"
RPC_PORT="${MIGRATION_RPC_PORT:-$(free_port)}"
P2P_PORT="${MIGRATION_P2P_PORT:-$(free_port)}"
port_in_use "$RPC_PORT" && die "port $RPC_PORT is in use (MIGRATION_RPC_PORT)"
port_in_use "$P2P_PORT" && die "port $P2P_PORT is in use (MIGRATION_P2P_PORT)"
WS="ws://127.0.0.1:$RPC_PORT"
HTTP="http://127.0.0.1:$RPC_PORT"
# A validator needs a network key of its own: a fresh random one.
node_key="$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
"$NODE_BIN" --chain "$DEMO_DIR/raw.json" --alice --validator --force-authoring \
  --base-path "$DEMO_DIR/node" --name migration-demo --node-key "$node_key" \
  --rpc-port "$RPC_PORT" --listen-addr "/ip4/127.0.0.1/tcp/$P2P_PORT" \
  --no-prometheus --no-telemetry --no-mdns \
  -lruntime::payment-channels=info,runtime=info >"$DEMO_DIR/node.log" 2>&1 &
NODE_PID=$!
for _ in $(seq 1 120); do
  kill -0 "$NODE_PID" 2>/dev/null || die "the node exited at start (see $DEMO_DIR/node.log)"
  n="$(finalized_number "$HTTP" 2>/dev/null || true)"
  [[ -n "$n" ]] && ((n >= 1)) && break
  sleep 0.5
done
[[ -n "${n:-}" ]] && ((n >= 1)) || die "no block finalized within 60 s (see $DEMO_DIR/node.log)"
chain_spec="$(rpc "$HTTP" state_getRuntimeVersion | jq -r .result.specVersion)"
[[ "$chain_spec" == "$old_spec" ]] || die "the chain runs spec $chain_spec, expected $old_spec"
log "node pid $NODE_PID, RPC $WS, log $DEMO_DIR/node.log; spec $chain_spec, finalized #$n"

step "channels on spec $old_spec (storage version 0)"
node "$TOOL" prepare --url "$WS" --state "$DEMO_DIR/state.json" --expect-spec "$old_spec" ||
  die "prepare failed"

step "forkless upgrade to spec $new_spec (sudo)"
"$REPO_ROOT/scripts/upgrade-runtime.sh" enact --wasm "$NEW_WASM" --url "$WS" --json "$DEMO_DIR/timeline.json" ||
  die "the upgrade failed"
upgrade_block="$(jq -r .summary.upgradeBlock "$DEMO_DIR/timeline.json")"
is_uint "$upgrade_block" || die "no upgrade block in $DEMO_DIR/timeline.json"

step "the migrated index on spec $new_spec"
node "$TOOL" verify --url "$WS" --state "$DEMO_DIR/state.json" --expect-spec "$new_spec" \
  --upgrade-block "$upgrade_block" --summary "$DEMO_DIR/summary.json" ||
  die "verify failed"

# The node's log: the migration ran once, in the block after the upgrade.
moved="$(grep -E "VersionedMigration migrating storage version from 0 to 1" "$DEMO_DIR/node.log" || true)"
indexed="$(grep -E "indexed [0-9]+ channels by payee" "$DEMO_DIR/node.log" || true)"
[[ -n "$moved" ]] || die "the node's log has no 'VersionedMigration migrating storage version from 0 to 1' line"
[[ -n "$indexed" ]] || die "the node's log has no 'indexed N channels by payee' line"
[[ "$(wc -l <<<"$indexed")" == 1 ]] || die "the migration logged $(wc -l <<<"$indexed") times: $indexed"
expected_indexed="$(jq -r .indexed "$DEMO_DIR/summary.json")"
[[ "$indexed" == *"indexed $expected_indexed channels by payee"* ]] ||
  die "the log says '${indexed##*runtime::payment-channels: }', the chain has $expected_indexed index entries"
echo "node log:"
printf '%s\n%s\n' "$moved" "$indexed" | sed -E 's/[[:space:]]+$//; s/^/  /'

echo
jq -r --arg took "$((SECONDS - started))" '
  "== migration demo: passed in \($took) s",
  "spec \(.specBefore) -> \(.specAfter): code in #\(.upgradeBlock), migration in #\(.migratedIn) (storage version \(.storageVersion.atUpgrade) -> \(.storageVersion.after)); \(.indexed) of \(.channels) channels indexed by payee",
  "channel \(.closedAfter.channel) closed by its payee in #\(.closedAfter.block) left the index",
  "at #\(.upgradeBlock) (new code, state not yet migrated) channels_ofPayee listed the \(.channelsOfPayeeAtUpgradeBlock.items) channels paying Bob by scanning"
' "$DEMO_DIR/summary.json"
OK=1
