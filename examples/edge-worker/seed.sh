#!/usr/bin/env bash
# seed.sh [DIR] — provisions the worker's D1 data with `keyward` commands: runs provision.sh on a
# fresh SQLite file DIR/keyward.db, then to-d1.sh turns it into DIR/seed.sql for D1.
# The tokens go to DIR/tokens.env (0600). DIR defaults to .seed beside this script.
# Settings: DOMAIN and TOKEN_PREFIX from wrangler.toml's [vars]; the pepper from env PEPPER,
# else from .dev.vars (wrangler's file of local secrets), which gets a new random one if it has none.
# KEYWARD_BIN: the `keyward` command (default: `keyward` on PATH).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$here/.seed}

eval "$(python3 - "$here/wrangler.toml" <<'PY'
import shlex, sys, tomllib
with open(sys.argv[1], "rb") as f:
    settings = tomllib.load(f)["vars"]
print(f"export KEYWARD_DOMAIN={shlex.quote(settings['DOMAIN'])} KEYWARD_TOKEN_PREFIX={shlex.quote(settings['TOKEN_PREFIX'])}")
PY
)"

if [ -z "${PEPPER:-}" ]; then
  dev_vars=$here/.dev.vars
  if ! grep -q '^PEPPER=' "$dev_vars" 2>/dev/null; then
    (umask 077 && python3 -c 'import secrets; print("PEPPER=" + secrets.token_urlsafe(32))' >>"$dev_vars")
  fi
  PEPPER=$(sed -n 's/^PEPPER=//p' "$dev_vars" | head -n 1)
fi
export KEYWARD_PEPPER=$PEPPER

mkdir -p "$dir"
chmod 700 "$dir"
rm -f "$dir"/keyward.db "$dir"/keyward.db-wal "$dir"/keyward.db-shm
KEYWARD_DB=$dir/keyward.db "$here/provision.sh" "$dir/tokens.env"
"$here/to-d1.sh" "$dir/keyward.db" "$dir/seed.sql"
echo "seeded: $dir/seed.sql (for D1), tokens in $dir/tokens.env" >&2
