#!/usr/bin/env bash
# `make demo`: a short session of `keyward` commands on a fresh ./keyward.db, each command
# printed before its output. The database stays there afterwards to explore further; the next
# `make demo` starts afresh. KEYWARD names the binary (default: `keyward` on the PATH).
set -euo pipefail

bin=${KEYWARD:-keyward}
keyward() { "$bin" "$@"; }
# Prints a command, then runs it; a non-zero exit status is shown, not fatal (a denied verify
# exits 1 on purpose).
show() {
  say "$@"
  "$@" || echo "(exit status $?)"
}
# Prints a command as one would type it: arguments with spaces or shell characters quoted.
say() {
  local line="" arg
  for arg in "$@"; do
    if [[ $arg =~ ^[A-Za-z0-9@._:/=,+-]+$ ]]; then line+=" $arg"; else line+=" '$arg'"; fi
  done
  if [ -t 1 ]; then printf '\n\033[1m$%s\033[0m\n' "$line"; else printf '\n$%s\n' "$line"; fi
}

unset KEYWARD_ACTOR KEYWARD_TOKEN KEYWARD_PEPPER KEYWARD_DOMAIN KEYWARD_TOKEN_PREFIX
export KEYWARD_DB=./keyward.db
rm -f keyward.db keyward.db-wal keyward.db-shm

echo "# a tenant with its first admin, who then acts (--as, or env KEYWARD_ACTOR)"
show keyward tenant create acme --admin root@acme.test --name 'Acme Corp'
say export KEYWARD_ACTOR=root@acme.test
export KEYWARD_ACTOR=root@acme.test

echo
echo "# a service account with the built-in inference-user role, and a token shown this once"
bot=support-bot@acme.sa.keyward.local
show keyward sa create acme support-bot --description 'answers support tickets' --role inference-user
say keyward token create $bot --name prod --ttl-days 90
created=$(keyward token create $bot --name prod --ttl-days 90)
echo "$created"
first=$(awk '$1 == "token" { print $2 }' <<<"$created")
token_id=$(awk '$1 == "token_id" { print $2 }' <<<"$created")

echo
echo "# the data plane: the token comes from env KEYWARD_TOKEN (or stdin), never an argument"
say export 'KEYWARD_TOKEN=<the token above>'
export KEYWARD_TOKEN=$first
show keyward verify acme models:read models/llama-3
show keyward verify acme accounts:delete

echo
echo "# rotation: a new token; the old one keeps working for the grace period"
say keyward token rotate $bot "$token_id" --grace-seconds 3600
rotated=$(keyward token rotate $bot "$token_id" --grace-seconds 3600)
echo "$rotated"
second=$(awk '$1 == "token" { print $2 }' <<<"$rotated")
echo "# the old token, in its grace period"
show keyward verify acme models:read
say export 'KEYWARD_TOKEN=<the new token>'
export KEYWARD_TOKEN=$second
show keyward verify acme models:read
show keyward token list $bot

echo
echo "# a cross-tenant grant: globex lets acme's bot read its models"
show keyward tenant create globex --admin root@globex.test
show keyward verify globex models:read
show keyward --as root@globex.test access grant globex $bot --role viewer
show keyward verify globex models:read

echo
echo "# who is there, and what happened"
show keyward account list acme --filter 'service_account=true'
show keyward audit acme

cat <<'TXT'

The database is ./keyward.db. Keep exploring, for instance:
  cargo install --path bindings/cli        # or use the binary cargo built
  KEYWARD_ACTOR=root@acme.test keyward account show acme support-bot@acme.sa.keyward.local
  keyward --help
TXT
