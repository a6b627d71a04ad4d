#!/usr/bin/env bash
# The inference figures of the README, each a ratio against a baseline measured in the same
# run: our engine against candle-transformers' quantized_llama on the same GGUF file (decode
# and prefill), the pipeline over three loopback workers against in-process generation, and
# the peak memory of a node serving layers [10, 20) against the whole model.
#
#   scripts/bench-inference.sh [--tokens N] [--prompt TEXT] [--model FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/appchain-target}"
model="$(bash scripts/fetch-model.sh | tail -n 1)"
cargo build --locked --release --manifest-path worker/Cargo.toml -p appchain-inference-bench
exec "$CARGO_TARGET_DIR/release/appchain-inference-bench" --model "$model" "$@"
