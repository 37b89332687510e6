//! Storage protocol and failure (R-14, R-15, R-90..R-94), driven through the step machine so
//! that rounds and writes can be counted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

mod support;

use keyward_core::*;
use support::{service_account_request, token_request, verify_reason, FaultyStore, TestEnv, ROOT, T0};

fn kw() -> Keyward<FaultyStore<MemoryStore>, TestEnv> {
    let kw = Keyward::new(Options::default(), FaultyStore::new(MemoryStore::new()), TestEnv::new()).unwrap();
    kw.run(CreateTenant { tenant: "acme".into(), admin: ROOT.into(), name: None, settings: None }).unwrap();
    kw
}

fn service_account(kw: &Keyward<FaultyStore<MemoryStore>, TestEnv>, name: &str, role: &str) -> String {
    kw.run(service_account_request(name, Some(role))).unwrap().principal
}

fn verify_call(token: &str) -> Call {
    support::verify_request(token).into_call()
}

/// Drives a call, returning the answer and the batches the host was asked for.
fn drive<S: Store>(engine: &Engine, store: &S, call: Call, now: i64) -> (Result<Answer>, Vec<Vec<StoreRequest>>) {
    let mut op = engine.start(call, Env { now, seed: [3; 32] });
    let mut batches = Vec::new();
    loop {
        match op.step() {
            Step::Need(requests) => {
                op.provide(requests.iter().map(|r| r.run_on(store)).collect());
                batches.push(requests);
            }
            Step::Done(answer) => return (answer, batches),
        }
    }
}

fn is_write(r: &StoreRequest) -> bool {
    matches!(r, StoreRequest::Put { .. } | StoreRequest::Delete { .. })
}

#[test]
fn r14_malformed_or_bad_checksum_tokens_never_reach_the_store() {
    let kw = kw();
    let sa = service_account(&kw, "bot", "viewer");
    let good = kw.run(token_request(&sa)).unwrap().token;
    let mut bad_check = good.clone();
    let last = bad_check.pop().unwrap();
    bad_check.push(if last == 'A' { 'B' } else { 'A' });
    for token in ["", "kw_short", "nonsense token", bad_check.as_str(), &good.replacen("kw_", "xx_", 1)] {
        let (answer, batches) = drive(kw.engine(), kw.store(), verify_call(token), T0);
        let Ok(Answer::Decision(d)) = answer else { panic!("verify answers a decision") };
        assert_eq!(d.reason, "invalid_credentials", "{token}");
        assert!(batches.is_empty(), "{token}: no store access, got {batches:?}");
    }
}

#[test]
fn r14_r15_verify_takes_two_read_rounds_and_stamps_last_use_at_most_once_a_minute() {
    let kw = kw();
    let sa = service_account(&kw, "bot", "viewer");
    let token = kw.run(token_request(&sa)).unwrap().token;
    let now = kw.env().now();

    let (answer, batches) = drive(kw.engine(), kw.store(), verify_call(&token), now);
    assert!(matches!(answer, Ok(Answer::Decision(Decision { allowed: true, .. }))));
    assert_eq!(batches.len(), 3, "token; account+tenant+membership; last-use stamp");
    assert!(!batches[0].iter().any(is_write) && !batches[1].iter().any(is_write));
    assert_eq!(batches[1].len(), 3, "the second round reads account, tenant and membership together");
    assert!(batches[2].iter().all(is_write));

    for later in [now + 1, now + 59_999] {
        let (_, batches) = drive(kw.engine(), kw.store(), verify_call(&token), later);
        assert_eq!(batches.len(), 2, "no stamp within the minute");
    }
    let (_, batches) = drive(kw.engine(), kw.store(), verify_call(&token), now + 60_000);
    assert_eq!(batches.len(), 3, "stamped again after a minute");
}

#[test]
fn r15_a_failed_stamp_never_changes_the_decision() {
    let kw = kw();
    let sa = service_account(&kw, "bot", "viewer");
    let token = kw.run(token_request(&sa)).unwrap().token;
    let mut op = kw.engine().start(verify_call(&token), Env { now: kw.env().now(), seed: [0; 32] });
    let answer = loop {
        match op.step() {
            Step::Need(requests) if requests.iter().any(is_write) => op
                .provide(requests.iter().map(|_| StoreReply::Failed { message: "read-only replica".into() }).collect()),
            Step::Need(requests) => op.provide(requests.iter().map(|r| r.run_on(kw.store())).collect()),
            Step::Done(answer) => break answer,
        }
    };
    assert!(matches!(answer, Ok(Answer::Decision(Decision { allowed: true, .. }))));
}

#[test]
fn r91_lost_races_are_retried_on_fresh_data_then_answered_conflict() {
    let kw = kw();
    kw.store().lose_puts.set(4);
    let sa = service_account(&kw, "bot", "viewer");
    assert!(kw.run(token_request(&sa)).is_ok(), "four lost races are retried");
    kw.store().lose_puts.set(50);
    let err = kw.run(token_request(&sa)).unwrap_err();
    assert_eq!(err.code(), "conflict");
    kw.store().lose_puts.set(0);
    assert_eq!(kw.run(ListTokens { actor: ROOT.into(), principal: sa }).unwrap().len(), 1, "nothing half-written");
}

#[test]
fn r91_concurrent_updates_are_never_lost() {
    // Two operations interleaved by hand: both read the account, then both write.
    let kw = kw();
    let sa = service_account(&kw, "bot", "viewer");
    let env = |n: u8| Env { now: T0, seed: [n; 32] };
    let mut a = kw.engine().start(token_request(&sa).into_call(), env(1));
    let mut b = kw.engine().start(token_request(&sa).into_call(), env(2));
    let (mut done_a, mut done_b) = (None, None);
    while done_a.is_none() || done_b.is_none() {
        for (op, done) in [(&mut a, &mut done_a), (&mut b, &mut done_b)] {
            if done.is_none() {
                match op.step() {
                    Step::Need(requests) => op.provide(requests.iter().map(|r| r.run_on(kw.store())).collect()),
                    Step::Done(answer) => *done = Some(answer),
                }
            }
        }
    }
    assert!(done_a.unwrap().is_ok() && done_b.unwrap().is_ok());
    assert_eq!(kw.run(ListTokens { actor: ROOT.into(), principal: sa }).unwrap().len(), 2, "both tokens kept");
}

#[test]
fn r93_time_is_only_the_hosts() {
    let kw = kw();
    let sa = service_account(&kw, "bot", "viewer");
    kw.env().now.set(42_000);
    let t = kw.run(token_request(&sa)).unwrap();
    assert_eq!(t.info.created_at, 42_000);
    assert_eq!(t.info.expires_at, Some(42_000 + 365 * 86_400_000));
}

#[test]
fn r94_a_failing_store_is_store_error_with_the_hosts_message_and_the_engine_goes_on() {
    let kw = kw();
    let sa = service_account(&kw, "bot", "viewer");
    kw.store().fail_calls.set(1);
    *kw.store().fail_message.borrow_mut() = "connection reset by peer".into();
    let err = kw.run(token_request(&sa)).unwrap_err();
    assert_eq!(err.code(), "store_error");
    assert!(err.to_string().contains("connection reset by peer"), "{err}");
    let token = kw.run(token_request(&sa)).unwrap().token;
    let d = kw
        .run(Verify {
            token: token.into(),
            tenant: "acme".into(),
            permission: "models:read".into(),
            resource: "*".into(),
            channel: Channel::Api,
        })
        .unwrap();
    assert!(d.allowed);
}

#[test]
fn r94_a_host_answering_the_wrong_shape_is_internal_not_a_panic() {
    let kw = kw();
    let mut op = kw
        .engine()
        .start(GetTenant { actor: ROOT.into(), tenant: "acme".into() }.into_call(), Env { now: T0, seed: [0; 32] });
    let Step::Need(requests) = op.step() else { panic!("needs the store") };
    op.provide(vec![StoreReply::Deleted { ok: true }; requests.len() + 1]);
    let Step::Done(Err(e)) = op.step() else { panic!("done with an error") };
    assert_eq!(e.code(), "internal");
    let Step::Done(Err(e)) = op.step() else { panic!("stays done") };
    assert_eq!(e.code(), "internal");
}

#[test]
fn r94_a_list_answer_outside_the_protocol_is_store_error_and_the_engine_goes_on() {
    let kw = kw();
    let entry = |key: &str| Entry { key: key.into(), value: "{}".into(), version: 1 };
    // `seat_usage` lists the tenant's memberships; answer that list with each kind of fault.
    type ListAnswer = Box<dyn Fn(&str, usize) -> Vec<Entry>>;
    let faults: Vec<(&str, ListAnswer)> = vec![
        ("outside the prefix", Box::new(move |_, _| vec![entry("m/other/x")])),
        ("out of order", Box::new(move |p, _| vec![entry(&format!("{p}b")), entry(&format!("{p}a"))])),
        ("a key twice", Box::new(move |p, _| vec![entry(&format!("{p}a")), entry(&format!("{p}a"))])),
        (
            "longer than the limit",
            Box::new(move |p, limit| (0..=limit).map(|i| entry(&format!("{p}{i:06}"))).collect()),
        ),
    ];
    for (what, answer) in faults {
        let call = SeatUsage { actor: ROOT.into(), tenant: "acme".into() }.into_call();
        let mut op = kw.engine().start(call, Env { now: T0, seed: [0; 32] });
        let error = loop {
            match op.step() {
                Step::Need(requests) => {
                    let replies = requests
                        .iter()
                        .map(|r| match r {
                            StoreRequest::List { prefix, limit, .. } => {
                                StoreReply::Listed { entries: answer(prefix, *limit) }
                            }
                            other => other.run_on(kw.store()),
                        })
                        .collect();
                    op.provide(replies);
                }
                Step::Done(answer) => break answer.err(),
            }
        };
        assert_eq!(error.map(|e| e.code()), Some("store_error"), "a list answer {what}");
    }
    // Positive control: the same call on the store itself answers.
    let seats = kw.run(SeatUsage { actor: ROOT.into(), tenant: "acme".into() }).unwrap();
    assert_eq!(seats.seats_used, 1);
}

/// Crashes the store after each possible number of writes of `call`, then checks `after`
/// (nothing verifies that should not) and that running `call` again completes.
fn crash_at_every_write(
    name: &str,
    setup: impl Fn(&Keyward<FaultyStore<MemoryStore>, TestEnv>) -> (Call, String),
    safe: impl Fn(&Keyward<FaultyStore<MemoryStore>, TestEnv>, &str, u32),
    rerun_ok: impl Fn(&Keyward<FaultyStore<MemoryStore>, TestEnv>, Result<Answer>),
) {
    for writes in 0..20 {
        let kw = kw();
        let (call, token) = setup(&kw);
        kw.store().crash_after_writes.set(Some(writes));
        let first = kw.call(call.clone());
        kw.store().crash_after_writes.set(None);
        if first.is_ok() {
            return; // every crash point before the last write was checked
        }
        assert_eq!(first.unwrap_err().code(), "store_error", "{name}: crash after {writes} writes");
        safe(&kw, &token, writes);
        rerun_ok(&kw, kw.call(call));
    }
    panic!("{name}: never completed");
}

#[test]
fn r92_an_interrupted_deletion_never_leaves_a_working_credential_and_completes_when_rerun() {
    crash_at_every_write(
        "delete_account",
        |kw| {
            let sa = service_account(kw, "bot", "viewer");
            let token = kw.run(token_request(&sa)).unwrap().token;
            (DeleteAccount { actor: ROOT.into(), principal: sa }.into_call(), token)
        },
        |kw, token, writes| {
            // Nothing written: nothing deleted. Any write: the tombstone came first.
            let expected = if writes == 0 { "allowed" } else { "invalid_credentials" };
            assert_eq!(verify_reason(kw, token), expected, "after {writes} writes");
        },
        |kw, rerun| {
            // Running it again finishes the deletion, tombstone or not; `not_found` only once
            // nothing is left (the crash hit the audit event, after the last delete).
            assert!(rerun.is_ok() || rerun.unwrap_err().code() == "not_found");
            assert_eq!(
                kw.run(ListTokens { actor: ROOT.into(), principal: "bot@acme.sa.keyward.local".into() })
                    .unwrap_err()
                    .code(),
                "not_found"
            );
            let again = service_account(kw, "bot", "viewer");
            assert!(kw.run(ListTokens { actor: ROOT.into(), principal: again }).unwrap().is_empty());
        },
    );
}

#[test]
fn r92_an_interrupted_token_creation_leaves_nothing_usable_and_can_be_run_again() {
    crash_at_every_write(
        "create_token",
        |kw| {
            let sa = service_account(kw, "bot", "viewer");
            (token_request(&sa).into_call(), sa)
        },
        |kw, sa, _| {
            // Whatever was written, no caller ever saw a secret; listing still works.
            assert!(kw.run(ListTokens { actor: ROOT.into(), principal: sa.into() }).unwrap().len() <= 1);
        },
        |_, rerun| assert!(matches!(rerun, Ok(Answer::TokenCreated(_)))),
    );
}

#[test]
fn r92_an_interrupted_rotation_never_locks_the_client_out() {
    crash_at_every_write(
        "rotate_token",
        |kw| {
            let sa = service_account(kw, "bot", "viewer");
            let t = kw.run(token_request(&sa)).unwrap();
            (
                RotateToken { actor: ROOT.into(), principal: sa, token_id: t.info.token_id, grace_seconds: Some(0) }
                    .into_call(),
                t.token,
            )
        },
        |kw, old, _| assert_eq!(verify_reason(kw, old), "allowed", "the old token works until a rotation completes"),
        |_, rerun| assert!(matches!(rerun, Ok(Answer::TokenCreated(_)))),
    );
}

#[test]
fn r92_an_interrupted_tenant_creation_can_be_run_again() {
    for writes in 0..10 {
        let kw = Keyward::new(Options::default(), FaultyStore::new(MemoryStore::new()), TestEnv::new()).unwrap();
        let call = CreateTenant { tenant: "beta".into(), admin: "ann@beta.test".into(), name: None, settings: None };
        kw.store().crash_after_writes.set(Some(writes));
        let first = kw.run(call.clone());
        kw.store().crash_after_writes.set(None);
        if first.is_ok() {
            return;
        }
        // Run again: it completes, or (when only the event was lost) says the tenant exists.
        if let Err(e) = kw.run(call) {
            assert_eq!(e.code(), "already_exists", "rerun after {writes} writes: {e}");
        }
        kw.run(GetTenant { actor: "ann@beta.test".into(), tenant: "beta".into() }).unwrap();
    }
    panic!("create_tenant never completed");
}

#[test]
fn r92_an_interrupted_account_creation_completes_when_run_again() {
    crash_at_every_write(
        "create_service_account",
        |_| {
            let call = service_account_request("bot", Some("viewer"));
            (call.into_call(), String::new())
        },
        |kw, _, _| {
            // Listed only once its owner membership exists, and then complete.
            let page = kw
                .run(ListAccounts {
                    actor: ROOT.into(),
                    tenant: "acme".into(),
                    filter: Some("service_account=true".into()),
                    page_size: None,
                    page_token: None,
                })
                .unwrap();
            assert!(page.accounts.iter().all(|a| a.roles == ["viewer"]));
        },
        |kw, rerun| {
            // Completed, or (when only the audit event was lost) already there.
            assert!(matches!(rerun, Ok(Answer::Account(_))) || rerun.is_err_and(|e| e.code() == "already_exists"));
            let a = kw.run(GetAccount {
                actor: ROOT.into(),
                tenant: "acme".into(),
                principal: "bot@acme.sa.keyward.local".into(),
            });
            assert_eq!(a.unwrap().roles, ["viewer"]);
        },
    );
}

#[test]
fn r92_memberships_left_by_an_unfinished_tenant_creation_give_no_access() {
    let kw = Keyward::new(Options::default(), FaultyStore::new(MemoryStore::new()), TestEnv::new()).unwrap();
    // Mallory's creation of `beta` stops after her admin membership was written.
    kw.store().crash_after_writes.set(Some(2));
    let first =
        kw.run(CreateTenant { tenant: "beta".into(), admin: "mallory@evil.test".into(), name: None, settings: None });
    assert_eq!(first.unwrap_err().code(), "store_error");
    kw.store().crash_after_writes.set(None);
    kw.run(CreateTenant { tenant: "beta".into(), admin: "alice@beta.test".into(), name: None, settings: None })
        .unwrap();
    let backdoor = CreateServiceAccount {
        actor: "mallory@evil.test".into(),
        tenant: "beta".into(),
        name: "backdoor".into(),
        description: None,
        role: Some("admin".into()),
        grants: vec![],
        password: None,
    };
    assert_eq!(kw.run(backdoor).unwrap_err().code(), "forbidden");
    let page = kw
        .run(ListAccounts {
            actor: "alice@beta.test".into(),
            tenant: "beta".into(),
            filter: None,
            page_size: None,
            page_token: None,
        })
        .unwrap();
    assert_eq!(page.accounts.iter().map(|a| a.principal.as_str()).collect::<Vec<_>>(), ["alice@beta.test"]);
}

#[test]
fn r80_r91_events_finished_out_of_time_order_are_all_kept() {
    let kw = kw();
    let group = |name: &str| CreateGroup {
        actor: ROOT.into(),
        tenant: "acme".into(),
        group: name.into(),
        roles: vec![],
        grants: vec![],
    };
    let run = |call: Call, now: i64| kw.engine().run(kw.store(), call, Env { now, seed: [now as u8; 32] }).0;
    run(group("g-one").into_call(), T0 + 10).unwrap();
    run(group("g-two").into_call(), T0 + 11).unwrap();
    // A slower call that started earlier finishes last, stamped with its own (earlier) time.
    let sa = service_account_request("bot", None);
    run(sa.into_call(), T0 + 10).unwrap();
    let log = kw
        .run(AuditLog { actor: ROOT.into(), tenant: "acme".into(), filter: None, page_size: None, page_token: None })
        .unwrap();
    let actions: Vec<&str> = log.events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions[..3],
        ["group.create", "service_account.create", "group.create"],
        "newest first, by time then order"
    );
}

#[test]
fn r61_deleting_a_user_never_leaves_another_tenant_without_an_admin() {
    let kw = kw();
    kw.run(CreateUser {
        actor: ROOT.into(),
        tenant: "acme".into(),
        email: "ann@acme.test".into(),
        name: None,
        role: None,
        mfa: false,
    })
    .unwrap();
    kw.run(CreateTenant { tenant: "cust".into(), admin: "ann@acme.test".into(), name: None, settings: None }).unwrap();
    let e =
        kw.run(RemoveUser { actor: ROOT.into(), tenant: "acme".into(), email: "ann@acme.test".into() }).unwrap_err();
    assert_eq!(e.code(), "failed_precondition");
    let e = kw.run(DeleteAccount { actor: ROOT.into(), principal: "ann@acme.test".into() }).unwrap_err();
    assert_eq!(e.code(), "failed_precondition");
    kw.run(GetTenant { actor: "ann@acme.test".into(), tenant: "cust".into() }).unwrap();
}

#[test]
fn r82_debug_of_store_traffic_never_shows_a_stored_hash() {
    let kw = kw();
    let sa = service_account(&kw, "bot", "viewer");
    kw.run(token_request(&sa)).unwrap();
    let mut texts = vec![format!("{:?}", kw.store().inner)];
    for key in kw.store().inner.keys() {
        texts.push(format!("{:?}", kw.store().inner.get(&key).unwrap()));
    }
    let mut op =
        kw.engine().start(ListTokens { actor: ROOT.into(), principal: sa }.into_call(), Env { now: T0, seed: [0; 32] });
    while let Step::Need(requests) = op.step() {
        texts.push(format!("{requests:?}"));
        let replies: Vec<StoreReply> = requests.iter().map(|r| r.run_on(kw.store())).collect();
        texts.push(format!("{replies:?}"));
        op.provide(replies);
    }
    for t in &texts {
        assert!(!t.contains("\"hash\""), "a stored document leaked into Debug output: {t}");
    }
}

#[test]
fn r43_r47_a_member_added_while_its_group_is_deleted_gains_nothing_from_a_later_namesake() {
    let kw = kw();
    let sa = service_account(&kw, "bot", "viewer");
    let group = |roles: Vec<String>| CreateGroup {
        actor: ROOT.into(),
        tenant: "acme".into(),
        group: "ops".into(),
        roles,
        grants: vec![],
    };
    kw.run(group(vec![])).unwrap();
    let add = AddGroupMember { actor: ROOT.into(), tenant: "acme".into(), group: "ops".into(), principal: sa.clone() };
    let mut op = kw.engine().start(add.into_call(), Env { now: T0, seed: [9; 32] });
    let mut deleted = false;
    let answer = loop {
        match op.step() {
            Step::Need(requests) => {
                let writes_membership =
                    requests.iter().any(|r| matches!(r, StoreRequest::Put { key, .. } if key.starts_with("m/")));
                if writes_membership && !deleted {
                    deleted = true;
                    // The group is deleted between the add's check and its write.
                    kw.run(DeleteGroup { actor: ROOT.into(), tenant: "acme".into(), group: "ops".into() }).unwrap();
                }
                op.provide(requests.iter().map(|r| r.run_on(kw.store())).collect());
            }
            Step::Done(answer) => break answer,
        }
    };
    assert_eq!(answer.unwrap_err().code(), "not_found");
    kw.run(group(vec!["admin".into()])).unwrap();
    let rights =
        kw.run(EffectivePermissions { identity_or_principal: sa.as_str().into(), tenant: "acme".into() }).unwrap();
    assert!(rights.iter().all(|g| g.source != "group:ops"), "{rights:?}");
}

#[test]
fn r26_authorize_re_checks_an_identitys_token_in_its_one_read_round() {
    let kw = kw();
    let sa = service_account(&kw, "bot", "viewer");
    let created = kw.run(token_request(&sa)).unwrap();
    let identity = kw.run(Authenticate { token: created.token.as_str().into(), channel: Channel::Api }).unwrap();
    let authorize = |subject: Subject| {
        Authorize {
            identity_or_principal: subject,
            tenant: "acme".into(),
            permission: "models:read".into(),
            resource: "*".into(),
        }
        .into_call()
    };
    let now = kw.env().now();
    let (answer, batches) = drive(kw.engine(), kw.store(), authorize((&identity).into()), now);
    assert!(matches!(answer, Ok(Answer::Decision(Decision { allowed: true, .. }))), "{answer:?}");
    assert_eq!(batches.len(), 1, "one read round: {batches:?}");
    assert_eq!(batches[0].len(), 4, "account, tenant, membership and the identity's token together");

    // A principal needs no token: the same round without it.
    let (_, batches) = drive(kw.engine(), kw.store(), authorize(sa.as_str().into()), now);
    assert_eq!((batches.len(), batches[0].len()), (1, 3));

    kw.run(RevokeToken { actor: ROOT.into(), principal: sa.clone(), token_id: created.info.token_id.clone() }).unwrap();
    let (answer, batches) = drive(kw.engine(), kw.store(), authorize((&identity).into()), now);
    let Ok(Answer::Decision(d)) = answer else { panic!("authorize answers a decision") };
    assert_eq!((d.allowed, d.reason.as_str(), batches.len()), (false, "token_revoked", 1));
}

/// A store that reads batches at once, and counts how it was asked.
#[derive(Default)]
struct BatchingStore {
    inner: MemoryStore,
    gets: std::cell::Cell<u32>,
    batches: std::cell::Cell<u32>,
}

impl Store for BatchingStore {
    fn get(&self, key: &str) -> std::result::Result<Option<Versioned>, StoreFailure> {
        self.gets.set(self.gets.get() + 1);
        self.inner.get(key)
    }
    fn put(&self, key: &str, value: &str, expected: Option<u64>) -> std::result::Result<Option<u64>, StoreFailure> {
        self.inner.put(key, value, expected)
    }
    fn delete(&self, key: &str, expected: u64) -> std::result::Result<bool, StoreFailure> {
        self.inner.delete(key, expected)
    }
    fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> std::result::Result<Vec<Entry>, StoreFailure> {
        self.inner.list(prefix, after, limit)
    }
    fn get_many(&self, keys: &[&str]) -> std::result::Result<Vec<Option<Versioned>>, StoreFailure> {
        self.batches.set(self.batches.get() + 1);
        keys.iter().map(|k| self.inner.get(k)).collect()
    }
}

#[test]
fn r90_a_store_with_get_many_answers_each_read_round_in_one_call() {
    let kw = Keyward::new(Options::default(), BatchingStore::default(), TestEnv::new()).unwrap();
    kw.run(CreateTenant { tenant: "acme".into(), admin: ROOT.into(), name: None, settings: None }).unwrap();
    let sa = kw.run(service_account_request("bot", Some("viewer"))).unwrap().principal;
    let token = kw.run(token_request(&sa)).unwrap().token;
    kw.env().advance(1);
    kw.run(Verify {
        token: token.as_str().into(),
        tenant: "acme".into(),
        permission: "models:read".into(),
        resource: "*".into(),
        channel: Channel::Api,
    })
    .unwrap();
    let (gets, batches) = (kw.store().gets.replace(0), kw.store().batches.replace(0));
    assert!(gets > 0 && batches > 0, "setup read both ways");
    let decision = kw
        .run(Verify {
            token: token.as_str().into(),
            tenant: "acme".into(),
            permission: "models:read".into(),
            resource: "*".into(),
            channel: Channel::Api,
        })
        .unwrap();
    assert!(decision.allowed);
    // The token alone, then account, tenant and membership in one get_many: two store calls.
    assert_eq!((kw.store().gets.get(), kw.store().batches.get()), (1, 1));
}
