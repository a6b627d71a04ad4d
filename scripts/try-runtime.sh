#!/usr/bin/env bash
# Checks the runtime's storage migrations under try-runtime, as `try-runtime on-runtime-upgrade`
# would, on the state of every genesis preset:
#
#   scripts/try-runtime.sh [-- extra cargo test args]
#
# Builds the runtime natively with `--features try-runtime` and runs runtime/tests/try_runtime.rs:
# for each preset (development, local_testnet, staging), on its genesis state and on the same
# state as the older runtime left it (each migration's "from" storage version, with that
# version's data), it runs `Executive::try_runtime_upgrade` with every check: each migration's
# `pre_upgrade` and `post_upgrade`, a decode of the entire state and every pallet's
# `try_state`; the migrations' weight must fit in a block, and a second run must change nothing.
#
# Not part of the test command: the feature flips `frame-support` and everything above it, so
# the first run compiles the runtime's dependency tree once more with it; later runs recompile
# only what changed (about 2 minutes for the runtime crate on two cores). The WASM runtime is
# not rebuilt (SKIP_WASM_BUILD).
#
# Environment: CARGO_TARGET_DIR (default $HOME/.cache/appchain-target, shared with the build:
# the try-runtime artifacts sit beside the normal ones and replace none of them).
set -euo pipefail
SCRIPT_NAME=try-runtime
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

case "${1:-}" in
  -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  --) shift ;;
  "") ;;
  *) die "unknown argument '$1' (see --help)" ;;
esac

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/appchain-target}"
log "runtime migrations under try-runtime (native build, target $CARGO_TARGET_DIR)"
SKIP_WASM_BUILD=1 \
  cargo test --locked --release -p appchain-runtime --features try-runtime \
  --test try_runtime -- --nocapture --test-threads 1 "$@"
log "every migration passed its pre_upgrade, post_upgrade and try_state checks"
