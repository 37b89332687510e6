#!/usr/bin/env bash
# provision.sh TOKENS_FILE — the tenant, accounts and tokens this API serves, made with `keyward`
# commands on the database KEYWARD_DB (a SQLite file for seed.sh; a postgres:// URL works the
# same). The CLI takes KEYWARD_DOMAIN, KEYWARD_TOKEN_PREFIX and KEYWARD_PEPPER from the
# environment: they must be the worker's DOMAIN, TOKEN_PREFIX and PEPPER (seed.sh sees to it).
# The new tokens go to TOKENS_FILE (mode 0600) as NAME=token lines, the one place they are shown.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 TOKENS_FILE" >&2
  exit 2
fi
tokens_file=$1
keyward=${KEYWARD_BIN:-keyward}
export KEYWARD_ACTOR=root@acme.test

kw() { "$keyward" -o json "$@"; }
field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

kw tenant create acme --admin root@acme.test --name "Acme Inference" >/dev/null

# Three service accounts, from least to most trusted:
#   inference-bot  role inference-user: reads and runs models (GET, POST .../infer)
#   ci-deployer    role contributor: also uploads models (PUT), but cannot delete them
#   janitor        no role, one direct grant: deletes scratch models only (DELETE models/scratch-*)
inference=$(kw sa create acme inference-bot --role inference-user --description "serves the chat product" | field principal)
deployer=$(kw sa create acme ci-deployer --role contributor --description "GitHub Actions: publishes models" | field principal)
janitor=$(kw sa create acme janitor --grant 'models:delete@models/scratch-*' --description "nightly clean-up" | field principal)

# A new file, made 0600 from the start: an existing one might be readable by others.
rm -f "$tokens_file"
(umask 077 && : >"$tokens_file")
token() { # VAR PRINCIPAL [token create options...]
  local var=$1 created
  shift
  created=$(kw token create "$@" | field token) # a failure stops the script (set -e)
  printf '%s=%s\n' "$var" "$created" >>"$tokens_file"
}
token INFERENCE_TOKEN "$inference" --name fleet --ttl-days 90
token LAPTOP_TOKEN "$inference" --name laptop --ttl-days 7         # a developer's copy, to revoke
token DASHBOARD_TOKEN "$inference" --name dashboard --scope models:read   # narrowed to reading
token DEPLOYER_TOKEN "$deployer" --name github-actions --ttl-days 30
token JANITOR_TOKEN "$janitor" --name cron --ttl-days 30
