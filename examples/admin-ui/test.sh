#!/usr/bin/env bash
# The admin console's tests: real headless Chromium (Debian's) driven by playwright-core.
# Needs the built @keyward/wasm package in ../../pkg (`make build` at the repository's root).
set -euo pipefail
cd "$(dirname "$0")"
export CI=true

# Debian's Chromium; playwright-core downloads no browser of its own.
test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

npm ci --no-audit --no-fund --loglevel=error
node --test test/
