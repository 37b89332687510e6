#!/usr/bin/env bash
# The edge worker's tests: seed.sh provisions with the `keyward` command (KEYWARD_BIN, default
# the repository's debug build), then the worker runs in workerd through Miniflare over a real
# D1 binding. Needs the built @keyward/wasm in ../../pkg, Node ≥ 20 and python3.
set -euo pipefail
# A KEYWARD_BIN given as a path is taken relative to where we were called from.
if [[ ${KEYWARD_BIN:-} == */* ]]; then KEYWARD_BIN=$(realpath "$KEYWARD_BIN"); fi
cd "$(dirname "$0")"
export CI=true KEYWARD_BIN=${KEYWARD_BIN:-$(pwd)/../../target/debug/keyward}
npm ci --no-audit --no-fund --loglevel=error
node --test test/
