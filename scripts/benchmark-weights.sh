#!/usr/bin/env bash
# Generates the weights of our pallets by running their benchmarks.
#
#   scripts/benchmark-weights.sh [pallet ...]      (default: every pallet under pallets/)
#
# Builds the node with `--features runtime-benchmarks` (all crates of the workspace, so that the
# build shares the feature set and stays incremental), runs every benchmark once as a test on its
# pallet's mock runtime, and runs `appchain-node benchmark pallet`
# for each pallet on the runtime's `development` genesis preset, writing `pallets/<dir>/src/weights.rs` from
# `scripts/templates/pallet-weights.hbs`. The generated file's header records the command.
#
# Environment:
#   CARGO_TARGET_DIR  target dir of the benchmark build
#                     (default: $HOME/.cache/appchain-bench-target, kept apart from the main
#                     build because the feature flips the whole dependency tree)
#   STEPS, REPEAT     benchmark sampling (defaults 50 and 20)
set -euo pipefail
SCRIPT_NAME=benchmark-weights
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/appchain-bench-target}"
STEPS="${STEPS:-50}"
REPEAT="${REPEAT:-20}"
BENCH_BIN="$CARGO_TARGET_DIR/release/appchain-node"
RUNTIME_WASM="$CARGO_TARGET_DIR/release/wbuild/appchain-runtime/appchain_runtime.compact.compressed.wasm"

# pallet crate name (as in the runtime's define_benchmarks!) -> directory under pallets/
declare -A PALLET_DIRS=(
  [pallet_compute_registry]=registry
  [pallet_compute_market]=market
  [pallet_hash_jobs]=hashjobs
  [pallet_root_motions]=root-motions
  [pallet_payment_channels]=payment-channels
  [pallet_inference_proofs]=inference-proofs
)

if [[ $# -gt 0 ]]; then selected=("$@"); else selected=("${!PALLET_DIRS[@]}"); fi
for p in "${selected[@]}"; do
  [[ -n "${PALLET_DIRS[$p]:-}" ]] || die "unknown pallet '$p' (known: ${!PALLET_DIRS[*]})"
done

log "building the node with runtime benchmarks into $CARGO_TARGET_DIR"
cargo build --locked --release --workspace --features appchain-node/runtime-benchmarks

log "running the benchmarks once on each pallet's mock runtime (impl_benchmark_test_suite)"
cargo test --locked --release --workspace --features appchain-node/runtime-benchmarks -- bench_

for pallet in "${selected[@]}"; do
  out="pallets/${PALLET_DIRS[$pallet]}/src/weights.rs"
  log "benchmarking $pallet (steps $STEPS, repeat $REPEAT) -> $out"
  "$BENCH_BIN" benchmark pallet \
    --runtime "$RUNTIME_WASM" \
    --genesis-builder runtime \
    --genesis-builder-preset development \
    --pallet "$pallet" \
    --extrinsic '*' \
    --steps "$STEPS" \
    --repeat "$REPEAT" \
    --wasm-execution compiled \
    --heap-pages 4096 \
    --template scripts/templates/pallet-weights.hbs \
    --output "$out"
done
log "done; review the diff of the weights files and commit them"
