//! The data plane's step machine (`authenticate`, `verify`, `authorize`; DESIGN.md "A data
//! plane of its own") against hostile hosts: answers outside the protocol at every round
//! steps out of turn, the rounds it takes, the staleness window and
//! its events.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

mod support;

use keyward_core::*;
use support::{service_account_request, token_request, verify_request, Counting, TestEnv, ROOT, T0};

type Kw = Keyward<MemoryStore, TestEnv>;

fn kw_with(options: Options) -> Kw {
    let kw = Keyward::new(options, MemoryStore::new(), TestEnv::new()).unwrap();
    kw.run(CreateTenant { tenant: "acme".into(), admin: ROOT.into(), name: None, settings: None }).unwrap();
    kw
}

/// An engine with a viewer service account and a token for it: the engine and the token.
fn with_token(options: Options) -> (Kw, String, String) {
    let kw = kw_with(options);
    let sa = kw.run(service_account_request("bot", Some("viewer"))).unwrap().principal;
    let token = kw.run(token_request(&sa)).unwrap().token;
    (kw, sa, token)
}

/// The three decisions, for `token` and the account `sa`.
fn decisions(token: &str, sa: &str) -> Vec<(&'static str, Call)> {
    vec![
        ("verify", verify_request(token).into_call()),
        ("authenticate", Authenticate { token: token.into(), channel: Channel::Api }.into_call()),
        (
            "authorize",
            Authorize {
                identity_or_principal: sa.into(),
                tenant: "acme".into(),
                permission: "models:read".into(),
                resource: "*".into(),
            }
            .into_call(),
        ),
    ]
}

/// Ways a host can answer a batch outside the protocol, and the error code each must give.
#[derive(Debug, Clone, Copy)]
enum Fault {
    WrongKind,
    OneMore,
    OneLess,
    VersionZero,
    Failing,
}

const FAULTS: [Fault; 5] = [Fault::WrongKind, Fault::OneMore, Fault::OneLess, Fault::VersionZero, Fault::Failing];

impl Fault {
    fn apply(self, honest: Vec<StoreReply>) -> Vec<StoreReply> {
        let mut replies = honest;
        match self {
            Fault::WrongKind => replies.iter_mut().for_each(|r| *r = StoreReply::Deleted { ok: true }),
            Fault::OneMore => replies.push(StoreReply::Got { entry: None }),
            Fault::OneLess => {
                replies.pop();
            }
            Fault::VersionZero => replies.iter_mut().for_each(|r| match r {
                StoreReply::Got { entry: Some(v) } => v.version = 0,
                StoreReply::Put { version: Some(v) } => *v = 0,
                _ => {}
            }),
            Fault::Failing => {
                replies.iter_mut().for_each(|r| *r = StoreReply::Failed { message: "disk on fire".into() })
            }
        }
        replies
    }

    /// The code a read round answered this way raises.
    fn code(self) -> &'static str {
        match self {
            Fault::WrongKind | Fault::OneMore | Fault::OneLess => "internal",
            Fault::VersionZero | Fault::Failing => "store_error",
        }
    }
}

/// Drives `call` honestly but for the batch numbered `faulty`, answered with `fault`. Returns
/// the answer, the batches asked for, and what a further step answers.
fn drive_with_fault(
    kw: &Kw,
    call: Call,
    now: i64,
    faulty: usize,
    fault: Fault,
) -> (Result<Answer>, Vec<Vec<StoreRequest>>) {
    let mut op = kw.engine().start(call, Env { now, seed: [0; 32] });
    let mut batches = Vec::new();
    let answer = loop {
        match op.step() {
            Step::Need(requests) => {
                let honest: Vec<StoreReply> = requests.iter().map(|r| r.run_on(kw.store())).collect();
                let replies = if batches.len() == faulty { fault.apply(honest) } else { honest };
                batches.push(requests);
                op.provide(replies);
            }
            Step::Done(answer) => break answer,
        }
    };
    let Step::Done(Err(after)) = op.step() else { panic!("a finished operation stays finished") };
    assert_eq!(after.code(), "internal");
    (answer, batches)
}

fn is_write(r: &StoreRequest) -> bool {
    matches!(r, StoreRequest::Put { .. } | StoreRequest::Delete { .. })
}

#[test]
fn r94_a_decision_answered_outside_the_protocol_at_any_read_round_is_a_typed_error() {
    for window in [0, 60_000] {
        let (kw, sa, token) = with_token(Options { max_staleness_ms: window, ..Options::default() });
        // Each run minutes after the last, so the window never answers and the stamp is
        // always due.
        let mut now = T0;
        let mut next = || {
            now += 3 * 60_000;
            now
        };
        for (name, call) in decisions(&token, &sa) {
            let (honest, batches) = drive_with_fault(&kw, call.clone(), next(), usize::MAX, Fault::Failing);
            assert!(honest.is_ok(), "{name}: {honest:?}");
            let reads = batches.iter().filter(|b| !b.iter().any(is_write)).count();
            assert_eq!(reads, if name == "authorize" { 1 } else { 2 }, "{name}: {batches:?}");
            for round in 0..reads {
                for fault in FAULTS {
                    let (answer, batches) = drive_with_fault(&kw, call.clone(), next(), round, fault);
                    let error = answer.expect_err(&format!("{name}, round {round}, {fault:?}"));
                    assert_eq!(error.code(), fault.code(), "{name}, round {round}, {fault:?}: {error}");
                    if let Fault::Failing = fault {
                        assert!(error.to_string().contains("disk on fire"), "{error}");
                    }
                    assert_eq!(batches.len(), round + 1, "{name}: nothing asked after a bad round");
                }
            }
        }
    }
}

#[test]
fn r15_r94_a_stamp_answered_outside_the_protocol_never_changes_the_decision() {
    for window in [0, 60_000] {
        let (kw, sa, token) = with_token(Options { max_staleness_ms: window, ..Options::default() });
        let mut now = T0;
        for (name, call) in decisions(&token, &sa).into_iter().filter(|(n, _)| *n != "authorize") {
            for fault in FAULTS {
                now += 3 * 60_000;
                let (answer, batches) = drive_with_fault(&kw, call.clone(), now, 2, fault);
                assert_eq!(batches.len(), 3, "{name}: two reads and the stamp");
                assert!(batches[2].iter().all(is_write));
                match answer {
                    Ok(Answer::Decision(d)) => assert!(d.allowed, "{name}, {fault:?}: {d:?}"),
                    Ok(Answer::Identity(i)) => assert!(i.token_id.is_some()),
                    other => panic!("{name}, {fault:?}: {other:?}"),
                }
            }
        }
    }
}

#[test]
fn r16_a_round_answered_outside_the_protocol_is_never_kept_in_the_window() {
    let (kw, _, token) = with_token(Options { max_staleness_ms: 60_000, ..Options::default() });
    let (answer, _) = drive_with_fault(&kw, verify_request(&token).into_call(), T0 + 1, 1, Fault::VersionZero);
    assert_eq!(answer.unwrap_err().code(), "store_error");
    // The token round was good and kept; the account round was not, so it is read again.
    let (answer, batches) =
        drive_with_fault(&kw, verify_request(&token).into_call(), T0 + 2, usize::MAX, Fault::Failing);
    assert!(matches!(answer, Ok(Answer::Decision(Decision { allowed: true, .. }))), "{answer:?}");
    let reads: Vec<usize> = batches.iter().filter(|b| !b.iter().any(is_write)).map(Vec::len).collect();
    assert_eq!(reads, vec![3], "only the account, tenant and membership round: {batches:?}");
}

#[test]
fn step_before_provide_and_step_after_done_are_internal_for_every_decision() {
    let (kw, sa, token) = with_token(Options::default());
    for (name, call) in decisions(&token, &sa) {
        let mut op = kw.engine().start(call, Env { now: T0 + 120_000, seed: [0; 32] });
        let Step::Need(requests) = op.step() else { panic!("{name} reads the store") };
        let Step::Done(Err(e)) = op.step() else { panic!("{name}: step before provide") };
        assert_eq!(e.code(), "internal", "{name}");
        // The operation is not lost: the replies still take it on.
        op.provide(requests.iter().map(|r| r.run_on(kw.store())).collect());
        let answer = loop {
            match op.step() {
                Step::Need(requests) => op.provide(requests.iter().map(|r| r.run_on(kw.store())).collect()),
                Step::Done(answer) => break answer,
            }
        };
        assert!(answer.is_ok(), "{name}: {answer:?}");
        for _ in 0..2 {
            let Step::Done(Err(e)) = op.step() else { panic!("{name} stays done") };
            assert_eq!(e.code(), "internal", "{name}");
        }
        assert!(format!("{op:?}").contains("done: true"), "{op:?}");
    }
}

#[test]
fn r14_r15_verify_takes_two_store_calls_and_one_stamp_a_minute_authorize_one() {
    let env = TestEnv::new();
    let kw = Keyward::new(Options::default(), Counting::<MemoryStore>::default(), env).unwrap();
    kw.run(CreateTenant { tenant: "acme".into(), admin: ROOT.into(), name: None, settings: None }).unwrap();
    let sa = kw.run(service_account_request("bot", Some("viewer"))).unwrap().principal;
    let token = kw.run(token_request(&sa)).unwrap().token;
    let calls = |call: Call| {
        let before = kw.store().calls();
        let answer = kw.call(call);
        (answer, kw.store().calls() - before)
    };
    let [verify, authenticate, authorize] = <[(&str, Call); 3]>::try_from(decisions(&token, &sa)).unwrap();
    assert_eq!(calls(verify.1.clone()).1, 3, "token, then account/tenant/membership, then the stamp");
    assert_eq!(calls(verify.1.clone()).1, 2, "stamped within the minute: reads only");
    assert_eq!(calls(authenticate.1.clone()).1, 2);
    assert_eq!(calls(authorize.1.clone()).1, 1);
    kw.env().advance(LAST_USE);
    assert_eq!(calls(authenticate.1.clone()).1, 3, "a minute later the stamp is due again");

    // A bad checksum never reaches the store.
    let bad = format!("{}{}", &token[..token.len() - 1], if token.ends_with('a') { 'b' } else { 'a' });
    let (answer, n) = calls(verify_request(&bad).into_call());
    assert!(matches!(answer, Ok(Answer::Decision(Decision { ref reason, .. })) if reason == "invalid_credentials"));
    assert_eq!(n, 0, "no store access");

    // A well-formed token this store never held still reads its token round, and nothing more
    // timing does not tell an unknown id from a wrong secret).
    let elsewhere = Keyward::new(Options::default(), Counting::<MemoryStore>::default(), TestEnv::new()).unwrap();
    let answer = elsewhere.call(verify_request(&token).into_call());
    assert!(matches!(answer, Ok(Answer::Decision(Decision { ref reason, .. })) if reason == "invalid_credentials"));
    assert_eq!(elsewhere.store().calls(), 1);
}

const LAST_USE: i64 = 60_000;

#[test]
fn r80_decisions_build_events_only_for_a_taker_and_one_each() {
    let (kw, sa, token) = with_token(Options::default());
    for (name, call) in decisions(&token, &sa) {
        let (answer, events) = kw.engine().start(call.clone(), Env { now: T0, seed: [0; 32] }).run_on(kw.store());
        assert!(answer.is_ok(), "{name}");
        assert_eq!(events.len(), 1, "{name}: {events:?}");
        assert_eq!(events[0].action, format!("auth.{name}"));
        assert_eq!((events[0].outcome.as_str(), events[0].reason.as_deref()), ("ok", None), "{name}");
        let (target, secret) = (&events[0].target, token.rsplit('_').next().unwrap());
        assert!(!target.contains(secret), "{name}: never the secret: {target}");

        let (answer, events) =
            kw.engine().start(call, Env { now: T0, seed: [0; 32] }).without_events().run_on(kw.store());
        assert!(answer.is_ok(), "{name}");
        assert!(events.is_empty(), "{name}: {events:?}");
    }
    // A refused credential: one denied event with the code as its reason, for the token's id.
    let wrong = kw.engine().start(verify_request("kw_nope").into_call(), Env { now: T0, seed: [0; 32] });
    let (answer, events) = wrong.run_on(kw.store());
    let Ok(Answer::Decision(d)) = answer else { panic!("verify answers a decision") };
    assert_eq!(d.reason, "invalid_credentials");
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].outcome.as_str(), events[0].reason.as_deref(), events[0].target.as_str()),
        ("denied", Some("invalid_credentials"), "token:")
    );
}
