#!/usr/bin/env bash
# The project's test command (README "Test"): unit tests of every crate, then the
# end-to-end tests that start the real node and worker binaries on loopback and talk to
# them with @polkadot/api. Uses the same release profile and target dir as the build, so
# nothing is compiled twice.
#
# The worker and its engines are a cargo workspace of their own (worker/Cargo.toml, with its
# own Cargo.lock): their client-side dependencies (subxt, tokio, candle, sha2's raw
# `compress` function) never change a version or feature the node is built with.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/appchain-target}"
WORKER=(--manifest-path worker/Cargo.toml)

echo "==> cargo test (release profile): node, runtime, pallets, primitives"
cargo test --locked --release --workspace

echo "==> the real model and the numpy reference (scripts/fetch-model.sh; cached)"
bash scripts/fetch-model.sh >/dev/null

echo "==> cargo test (release profile): worker, hashing engine, inference engine"
cargo test --locked --release "${WORKER[@]}" --workspace --exclude appchain-inference-bench

echo "==> building the node and worker binaries used by the end-to-end tests"
cargo build --locked --release --workspace
cargo build --locked --release "${WORKER[@]}" -p appchain-worker
export NODE_BIN="$CARGO_TARGET_DIR/release/appchain-node"
export WORKER_BIN="$CARGO_TARGET_DIR/release/appchain-worker"

echo "==> end-to-end tests (node --test, @polkadot/api, the worker binary)"
[ -d tests/e2e/node_modules ] || (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
cd tests/e2e && npm test
