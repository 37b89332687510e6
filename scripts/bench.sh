#!/usr/bin/env bash
# `make bench`: every benchmark of issue 10 in one run on this machine, then BENCHMARKS.md.
#   scripts/bench.sh           the full run (about 27 min on 2 cores, 15 of them filling the
#                              1 M-token store); needs KEYWARD_TEST_PG_URL
#                              (run it through scripts/with-postgres.sh, as `make bench` does)
#   scripts/bench.sh --smoke   builds the benchmarks and runs one tiny iteration of each
#                              (`make bench-smoke`); PostgreSQL is skipped when the URL is unset
# Builds what it measures in release mode: @keyward/node and @keyward/wasm (`make wasm
# node-native`) and, for the full run, a release wheel of the Python package in bench/.venv
# (the .venv of `make python-test` holds a debug build).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
CARGO=${CARGO:-cargo}
PYTHON=${PYTHON:-python3}
target=$($CARGO metadata --format-version 1 --no-deps | $PYTHON -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
export KEYWARD_BENCH_OUT=$target/keyward-bench
export CRITERION_HOME=$target/criterion
mode=${1:-full}

(cd bench/node && { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; })

if [ "$mode" = "--smoke" ]; then
  # One iteration of each criterion benchmark on tiny stores (the benches see `--test`).
  $CARGO bench -q -p keyward-bench -- --test
  py=${BENCH_PYTHON:-.venv/bin/python}
  $py bench/python/verify.py --iterations 1 --tokens 100 >/dev/null
  node bench/node/verify.mjs --iterations 1 --tokens 100 >/dev/null
  echo "bench-smoke: every benchmark ran once"
  exit 0
fi

: "${KEYWARD_TEST_PG_URL:?run through scripts/with-postgres.sh (make bench does)}"
started=$(date +%s)
rm -rf "$KEYWARD_BENCH_OUT" "$CRITERION_HOME"
mkdir -p "$KEYWARD_BENCH_OUT"

# What is measured, built for release.
make -s wasm node-native
test -x bench/.venv/bin/python || $PYTHON -m venv bench/.venv
bench/.venv/bin/python -m pip install -q --disable-pip-version-check -r bench/python/requirements.txt maturin==1.16.0
rm -rf "$target/bench-wheels"
(cd python && VIRTUAL_ENV=$root/bench/.venv ../bench/.venv/bin/maturin build --release -q -o "$target/bench-wheels")
bench/.venv/bin/python -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$target"/bench-wheels/*.whl

# Rust: criterion (medians from $target/criterion/**/new/estimates.json).
$CARGO bench -p keyward-bench --bench verify 2>&1 | tee "$KEYWARD_BENCH_OUT/verify.log" | grep -E '^[a-z]+/|time:|filled' || true
$CARGO bench -p keyward-bench --bench stores 2>&1 | tee "$KEYWARD_BENCH_OUT/stores.log" | grep -E '^[a-z]+/|time:|queries' || true
for log in verify stores; do
  if ! grep -q 'time:' "$KEYWARD_BENCH_OUT/$log.log" || grep -q 'panicked' "$KEYWARD_BENCH_OUT/$log.log"; then
    tail -20 "$KEYWARD_BENCH_OUT/$log.log"; exit 1
  fi
done

# Python and Node.
bench/.venv/bin/python bench/python/verify.py > "$KEYWARD_BENCH_OUT/python.json"
node bench/node/verify.mjs > "$KEYWARD_BENCH_OUT/node.json"

echo "$(( $(date +%s) - started ))" > "$KEYWARD_BENCH_OUT/seconds"
$PYTHON scripts/bench_report.py "$target" > BENCHMARKS.md
echo "BENCHMARKS.md written ($(cat "$KEYWARD_BENCH_OUT/seconds") s)"
