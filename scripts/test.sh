#!/usr/bin/env bash
# The project's test command (README "Test"): unit tests of every crate, then the
# end-to-end tests that start the real node and worker binaries on loopback and talk to
# them with @polkadot/api. Uses the same release profile and target dir as the build, so
# nothing is compiled twice.
#
# The worker and its hashing engine are built in their own cargo invocations: their
# client-side dependencies (subxt, tokio, sha2's raw `compress` function) would otherwise be
# unified into the node's feature set and force a rebuild of the node's whole dependency
# tree whenever either side changes.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/appchain-target}"
CHAIN=(--workspace --exclude appchain-worker --exclude appchain-hash-engine)

echo "==> cargo test (release profile): node, runtime, pallets, primitives"
cargo test --locked --release "${CHAIN[@]}"

echo "==> cargo test (release profile): worker and hashing engine"
cargo test --locked --release -p appchain-worker -p appchain-hash-engine

echo "==> building the node and worker binaries used by the end-to-end tests"
cargo build --locked --release "${CHAIN[@]}"
cargo build --locked --release -p appchain-worker
export NODE_BIN="$CARGO_TARGET_DIR/release/appchain-node"
export WORKER_BIN="$CARGO_TARGET_DIR/release/appchain-worker"

echo "==> end-to-end tests (node --test, @polkadot/api, the worker binary)"
[ -d tests/e2e/node_modules ] || (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
cd tests/e2e && npm test
