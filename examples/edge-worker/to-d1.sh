#!/usr/bin/env bash
# to-d1.sh SOURCE OUT.sql — the Keyward data of a database as SQL for a D1 database:
# `wrangler d1 execute DB --file OUT.sql`. SOURCE is a SQLite file (what the `keyward` command
# writes by default) or a postgres:// URL (the database every other host shares; needs psycopg in
# $PYTHON, e.g. `pip install keyward[postgres]`). Every store's table is the same
# `keyward_kv (key, value, version)` (API.md "Store adapters"), so rows are copied as they are,
# versions included. Plain INSERTs: meant for an empty database, and loud (a primary-key error)
# rather than silently mixing two provisionings.
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 SOURCE.db|postgres://... OUT.sql" >&2
  exit 2
fi
"${PYTHON:-python3}" - "$1" "$2" <<'PY'
import sqlite3
import sys

source, target = sys.argv[1:]
if source.startswith(("postgres://", "postgresql://")):
    import psycopg

    db = psycopg.connect(source)
    query = 'SELECT key, value, version FROM keyward_kv ORDER BY key COLLATE "C"'
else:
    db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    query = "SELECT key, value, version FROM keyward_kv ORDER BY key"


def literal(text):
    # One statement per line: D1's exec() and wrangler both cope with that. Keyward's keys hold
    # no control characters and its values are compact JSON, so a line break means bad input.
    if any(c in text for c in "\r\n\0"):
        sys.exit(f"{source}: a key or value holds a line break or NUL; not Keyward data?")
    return "'" + text.replace("'", "''") + "'"


rows = db.execute(query).fetchall()
with open(target, "w", encoding="utf-8") as out:
    out.write("CREATE TABLE IF NOT EXISTS keyward_kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, version BIGINT NOT NULL);\n")
    for key, value, version in rows:
        out.write(f"INSERT INTO keyward_kv (key, value, version) VALUES ({literal(key)}, {literal(value)}, {int(version)});\n")
print(f"{target}: {len(rows)} rows", file=sys.stderr)
PY
