#!/usr/bin/env bash
# Tests of the Node backend example on a real PostgreSQL server: installs the example's own
# dependencies from package-lock.json (@keyward/node is ../../node, built beforehand), then runs
# node --test. Needs KEYWARD_TEST_PG_URL (run it through scripts/with-postgres.sh); KEYWARD_BIN
# (the `keyward` command, for the provisioning test) defaults to the repository's debug build.
set -euo pipefail
cd "$(dirname "$0")"
export CI=true
: "${KEYWARD_TEST_PG_URL:?run through scripts/with-postgres.sh, which starts a private PostgreSQL}"
KEYWARD_BIN=${KEYWARD_BIN:-$(cd ../.. && pwd)/target/debug/keyward}
export KEYWARD_BIN
npm ci --no-audit --no-fund --loglevel=error
node --test test/*.test.mjs
