//! Races between hosts that share only the store: each test interleaves a
//! second call at every write point of a first one (`support::interleave`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

mod support;

use keyward_core::*;
use support::interleave::{for_every_write_point, World};
use support::{service_account_request, token_request, ROOT};

fn acme(w: &World, settings: serde_json::Value) {
    let settings = serde_json::from_value(settings).unwrap();
    w.run(CreateTenant { tenant: "acme".into(), admin: ROOT.into(), name: None, settings: Some(settings) }).unwrap();
}

fn grant(account: &str, grant: &str) -> Call {
    GrantPermissions {
        actor: ROOT.into(),
        tenant: "acme".into(),
        principal: account.into(),
        grants: vec![serde_json::from_value(serde_json::json!(grant)).unwrap()],
    }
    .into_call()
}

#[test]
fn r91_harness_interleaves_at_every_write_point_and_loses_no_update() {
    let sa = "bot@acme.sa.keyward.local";
    let points = for_every_write_point(
        |w| {
            acme(w, serde_json::json!({}));
            w.run(service_account_request("bot", None)).unwrap();
        },
        |_| grant(sa, "models:read"),
        |_| grant(sa, "models:write"),
        |w, i| {
            assert!(i.first.is_ok() && i.second.as_ref().is_some_and(|r| r.is_ok()), "k={}: {i:?}", i.k);
            let a = w.run(GetAccount { actor: ROOT.into(), tenant: "acme".into(), principal: sa.into() }).unwrap();
            assert_eq!(a.grants.len(), 2, "k={}: both grants kept: {:?}", i.k, a.grants);
        },
    );
    assert!(points >= 2, "grant_permissions writes the membership and its event");
}

/// Found by the harness: `store_new_token` wrote the account's token list first and pruned
/// ids whose token document was missing, so a second creation slipped in before the first
/// one's token write dropped the first token's id. Token documents are now written first.
#[test]
fn r91_two_token_creations_racing_keep_both_tokens() {
    let sa = "bot@acme.sa.keyward.local";
    for_every_write_point(
        |w| {
            acme(w, serde_json::json!({}));
            w.run(service_account_request("bot", Some("viewer"))).unwrap();
        },
        |_| token_request(sa).into_call(),
        |_| token_request(sa).into_call(),
        |w, i| {
            assert!(i.first.is_ok() && i.second.as_ref().is_some_and(|r| r.is_ok()), "k={}: {i:?}", i.k);
            let tokens = w.run(ListTokens { actor: ROOT.into(), principal: sa.into() }).unwrap();
            assert_eq!(tokens.len(), 2, "k={}: both tokens kept", i.k);
        },
    );
}

fn sa_in_acme(name: &str) -> Call {
    service_account_request(name, None).into_call()
}

fn owned_service_accounts(w: &World) -> usize {
    let page = w
        .run(ListAccounts {
            actor: ROOT.into(),
            tenant: "acme".into(),
            filter: Some("service_account=true AND owned=true".into()),
            page_size: None,
            page_token: None,
        })
        .unwrap();
    page.accounts.len()
}

#[test]
fn r62_two_service_account_creations_racing_for_the_last_unit_never_both_succeed() {
    for_every_write_point(
        |w| {
            acme(w, serde_json::json!({"max_service_accounts": 2}));
            w.run(service_account_request("first", None)).unwrap();
        },
        |_| sa_in_acme("bot-a"),
        |_| sa_in_acme("bot-b"),
        |w, i| {
            assert_eq!(i.successes(), 1, "k={}: exactly one gets the last unit: {i:?}", i.k);
            let loser = if i.first.is_err() { &i.first } else { i.second.as_ref().unwrap() };
            assert_eq!(loser.as_ref().unwrap_err().code(), "quota_exceeded", "k={}", i.k);
            assert_eq!(owned_service_accounts(w), 2, "k={}", i.k);
            // Claims were released: nothing more fits, and after a deletion one more does.
            assert_eq!(w.call(sa_in_acme("bot-c")).unwrap_err().code(), "quota_exceeded");
            w.run(DeleteAccount { actor: ROOT.into(), principal: "first@acme.sa.keyward.local".into() }).unwrap();
            w.call(sa_in_acme("bot-c")).unwrap();
        },
    );
}

fn user(actor: &str, tenant: &str, email: &str) -> CreateUser {
    CreateUser { actor: actor.into(), tenant: tenant.into(), email: email.into(), name: None, role: None, mfa: false }
}

fn seats(w: &World, actor: &str, tenant: &str) -> u64 {
    w.run(SeatUsage { actor: actor.into(), tenant: tenant.into() }).unwrap().seats_used
}

const BOSS: &str = "boss@cust.test";

/// `acme` (no seat limit) with user ann, and `cust` whose seat limit of 2 leaves one free.
fn two_tenants(w: &World) {
    acme(w, serde_json::json!({}));
    w.run(user(ROOT, "acme", "ann@acme.test")).unwrap();
    let settings = serde_json::from_value(serde_json::json!({"seat_limit": 2})).unwrap();
    w.run(CreateTenant { tenant: "cust".into(), admin: BOSS.into(), name: None, settings: Some(settings) }).unwrap();
}

fn grant_access(tenant: &str, principal: &str) -> Call {
    GrantAccess { actor: BOSS.into(), tenant: tenant.into(), principal: principal.into(), role: None, grants: vec![] }
        .into_call()
}

fn check_one_seat_taken(w: &World, i: &support::interleave::Interleaving) {
    assert_eq!(i.successes(), 1, "k={}: exactly one takes the last seat: {i:?}", i.k);
    assert_eq!(seats(w, BOSS, "cust"), 2, "k={}: seat_limit never exceeded", i.k);
}

#[test]
fn r62_two_user_creations_racing_for_the_last_seat_never_both_succeed() {
    for_every_write_point(
        two_tenants,
        |_| user(BOSS, "cust", "carl@cust.test").into_call(),
        |_| user(BOSS, "cust", "dora@cust.test").into_call(),
        check_one_seat_taken,
    );
}

#[test]
fn r62_grant_access_and_create_user_racing_for_the_last_seat_never_both_succeed() {
    for_every_write_point(
        two_tenants,
        |_| grant_access("cust", "ann@acme.test"),
        |_| user(BOSS, "cust", "carl@cust.test").into_call(),
        check_one_seat_taken,
    );
    for_every_write_point(
        two_tenants,
        |_| user(BOSS, "cust", "carl@cust.test").into_call(),
        |_| grant_access("cust", "ann@acme.test"),
        check_one_seat_taken,
    );
}

/// `two_tenants`, with ann disabled and then given access to the full-but-one `cust`.
fn disabled_ann_in_cust(w: &World) {
    two_tenants(w);
    w.run(DisableAccount { actor: ROOT.into(), principal: "ann@acme.test".into() }).unwrap();
    w.call(grant_access("cust", "ann@acme.test")).unwrap();
}

fn enable_ann() -> Call {
    EnableAccount { actor: ROOT.into(), principal: "ann@acme.test".into() }.into_call()
}

#[test]
fn r62_enable_account_and_create_user_racing_for_the_last_seat_never_both_succeed() {
    for_every_write_point(
        disabled_ann_in_cust,
        |_| enable_ann(),
        |_| user(BOSS, "cust", "carl@cust.test").into_call(),
        check_one_seat_taken,
    );
    for_every_write_point(
        disabled_ann_in_cust,
        |_| user(BOSS, "cust", "carl@cust.test").into_call(),
        |_| enable_ann(),
        check_one_seat_taken,
    );
}

#[test]
fn r62_enable_account_and_grant_access_of_the_disabled_user_never_exceed_the_seat_limit() {
    // cust is full; ann is disabled. Enabling her while she is given access to cust must not
    // leave an active ann in the full cust.
    let setup = |w: &World| {
        two_tenants(w);
        w.run(user(BOSS, "cust", "carl@cust.test")).unwrap();
        w.run(DisableAccount { actor: ROOT.into(), principal: "ann@acme.test".into() }).unwrap();
    };
    let invariant = |w: &World, i: &support::interleave::Interleaving| {
        assert!(seats(w, BOSS, "cust") <= 2, "k={}: {i:?}", i.k);
    };
    for_every_write_point(setup, |_| enable_ann(), |_| grant_access("cust", "ann@acme.test"), invariant);
    for_every_write_point(setup, |_| grant_access("cust", "ann@acme.test"), |_| enable_ann(), invariant);
}

#[test]
fn r62_the_last_unit_and_seat_are_still_obtainable_and_a_disabled_user_may_join_a_full_tenant() {
    let w = support::interleave::world();
    two_tenants(&w);
    w.run(user(BOSS, "cust", "carl@cust.test")).unwrap(); // the last seat
    assert_eq!(seats(&w, BOSS, "cust"), 2);
    assert_eq!(w.call(grant_access("cust", "ann@acme.test")).unwrap_err().code(), "quota_exceeded");
    w.run(DisableAccount { actor: ROOT.into(), principal: "ann@acme.test".into() }).unwrap();
    w.call(grant_access("cust", "ann@acme.test")).unwrap();
    assert_eq!(seats(&w, BOSS, "cust"), 2, "a disabled user takes no seat");
    assert_eq!(w.call(enable_ann()).unwrap_err().code(), "quota_exceeded", "enabling into a full tenant");
    w.run(RemoveAccess { actor: BOSS.into(), tenant: "cust".into(), principal: "ann@acme.test".into() }).unwrap();
    let ann = w.run(EnableAccount { actor: ROOT.into(), principal: "ann@acme.test".into() }).unwrap();
    assert_eq!(ann.status, Status::Active, "enabling where seats are free works");
}

type Faulty = Keyward<support::FaultyStore<MemoryStore>, support::TestEnv>;

fn sa_with_password(password: &str) -> CreateServiceAccount {
    CreateServiceAccount {
        password: Some(password.into()),
        description: Some(password.to_lowercase()),
        ..service_account_request("bot", Some("viewer"))
    }
}

fn sign_in(kw: &Faulty, password: &str) -> std::result::Result<Identity, String> {
    kw.run(AuthenticatePassword {
        principal: "bot@acme.sa.keyward.local".into(),
        password: password.into(),
        channel: Channel::Api,
    })
    .map_err(|e| e.code().to_owned())
}

#[test]
fn r92_r62_a_crash_at_every_write_of_create_service_account_leaves_nothing_usable_until_a_rerun() {
    let bot = "bot@acme.sa.keyward.local";
    let (first_pw, rerun_pw) = ("First-pass-1!", "Rerun-pass-2!");
    for writes in 0..30 {
        let kw: Faulty =
            Keyward::new(Options::default(), support::FaultyStore::new(MemoryStore::new()), support::TestEnv::new())
                .unwrap();
        let settings = serde_json::from_value(serde_json::json!({"max_service_accounts": 1})).unwrap();
        kw.run(CreateTenant { tenant: "acme".into(), admin: ROOT.into(), name: None, settings: Some(settings) })
            .unwrap();
        kw.store().crash_after_writes.set(Some(writes));
        let first = kw.run(sa_with_password(first_pw));
        kw.store().crash_after_writes.set(None);
        if first.is_ok() {
            assert!(writes > 3, "account, membership, event and completion were all written");
            return;
        }
        // Nothing usable: no sign-in, no token, no rights, not listed, not readable.
        assert_eq!(sign_in(&kw, first_pw).unwrap_err(), "invalid_credentials", "after {writes} writes");
        let token = kw.run(token_request(bot));
        assert_eq!(token.unwrap_err().code(), "not_found", "after {writes} writes");
        let rights = kw.run(EffectivePermissions { identity_or_principal: bot.into(), tenant: "acme".into() });
        assert!(rights.is_err() || rights.unwrap().is_empty(), "after {writes} writes");
        let get = kw.run(GetAccount { actor: ROOT.into(), tenant: "acme".into(), principal: bot.into() });
        assert_eq!(get.unwrap_err().code(), "not_found", "after {writes} writes");
        assert_eq!(owned_in(&kw), 0, "after {writes} writes");
        if writes % 2 == 1 {
            kw.env().advance(quota_stale_ms() + 1); // the claim of the crashed call is stale now
        }
        // The rerun completes it — the crashed call's half-made account does not use up the
        // only unit — and keeps the rerun's password and description.
        let done = kw.run(sa_with_password(rerun_pw)).unwrap();
        assert_eq!(done.description.as_deref(), Some("rerun-pass-2!"));
        assert_eq!(done.roles, ["viewer"]);
        sign_in(&kw, rerun_pw).unwrap();
        assert_eq!(sign_in(&kw, first_pw).unwrap_err(), "invalid_credentials");
        kw.run(token_request(bot)).unwrap();
        let log = kw
            .run(AuditLog {
                actor: ROOT.into(),
                tenant: "acme".into(),
                filter: Some("action=service_account.create AND outcome=ok".into()),
                page_size: None,
                page_token: None,
            })
            .unwrap();
        assert!(!log.events.is_empty(), "its event is stored");
        let other = kw.run(CreateServiceAccount { name: "other".into(), ..service_account_request("x", None) });
        assert_eq!(other.unwrap_err().code(), "quota_exceeded", "the cap still holds");
    }
    panic!("create_service_account never completed");
}

fn quota_stale_ms() -> i64 {
    60_000
}

fn owned_in(kw: &Faulty) -> usize {
    kw.run(ListAccounts {
        actor: ROOT.into(),
        tenant: "acme".into(),
        filter: Some("service_account=true".into()),
        page_size: None,
        page_token: None,
    })
    .unwrap()
    .accounts
    .len()
}

fn stored(w: &World, prefix: &str) -> Vec<serde_json::Value> {
    w.store()
        .0
        .list(prefix, None, 10_000)
        .unwrap()
        .into_iter()
        .map(|e| serde_json::from_str(&e.value).unwrap())
        .collect()
}

/// After a race with `delete_role(tenant, role)`: if the role is gone, no membership and no
/// group names it, and defining it again gives `principal` nothing through it.
fn no_deleted_role_in_use(
    w: &World,
    i: &support::interleave::Interleaving,
    actor: &str,
    tenant: &str,
    principal: &str,
) {
    let role = "deployer";
    let t = &stored(w, &format!("t/{tenant}"))[0];
    if t["roles"].get(role).is_some() {
        return; // the deletion lost: the role is in use (failed_precondition)
    }
    for m in stored(w, &format!("m/{tenant}/")) {
        assert_ne!(m["role"], role, "k={}: a membership names the deleted role: {m} ({i:?})", i.k);
    }
    for (name, g) in t["groups"].as_object().unwrap() {
        let roles = g["roles"].as_array().cloned().unwrap_or_default();
        assert!(!roles.iter().any(|r| r == role), "k={}: group {name} names the deleted role", i.k);
    }
    let grants = vec![serde_json::from_value(serde_json::json!("models:write")).unwrap()];
    w.run(DefineRole { actor: actor.into(), tenant: tenant.into(), role: role.into(), grants }).unwrap();
    let rights = w.run(EffectivePermissions { identity_or_principal: principal.into(), tenant: tenant.into() });
    let rights = rights.map(|r| r.into_iter().map(|g| g.source).collect::<Vec<_>>()).unwrap_or_default();
    assert!(!rights.iter().any(|s| s.contains(role)), "k={}: the new role reaches the racer: {rights:?}", i.k);
}

fn with_deployer_role(w: &World) {
    acme(w, serde_json::json!({}));
    let grants = vec![serde_json::from_value(serde_json::json!("models:read")).unwrap()];
    w.run(DefineRole { actor: ROOT.into(), tenant: "acme".into(), role: "deployer".into(), grants }).unwrap();
    w.run(service_account_request("bot", None)).unwrap();
}

fn delete_deployer(actor: &str, tenant: &str) -> Call {
    DeleteRole { actor: actor.into(), tenant: tenant.into(), role: "deployer".into() }.into_call()
}

const BOT: &str = "bot@acme.sa.keyward.local";

#[test]
fn r41_r62_delete_role_racing_set_role_never_leaves_the_role_in_use() {
    let set_role = |_: &World| {
        SetRole { actor: ROOT.into(), tenant: "acme".into(), principal: BOT.into(), role: Some("deployer".into()) }
            .into_call()
    };
    let check = |w: &World, i: &support::interleave::Interleaving| no_deleted_role_in_use(w, i, ROOT, "acme", BOT);
    for_every_write_point(with_deployer_role, set_role, |_| delete_deployer(ROOT, "acme"), check);
    for_every_write_point(with_deployer_role, |_| delete_deployer(ROOT, "acme"), set_role, check);
}

#[test]
fn r41_r62_delete_role_racing_create_service_account_or_create_group_never_leaves_the_role_in_use() {
    let new_sa = |_: &World| service_account_request("racer", Some("deployer")).into_call();
    let racer = "racer@acme.sa.keyward.local";
    let check = |w: &World, i: &support::interleave::Interleaving| no_deleted_role_in_use(w, i, ROOT, "acme", racer);
    for_every_write_point(with_deployer_role, new_sa, |_| delete_deployer(ROOT, "acme"), check);
    for_every_write_point(with_deployer_role, |_| delete_deployer(ROOT, "acme"), new_sa, check);
    let group = |_: &World| {
        CreateGroup {
            actor: ROOT.into(),
            tenant: "acme".into(),
            group: "ops".into(),
            roles: vec!["deployer".into()],
            grants: vec![],
        }
        .into_call()
    };
    let check = |w: &World, i: &support::interleave::Interleaving| no_deleted_role_in_use(w, i, ROOT, "acme", BOT);
    for_every_write_point(with_deployer_role, group, |_| delete_deployer(ROOT, "acme"), check);
    for_every_write_point(with_deployer_role, |_| delete_deployer(ROOT, "acme"), group, check);
}

#[test]
fn r41_r62_delete_role_racing_grant_access_never_leaves_the_role_in_use() {
    let setup = |w: &World| {
        two_tenants(w);
        let grants = vec![serde_json::from_value(serde_json::json!("models:read")).unwrap()];
        w.run(DefineRole { actor: BOSS.into(), tenant: "cust".into(), role: "deployer".into(), grants }).unwrap();
    };
    let grant = |_: &World| {
        GrantAccess {
            actor: BOSS.into(),
            tenant: "cust".into(),
            principal: "ann@acme.test".into(),
            role: Some("deployer".into()),
            grants: vec![],
        }
        .into_call()
    };
    let check =
        |w: &World, i: &support::interleave::Interleaving| no_deleted_role_in_use(w, i, BOSS, "cust", "ann@acme.test");
    for_every_write_point(setup, grant, |_| delete_deployer(BOSS, "cust"), check);
    for_every_write_point(setup, |_| delete_deployer(BOSS, "cust"), grant, check);
}

/// Tenant `acme` with service account `bot` and an empty group `ops`.
fn with_ops(w: &World) {
    acme(w, serde_json::json!({}));
    w.run(service_account_request("bot", None)).unwrap();
    let ops =
        CreateGroup { actor: ROOT.into(), tenant: "acme".into(), group: "ops".into(), roles: vec![], grants: vec![] };
    w.run(ops).unwrap();
}

#[test]
fn r43_r62_delete_group_racing_add_group_member_keeps_no_member() {
    let add = |_: &World| {
        AddGroupMember { actor: ROOT.into(), tenant: "acme".into(), group: "ops".into(), principal: BOT.into() }
            .into_call()
    };
    let delete = |_: &World| DeleteGroup { actor: ROOT.into(), tenant: "acme".into(), group: "ops".into() }.into_call();
    let check = |w: &World, i: &support::interleave::Interleaving| {
        assert!(i.second.as_ref().is_some_and(|r| r.is_ok()) || i.first.is_ok(), "k={}: {i:?}", i.k);
        let t = &stored(w, "t/acme")[0];
        if t["groups"].get("ops").is_some() {
            return;
        }
        for m in stored(w, "m/acme/") {
            let groups = m["groups"].as_array().cloned().unwrap_or_default();
            assert!(!groups.iter().any(|g| g == "ops"), "k={}: a member of the deleted group was kept: {m}", i.k);
        }
        w.run(CreateGroup {
            actor: ROOT.into(),
            tenant: "acme".into(),
            group: "ops".into(),
            roles: vec!["admin".into()],
            grants: vec![],
        })
        .unwrap();
        let rights = w.run(EffectivePermissions { identity_or_principal: BOT.into(), tenant: "acme".into() }).unwrap();
        assert!(rights.iter().all(|g| g.source != "group:ops"), "k={}: {rights:?}", i.k);
    };
    for_every_write_point(with_ops, add, delete, check);
    for_every_write_point(with_ops, delete, add, check);
}

/// The outcome of the newest event of `action` on `target` in acme's log.
fn last_word(w: &World, action: &str, target: &str) -> Option<String> {
    // Keys sort newest first.
    stored(w, "e/acme/")
        .into_iter()
        .find(|e| e["action"] == action && e["target"] == target)
        .map(|e| e["outcome"].as_str().unwrap_or_default().to_owned())
}

/// Races `first` against `second` at every write point of `first` (on `setup`'s world): after
/// each, the log's last word on `first`'s change (`action` on `target`) says what happened —
/// `ok` when the call succeeded, never `ok` when it was refused. Returns how many times it was
/// refused after its `ok` event was stored (the log then holds two events of `action`).
fn log_tells(
    setup: impl Fn(&World),
    first: impl Fn(&World) -> Call,
    second: impl Fn(&World) -> Call,
    action: &str,
    target: &str,
) -> usize {
    let refused_after_event = std::cell::Cell::new(0);
    for_every_write_point(setup, first, second, |w, i| {
        let word = last_word(w, action, target);
        match &i.first {
            Ok(_) => assert_eq!(word.as_deref(), Some("ok"), "k={}: {action} succeeded: {i:?}", i.k),
            Err(e) => assert_ne!(word.as_deref(), Some("ok"), "k={}: {action} refused ({e}), its event says ok", i.k),
        }
        let events = stored(w, "e/acme/").iter().filter(|e| e["action"] == action && e["target"] == target).count();
        if i.first.is_err() && events >= 2 {
            refused_after_event.set(refused_after_event.get() + 1);
        }
    });
    refused_after_event.get()
}

const CLERK: &str = "clerk@acme.sa.keyward.local";

fn grants(list: &[&str]) -> Vec<Grant> {
    list.iter().map(|g| serde_json::from_value(serde_json::json!(g)).unwrap()).collect()
}

/// A change that gives rights stores its `ok` event before its write; when the write is
/// then refused — the role or group deleted meanwhile, the actor's hold on the target's rights
/// gone, the account revoked, retries spent — the refusal follows it, so no event tells of a
/// change that never happened. Each first call meets a second one at every write
/// point; at some of them it is refused after its event, and the positive control: where it
/// succeeds, its event is the last word.
#[test]
fn r80_r92_a_change_refused_after_its_event_is_stored_leaves_its_refusal_as_the_last_word() {
    let mut refused_after_event = 0;
    let set_role = |_: &World| {
        SetRole { actor: ROOT.into(), tenant: "acme".into(), principal: BOT.into(), role: Some("deployer".into()) }
            .into_call()
    };
    refused_after_event +=
        log_tells(with_deployer_role, set_role, |_| delete_deployer(ROOT, "acme"), "access.set_role", BOT);

    let delete_ops =
        |_: &World| DeleteGroup { actor: ROOT.into(), tenant: "acme".into(), group: "ops".into() }.into_call();
    let add = |_: &World| {
        AddGroupMember { actor: ROOT.into(), tenant: "acme".into(), group: "ops".into(), principal: BOT.into() }
            .into_call()
    };
    refused_after_event += log_tells(with_ops, add, delete_ops, "group.add_member", BOT);
    let give_ops = |_: &World| {
        GrantGroupPermissions {
            actor: ROOT.into(),
            tenant: "acme".into(),
            group: "ops".into(),
            grants: grants(&["models:read"]),
        }
        .into_call()
    };
    refused_after_event += log_tells(with_ops, give_ops, delete_ops, "group.grant", "group:ops");

    // A clerk may give the bot what it holds while it holds all of the bot's rights; an admin
    // gives the bot more meanwhile.
    let with_clerk = |w: &World| {
        acme(w, serde_json::json!({}));
        w.run(service_account_request("bot", None)).unwrap();
        w.run(service_account_request("clerk", None)).unwrap();
        w.call(grant(CLERK, "accounts:write")).unwrap();
        w.call(grant(CLERK, "models:read")).unwrap();
    };
    let clerk_gives = |_: &World| {
        GrantPermissions {
            actor: CLERK.into(),
            tenant: "acme".into(),
            principal: BOT.into(),
            grants: grants(&["models:read"]),
        }
        .into_call()
    };
    refused_after_event += log_tells(with_clerk, clerk_gives, |_| grant(BOT, "models:write"), "access.grant", BOT);

    let disabled_bot = |w: &World| {
        acme(w, serde_json::json!({}));
        w.run(service_account_request("bot", None)).unwrap();
        w.run(DisableAccount { actor: ROOT.into(), principal: BOT.into() }).unwrap();
    };
    let enable = |_: &World| EnableAccount { actor: ROOT.into(), principal: BOT.into() }.into_call();
    let revoke = |_: &World| RevokeAccount { actor: ROOT.into(), principal: BOT.into() }.into_call();
    refused_after_event += log_tells(disabled_bot, enable, revoke, "service_account.enable", BOT);
    assert!(refused_after_event >= 4, "the races reach the refusal after the event: {refused_after_event}");
}
