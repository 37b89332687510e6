#!/usr/bin/env bash
# Runs a command with a private PostgreSQL cluster (../shared/TOOLCHAIN.md): installs Debian's
# `postgresql` when missing, starts a throwaway cluster as user `postgres` on 127.0.0.1 and a
# free port, exports its URL as KEYWARD_TEST_PG_URL, runs "$@", and stops the cluster whatever
# the command's outcome. The system cluster is never touched.
set -euo pipefail

bin=""
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/pg_ctl" ] && bin="$d"; done
if [ -z "$bin" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/pg_ctl" ] && bin="$d"; done
fi

dir=$(mktemp -d /tmp/keyward-pg.XXXXXX)
chown postgres "$dir"
as_pg() { runuser -u postgres -- "$@"; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

stop() {
  as_pg "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

as_pg "$bin/initdb" -A trust -U postgres -D "$dir/data" >/dev/null
as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off" start >/dev/null
as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres keyward_test

export KEYWARD_TEST_PG_URL="postgresql://postgres@127.0.0.1:$port/keyward_test"
echo "PostgreSQL test cluster on port $port (stopped when this command ends)"
"$@"
