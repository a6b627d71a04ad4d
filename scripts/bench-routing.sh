#!/usr/bin/env bash
# Benchmark of route finding (appchain-primitives::routing) on 10,000 and 20,000 nodes over 80
# layers; prints both median times and their ratio (≈ 2 for a linear algorithm).
set -euo pipefail
SCRIPT_NAME=bench-routing
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/appchain-target}"
exec cargo bench --locked -p appchain-primitives --bench routing
