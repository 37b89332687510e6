"""Writes inputs.json: the hostile inputs every JavaScript and Python host runs (issue 11,
point 5). Kept as a script so each entry can carry a comment; `python3 build_inputs.py`
rewrites the file, which is what the hosts read."""

import json

ROOT = "root@acme.test"
BOT = "bot@acme.sa.keyward.local"
HUGE = {"$gen": "huge"}          # 10 MB of "a"
DEEP_ARRAY = {"$gen": "deep_array"}    # 10,000 nested arrays
DEEP_OBJECT = {"$gen": "deep_object"}  # 10,000 nested objects
TOKEN = {"$gen": "token"}        # the live token of `bot`: must never be echoed
TOKEN_ID = {"$gen": "token_id"}  # its id

def bad(field, rules="R-01"):
    return {"code": "invalid_argument", "field": field}

E = []
def add(id, rules, op, args, expect, **extra):
    E.append({"id": id, "rules": rules, "op": op, "args": args, "expect": expect, **extra})

# -- empty strings ---------------------------------------------------------------------------
add("empty-tenant", "R-60 §12", "create_tenant", {"tenant": "", "admin": "a@b.test"}, bad("tenant"))
add("empty-sa-name", "R-02", "create_service_account", {"actor": ROOT, "tenant": "acme", "name": ""}, bad("name"))
add("empty-actor", "R-81", "get_tenant", {"actor": "", "tenant": "acme"}, bad("actor"))
add("empty-principal", "R-02 R-03", "get_account", {"actor": ROOT, "tenant": "acme", "principal": ""}, bad("principal"))
add("empty-token-verify", "R-12", "verify", {"token": "", "tenant": "acme", "permission": "models:read"}, {"decision": "invalid_credentials"})
add("empty-token-authenticate", "R-12", "authenticate", {"token": ""}, {"code": "invalid_credentials"})
add("empty-token-name", "R-24", "create_token", {"actor": ROOT, "principal": BOT, "name": ""}, bad("name"))
add("empty-grant", "R-48", "define_role", {"actor": ROOT, "tenant": "acme", "role": "r1", "grants": [""]}, bad("grants"))
add("empty-permission", "R-48", "verify", {"token": TOKEN, "tenant": "acme", "permission": ""}, bad("permission"))
add("empty-admin-email", "R-03", "create_tenant", {"tenant": "fresh", "admin": ""}, bad("admin"))

# -- huge strings (10 MB) --------------------------------------------------------------------
add("huge-sa-name", "R-02", "create_service_account", {"actor": ROOT, "tenant": "acme", "name": HUGE}, bad("name"))
add("huge-description", "R-01", "update_service_account", {"actor": ROOT, "principal": BOT, "description": HUGE}, bad("description"))
add("huge-token-verify", "R-12 R-14", "verify", {"token": HUGE, "tenant": "acme", "permission": "models:read"}, {"decision": "invalid_credentials"})
add("huge-filter", "R-70", "list_accounts", {"actor": ROOT, "tenant": "acme", "filter": HUGE}, {"code": "invalid_filter", "position": 4096})
add("huge-admin-email", "R-03", "create_tenant", {"tenant": "fresh", "admin": HUGE}, bad("admin"))
add("huge-actor", "R-81", "get_tenant", {"actor": HUGE, "tenant": "acme"}, bad("actor"))
add("huge-password", "R-50", "set_password", {"actor": ROOT, "principal": BOT, "password": HUGE}, {"code": "weak_password", "rules": ["max_length", "uppercase", "digit", "special"]})
add("huge-resource", "R-48", "authorize", {"identity_or_principal": BOT, "tenant": "acme", "permission": "models:read", "resource": HUGE}, bad("resource"))

# -- NUL bytes -------------------------------------------------------------------------------
add("nul-sa-name", "R-02", "create_service_account", {"actor": ROOT, "tenant": "acme", "name": "bot\u0000x"}, bad("name"))
add("nul-description", "R-01", "update_service_account", {"actor": ROOT, "principal": BOT, "description": "a\u0000b"}, bad("description"))
add("nul-token-name", "R-24", "create_token", {"actor": ROOT, "principal": BOT, "name": "ci\u0000"}, bad("name"))
add("nul-tenant", "R-60", "create_tenant", {"tenant": "acme\u0000", "admin": "a@b.test"}, bad("tenant"))
add("nul-permission", "R-48", "verify", {"token": TOKEN, "tenant": "acme", "permission": "models:read\u0000"}, bad("permission"))
add("nul-actor", "R-81", "get_tenant", {"actor": "root@acme.test\u0000", "tenant": "acme"}, bad("actor"))
add("nul-token", "R-12 R-14", "authenticate", {"token": "kw_\u0000"}, {"code": "invalid_credentials"})

# -- injection-shaped names ------------------------------------------------------------------
add("sql-sa-name", "R-02", "create_service_account", {"actor": ROOT, "tenant": "acme", "name": "x'; DROP TABLE keyward_kv;--"}, bad("name"))
add("path-tenant", "R-60", "create_tenant", {"tenant": "../../etc", "admin": "a@b.test"}, bad("tenant"))
add("format-group", "R-43", "create_group", {"actor": ROOT, "tenant": "acme", "group": "%s%n%x"}, bad("group"))
add("template-role", "R-41", "define_role", {"actor": ROOT, "tenant": "acme", "role": "${x}", "grants": ["models:read"]}, bad("role"))
add("html-sa-name", "R-02", "create_service_account", {"actor": ROOT, "tenant": "acme", "name": "<script>alert(1)</script>"}, bad("name"))
add("json-group", "R-43", "create_group", {"actor": ROOT, "tenant": "acme", "group": "{\"a\":1}"}, bad("group"))
add("crlf-email", "R-03", "create_user", {"actor": ROOT, "tenant": "acme", "email": "a@b.test\r\nBcc: x@y.test"}, bad("email"))
add("newline-token-name", "R-24", "create_token", {"actor": ROOT, "principal": BOT, "name": "line\nbreak"}, bad("name"))
add("bidi-description", "R-01", "update_service_account", {"actor": ROOT, "principal": BOT, "description": "\u202eevil"}, bad("description"))
add("zero-width-token-name", "R-24", "create_token", {"actor": ROOT, "principal": BOT, "name": "zero\u200bwidth"}, bad("name"))
add("bidi-sa-name", "R-02", "create_service_account", {"actor": ROOT, "tenant": "acme", "name": "bot\u202e"}, bad("name"))
add("space-resource", "R-48", "verify", {"token": TOKEN, "tenant": "acme", "permission": "models:read", "resource": "models/llama 3"}, bad("resource"))
add("sql-filter", "R-70", "list_accounts", {"actor": ROOT, "tenant": "acme", "filter": "name=\"x\" OR 1=1; DROP TABLE keyward_kv"}, {"code": "invalid_filter"})
add("jndi-filter", "R-70", "audit_log", {"actor": ROOT, "tenant": "acme", "filter": "${jndi:ldap://x.test/a}=1"}, {"code": "invalid_filter", "position": 0})
add("path-grant", "R-48", "grant_permissions", {"actor": ROOT, "tenant": "acme", "principal": BOT, "grants": ["../../etc:read"]}, bad("grants"))
add("sql-tenant-lookup", "R-60", "get_tenant", {"actor": ROOT, "tenant": "acme' --"}, bad("tenant"))
add("deep-filter-parens", "R-70", "list_accounts", {"actor": ROOT, "tenant": "acme", "filter": "(" * 2000 + "name=a" + ")" * 2000}, {"code": "invalid_filter", "position": 32})

# -- token-shaped text in the wrong place: never echoed (R-82) -------------------------------
add("token-as-actor", "R-81 R-82", "get_tenant", {"actor": TOKEN, "tenant": "acme"}, bad("actor"))
add("token-as-principal", "R-82", "get_account", {"actor": ROOT, "tenant": "acme", "principal": TOKEN}, {"code": "not_found"})
add("token-as-sa-name", "R-02 R-82", "create_service_account", {"actor": ROOT, "tenant": "acme", "name": TOKEN}, bad("name"))
add("token-as-tenant", "R-60 R-82", "create_tenant", {"tenant": TOKEN, "admin": "a@b.test"}, bad("tenant"))
add("token-as-token-id", "R-82", "revoke_token", {"actor": ROOT, "principal": BOT, "token_id": TOKEN}, bad("token_id"))
add("token-as-permission", "R-48 R-82", "authorize", {"identity_or_principal": BOT, "tenant": "acme", "permission": TOKEN}, bad("permission"))

# -- forged or broken identity records (R-26: a token-bound identity is checked again) ------
FAKE_ID = "AAAAAAAAAAAA"
add("identity-unknown-token-id", "R-26", "authorize", {"identity_or_principal": {"principal": BOT, "token_id": FAKE_ID}, "tenant": "acme", "permission": "models:read"}, {"decision": "invalid_credentials"})
add("identity-token-as-token-id", "R-26 R-82", "authorize", {"identity_or_principal": {"principal": BOT, "token_id": TOKEN}, "tenant": "acme", "permission": "models:read"}, {"decision": "invalid_credentials"})
add("identity-without-principal", "R-26", "authorize", {"identity_or_principal": {"token_id": FAKE_ID}, "tenant": "acme", "permission": "models:read"}, bad("identity_or_principal"))
add("actor-identity-unknown-token-id", "R-26", "get_tenant", {"actor": {"principal": ROOT, "token_id": FAKE_ID}, "tenant": "acme"}, {"code": "invalid_credentials"})
add("actor-identity-token-as-token-id", "R-26 R-82", "update_tenant_settings", {"actor": {"principal": ROOT, "token_id": TOKEN}, "tenant": "acme", "settings": {"seat_limit": 1}}, {"code": "invalid_credentials"})
add("token-as-authorize-principal", "R-45 R-82", "authorize", {"identity_or_principal": TOKEN, "tenant": "acme", "permission": "models:read"}, {"decision": "not_found"})
add("token-as-effective-permissions-principal", "R-45 R-82", "effective_permissions", {"identity_or_principal": TOKEN, "tenant": "acme"}, {"code": "not_found"})
add("token-as-signin-principal", "R-12 R-82", "authenticate_password", {"principal": TOKEN, "password": "Correct-Horse-9-battery"}, {"code": "invalid_credentials"})

# -- wrong types -----------------------------------------------------------------------------
add("number-tenant", "§12", "create_tenant", {"tenant": 42, "admin": "a@b.test"}, bad("tenant"))
add("bool-sa-name", "§12", "create_service_account", {"actor": ROOT, "tenant": "acme", "name": True}, bad("name"))
add("null-sa-name", "§12", "create_service_account", {"actor": ROOT, "tenant": "acme", "name": None}, bad("name"))
add("object-for-grants", "§12", "define_role", {"actor": ROOT, "tenant": "acme", "role": "r1", "grants": {"permission": "models:read"}}, bad("grants"))
add("string-for-roles", "§12", "create_group", {"actor": ROOT, "tenant": "acme", "group": "g1", "roles": "viewer"}, bad("roles"))
add("array-for-settings", "R-60", "update_tenant_settings", {"actor": ROOT, "tenant": "acme", "settings": []}, bad("settings"))
add("string-seat-limit", "R-60", "update_tenant_settings", {"actor": ROOT, "tenant": "acme", "settings": {"seat_limit": "5"}}, bad("seat_limit"))
add("negative-ttl", "R-22", "create_token", {"actor": ROOT, "principal": BOT, "ttl_days": -1}, bad("ttl_days"))
add("fractional-ttl", "R-22", "create_token", {"actor": ROOT, "principal": BOT, "ttl_days": 1.5}, bad("ttl_days"))
add("huge-float-ttl", "R-22", "create_token", {"actor": ROOT, "principal": BOT, "ttl_days": 1e300}, bad("ttl_days"))
add("u64-max-ttl", "R-22", "create_token", {"actor": ROOT, "principal": BOT, "ttl_days": 18446744073709551615}, bad("ttl_days"))
add("zero-page-size", "API.md", "list_accounts", {"actor": ROOT, "tenant": "acme", "page_size": 0}, bad("page_size"))
add("negative-page-size", "API.md", "list_accounts", {"actor": ROOT, "tenant": "acme", "page_size": -5}, bad("page_size"))
add("huge-page-size", "API.md", "audit_log", {"actor": ROOT, "tenant": "acme", "page_size": 1000000000}, bad("page_size"))
add("fractional-page-size", "API.md", "audit_log", {"actor": ROOT, "tenant": "acme", "page_size": 2.5}, bad("page_size"))
add("negative-grace", "R-25", "rotate_token", {"actor": ROOT, "principal": BOT, "token_id": TOKEN_ID, "grace_seconds": -1}, bad("grace_seconds"))
add("string-mfa", "§12", "create_user", {"actor": ROOT, "tenant": "acme", "email": "ada@acme.test", "mfa": "yes"}, bad("mfa"))
add("string-expires-at", "R-22", "create_token", {"actor": ROOT, "principal": BOT, "expires_at": "tomorrow"}, bad("expires_at"))
add("string-for-scopes", "R-26", "create_token", {"actor": ROOT, "principal": BOT, "scopes": "models:read"}, bad("scopes"))
add("object-for-users", "R-61", "sync_directory", {"actor": ROOT, "tenant": "acme", "users": {"email": "a@acme.test"}}, bad("users"))
add("number-email-in-users", "R-61", "sync_directory", {"actor": ROOT, "tenant": "acme", "users": [{"email": 5, "name": "x"}]}, bad("users"))
add("number-in-grants", "R-48", "grant_permissions", {"actor": ROOT, "tenant": "acme", "principal": BOT, "grants": [42]}, bad("grants"))
add("string-never-expires", "R-22", "create_token", {"actor": ROOT, "principal": BOT, "never_expires": "true"}, bad("never_expires"))
add("object-actor-bad-principal", "API.md", "get_tenant", {"actor": {"principal": 5}, "tenant": "acme"}, bad("actor"))
add("array-actor", "API.md", "get_tenant", {"actor": [], "tenant": "acme"}, bad("actor"))
add("string-for-settings", "R-60", "create_tenant", {"tenant": "fresh", "admin": "a@b.test", "settings": "x"}, bad("settings"))
add("grant-unknown-key", "R-48", "define_role", {"actor": ROOT, "tenant": "acme", "role": "r1", "grants": [{"permission": "x:read", "resource": "*", "extra": 1}]}, bad("grants"))
add("bool-page-size", "API.md", "list_accounts", {"actor": ROOT, "tenant": "acme", "page_size": True}, bad("page_size"))
add("negative-expires-at", "R-22", "create_token", {"actor": ROOT, "principal": BOT, "expires_at": -1}, bad("expires_at"))

add("proto-key-settings", "R-60", "update_tenant_settings", {"actor": ROOT, "tenant": "acme", "settings": {"__proto__": {"seat_limit": 1}}}, {"code": "invalid_argument"})
add("proto-key-grant", "R-48", "grant_permissions", {"actor": ROOT, "tenant": "acme", "principal": BOT, "grants": [{"__proto__": {"permission": "models:read"}}]}, bad("grants"))

# -- deep JSON -------------------------------------------------------------------------------
add("deep-array-setting", "R-60", "update_tenant_settings", {"actor": ROOT, "tenant": "acme", "settings": {"seat_limit": DEEP_ARRAY}}, {"code": "invalid_argument"}, python={"raises": "ValueError"})
add("deep-array-grants", "R-48", "define_role", {"actor": ROOT, "tenant": "acme", "role": "r1", "grants": DEEP_ARRAY}, {"code": "invalid_argument"}, python={"raises": "ValueError"})
add("deep-object-settings", "R-60", "create_tenant", {"tenant": "fresh", "admin": "a@b.test", "settings": DEEP_OBJECT}, {"code": "invalid_argument"}, python={"raises": "ValueError"})
add("deep-object-grant", "R-48", "create_group", {"actor": ROOT, "tenant": "acme", "group": "g1", "grants": [DEEP_OBJECT]}, {"code": "invalid_argument"}, python={"raises": "ValueError"})

with open("inputs.json", "w", encoding="utf-8") as f:
    json.dump({"about": "Hostile inputs run by every JavaScript and Python host (issue 11 point 5). Generated by build_inputs.py. "
               "A value {\"$gen\": G} stands for: huge = 10 MB of 'a'; deep_array / deep_object = 10,000 nested arrays / objects; "
               "token = the live token of bot@acme.sa.keyward.local; token_id = its id. expect: {code, field?, position?, rules?} for an error, "
               "{decision: reason} for a decision that is not allowed. A host key (python, node, wasm) overrides expect for that host.",
               "setup": {"tenant": "acme", "admin": ROOT, "service_account": BOT, "role": "viewer"},
               "inputs": E}, f, indent=1, ensure_ascii=True)
    f.write("\n")
ids = [e["id"] for e in E]
assert len(ids) == len(set(ids)), "ids are unique"
print(len(E), "inputs")
