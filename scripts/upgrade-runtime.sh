#!/usr/bin/env bash
# Forkless runtime upgrades: build the next runtime WASM beside the checkout's own build,
# enact it on a running network, or run the end-to-end demo on a four-validator network.
# Run `scripts/upgrade-runtime.sh --help` for usage.
set -euo pipefail

SCRIPT_NAME=upgrade-runtime
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/appchain-target}"
WORKER_BIN="${WORKER_BIN:-$CARGO_TARGET_DIR/release/appchain-worker}"
UPGRADE_DIR="${APPCHAIN_UPGRADE_DIR:-$REPO_ROOT/.local/upgrade}"
# Where the edited copy of the sources is built. It stays between builds so that the next
# build is incremental; only files whose content changed are rewritten.
SRC_DIR="${UPGRADE_SRC_DIR:-${TMPDIR:-/tmp}/appchain-runtime-upgrade-src}"
UPGRADE_PKG=appchain-runtime-upgrade
UPGRADE_BLOB=appchain_runtime_upgrade
TOOL="$REPO_ROOT/tests/e2e/tools/upgrade.mjs"
DEMO_PATCH="$REPO_ROOT/scripts/upgrade-demo.patch"

usage() {
  cat <<EOF
Usage: $(basename "$0") <command> [options]

Forkless runtime upgrades of the appchain.

Commands:
  build [--spec N] [--patch FILE] [--out FILE] [--production] [--force]
      Build a runtime WASM with spec_version N (default: runtime/src/lib.rs's + 1) from a
      copy of the checkout (tracked and untracked-but-not-ignored files, uncommitted edits
      included), after applying FILE with 'patch -p1' if given. The copy's runtime package is
      renamed $UPGRADE_PKG (and the copy's crates get version <v>-upgrade), so its
      WASM project (\$CARGO_TARGET_DIR/release/wbuild/$UPGRADE_PKG) and artifacts never
      overwrite the ones the checkout's node embeds. Features: fast-runtime,metadata-hash
      (--production: metadata-hash only; it must match the running chain's timing).
      The copy is built in $SRC_DIR with CARGO_TARGET_DIR=$CARGO_TARGET_DIR;
      the first build is cold (10-20 min on 2 cores), later ones incremental.
      Writes FILE (default $UPGRADE_DIR/runtime-specN.wasm) and prints its size and
      blake2-256 hash; skips the build when FILE.stamp says FILE was built from the same
      sources (--force rebuilds).
  enact --wasm FILE [--url URL] [--suri SURI] [--committee] [tool options]
      Enact FILE on a running network and print the upgrade's timeline:
      'node tests/e2e/tools/upgrade.mjs' (its --help lists every option). sudo.sudo(
      system.authorizeUpgrade(hash)) signed by SURI (default //Alice), or --committee: a
      technical-committee motion rootMotions.enact(system.authorizeUpgrade(hash)), the only
      way on a network without a sudo key; then system.applyAuthorizedUpgrade(code).
  demo [--committee] [--keep]
      End to end on a fresh four-validator network (--chain local, data in
      \$APPCHAIN_DEMO_DIR, RPC ports \$DEMO_RPC_PORT..+3, p2p \$DEMO_P2P_PORT..+3):
      builds the compatible upgrade (spec +1) and the incompatible one (spec +2 with
      scripts/upgrade-demo.patch: a new HashJobs call) if needed, starts the network and the
      hashing workers eve and ferdie, posts a hash job, enacts the compatible upgrade while
      the job is open and checks the job completes and the workers carry on
      (runtime_upgraded); posts a second job, enacts the incompatible upgrade and checks that
      each worker exits non-zero with one runtime_mismatch error and submits nothing more.
      Stops everything at the end, also on failure; wipes the demo directory on success
      (--keep keeps it). --committee authorizes both upgrades by committee motion.
  help, --help

Environment:
  CARGO_TARGET_DIR    shared target dir (now: $CARGO_TARGET_DIR)
  NODE_BIN, WORKER_BIN  binaries (now: $NODE_BIN, $WORKER_BIN)
  APPCHAIN_UPGRADE_DIR  built WASMs (now: $UPGRADE_DIR)
  UPGRADE_SRC_DIR     the edited copy that is built (now: $SRC_DIR)
  APPCHAIN_DEMO_DIR   demo data (default: $REPO_ROOT/.local/upgrade-demo)
  DEMO_RPC_PORT, DEMO_P2P_PORT  first RPC / p2p port of the demo network (19944, 40333)
  DEMO_HASH_RATE      hash rate the demo workers declare, hashes/s (default 2000): the chain
                      sizes subjobs to 30 s of it, so the job has many small subjobs and
                      its length is set by the chain's steps, not by CPU
  DEMO_JOB_NONCES     nonces of each demo job (default 2000000: about 3 min with two workers)
EOF
}

# ---------------------------------------------------------------- build

current_spec() {
  local spec
  spec="$(sed -n -E 's/^[[:space:]]*spec_version:[[:space:]]*([0-9]+),.*/\1/p' "$REPO_ROOT/runtime/src/lib.rs")"
  [[ "$spec" =~ ^[0-9]+$ ]] || die "cannot read spec_version from runtime/src/lib.rs"
  echo "$spec"
}

# sync_tree SRC DST: make DST's files equal SRC's, rewriting only the files whose content
# differs (and deleting the ones SRC lacks), so cargo sees unchanged files as unchanged and
# every changed one as newer than its last build.
sync_tree() {
  local src="$1" dst="$2" f
  mkdir -p "$dst"
  while IFS= read -r -d '' f; do
    [[ -e "$src/$f" ]] || rm -f -- "$dst/$f"
  done < <(cd "$dst" && find . -type f -print0)
  while IFS= read -r -d '' f; do
    if ! cmp -s -- "$src/$f" "$dst/$f"; then
      mkdir -p -- "$(dirname -- "$dst/$f")"
      rm -f -- "$dst/$f"
      cp -- "$src/$f" "$dst/$f"
    fi
  done < <(cd "$src" && find . -type f -print0)
}

# The registry packages of a Cargo.lock, one "name version" a line.
lock_registry_packages() {
  awk '
    /^\[\[package\]\]/ { if (n != "" && s ~ /^"registry/) print n, v; n = v = s = "" }
    /^name = /    { n = $3 }
    /^version = / { v = $3 }
    /^source = /  { s = $3 }
    END { if (n != "" && s ~ /^"registry/) print n, v }
  ' "$1" | sort
}

# prepare_copy DIR SPEC PATCH: the checkout's files in DIR, edited for the upgrade build.
prepare_copy() {
  local dir="$1" spec="$2" patch="$3" f
  (
    cd "$REPO_ROOT"
    git ls-files -z --cached --others --exclude-standard |
      while IFS= read -r -d '' f; do
        [[ -e "$f" || -L "$f" ]] && printf '%s\0' "$f"
      done |
      tar --null -T - -cf -
  ) | tar -C "$dir" -xf -
  [[ -f "$dir/runtime/src/lib.rs" && -f "$dir/Cargo.toml" ]] || die "copying the checkout to $dir failed"

  # spec_version
  sed -i -E "s/^([[:space:]]*spec_version:[[:space:]]*)[0-9]+,/\1${spec},/" "$dir/runtime/src/lib.rs"
  [[ "$(grep -c -E "^[[:space:]]*spec_version:[[:space:]]*${spec}," "$dir/runtime/src/lib.rs")" == 1 ]] ||
    die "could not set spec_version to $spec in the copy's runtime/src/lib.rs"

  # the optional patch
  if [[ -n "$patch" ]]; then
    patch -d "$dir" -p1 --forward --batch --no-backup-if-mismatch -s <"$patch" ||
      die "$patch does not apply to the current checkout (patch -p1)"
  fi

  # Rename the runtime package: its WASM project and artifacts get their own names.
  sed -i -E '0,/^name = "appchain-runtime"$/s//name = "'"$UPGRADE_PKG"'"/' "$dir/runtime/Cargo.toml"
  grep -q "^name = \"$UPGRADE_PKG\"$" "$dir/runtime/Cargo.toml" ||
    die "could not rename the package in the copy's runtime/Cargo.toml"
  sed -i -E 's/^appchain-runtime = \{ *path = "runtime"/appchain-runtime = { package = "'"$UPGRADE_PKG"'", path = "runtime"/' "$dir/Cargo.toml"
  grep -q "^appchain-runtime = { package = \"$UPGRADE_PKG\", path = \"runtime\"" "$dir/Cargo.toml" ||
    die "could not point the copy's workspace dependency appchain-runtime at $UPGRADE_PKG (Cargo.toml)"
  # Give the copy's crates (pallets, primitives) their own version too: cargo names a path
  # crate's artifacts after its name, version and path relative to the workspace, so a copy's
  # pallet would otherwise overwrite the checkout's in the shared target dir.
  sed -i -E '/^\[workspace\.package\]/,/^\[/ s/^version = "([^"+-]+)"$/version = "\1-upgrade"/' "$dir/Cargo.toml"
  grep -q -E '^version = "[^"]+-upgrade"$' "$dir/Cargo.toml" ||
    die "could not set the copy's [workspace.package] version"
}

# tree_fingerprint DIR EXTRA...: sha256 over the files of DIR a runtime build reads (the
# workspace manifests, lock, cargo config, toolchain and crates) and the extra words.
tree_fingerprint() {
  local dir="$1"; shift
  {
    (cd "$dir" && find Cargo.toml Cargo.lock .cargo rust-toolchain.toml runtime pallets primitives node \
      -type f -print0 2>/dev/null | LC_ALL=C sort -z | xargs -0 sha256sum)
    printf '%s\n' "$@"
  } | sha256sum | cut -d' ' -f1
}

cmd_build() {
  local spec="" patch="" out="" production=0 force=0
  while (($#)); do
    case "$1" in
      --spec) [[ $# -ge 2 ]] || die "--spec needs a value"; spec="$2"; shift ;;
      --patch) [[ $# -ge 2 ]] || die "--patch needs a file"; patch="$2"; shift ;;
      --out) [[ $# -ge 2 ]] || die "--out needs a file"; out="$2"; shift ;;
      --production) production=1 ;;
      --force) force=1 ;;
      -h|--help) usage; exit 0 ;;
      *) die "unknown option for build: $1 (see --help)" ;;
    esac
    shift
  done
  require_cmd cargo git tar sed patch b2sum sha256sum flock
  local cur
  cur="$(current_spec)"
  [[ -n "$spec" ]] || spec=$((cur + 1))
  is_uint "$spec" || die "--spec expects a whole number, got '$spec'"
  ((spec > cur)) || warn "spec $spec is not above the checkout's $cur: a chain running the checkout's runtime will refuse it"
  if [[ -n "$patch" ]]; then
    [[ -f "$patch" ]] || die "no such patch: $patch"
    patch="$(cd "$(dirname "$patch")" && pwd)/$(basename "$patch")"
  fi
  [[ -n "$out" ]] || out="$UPGRADE_DIR/runtime-spec$spec.wasm"
  mkdir -p "$(dirname "$out")"
  out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
  local features="fast-runtime,metadata-hash"
  ((production)) && features="metadata-hash"

  local staging
  staging="$(mktemp -d "${TMPDIR:-/tmp}/appchain-upgrade-staging.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf -- '$staging'" EXIT
  prepare_copy "$staging" "$spec" "$patch"
  local toolchain fingerprint
  toolchain="$(cd "$staging" && rustc --version 2>/dev/null || echo unknown)"
  fingerprint="$(tree_fingerprint "$staging" "features=$features" "$toolchain")"
  if ((!force)) && [[ -f "$out" && -f "$out.stamp" && "$(cat "$out.stamp")" == "$fingerprint" ]]; then
    log "$out is up to date (built from the same sources; --force rebuilds)"
    print_wasm "$out"
    return 0
  fi

  mkdir -p "$(dirname "$SRC_DIR")"
  exec 9>"$SRC_DIR.lock"
  flock -n 9 || { log "waiting for another upgrade build ($SRC_DIR.lock)"; flock 9; }
  sync_tree "$staging" "$SRC_DIR"
  local offline=()
  if (cd "$SRC_DIR" && cargo metadata --offline --format-version 1 >/dev/null 2>&1); then
    offline=(--offline)
  else
    warn "the copy's dependencies do not resolve offline; cargo may fetch the index"
  fi
  local wasm="$CARGO_TARGET_DIR/release/wbuild/$UPGRADE_PKG/$UPGRADE_BLOB.compact.compressed.wasm"
  log "building spec $spec${patch:+ with $(basename "$patch")} ($features) in $SRC_DIR, target dir $CARGO_TARGET_DIR"
  local started=$SECONDS
  (
    cd "$SRC_DIR"
    unset SKIP_WASM_BUILD
    export WASM_BUILD_WORKSPACE_HINT="$SRC_DIR"
    cargo build --release ${offline[@]+"${offline[@]}"} -p "$UPGRADE_PKG" --features "$features"
  ) || die "cargo build of $UPGRADE_PKG failed"
  local took=$((SECONDS - started))
  [[ -f "$wasm" ]] || die "the build did not produce $wasm"
  # Resolving the renamed package must not have moved any registry package.
  if ! diff -q <(lock_registry_packages "$REPO_ROOT/Cargo.lock") <(lock_registry_packages "$SRC_DIR/Cargo.lock") >/dev/null; then
    warn "the copy's Cargo.lock resolved other registry packages than the checkout's:"
    diff <(lock_registry_packages "$REPO_ROOT/Cargo.lock") <(lock_registry_packages "$SRC_DIR/Cargo.lock") >&2 || true
  fi
  rm -f -- "$out.stamp"
  cp -- "$wasm" "$out.tmp"
  mv -f -- "$out.tmp" "$out"
  log "built in $((took / 60)) min $((took % 60)) s"
  # The WASM must declare the spec asked for.
  if have_tool; then
    local declared
    declared="$(node "$TOOL" --inspect --wasm "$out" | sed -n -E 's/.* spec ([0-9]+) \(impl.*/\1/p')"
    [[ "$declared" == "$spec" ]] || die "$out declares spec ${declared:-?}, not $spec"
  fi
  echo "$fingerprint" >"$out.stamp"
  print_wasm "$out"
}

have_tool() {
  command -v node >/dev/null 2>&1 && [[ -d "$REPO_ROOT/tests/e2e/node_modules/@polkadot/api" ]]
}

require_tool() {
  require_cmd node
  [[ -d "$REPO_ROOT/tests/e2e/node_modules/@polkadot/api" ]] ||
    die "tests/e2e/node_modules is missing: run (cd tests/e2e && npm ci)"
}

print_wasm() {
  local f="$1" size hash
  size="$(stat -c %s "$f")"
  hash="$(b2sum -l 256 "$f" | cut -d' ' -f1)"
  echo "$f"
  echo "  size        $size bytes"
  echo "  blake2-256  0x$hash"
  if have_tool; then
    echo "  runtime     $(node "$TOOL" --inspect --wasm "$f" | sed -E 's/^[^:]*: ([^,]*),.*/\1/')"
  fi
}

# ---------------------------------------------------------------- enact

cmd_enact() {
  local args=() wasm=""
  while (($#)); do
    case "$1" in
      -h|--help) usage; exit 0 ;;
      --wasm) [[ $# -ge 2 ]] || die "--wasm needs a file"; wasm="$2"; args+=("$1" "$2"); shift ;;
      *) args+=("$1") ;;
    esac
    shift
  done
  [[ -n "$wasm" ]] || die "enact needs --wasm FILE (see --help)"
  [[ -f "$wasm" ]] || die "no such file: $wasm"
  require_tool
  node "$TOOL" "${args[@]}"
}

# ---------------------------------------------------------------- demo

DEMO_DIR="${APPCHAIN_DEMO_DIR:-$REPO_ROOT/.local/upgrade-demo}"
DEMO_RPC_PORT="${DEMO_RPC_PORT:-19944}"
DEMO_P2P_PORT="${DEMO_P2P_PORT:-40333}"
DEMO_HASH_RATE="${DEMO_HASH_RATE:-2000}"
DEMO_JOB_NONCES="${DEMO_JOB_NONCES:-2000000}"
DEMO_WORKERS=(eve ferdie)
DEMO_BG_PIDS=()
DEMO_OK=0
DEMO_KEEP=0

# The scripts the demo drives, with the demo's directories and ports.
demo_env() {
  APPCHAIN_NET_DIR="$DEMO_DIR/net" BASE_RPC_PORT="$DEMO_RPC_PORT" BASE_P2P_PORT="$DEMO_P2P_PORT" \
    APPCHAIN_WORKERS_DIR="$DEMO_DIR/workers" NODE_URL="ws://127.0.0.1:$DEMO_RPC_PORT" \
    WORKER_BIN="$DEMO_DIR/appchain-worker" APPCHAIN_LOG_FORMAT=json "$@"
}
testnet() { demo_env "$REPO_ROOT/scripts/local-testnet.sh" "$@"; }
workers() { demo_env "$REPO_ROOT/scripts/local-workers.sh" "$@"; }
worker_cli() { "$WORKER_BIN" --url "ws://127.0.0.1:$DEMO_RPC_PORT" "$@"; }

demo_cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  set +e
  for pid in ${DEMO_BG_PIDS[@]+"${DEMO_BG_PIDS[@]}"}; do
    kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  if [[ -d "$DEMO_DIR" ]]; then
    workers stop >/dev/null 2>&1
    testnet stop >/dev/null 2>&1
  fi
  if ((DEMO_OK && !DEMO_KEEP)); then
    testnet wipe >/dev/null 2>&1
    rm -rf -- "$DEMO_DIR"
    log "stopped the demo network and workers; wiped $DEMO_DIR"
  else
    log "stopped the demo network and workers; data, logs and timelines kept in $DEMO_DIR (rm -rf it when done)"
  fi
  ((rc == 0 && !DEMO_OK)) && rc=1
  exit "$rc"
}

# The worker binary behind a wrapper that records the exit status of `run` in
# <base-path>.exit: the workers run detached (scripts/local-workers.sh), so nothing else
# could tell their exit status.
write_worker_wrapper() {
  cat >"$DEMO_DIR/appchain-worker" <<EOF
#!/usr/bin/env bash
real='$WORKER_BIN'
base=""; is_run=0; prev=""
for a in "\$@"; do
  [[ "\$prev" == --base-path ]] && base="\$a"
  [[ "\$a" == run ]] && is_run=1
  prev="\$a"
done
if ((is_run == 0)) || [[ -z "\$base" ]]; then exec "\$real" "\$@"; fi
rm -f "\$base.exit"
"\$real" "\$@" &
child=\$!
trap 'kill -TERM "\$child" 2>/dev/null' TERM
trap 'kill -INT "\$child" 2>/dev/null' INT
while :; do
  wait "\$child"; rc=\$?
  kill -0 "\$child" 2>/dev/null || break
done
echo "\$rc" >"\$base.exit"
exit "\$rc"
EOF
  chmod +x "$DEMO_DIR/appchain-worker"
}

demo_http() { echo "http://127.0.0.1:$DEMO_RPC_PORT"; }
demo_best() { best_number "$(demo_http)"; }
worker_log() { echo "$DEMO_DIR/workers/$1.log"; }
worker_exit_file() { echo "$DEMO_DIR/workers/$1.exit"; }
worker_pid() { local f="$DEMO_DIR/workers/$1.pid"; [[ -f "$f" ]] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"; }
# JSON log lines of a worker (the text lines, e.g. the final `error:`, are skipped).
worker_events() { grep '^{' "$(worker_log "$1")" 2>/dev/null || true; }
count_events() { worker_events "$1" | jq -c "select(.event == \"$2\")" | wc -l; }
# ms_after W EVENT SPEC TIMELINE: milliseconds from the arrival of the upgrade block (the
# timeline's row) to worker W's first EVENT about spec SPEC.
ms_after() {
  local at seen
  at="$(worker_events "$1" | jq -r --arg e "$2" --argjson spec "$3" '
    select(.event == $e and ((.to // .spec) == $spec)) | .timestamp
    | capture("(?<s>[^.]*)(\\.(?<f>[0-9]+))?Z")
    | ((.s + "Z") | fromdateiso8601) * 1000 + (((.f // "0") + "000")[0:3] | tonumber)' | head -n 1)"
  seen="$(jq -r '.summary.upgradeBlock as $u | .rows[] | select(.number == $u) | .seenAt' "$4")"
  [[ -n "$at" && "$seen" =~ ^[0-9]+$ ]] && echo $((at - seen))
}

# post_job: posts a demo job as Alice; prints its id.
post_job() {
  local out id
  out="$(APPCHAIN_SURI=//Alice worker_cli job post --text upgrade-demo --zeros 20 --end "$DEMO_JOB_NONCES" --budget 100)" ||
    die "job post failed"
  id="$(sed -n -E 's/^posted job ([0-9]+) .*/\1/p' <<<"$out")"
  [[ -n "$id" ]] || die "cannot read the job id from: $out"
  log "$out"
  echo "$id"
}

# wait_for COND_FN TIMEOUT WHAT
wait_for() {
  local fn="$1" timeout="$2" what="$3" deadline=$((SECONDS + $2))
  until "$fn"; do
    ((SECONDS < deadline)) || die "timed out after ${timeout}s waiting for $what"
    sleep 1
  done
}

both_serving() { local w; for w in "${DEMO_WORKERS[@]}"; do (($(count_events "$w" serving) > 0)) || return 1; done; }
claims_of() { worker_events "$1" | jq -c 'select(.event == "tx_submitted" and .tx == "claim")' | wc -l; }
both_claimed() { local w; for w in "${DEMO_WORKERS[@]}"; do (($(claims_of "$w") > ${CLAIMS_BEFORE[$w]})) || return 1; done; }
both_exited() { local w; for w in "${DEMO_WORKERS[@]}"; do [[ -f "$(worker_exit_file "$w")" ]] || return 1; done; }

declare -A CLAIMS_BEFORE=()
record_claims() { local w; for w in "${DEMO_WORKERS[@]}"; do CLAIMS_BEFORE[$w]="$(claims_of "$w")"; done; }

cmd_demo() {
  local committee=() auth=sudo
  while (($#)); do
    case "$1" in
      --committee) committee=(--committee); auth="technical committee" ;;
      --keep) DEMO_KEEP=1 ;;
      -h|--help) usage; exit 0 ;;
      *) die "unknown option for demo: $1 (see --help)" ;;
    esac
    shift
  done
  require_cmd curl jq git
  require_node_bin
  require_tool
  [[ -x "$WORKER_BIN" ]] || die "worker binary not found: $WORKER_BIN
  build it with:  cargo build --release --manifest-path worker/Cargo.toml -p appchain-worker"
  is_uint "$DEMO_JOB_NONCES" && is_uint "$DEMO_HASH_RATE" || die "DEMO_JOB_NONCES and DEMO_HASH_RATE must be numbers"
  local i
  for ((i = 0; i < 4; i++)); do
    port_in_use $((DEMO_RPC_PORT + i)) && die "port $((DEMO_RPC_PORT + i)) is in use (set DEMO_RPC_PORT)"
    port_in_use $((DEMO_P2P_PORT + i)) && die "port $((DEMO_P2P_PORT + i)) is in use (set DEMO_P2P_PORT)"
  done

  local cur s1 s2 w1 w2 demo_started=$SECONDS
  cur="$(current_spec)"
  s1=$((cur + 1))
  s2=$((cur + 2))
  w1="$UPGRADE_DIR/runtime-spec$s1.wasm"
  w2="$UPGRADE_DIR/runtime-spec$s2-demo-patch.wasm"

  # 0. Both upgrades are built first: a build takes both cores, which the four validators
  # need for their slots while the upgrade is measured.
  log "== 0. the upgrades: spec $s1 (compatible) and spec $s2 (scripts/upgrade-demo.patch: a new HashJobs call)"
  (cmd_build --spec "$s1" --out "$w1")
  (cmd_build --spec "$s2" --patch "$DEMO_PATCH" --out "$w2")

  # 1. The network, the workers, a job.
  if [[ -d "$DEMO_DIR" ]]; then
    log "removing the previous demo's $DEMO_DIR"
    workers stop >/dev/null 2>&1 || true
    testnet wipe >/dev/null 2>&1 || true
    rm -rf -- "$DEMO_DIR"
  fi
  mkdir -p "$DEMO_DIR/workers"
  trap demo_cleanup EXIT
  trap 'exit 130' INT TERM
  write_worker_wrapper

  log "== 1. four validators (--chain local, RPC $DEMO_RPC_PORT-$((DEMO_RPC_PORT + 3))), workers ${DEMO_WORKERS[*]}, a hash job"
  testnet start >/dev/null
  local chain_spec
  chain_spec="$(rpc "$(demo_http)" state_getRuntimeVersion | jq -r '.result.specVersion')"
  [[ "$chain_spec" == "$cur" ]] ||
    die "the node runs spec $chain_spec but runtime/src/lib.rs says $cur: rebuild the node (cargo build --release -p appchain-node)"
  log "the network runs spec $chain_spec"

  local w
  for w in "${DEMO_WORKERS[@]}"; do
    # Declared hash rate: subjobs of about 30 s of it (see DEMO_HASH_RATE).
    APPCHAIN_SURI="//${w^}" worker_cli --base-path "$DEMO_DIR/workers/$w" \
      register --collateral 100 --hash-rate "$DEMO_HASH_RATE" >/dev/null 2>&1 ||
      die "$w: register failed"
  done
  workers start "${DEMO_WORKERS[@]}"
  wait_for both_serving 60 "both workers to serve"

  record_claims
  local job1 job1_posted=$SECONDS
  job1="$(post_job)"
  APPCHAIN_SURI=//Alice "$WORKER_BIN" --url "ws://127.0.0.1:$DEMO_RPC_PORT" job watch "$job1" \
    >"$DEMO_DIR/job-$job1.watch" 2>&1 &
  local watch1=$!
  DEMO_BG_PIDS+=("$watch1")
  wait_for both_claimed 90 "both workers to claim subjobs of job $job1"
  log "job $job1 is being worked on by ${DEMO_WORKERS[*]}"

  # 2. The compatible upgrade while the job is open.
  log "== 2. compatible upgrade to spec $s1 while job $job1 is open"
  node "$TOOL" --wasm "$w1" --url "ws://127.0.0.1:$DEMO_RPC_PORT" ${committee[@]+"${committee[@]}"} \
    --json "$DEMO_DIR/timeline-spec$s1.json" | tee "$DEMO_DIR/timeline-spec$s1.txt" ||
    die "the upgrade to spec $s1 failed"
  local u1
  u1="$(jq -r .summary.upgradeBlock "$DEMO_DIR/timeline-spec$s1.json")"

  log "waiting for job $job1 to complete"
  local waited=0
  while kill -0 "$watch1" 2>/dev/null; do
    for w in "${DEMO_WORKERS[@]}"; do
      [[ -n "$(worker_pid "$w")" ]] || die "worker $w stopped after the compatible upgrade (see $(worker_log "$w"))"
    done
    ((waited < 900)) || die "job $job1 did not complete within 15 min"
    sleep 3
    waited=$((waited + 3))
  done
  wait "$watch1" || die "job watch $job1 failed: $(tail -n 3 "$DEMO_DIR/job-$job1.watch")"
  local done_line done_block job1_took=$((SECONDS - job1_posted))
  done_line="$(grep -E "^#[0-9]+ job $job1 completed" "$DEMO_DIR/job-$job1.watch" || true)"
  [[ -n "$done_line" ]] || die "job watch $job1 ended without completing: $(tail -n 3 "$DEMO_DIR/job-$job1.watch")"
  done_block="$(sed -E 's/^#([0-9]+) .*/\1/' <<<"$done_line")"
  log "$done_line"
  ((done_block > u1)) ||
    die "job $job1 completed in #$done_block, before the upgrade in #$u1: raise DEMO_JOB_NONCES"
  local before_u after_u
  for w in "${DEMO_WORKERS[@]}"; do
    [[ -n "$(worker_pid "$w")" ]] || die "worker $w is not running"
    local up
    up="$(worker_events "$w" | jq -c 'select(.event == "runtime_upgraded") | {from, to, block}' | head -n 1)"
    [[ -n "$up" ]] || die "worker $w did not log runtime_upgraded"
    [[ "$(jq -r .to <<<"$up")" == "$s1" ]] || die "worker $w: runtime_upgraded $up, expected to $s1"
    before_u="$(worker_events "$w" | jq -c "select(.event == \"tx_submitted\" and .block < $u1)" | wc -l)"
    after_u="$(worker_events "$w" | jq -c "select(.event == \"tx_submitted\" and .block >= $u1)" | wc -l)"
    log "worker $w: running; runtime_upgraded $up, $(ms_after "$w" runtime_upgraded "$s1" "$DEMO_DIR/timeline-spec$s1.json") ms after #$u1 arrived; $before_u transactions submitted before #$u1, $after_u from it on; $(count_events "$w" paid) subjobs paid"
  done

  # 3. The incompatible upgrade.
  log "== 3. incompatible upgrade to spec $s2 (new call HashJobs::upgrade_demo_ping)"
  record_claims
  local job2
  job2="$(post_job)"
  wait_for both_claimed 90 "both workers to claim subjobs of job $job2"
  log "job $job2 is being worked on by ${DEMO_WORKERS[*]}"
  node "$TOOL" --wasm "$w2" --url "ws://127.0.0.1:$DEMO_RPC_PORT" ${committee[@]+"${committee[@]}"} \
    --json "$DEMO_DIR/timeline-spec$s2.json" | tee "$DEMO_DIR/timeline-spec$s2.txt" ||
    die "the upgrade to spec $s2 failed"
  local u2
  u2="$(jq -r .summary.upgradeBlock "$DEMO_DIR/timeline-spec$s2.json")"

  wait_for both_exited 60 "both workers to exit"
  local best_now status mismatches msg late stop_head
  best_now="$(demo_best)"
  log "both workers exited; best block #$best_now (the upgrade is #$u2)"
  for w in "${DEMO_WORKERS[@]}"; do
    status="$(cat "$(worker_exit_file "$w")")"
    [[ "$status" != 0 ]] || die "worker $w exited with status 0"
    mismatches="$(count_events "$w" runtime_mismatch)"
    [[ "$mismatches" == 1 ]] || die "worker $w logged $mismatches runtime_mismatch events, expected 1"
    msg="$(worker_events "$w" | jq -r 'select(.event == "runtime_mismatch") | .error')"
    [[ "$msg" == *"pallet HashJobs changed"* && "$msg" == *"Update appchain-worker"* ]] ||
      die "worker $w: unexpected runtime_mismatch error: $msg"
    late="$(worker_events "$w" | jq -c "select(.event == \"tx_submitted\" and .block >= $u2)" | wc -l)"
    [[ "$late" == 0 ]] || die "worker $w submitted $late transaction(s) signed at or after #$u2"
    stop_head="$(worker_events "$w" | jq -r "select(.event == \"runtime_upgraded\" and .to == $s2) | .block" | head -n 1)"
    [[ "$stop_head" =~ ^[0-9]+$ ]] && ((stop_head <= u2 + 3)) ||
      die "worker $w stopped at head #${stop_head:-?}, more than 3 blocks after the upgrade in #$u2"
    log "worker $w: exit status $status; one runtime_mismatch, $(ms_after "$w" runtime_mismatch "$s2" "$DEMO_DIR/timeline-spec$s2.json") ms after #$u2 arrived, at head #$stop_head; 0 transactions submitted from #$u2 on; last log lines:"
    tail -n 2 "$(worker_log "$w")" | sed 's/^/    /' >&2
  done
  log "a one-shot command of the old worker refuses too:"
  if APPCHAIN_SURI=//Alice worker_cli job post --text upgrade-demo --zeros 20 --end 1000 --budget 1 \
    >"$DEMO_DIR/job-post-after.out" 2>&1; then
    die "job post succeeded on the incompatible runtime"
  fi
  sed 's/^/    /' "$DEMO_DIR/job-post-after.out" >&2

  # 4. Summary.
  mkdir -p "$UPGRADE_DIR/last-demo"
  cp -f "$DEMO_DIR"/timeline-*.txt "$DEMO_DIR"/timeline-*.json "$DEMO_DIR"/job-*.watch "$DEMO_DIR"/job-post-after.out \
    "$UPGRADE_DIR/last-demo/" 2>/dev/null || true
  for w in "${DEMO_WORKERS[@]}"; do cp -f "$(worker_log "$w")" "$UPGRADE_DIR/last-demo/" 2>/dev/null || true; done
  echo
  echo "== upgrade demo: passed in $(((SECONDS - demo_started) / 60)) min $(((SECONDS - demo_started) % 60)) s (authorized by $auth)"
  local f
  for f in "$DEMO_DIR/timeline-spec$s1.json" "$DEMO_DIR/timeline-spec$s2.json"; do
    jq -r '.summary | def s: if . == null then "?" else ((. / 100 | round) / 10 | tostring) + " s" end;
      "spec \(.specBefore) -> \(.specAfter) in #\(.upgradeBlock): empty slots \(.missedSlotsBefore)/\(.slotsBefore) before, \(.missedSlotsAfter)/\(.slotsAfter) from it on; forks \(.forks); max finality lag \(.maxLagBefore) before, \(.maxLagAfter) after; in a block \(.submittedToIncludedMs | s) after submission, next block \(.includedToFirstNewBlockChainMs | s) later"' "$f"
  done
  echo "job $job1 ($DEMO_JOB_NONCES nonces): open across the upgrade in #$u1, completed in #$done_block, $job1_took s after it was posted"
  echo "workers after spec $s1: running (runtime_upgraded); after spec $s2: exited non-zero with one runtime_mismatch, nothing submitted from #$u2 on"
  echo "logs and timelines: $UPGRADE_DIR/last-demo/"
  DEMO_OK=1
}

main() {
  (($#)) || { usage >&2; exit 2; }
  local cmd="$1"
  shift
  case "$cmd" in
    build) cmd_build "$@" ;;
    enact) cmd_enact "$@" ;;
    demo) cmd_demo "$@" ;;
    help|-h|--help) usage ;;
    *) usage >&2; die "unknown command '$cmd'" ;;
  esac
}

main "$@"
