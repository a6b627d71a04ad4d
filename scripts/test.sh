#!/usr/bin/env bash
# The project's test command (README "Test"): unit tests of every crate, then the
# end-to-end tests that start the real node binary on loopback and talk to it with
# @polkadot/api. Uses the same release profile and target dir as the build, so nothing
# is compiled twice.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/appchain-target}"

echo "==> cargo test (release profile, whole workspace)"
cargo test --locked --release --workspace

echo "==> building the node binary used by the end-to-end tests"
cargo build --locked --release --workspace
export NODE_BIN="$CARGO_TARGET_DIR/release/appchain-node"

echo "==> end-to-end tests (node --test, @polkadot/api)"
[ -d tests/e2e/node_modules ] || (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
cd tests/e2e && npm test
