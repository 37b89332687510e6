//! R-82 (no secret in any event, error or debug output) and the compiled-policy cache
//! (decisions follow every change at once, R-44, R-33, R-06).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

mod support;

use std::sync::{Arc, Mutex};

use keyward_core::*;
use support::{service_account_request, token_request, TestEnv, ROOT};

fn verify(kw: &Keyward<MemoryStore, TestEnv>, token: &str, tenant: &str, permission: &str) -> Decision {
    kw.run(Verify {
        token: token.into(),
        tenant: tenant.into(),
        permission: permission.into(),
        resource: "*".into(),
        channel: Channel::Api,
    })
    .unwrap()
}

#[test]
fn r82_no_token_secret_or_hash_reaches_an_event_an_error_or_debug_output() {
    let events: Arc<Mutex<Vec<AuditEvent>>> = Arc::default();
    let sink = Arc::clone(&events);
    let options = Options { pepper: Some(b"pepper".to_vec()), ..Options::default() };
    let kw = Keyward::new(options, MemoryStore::new(), TestEnv::new())
        .unwrap()
        .with_audit(move |e| sink.lock().unwrap().push(e.clone()));
    kw.run(CreateTenant { tenant: "acme".into(), admin: ROOT.into(), name: None, settings: None }).unwrap();
    let sa = kw.run(service_account_request("bot", Some("viewer"))).unwrap().principal;
    let created = kw.run(token_request(&sa)).unwrap();
    let rotated = kw
        .run(RotateToken {
            actor: ROOT.into(),
            principal: sa.clone(),
            token_id: created.info.token_id.clone(),
            grace_seconds: None,
        })
        .unwrap();
    let mut texts = vec![format!("{created:?}"), format!("{rotated:?}"), format!("{:?}", kw.engine())];
    for token in [&created.token, &rotated.token] {
        verify(&kw, token, "acme", "models:read");
        let tampered = format!("{}x", token);
        texts.push(format!("{:?}", verify(&kw, &tampered, "acme", "models:read")));
        let err = kw.run(Authenticate { token: token.as_str().into(), channel: Channel::Ui }).unwrap_err();
        texts.push(format!("{err:?} {err}"));
    }
    texts.push(format!("{:?}", kw.run(ListTokens { actor: ROOT.into(), principal: sa.clone() }).unwrap()));
    for e in events.lock().unwrap().iter() {
        texts.push(serde_json::to_string(e).unwrap());
        texts.push(format!("{e:?}"));
    }
    // Stored documents hold the hash: read them back and make sure it never leaks elsewhere.
    let hashes: Vec<String> = kw
        .store()
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("k/"))
        .map(|k| {
            let doc: serde_json::Value = serde_json::from_str(&kw.store().get(&k).unwrap().unwrap().value).unwrap();
            doc["hash"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(hashes.len(), 2);
    let secrets: Vec<&str> = [&created.token, &rotated.token].iter().map(|t| &t[16..48]).collect();
    for text in &texts {
        for s in secrets.iter().copied().chain(hashes.iter().map(String::as_str)) {
            assert!(!text.contains(s), "a secret or hash leaked into: {text}");
        }
    }
    assert!(events.lock().unwrap().len() >= 8, "the audit callback saw every event");
}

#[test]
fn decisions_follow_role_changes_at_once_despite_the_compiled_cache() {
    let kw = Keyward::new(Options::default(), MemoryStore::new(), TestEnv::new()).unwrap();
    kw.run(CreateTenant { tenant: "acme".into(), admin: ROOT.into(), name: None, settings: None }).unwrap();
    let grants =
        |g: &[&str]| g.iter().map(|p| serde_json::from_value(serde_json::json!(p)).unwrap()).collect::<Vec<Grant>>();
    kw.run(DefineRole {
        actor: ROOT.into(),
        tenant: "acme".into(),
        role: "ops".into(),
        grants: grants(&["models:read"]),
    })
    .unwrap();
    let sa = kw.run(service_account_request("bot", Some("ops"))).unwrap().principal;
    let token = kw.run(token_request(&sa)).unwrap().token;
    assert!(verify(&kw, &token, "acme", "models:read").allowed);
    assert!(!verify(&kw, &token, "acme", "models:write").allowed);
    // the role's new definition applies to the next decision.
    kw.run(DefineRole {
        actor: ROOT.into(),
        tenant: "acme".into(),
        role: "ops".into(),
        grants: grants(&["models:write"]),
    })
    .unwrap();
    assert!(verify(&kw, &token, "acme", "models:write").allowed);
    assert!(!verify(&kw, &token, "acme", "models:read").allowed);

    // access removed and granted again restarts the membership's version; the cache
    // must not serve the old rights.
    kw.run(CreateTenant { tenant: "beta".into(), admin: ROOT.into(), name: None, settings: None }).unwrap();
    kw.run(GrantAccess {
        actor: ROOT.into(),
        tenant: "beta".into(),
        principal: sa.clone(),
        role: Some("admin".into()),
        grants: vec![],
    })
    .unwrap();
    assert!(verify(&kw, &token, "beta", "models:write").allowed);
    kw.run(RemoveAccess { actor: ROOT.into(), tenant: "beta".into(), principal: sa.clone() }).unwrap();
    assert_eq!(verify(&kw, &token, "beta", "models:write").reason, "forbidden");
    kw.run(GrantAccess {
        actor: ROOT.into(),
        tenant: "beta".into(),
        principal: sa.clone(),
        role: Some("viewer".into()),
        grants: vec![],
    })
    .unwrap();
    assert!(!verify(&kw, &token, "beta", "models:write").allowed, "rights from the first grant are gone");
    assert!(verify(&kw, &token, "beta", "models:read").allowed);
}

/// a token passed where a principal, an actor, an email, a name, a tenant, a group or a
/// filter value belongs is never echoed — not in the error (Display, Debug, data), not in any
/// event handed to the callback, not in the stored audit log — whatever the call's outcome.
#[test]
fn r82_a_token_in_the_wrong_place_is_never_echoed() {
    let events: Arc<Mutex<Vec<AuditEvent>>> = Arc::default();
    let sink = Arc::clone(&events);
    let kw = Keyward::new(Options::default(), MemoryStore::new(), TestEnv::new())
        .unwrap()
        .with_audit(move |e| sink.lock().unwrap().push(e.clone()));
    kw.run(CreateTenant { tenant: "acme".into(), admin: ROOT.into(), name: None, settings: None }).unwrap();
    let sa = kw.run(service_account_request("bot", Some("viewer"))).unwrap().principal;
    let token = kw.run(token_request(&sa)).unwrap().token;
    let secret = token[16..48].to_owned();
    let calls = [
        serde_json::json!({"op": "get_account", "args": {"actor": ROOT, "tenant": "acme", "principal": token}}),
        serde_json::json!({"op": "disable_account", "args": {"actor": ROOT, "principal": token}}),
        serde_json::json!({"op": "get_tenant", "args": {"actor": token, "tenant": "acme"}}),
        serde_json::json!({"op": "create_service_account", "args": {"actor": token, "tenant": "acme", "name": "x1"}}),
        serde_json::json!({"op": "create_service_account", "args": {"actor": ROOT, "tenant": "acme", "name": token}}),
        serde_json::json!({"op": "create_user", "args": {"actor": ROOT, "tenant": "acme", "email": token}}),
        serde_json::json!({"op": "create_user", "args": {"actor": ROOT, "tenant": "acme", "email": format!("{token}@acme.test")}}),
        serde_json::json!({"op": "get_tenant", "args": {"actor": ROOT, "tenant": token}}),
        serde_json::json!({"op": "create_group", "args": {"actor": ROOT, "tenant": "acme", "group": token}}),
        serde_json::json!({"op": "add_group_member", "args": {"actor": ROOT, "tenant": "acme", "group": "ops", "principal": token}}),
        serde_json::json!({"op": "add_group_member", "args": {"actor": sa, "tenant": "acme", "group": "ops", "principal": token}}),
        serde_json::json!({"op": "grant_access", "args": {"actor": ROOT, "tenant": "acme", "principal": token}}),
        serde_json::json!({"op": "list_accounts", "args": {"actor": ROOT, "tenant": "acme", "filter": format!("name={token} AND")}}),
        serde_json::json!({"op": "audit_log", "args": {"actor": ROOT, "tenant": "acme", "filter": format!("target=\"{token}\" OR (")}}),
        serde_json::json!({"op": "create_token", "args": {"actor": ROOT, "principal": sa, "name": token}}),
        serde_json::json!({"op": "authorize", "args": {"identity_or_principal": token, "tenant": "acme", "permission": "x:read"}}),
        serde_json::json!({"op": "set_password", "args": {"actor": ROOT, "principal": token, "password": "Tr0ub4dor&3!"}}),
    ];
    let mut texts = Vec::new();
    for call in calls {
        let answer = Call::from_json(call.clone()).and_then(|c| kw.call(c));
        match answer {
            Err(e) => texts.push(format!("{e} {e:?} {}", serde_json::to_string(&e.to_data()).unwrap())),
            Ok(answer) if call["op"] == "authorize" => texts.push(serde_json::to_string(&answer).unwrap()),
            Ok(_) => {}
        }
    }
    let log = kw
        .call(
            Call::from_json(serde_json::json!({"op": "audit_log", "args": {"actor": ROOT, "tenant": "acme"}})).unwrap(),
        )
        .unwrap();
    texts.push(serde_json::to_string(&log).unwrap());
    for e in events.lock().unwrap().iter() {
        texts.push(format!("{} {e:?}", serde_json::to_string(e).unwrap()));
    }
    assert!(texts.iter().any(|t| t.contains("[redacted]")), "the token was seen and replaced");
    for text in &texts {
        assert!(!text.contains(&secret) && !text.contains(&token[..16]), "token text leaked into: {text}");
    }
}
