#!/usr/bin/env bash
# One database, every host (issue 8, API.md "Store adapters"): the `keyward` command provisions a
# tenant, a service account and a token in PostgreSQL; the Python package and the Node package
# verify that token from the same table; Python rotates it and Node sees the rotation; Node
# revokes it and the command sees the revocation. Needs KEYWARD_TEST_PG_URL (run it through
# scripts/with-postgres.sh, as `make cross-host-test` does) and the built hosts.
set -euo pipefail
: "${KEYWARD_TEST_PG_URL:?run through scripts/with-postgres.sh}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
keyward=${KEYWARD_BIN:?the built keyward binary}
export KEYWARD_DB="$KEYWARD_TEST_PG_URL" KEYWARD_ACTOR=root@acme.test

"$keyward" -o json tenant create acme --admin root@acme.test >/dev/null
sa=$("$keyward" -o json sa create acme deploy-bot --role viewer | python3 -c 'import json,sys; print(json.load(sys.stdin)["principal"])')
token=$("$keyward" -o json token create "$sa" --name ci | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

# Python verifies the command's token, then rotates it with no grace.
new_token=$(KEYWARD_TOKEN="$token" SA="$sa" "$root/.venv/bin/python" - <<'PY'
import os
import keyward
from keyward.stores import PostgresStore

engine = keyward.Engine(PostgresStore(os.environ["KEYWARD_TEST_PG_URL"]))
token, sa = os.environ["KEYWARD_TOKEN"], os.environ["SA"]
decision = engine.verify(token, "acme", "models:read")
assert decision["allowed"] and decision["principal"] == sa, decision
identity = engine.authenticate(token)
rotated = engine.rotate_token("root@acme.test", sa, identity["token_id"], grace_seconds=0)
print(rotated["token"])
PY
)

# Node sees the rotation (old token expired, new one allowed), then revokes the new token.
KEYWARD_TOKEN="$token" NEW_TOKEN="$new_token" SA="$sa" node --input-type=module - <<'JS'
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';
const require = createRequire(process.cwd() + '/node/');
const pg = require('pg');
const { Engine } = require('./index.js');
const { PostgresStore } = require('./stores.js');
const pool = new pg.Pool({ connectionString: process.env.KEYWARD_TEST_PG_URL, max: 2 });
const engine = new Engine({ store: new PostgresStore(pool) });
const old = await engine.verify(process.env.KEYWARD_TOKEN, 'acme', 'models:read');
assert.equal(old.reason, 'token_expired');
const fresh = await engine.verify(process.env.NEW_TOKEN, 'acme', 'models:read');
assert.equal(fresh.allowed, true);
const id = (await engine.authenticate(process.env.NEW_TOKEN)).tokenId;
await engine.revokeToken('root@acme.test', process.env.SA, id);
await pool.end();
JS

# The command sees what Node did: the new token is revoked (exit status 1, a denied decision).
if KEYWARD_TOKEN="$new_token" "$keyward" -o json verify acme models:read >/tmp/keyward-cross-host.json; then
  echo "the revoked token still verifies" >&2
  exit 1
fi
python3 -c 'import json; d = json.load(open("/tmp/keyward-cross-host.json")); assert d["reason"] == "token_revoked", d'
rm -f /tmp/keyward-cross-host.json
echo "cross-host: keyward → Python → Node → keyward on one PostgreSQL table: ok"
