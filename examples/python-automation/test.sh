#!/usr/bin/env bash
# The example's tests: mypy --strict, then pytest against a real PostgreSQL server.
# Needs KEYWARD_TEST_PG_URL (run through scripts/with-postgres.sh), PYTHON (a Python with
# keyward installed) and KEYWARD_BIN (the keyward command; default ../../target/debug/keyward).
set -euo pipefail
# A KEYWARD_BIN given as a path is taken relative to where we were called from.
if [[ ${KEYWARD_BIN:-} == */* ]]; then KEYWARD_BIN=$(realpath "$KEYWARD_BIN"); fi
cd "$(dirname "$0")"
python=${PYTHON:-python3}
export KEYWARD_BIN=${KEYWARD_BIN:-$(cd ../.. && pwd)/target/debug/keyward}
export CI=${CI:-true}
"$python" -m pip install -q -r requirements.txt
"$python" -m mypy --strict fleet tests
"$python" -m pytest -p no:cacheprovider --durations=3
