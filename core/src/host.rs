//! What every binding needs to present the same surface (API.md "Conventions across hosts"),
//! kept here so that bindings stay conversion-only: each operation's parameters (positional
//! ones, then keyword-only ones that JavaScript takes as one trailing options object), and the
//! key-case conversion JavaScript uses for option keys and returned fields.

use serde_json::{Map, Value};

/// An operation's parameters, as API.md writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    /// The operation (`snake_case`).
    pub op: &'static str,
    /// Positional parameters, in order.
    pub positional: &'static [&'static str],
    /// How many of them are required (the rest have defaults).
    pub required: usize,
    /// Keyword-only parameters (Python after `*`; JavaScript's trailing options object).
    pub keywords: &'static [&'static str],
}

const fn sig(
    op: &'static str,
    positional: &'static [&'static str],
    required: usize,
    keywords: &'static [&'static str],
) -> Signature {
    Signature { op, positional, required, keywords }
}

const AT: &[&str] = &["actor", "tenant"];
const AP: &[&str] = &["actor", "principal"];
const PAGE: &[&str] = &["filter", "page_size", "page_token"];

/// Every operation of API.md, in its order.
pub const SIGNATURES: &[Signature] = &[
    sig("create_tenant", &["tenant"], 1, &["admin", "name", "settings"]),
    sig("get_tenant", AT, 2, &[]),
    sig("update_tenant_settings", &["actor", "tenant", "settings"], 3, &[]),
    sig("define_role", &["actor", "tenant", "role", "grants"], 4, &[]),
    sig("delete_role", &["actor", "tenant", "role"], 3, &[]),
    sig("create_group", &["actor", "tenant", "group"], 3, &["roles", "grants"]),
    sig("delete_group", &["actor", "tenant", "group"], 3, &[]),
    sig("add_group_member", &["actor", "tenant", "group", "principal"], 4, &[]),
    sig("remove_group_member", &["actor", "tenant", "group", "principal"], 4, &[]),
    sig("grant_group_permissions", &["actor", "tenant", "group", "grants"], 4, &[]),
    sig("revoke_group_permissions", &["actor", "tenant", "group", "grants"], 4, &[]),
    sig("create_user", &["actor", "tenant", "email"], 3, &["name", "role", "mfa"]),
    sig("remove_user", &["actor", "tenant", "email"], 3, &[]),
    sig("sync_directory", &["actor", "tenant", "users"], 3, &[]),
    sig("create_service_account", &["actor", "tenant", "name"], 3, &["description", "role", "grants", "password"]),
    sig("get_account", &["actor", "tenant", "principal"], 3, &[]),
    sig("list_accounts", AT, 2, PAGE),
    sig("update_service_account", AP, 2, &["description"]),
    sig("set_role", &["actor", "tenant", "principal", "role"], 4, &[]),
    sig("grant_permissions", &["actor", "tenant", "principal", "grants"], 4, &[]),
    sig("revoke_permissions", &["actor", "tenant", "principal", "grants"], 4, &[]),
    sig("grant_access", &["actor", "tenant", "principal"], 3, &["role", "grants"]),
    sig("remove_access", &["actor", "tenant", "principal"], 3, &[]),
    sig("disable_account", AP, 2, &[]),
    sig("enable_account", AP, 2, &[]),
    sig("revoke_account", AP, 2, &[]),
    sig("delete_account", AP, 2, &[]),
    sig("set_password", &["actor", "principal", "password"], 3, &[]),
    sig("create_token", AP, 2, &["name", "ttl_days", "expires_at", "never_expires", "scopes"]),
    sig("list_tokens", AP, 2, &[]),
    sig("rename_token", &["actor", "principal", "token_id", "name"], 4, &[]),
    sig("revoke_token", &["actor", "principal", "token_id"], 3, &[]),
    sig("rotate_token", &["actor", "principal", "token_id"], 3, &["grace_seconds"]),
    sig("seat_usage", AT, 2, &[]),
    sig("audit_log", AT, 2, PAGE),
    sig("authenticate", &["token"], 1, &["channel"]),
    sig("authenticate_password", &["principal", "password"], 2, &["channel"]),
    sig("authorize", &["identity_or_principal", "tenant", "permission", "resource"], 3, &[]),
    sig("verify", &["token", "tenant", "permission", "resource"], 3, &["channel"]),
    sig("effective_permissions", &["identity_or_principal", "tenant"], 2, &[]),
];

/// The signature of an operation.
pub fn signature(op: &str) -> Option<&'static Signature> {
    SIGNATURES.iter().find(|s| s.op == op)
}

/// `page_size` → `pageSize`.
pub fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `pageSize` → `page_size`.
pub fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn rekey(value: Value, f: &impl Fn(&str) -> String) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (f(&k), rekey(v, f))).collect::<Map<_, _>>()),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| rekey(v, f)).collect()),
        other => other,
    }
}

/// Every object key in `value`, at any depth, in camelCase (JavaScript's returned fields).
pub fn camel_keys(value: Value) -> Value {
    rekey(value, &camel)
}

/// Every object key in `value`, at any depth, in snake_case (JavaScript's option keys).
pub fn snake_keys(value: Value) -> Value {
    rekey(value, &snake)
}

/// Builds `{"op", "args"}` from positional values and keyword options, as hosts receive
/// them. Too many positional values is `invalid_argument`; missing ones are left for the
/// operation's own checks (which name them).
pub fn call_json(op: &str, positional: Vec<Value>, keywords: Map<String, Value>) -> crate::Result<Value> {
    let sig = signature(op).ok_or_else(|| crate::Error::invalid("op", format!("unknown operation `{op}`")))?;
    if positional.len() > sig.positional.len() {
        return Err(crate::Error::invalid(
            "args",
            format!("`{op}` takes {} positional arguments, {} given", sig.positional.len(), positional.len()),
        ));
    }
    let mut args = Map::new();
    for (i, (name, value)) in sig.positional.iter().zip(positional).enumerate() {
        // An optional positional given as null/undefined takes its default (`resource`).
        if i >= sig.required && value.is_null() {
            continue;
        }
        args.insert((*name).to_owned(), value);
    }
    for (name, value) in keywords {
        if !sig.keywords.contains(&name.as_str()) {
            return Err(crate::Error::invalid(&name, format!("`{op}` has no option `{name}`")));
        }
        args.insert(name, value);
    }
    Ok(serde_json::json!({ "op": op, "args": args }))
}

/// Runs `f`, turning a panic into an `internal` error, so that a panic never crosses into a
/// host. The engine stays usable: its only shared state (the compiled-policy cache) is
/// replaced whole under a lock and tolerates poisoning.
pub fn guarded<T>(f: impl FnOnce() -> crate::Result<T>) -> crate::Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".to_owned());
            Err(crate::Error::internal(format!("the engine panicked: {message}")))
        }
    }
}

/// Builds `{"op", "args"}` from a JavaScript-style argument list: positional values, then —
/// when the operation has keyword-only parameters — one trailing options object. Object keys
/// at any depth may be camelCase (API.md "Conventions across hosts"): `{ maxTokenTtlDays }` in
/// settings as in options.
pub fn call_json_from_js(op: &str, args: Vec<Value>) -> crate::Result<Value> {
    let mut args: Vec<Value> = args.into_iter().map(snake_keys).collect();
    let sig = signature(op).ok_or_else(|| crate::Error::invalid("op", format!("unknown operation `{op}`")))?;
    let takes_options = !sig.keywords.is_empty() && args.len() > sig.required;
    let options = match args.last() {
        Some(Value::Object(_)) if takes_options => match args.pop() {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        },
        _ => Map::new(),
    };
    // `undefined` arrives as null: a trailing null stands for an omitted optional argument.
    while args.len() > sig.required && args.last().is_some_and(Value::is_null) {
        args.pop();
    }
    call_json(op, args, options)
}

/// The `max_staleness_ms` option as a JavaScript number: a whole number of ms from 0 to
/// [`crate::engine::MAX_STALENESS_LIMIT_MS`]; anything else is `invalid_argument`.
pub fn max_staleness_ms(value: f64) -> crate::Result<u64> {
    let limit = crate::engine::MAX_STALENESS_LIMIT_MS;
    if value.is_finite() && value.fract() == 0.0 && (0.0..=limit as f64).contains(&value) {
        Ok(value as u64)
    } else {
        Err(crate::Error::invalid("max_staleness_ms", format!("must be an integer from 0 to {limit} (one day)")))
    }
}

/// An error as a binding hands it over: `{"error": {code, message, field?, position?, rules?}}`.
pub fn error_value(e: &crate::Error) -> Value {
    serde_json::json!({ "error": serde_json::to_value(e.to_data()).unwrap_or(Value::Null) })
}

fn camel_value<T: serde::Serialize>(value: &T) -> Value {
    camel_keys(serde_json::to_value(value).unwrap_or(Value::Null))
}

/// Advances an operation one step, as JavaScript sees it: `{"need": [request]}`,
/// `{"done": answer}` or `{"error": ...}`, keys in camelCase. Panics become `internal`.
pub fn step_value(op: &mut crate::Op) -> Value {
    let stepped = guarded(|| {
        Ok(match op.step() {
            crate::Step::Need(requests) => serde_json::json!({ "need": camel_value(&requests) }),
            crate::Step::Done(Ok(answer)) => serde_json::json!({ "done": camel_value(&answer) }),
            crate::Step::Done(Err(e)) => error_value(&e),
        })
    });
    stepped.unwrap_or_else(|e| error_value(&e))
}

/// The audit events an operation produced so far, keys in camelCase.
pub fn events_value(op: &mut crate::Op) -> Value {
    camel_value(&op.take_events())
}

/// Starts a call as a host does: random bytes drawn only for a call that uses them
/// ([`crate::Call::draws_randomness`]), and no events built when `events` is false (the host
/// has no audit callback, R-80).
pub fn start_call(
    engine: &crate::Engine,
    call: crate::Call,
    now: i64,
    seed: impl FnOnce() -> crate::Result<[u8; 32]>,
    events: bool,
) -> crate::Result<crate::Op> {
    let seed = if call.draws_randomness() { seed()? } else { [0; 32] };
    let op = engine.start(call, crate::Env { now, seed });
    Ok(if events { op } else { op.without_events() })
}

/// Runs a JavaScript-style call to completion on a synchronous store in one go (the built-in
/// store's single crossing): `{"done": answer, "events": [...]}` or `{"error": ..., "events"}`.
pub fn run_js_value<S: crate::Store + ?Sized>(
    engine: &crate::Engine,
    store: &S,
    op: &str,
    args: Vec<Value>,
    now: i64,
    seed: impl FnOnce() -> crate::Result<[u8; 32]>,
    events: bool,
) -> Value {
    let mut produced_events = Value::Array(Vec::new());
    let result = guarded(|| {
        let call = crate::Call::from_json(call_json_from_js(op, args)?)?;
        let (answer, produced) = start_call(engine, call, now, seed, events)?.run_on(store);
        produced_events = camel_value(&produced);
        answer
    });
    let mut value = match result {
        Ok(answer) => serde_json::json!({ "done": camel_value(&answer) }),
        Err(e) => error_value(&e),
    };
    if let Value::Object(map) = &mut value {
        map.insert("events".into(), produced_events);
    }
    value
}

/// Starts a JavaScript-style call; an argument error is kept for the first step to report.
pub fn start_js(
    engine: &crate::Engine,
    op: &str,
    args: Vec<Value>,
    now: i64,
    seed: impl FnOnce() -> crate::Result<[u8; 32]>,
    events: bool,
) -> crate::Result<crate::Op> {
    guarded(|| start_call(engine, crate::Call::from_json(call_json_from_js(op, args)?)?, now, seed, events))
}

/// The signature table as JSON: `[{op, positional, required, keywords}]`.
pub fn signatures_value() -> Value {
    Value::Array(
        SIGNATURES
            .iter()
            .map(|s| serde_json::json!({"op": s.op, "positional": s.positional, "required": s.required, "keywords": s.keywords}))
            .collect(),
    )
}

/// Runs one store request given as JavaScript sends it (`{kind, ...}`, camelCase keys) on a
/// synchronous store, and returns the reply the same way: the built-in store through the store
/// protocol. A malformed request is a `failed` reply.
pub fn store_request_value<S: crate::Store + ?Sized>(store: &S, request: Value) -> Value {
    let reply = serde_json::from_value::<crate::StoreRequest>(snake_keys(request))
        .map(|r| r.run_on(store))
        .unwrap_or_else(|e| crate::StoreReply::Failed { message: format!("bad store request: {e}") });
    camel_value(&reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_operation_has_one_signature_and_every_signature_parses() {
        for s in SIGNATURES {
            assert!(s.required <= s.positional.len(), "{}", s.op);
            assert_eq!(SIGNATURES.iter().filter(|t| t.op == s.op).count(), 1, "{}", s.op);
            // Every named parameter is a real argument of the operation: unknown ones would
            // be refused by the call's deny_unknown_fields.
            let names: Vec<&str> = s.positional.iter().chain(s.keywords).copied().collect();
            let args: Map<String, Value> = names.iter().map(|n| ((*n).to_owned(), Value::Null)).collect();
            if let Err(e) = crate::Call::from_json(json!({"op": s.op, "args": args})) {
                assert!(!e.to_string().contains("unknown field"), "{}: {e}", s.op);
            }
        }
        assert_eq!(SIGNATURES.len(), 40);
    }

    #[test]
    fn r90_the_built_in_store_answers_the_store_protocol_as_javascript_sends_it() {
        let store = crate::MemoryStore::new();
        let put = json!({"kind": "put", "key": "k", "value": "{}", "expectedVersion": null});
        assert_eq!(store_request_value(&store, put.clone()), json!({"kind": "put", "version": 1}));
        assert_eq!(store_request_value(&store, put), json!({"kind": "put", "version": null}), "compare-and-set");
        let got = store_request_value(&store, json!({"kind": "get", "key": "k"}));
        assert_eq!(got["entry"]["version"], 1);
        assert_eq!(store_request_value(&store, json!({"kind": "nope"}))["kind"], "failed");
    }

    #[test]
    fn case_conversion_round_trips() {
        assert_eq!(camel("max_token_ttl_days"), "maxTokenTtlDays");
        assert_eq!(snake("maxTokenTtlDays"), "max_token_ttl_days");
        assert_eq!(snake(&camel("page_token")), "page_token");
        let v = json!({"next_page_token": null, "accounts": [{"created_at": 1, "grants": ["models:read"]}]});
        assert_eq!(camel_keys(v.clone())["accounts"][0]["createdAt"], 1);
        assert_eq!(snake_keys(camel_keys(v.clone())), v);
    }

    #[test]
    fn positional_and_keyword_arguments_become_named_args() {
        let v = call_json("verify", vec![json!("kw_x"), json!("acme"), json!("models:read")], {
            let mut m = Map::new();
            m.insert("channel".into(), json!("ui"));
            m
        })
        .unwrap();
        assert_eq!(v["args"]["tenant"], "acme");
        assert_eq!(v["args"]["channel"], "ui");
        assert!(call_json("verify", vec![json!(1); 5], Map::new()).is_err());
        let v = call_json_from_js(
            "verify",
            vec![json!("kw_x"), json!("acme"), json!("m:read"), Value::Null, json!({"channel": "ui"})],
        )
        .unwrap();
        assert!(v["args"].get("resource").is_none(), "an undefined optional positional takes its default");
        assert!(crate::Call::from_json(v).is_ok());
        let e = call_json("get_tenant", vec![], [("colour".to_owned(), json!(1))].into_iter().collect()).unwrap_err();
        assert_eq!(e.field(), Some("colour"));
        assert_eq!(call_json("nope", vec![], Map::new()).unwrap_err().field(), Some("op"));
    }
}
