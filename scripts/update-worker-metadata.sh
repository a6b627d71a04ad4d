#!/usr/bin/env bash
# Regenerates worker/metadata/appchain.scale, the runtime metadata (v16) the worker's subxt
# types are generated from, after a runtime change. The runtime test
# `worker_metadata_is_current` fails until this has been run and the worker rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/appchain-target}"
# The node embeds the runtime with `fast-runtime` (its default feature): so does the metadata.
UPDATE_WORKER_METADATA=1 cargo test --locked --release -p appchain-runtime --features fast-runtime --test worker_metadata
echo "worker/metadata/appchain.scale updated ($(stat -c %s worker/metadata/appchain.scale) bytes)"
