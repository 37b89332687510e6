//! Token creation, rotation and revocation, and the other multi-key mutations of R-92, under
//! races (a second host's call slipped in before every write of a first, `support::interleave`)
//! and crashes (the store failing after every possible number of writes, then a rerun).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

mod support;

use keyward_core::*;
use support::interleave::{for_every_write_point, World};
use support::{service_account_request, token_request, verify_reason, FaultyStore, TestEnv, ROOT};

const SA: &str = "bot@acme.sa.keyward.local";

type Kw = Keyward<FaultyStore<MemoryStore>, TestEnv>;

fn settings(json: serde_json::Value) -> Option<serde_json::Map<String, serde_json::Value>> {
    Some(serde_json::from_value(json).unwrap())
}

fn acme_world(w: &World, cap: u64) {
    let s = settings(serde_json::json!({"max_tokens_per_account": cap}));
    w.run(CreateTenant { tenant: "acme".into(), admin: ROOT.into(), name: None, settings: s }).unwrap();
    w.run(service_account_request("bot", Some("viewer"))).unwrap();
}

fn kw() -> Kw {
    let kw = Keyward::new(Options::default(), FaultyStore::new(MemoryStore::new()), TestEnv::new()).unwrap();
    kw.run(CreateTenant { tenant: "acme".into(), admin: ROOT.into(), name: None, settings: None }).unwrap();
    kw.run(service_account_request("bot", Some("viewer"))).unwrap();
    kw
}

fn list_on<S: Store, E: Environment>(kw: &Keyward<S, E>) -> Vec<TokenInfo> {
    kw.run(ListTokens { actor: ROOT.into(), principal: SA.into() }).unwrap()
}

fn events_on<S: Store, E: Environment>(kw: &Keyward<S, E>, tenant: &str, action: &str) -> usize {
    let page = kw
        .run(AuditLog {
            actor: ROOT.into(),
            tenant: tenant.into(),
            filter: Some(format!("action=\"{action}\"")),
            page_size: Some(1000),
            page_token: None,
        })
        .unwrap();
    page.events.iter().filter(|e| e.outcome == "ok").count()
}

fn rotate(token_id: &str, grace: Option<u64>) -> RotateToken {
    RotateToken { actor: ROOT.into(), principal: SA.into(), token_id: token_id.into(), grace_seconds: grace }
}

fn created(answer: &Result<Answer>) -> Option<&TokenCreated> {
    match answer {
        Ok(Answer::TokenCreated(t)) => Some(t),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Races: a second host's call before every write of the first.

#[test]
fn r23_r62_two_creations_racing_for_the_last_slot_never_both_succeed() {
    let points = for_every_write_point(
        |w| {
            acme_world(w, 2);
            w.run(token_request(SA)).unwrap();
        },
        |_| token_request(SA).into_call(),
        |_| token_request(SA).into_call(),
        |w, i| {
            let second = i.second.as_ref().expect("the first call writes at every point");
            assert_eq!(i.successes(), 1, "k={}: exactly one takes the last slot: {i:?}", i.k);
            let loser = if i.first.is_ok() { second } else { &i.first };
            assert_eq!(loser.as_ref().unwrap_err().code(), "quota_exceeded", "k={}", i.k);
            let listed = list_on(w);
            assert_eq!(listed.len(), 2, "k={}: the cap holds and every live token is listed", i.k);
            let winner = created(&i.first).or_else(|| created(second)).unwrap();
            assert!(listed.iter().any(|t| t.token_id == winner.info.token_id), "k={}", i.k);
            assert_eq!(verify_reason(w, &winner.token), "allowed", "k={}", i.k);
        },
    );
    assert!(points >= 3, "token, account list, event, activation");
}

#[test]
fn r23_positive_control_the_cap_lets_the_last_slot_be_used() {
    let w = support::interleave::world();
    acme_world(&w, 2);
    let first = w.run(token_request(SA)).unwrap();
    let last = w.run(token_request(SA)).unwrap();
    assert_eq!(w.run(token_request(SA)).unwrap_err().code(), "quota_exceeded");
    assert_eq!(list_on(&w).len(), 2);
    assert_eq!(verify_reason(&w, &first.token), "allowed");
    assert_eq!(verify_reason(&w, &last.token), "allowed");
}

#[test]
fn r25_two_rotations_of_one_token_exactly_one_succeeds() {
    let setup = |w: &World| {
        acme_world(w, 50);
        w.run(token_request(SA)).unwrap();
    };
    let old_id = |w: &World| list_on(w)[0].token_id.clone();
    for_every_write_point(
        setup,
        |w| rotate(&old_id(w), None).into_call(),
        |w| rotate(&old_id(w), None).into_call(),
        |w, i| {
            let second = i.second.as_ref().unwrap();
            assert_eq!(i.successes(), 1, "k={}: exactly one rotation: {i:?}", i.k);
            let loser = if i.first.is_ok() { second } else { &i.first };
            assert_eq!(loser.as_ref().unwrap_err().code(), "failed_precondition", "k={}", i.k);
            let winner = created(&i.first).or_else(|| created(second)).unwrap();
            assert_eq!(verify_reason(w, &winner.token), "allowed", "k={}: the winner's secret is the stored one", i.k);
            let listed = list_on(w);
            assert_eq!(listed.len(), 2, "k={}: the old token and one successor: {listed:?}", i.k);
            assert!(listed.iter().any(|t| t.token_id == winner.info.token_id), "k={}", i.k);
            let old = listed.iter().find(|t| t.token_id != winner.info.token_id).unwrap();
            let again = w.run(rotate(&old.token_id, None)).unwrap_err();
            assert_eq!(again.code(), "failed_precondition", "k={}: rotated once", i.k);
            // The event is written once per rotation run after run; two calls racing to write
            // it (a takeover slipped in between the other's look-up and its write) may both.
            let events = events_on(w, "acme", "token.rotate");
            assert!((1..=2).contains(&events), "k={}: {events} events", i.k);
        },
    );
}

#[test]
fn r92_a_token_creation_racing_with_the_accounts_deletion_leaves_no_usable_token() {
    let delete = || DeleteAccount { actor: ROOT.into(), principal: SA.into() }.into_call();
    let check = |w: &World, created: Option<&TokenCreated>, k: u32| {
        assert!(w.run(GetAccount { actor: ROOT.into(), tenant: "acme".into(), principal: SA.into() }).is_err());
        if let Some(t) = created {
            assert_eq!(verify_reason(w, &t.token), "invalid_credentials", "k={k}");
        }
        let left: Vec<String> = w.store().0.keys().into_iter().filter(|k| k.starts_with("k/")).collect();
        assert!(left.is_empty(), "k={k}: no token document outlives its account: {left:?}");
        // The name is free again, and the new account has no token of the old one.
        w.run(service_account_request("bot", Some("viewer"))).unwrap();
        assert!(list_on(w).is_empty(), "k={k}");
        if let Some(t) = created {
            assert_eq!(verify_reason(w, &t.token), "invalid_credentials", "k={k}");
        }
    };
    for_every_write_point(
        |w| acme_world(w, 50),
        |_| token_request(SA).into_call(),
        |_| delete(),
        |w, i| {
            assert!(i.second.as_ref().unwrap().is_ok(), "k={}: the deletion completes", i.k);
            check(w, created(&i.first), i.k);
        },
    );
    for_every_write_point(
        |w| acme_world(w, 50),
        |_| delete(),
        |_| token_request(SA).into_call(),
        |w, i| {
            assert!(i.first.is_ok(), "k={}: the deletion completes: {i:?}", i.k);
            check(w, i.second.as_ref().and_then(created), i.k);
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Crashes: the store fails after every possible number of writes; the call is then run again.

/// Runs `call` with the store crashing after 0, 1, 2, ... writes until it completes. After
/// each crash, `safe` checks what is usable; then the call is run again a second later, must
/// complete, and `done` checks the outcome.
fn crash_at_every_write(
    name: &str,
    setup: impl Fn(&Kw) -> Call,
    safe: impl Fn(&Kw, u32),
    done: impl Fn(&Kw, Answer, u32),
) -> u32 {
    for writes in 0..40 {
        let kw = kw();
        let call = setup(&kw);
        kw.store().crash_after_writes.set(Some(writes));
        let first = kw.call(call.clone());
        kw.store().crash_after_writes.set(None);
        if first.is_ok() {
            assert!(writes >= 2, "{name}: completes in {writes} writes?");
            return writes;
        }
        assert_eq!(first.unwrap_err().code(), "store_error", "{name}: crash after {writes} writes");
        safe(&kw, writes);
        kw.env().advance(1_000);
        let rerun = kw.call(call).unwrap_or_else(|e| panic!("{name}: rerun after {writes} writes: {e}"));
        done(&kw, rerun, writes);
    }
    panic!("{name}: never completed");
}

/// Every token document the store holds is listed, or is a creation that never completed
/// (pending, not a committed rotation): nothing usable hides from `list_tokens`.
fn hidden_tokens_are_pending(kw: &Kw) {
    let listed: Vec<String> = list_on(kw).into_iter().map(|t| t.token_id).collect();
    for key in kw.store().inner.keys().into_iter().filter(|k| k.starts_with("k/")) {
        if listed.iter().any(|id| key.ends_with(id.as_str())) {
            continue;
        }
        let doc: serde_json::Value = serde_json::from_str(&kw.store().inner.get(&key).unwrap().unwrap().value).unwrap();
        assert!(doc["pending"].is_object(), "{key} is neither listed nor pending: {doc}");
    }
}

#[test]
fn r92_create_token_interrupted_anywhere_leaves_nothing_usable_and_a_rerun_logs_one_event() {
    crash_at_every_write(
        "create_token",
        |_| token_request(SA).into_call(),
        |kw, writes| {
            assert!(list_on(kw).is_empty(), "after {writes} writes: nothing listed");
            hidden_tokens_are_pending(kw);
            assert!(events_on(kw, "acme", "token.create") <= 1);
        },
        |kw, rerun, writes| {
            let Answer::TokenCreated(t) = rerun else { panic!("a token") };
            assert_eq!(verify_reason(kw, &t.token), "allowed", "after {writes} writes");
            let listed = list_on(kw);
            assert_eq!(listed.len(), 1, "after {writes} writes: {listed:?}");
            assert_eq!(listed[0].token_id, t.info.token_id);
            assert_eq!(events_on(kw, "acme", "token.create"), 1, "after {writes} writes: one event");
            hidden_tokens_are_pending(kw);
        },
    );
}

#[test]
fn r92_rotate_token_interrupted_anywhere_keeps_the_old_token_and_a_rerun_logs_one_event() {
    let old = std::cell::RefCell::new(None::<TokenCreated>);
    let writes = crash_at_every_write(
        "rotate_token",
        |kw| {
            let t = kw.run(token_request(SA)).unwrap();
            let call = rotate(&t.info.token_id, Some(0)).into_call();
            *old.borrow_mut() = Some(t);
            call
        },
        |kw, writes| {
            let old = old.borrow();
            let old = old.as_ref().unwrap();
            assert_eq!(verify_reason(kw, &old.token), "allowed", "after {writes} writes: not locked out");
            let listed = list_on(kw);
            assert_eq!(listed.len(), 1, "after {writes} writes: no successor yet: {listed:?}");
            assert_eq!(listed[0].expires_at, old.info.expires_at);
            hidden_tokens_are_pending(kw);
        },
        |kw, rerun, writes| {
            let old = old.borrow();
            let old = old.as_ref().unwrap();
            let Answer::TokenCreated(new) = rerun else { panic!("a token") };
            assert_eq!(verify_reason(kw, &new.token), "allowed", "after {writes} writes");
            assert_eq!(verify_reason(kw, &old.token), "token_expired", "grace 0");
            assert_eq!(list_on(kw).len(), 2);
            assert_eq!(events_on(kw, "acme", "token.rotate"), 1, "after {writes} writes: one event");
            let again = kw.run(rotate(&old.info.token_id, Some(0))).unwrap_err();
            assert_eq!(again.code(), "failed_precondition");
        },
    );
    assert!(writes >= 5, "claim, successor, account list, event, commit");
}

#[test]
fn r25_r92_a_rotation_whose_last_clean_up_failed_still_gives_a_working_token() {
    let kw = kw();
    let old = kw.run(token_request(SA)).unwrap();
    // claim, successor, account list, event, commit: the sixth write (clearing the successor's
    // pending state) fails, and the call still answers: the rotation committed.
    kw.store().crash_after_writes.set(Some(5));
    let new = kw.run(rotate(&old.info.token_id, Some(3600))).unwrap();
    kw.store().crash_after_writes.set(None);
    assert_eq!(verify_reason(&kw, &new.token), "allowed");
    assert_eq!(verify_reason(&kw, &old.token), "allowed", "grace period");
    let listed = list_on(&kw);
    let mut ids: Vec<&str> = listed.iter().map(|t| t.token_id.as_str()).collect();
    ids.sort_unstable();
    let mut expected = [old.info.token_id.as_str(), new.info.token_id.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected);
    // It is a token like any other: it can be renamed, rotated and revoked.
    let renamed =
        RenameToken { actor: ROOT.into(), principal: SA.into(), token_id: new.info.token_id.clone(), name: "x".into() };
    kw.run(renamed).unwrap();
    let newer = kw.run(rotate(&new.info.token_id, Some(0))).unwrap();
    assert_eq!(verify_reason(&kw, &new.token), "token_expired");
    assert_eq!(verify_reason(&kw, &newer.token), "allowed");
    kw.run(RevokeToken { actor: ROOT.into(), principal: SA.into(), token_id: newer.info.token_id.clone() }).unwrap();
    assert_eq!(verify_reason(&kw, &newer.token), "token_revoked");
}

#[test]
fn r25_positive_control_a_rotation_keeps_the_old_token_for_its_grace_period() {
    let kw = kw();
    let old = kw.run(token_request(SA)).unwrap();
    let new = kw.run(rotate(&old.info.token_id, Some(60))).unwrap();
    assert_eq!(verify_reason(&kw, &old.token), "allowed");
    assert_eq!(verify_reason(&kw, &new.token), "allowed");
    kw.env().advance(60_000);
    assert_eq!(verify_reason(&kw, &old.token), "token_expired");
    assert_eq!(verify_reason(&kw, &new.token), "allowed");
    assert_eq!(kw.run(rotate(&old.info.token_id, None)).unwrap_err().code(), "failed_precondition");
}

#[test]
fn r92_revoke_token_interrupted_anywhere_revokes_first_and_a_rerun_logs_one_event() {
    let token = std::cell::RefCell::new(String::new());
    crash_at_every_write(
        "revoke_token",
        |kw| {
            let t = kw.run(token_request(SA)).unwrap();
            *token.borrow_mut() = t.token;
            RevokeToken { actor: ROOT.into(), principal: SA.into(), token_id: t.info.token_id }.into_call()
        },
        |kw, writes| {
            let expected = if writes == 0 { "allowed" } else { "token_revoked" };
            assert_eq!(verify_reason(kw, &token.borrow()), expected, "after {writes} writes");
        },
        |kw, _, writes| {
            assert_eq!(verify_reason(kw, &token.borrow()), "token_revoked");
            assert_eq!(events_on(kw, "acme", "token.revoke"), 1, "after {writes} writes: one event");
        },
    );
}

#[test]
fn r92_revoke_account_interrupted_anywhere_revokes_first_and_a_rerun_logs_one_event() {
    let token = std::cell::RefCell::new(String::new());
    crash_at_every_write(
        "revoke_account",
        |kw| {
            *token.borrow_mut() = kw.run(token_request(SA)).unwrap().token;
            RevokeAccount { actor: ROOT.into(), principal: SA.into() }.into_call()
        },
        |kw, writes| {
            let expected = if writes == 0 { "allowed" } else { "account_revoked" };
            assert_eq!(verify_reason(kw, &token.borrow()), expected, "after {writes} writes");
        },
        |kw, _, writes| {
            assert_eq!(verify_reason(kw, &token.borrow()), "account_revoked");
            assert_eq!(events_on(kw, "acme", "service_account.revoke"), 1, "after {writes} writes: one event");
            // Revoking again changes nothing and logs nothing more.
            kw.run(RevokeAccount { actor: ROOT.into(), principal: SA.into() }).unwrap();
            assert_eq!(events_on(kw, "acme", "service_account.revoke"), 1);
        },
    );
}

#[test]
fn r92_delete_account_interrupted_anywhere_removes_first_and_a_rerun_logs_one_event() {
    let token = std::cell::RefCell::new(String::new());
    crash_at_every_write(
        "delete_account",
        |kw| {
            *token.borrow_mut() = kw.run(token_request(SA)).unwrap().token;
            DeleteAccount { actor: ROOT.into(), principal: SA.into() }.into_call()
        },
        |kw, writes| {
            let expected = if writes == 0 { "allowed" } else { "invalid_credentials" };
            assert_eq!(verify_reason(kw, &token.borrow()), expected, "after {writes} writes");
        },
        |kw, _, writes| {
            assert_eq!(verify_reason(kw, &token.borrow()), "invalid_credentials");
            assert_eq!(events_on(kw, "acme", "service_account.delete"), 1, "after {writes} writes: one event");
            let left: Vec<String> =
                kw.store().inner.keys().into_iter().filter(|k| k.starts_with("k/") || k.contains(SA)).collect();
            assert!(left.is_empty(), "after {writes} writes: clean-up done: {left:?}");
        },
    );
}

#[test]
fn r92_create_tenant_interrupted_anywhere_grants_nothing_and_a_rerun_logs_one_event() {
    let call = || CreateTenant { tenant: "beta".into(), admin: "ann@beta.test".into(), name: None, settings: None };
    let ann = |tenant: &str| GetTenant { actor: "ann@beta.test".into(), tenant: tenant.into() };
    let beta_events = |kw: &Kw| {
        let page = kw
            .run(AuditLog {
                actor: "ann@beta.test".into(),
                tenant: "beta".into(),
                filter: Some("action=\"tenant.create\"".into()),
                page_size: None,
                page_token: None,
            })
            .unwrap();
        page.events.len()
    };
    crash_at_every_write(
        "create_tenant",
        |_| call().into_call(),
        |kw, writes| {
            assert_eq!(kw.run(ann("beta")).unwrap_err().code(), "not_found", "after {writes} writes");
            let sa = CreateServiceAccount {
                tenant: "beta".into(),
                actor: "ann@beta.test".into(),
                ..service_account_request("xy", None)
            };
            assert_eq!(kw.run(sa).unwrap_err().code(), "not_found", "after {writes} writes: no rights yet");
        },
        |kw, _, writes| {
            kw.run(ann("beta")).unwrap();
            assert_eq!(beta_events(kw), 1, "after {writes} writes: one event");
        },
    );
}

#[test]
fn r23_r92_a_creation_interrupted_before_its_event_holds_its_slot_for_the_pending_ttl_only() {
    let kw = Keyward::new(Options::default(), FaultyStore::new(MemoryStore::new()), TestEnv::new()).unwrap();
    let s = settings(serde_json::json!({"max_tokens_per_account": 1}));
    kw.run(CreateTenant { tenant: "acme".into(), admin: ROOT.into(), name: None, settings: s }).unwrap();
    kw.run(service_account_request("bot", Some("viewer"))).unwrap();
    // The token and its id on the account are written; the call dies before its event.
    kw.store().crash_after_writes.set(Some(2));
    assert_eq!(kw.run(token_request(SA)).unwrap_err().code(), "store_error");
    kw.store().crash_after_writes.set(None);
    assert!(list_on(&kw).is_empty());
    // It might still be running: its slot is held ...
    assert_eq!(kw.run(token_request(SA)).unwrap_err().code(), "quota_exceeded");
    // ... until it has been pending for a minute; then it is cleaned up.
    kw.env().advance(60_000);
    let t = kw.run(token_request(SA)).unwrap();
    assert_eq!(verify_reason(&kw, &t.token), "allowed");
    assert_eq!(list_on(&kw).len(), 1);
    let tokens = kw.store().inner.keys().into_iter().filter(|k| k.starts_with("k/")).count();
    assert_eq!(tokens, 1, "the abandoned token's document is deleted");
    assert_eq!(events_on(&kw, "acme", "token.create"), 1);
}

// ---------------------------------------------------------------------------------------------
// Groups and roles: the tenant document's write and its event.

fn group_call(group: &str) -> CreateGroup {
    CreateGroup {
        actor: ROOT.into(),
        tenant: "acme".into(),
        group: group.into(),
        roles: vec![],
        grants: vec![serde_json::from_value(serde_json::json!("datasets:write")).unwrap()],
    }
}

fn may_write_datasets(kw: &Kw) -> bool {
    kw.run(Authorize {
        identity_or_principal: SA.into(),
        tenant: "acme".into(),
        permission: "datasets:write".into(),
        resource: "*".into(),
    })
    .unwrap()
    .allowed
}

#[test]
fn r92_create_group_interrupted_anywhere_is_completed_by_a_rerun_with_one_event() {
    for writes in 0..10 {
        let kw = kw();
        kw.store().crash_after_writes.set(Some(writes));
        let first = kw.run(group_call("ml"));
        kw.store().crash_after_writes.set(None);
        if first.is_ok() {
            assert!(writes >= 2, "create_group completes in {writes} writes?");
            return;
        }
        kw.env().advance(1_000);
        match kw.run(group_call("ml")) {
            Ok(group) => assert_eq!(group.group, "ml"),
            // Both writes were done; only the answer's read failed: the creation is complete.
            Err(e) => assert!(writes >= 2 && e.code() == "already_exists", "after {writes} writes: {e}"),
        }
        assert_eq!(events_on(&kw, "acme", "group.create"), 1, "after {writes} writes: one event");
        // A genuine second creation is still refused.
        assert_eq!(kw.run(group_call("ml")).unwrap_err().code(), "already_exists");
    }
    panic!("create_group never completed");
}

#[test]
fn r92_delete_group_interrupted_anywhere_takes_rights_first_and_a_rerun_logs_one_event() {
    crash_at_every_write(
        "delete_group",
        |kw| {
            kw.run(group_call("ml")).unwrap();
            kw.run(AddGroupMember {
                actor: ROOT.into(),
                tenant: "acme".into(),
                group: "ml".into(),
                principal: SA.into(),
            })
            .unwrap();
            assert!(may_write_datasets(kw));
            DeleteGroup { actor: ROOT.into(), tenant: "acme".into(), group: "ml".into() }.into_call()
        },
        |kw, writes| {
            assert!(writes == 0 || !may_write_datasets(kw), "after {writes} writes: the member's rights go first")
        },
        |kw, _, writes| {
            assert!(!may_write_datasets(kw));
            assert_eq!(events_on(kw, "acme", "group.delete"), 1, "after {writes} writes: one event");
            let again = kw.run(DeleteGroup { actor: ROOT.into(), tenant: "acme".into(), group: "ml".into() });
            assert_eq!(again.unwrap_err().code(), "not_found", "a completed deletion is not done twice");
        },
    );
}

#[test]
fn r92_delete_role_interrupted_anywhere_is_completed_by_a_rerun_with_one_event() {
    crash_at_every_write(
        "delete_role",
        |kw| {
            let grants = vec![serde_json::from_value(serde_json::json!("models:read")).unwrap()];
            kw.run(DefineRole { actor: ROOT.into(), tenant: "acme".into(), role: "reader".into(), grants }).unwrap();
            DeleteRole { actor: ROOT.into(), tenant: "acme".into(), role: "reader".into() }.into_call()
        },
        |_, _| {},
        |kw, _, writes| {
            assert_eq!(events_on(kw, "acme", "role.delete"), 1, "after {writes} writes: one event");
            let again = kw.run(DeleteRole { actor: ROOT.into(), tenant: "acme".into(), role: "reader".into() });
            assert_eq!(again.unwrap_err().code(), "not_found");
        },
    );
}

#[test]
fn r92_a_password_never_works_before_its_event_is_stored() {
    const PASSWORD: &str = "Sup3r-secret!";
    let set = || SetPassword { actor: ROOT.into(), principal: SA.into(), password: Some(PASSWORD.into()) };
    let signs_in = |kw: &Kw| {
        kw.run(AuthenticatePassword { principal: SA.into(), password: PASSWORD.into(), channel: Channel::Api }).is_ok()
    };
    for writes in 0..10 {
        let kw = kw();
        kw.store().crash_after_writes.set(Some(writes));
        let first = kw.run(set());
        kw.store().crash_after_writes.set(None);
        if signs_in(&kw) {
            assert!(events_on(&kw, "acme", "password.set") >= 1, "after {writes} writes: a password without its event");
        }
        if first.is_ok() {
            assert!(writes >= 2, "set_password completes in {writes} writes?");
            return;
        }
        kw.run(set()).unwrap();
        assert!(signs_in(&kw) && events_on(&kw, "acme", "password.set") >= 1, "after {writes} writes: rerun completes");
    }
    panic!("set_password never completed");
}
