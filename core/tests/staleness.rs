//! R-16, the staleness window: within it repeated decisions need no store access at all; a
//! write through the same engine takes effect at once, even one that lands while a decision's
//! read is in flight; the option is checked. (Both edges of the window against another engine's
//! writes are in tests/conformance/c_staleness_window.json, replayed by every host.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

mod support;

use keyward_core::*;
use support::{service_account_request, token_request, verify_request, Counting, TestEnv, ROOT, T0};

type Counted = Counting<MemoryStore>;

const WINDOW_MS: u64 = 60_000;

/// A tenant with a viewer service account holding `tokens` tokens, on an engine with the window.
fn setup(tokens: usize) -> (Keyward<Counted, TestEnv>, String, Vec<TokenCreated>) {
    let options = Options { max_staleness_ms: WINDOW_MS, ..Options::default() };
    let kw = Keyward::new(options, Counted::default(), TestEnv::new()).unwrap();
    kw.run(CreateTenant { tenant: "acme".into(), admin: ROOT.into(), name: None, settings: None }).unwrap();
    let sa = kw.run(service_account_request("bot", Some("viewer"))).unwrap().principal;
    let created = (0..tokens).map(|_| kw.run(token_request(&sa)).unwrap()).collect();
    (kw, sa, created)
}

#[test]
fn r16_repeated_decisions_on_the_same_tokens_within_the_window_touch_no_store() {
    let (kw, sa, tokens) = setup(3);
    // The first round over every token reads (and stamps last use, R-15).
    for t in &tokens {
        assert!(kw.run(verify_request(&t.token)).unwrap().allowed);
    }
    let before = kw.store().calls();
    for _ in 0..50 {
        for t in &tokens {
            assert!(kw.run(verify_request(&t.token)).unwrap().allowed);
            assert_eq!(
                kw.run(Authenticate { token: t.token.as_str().into(), channel: Channel::Api }).unwrap().principal,
                sa
            );
        }
        let decision = kw
            .run(Authorize {
                identity_or_principal: sa.as_str().into(),
                tenant: "acme".into(),
                permission: "models:read".into(),
                resource: "*".into(),
            })
            .unwrap();
        assert!(decision.allowed);
    }
    assert_eq!(kw.store().calls(), before, "decisions within the window read nothing");

    // Past the window the next decision reads again.
    kw.env().advance(WINDOW_MS as i64 + 1);
    assert!(kw.run(verify_request(&tokens[0].token)).unwrap().allowed);
    assert!(kw.store().calls() > before, "a decision after the window reads the store");
}

#[test]
fn r16_without_a_window_every_decision_reads_the_store() {
    let kw = Keyward::new(Options::default(), Counted::default(), TestEnv::new()).unwrap();
    kw.run(CreateTenant { tenant: "acme".into(), admin: ROOT.into(), name: None, settings: None }).unwrap();
    let sa = kw.run(service_account_request("bot", Some("viewer"))).unwrap().principal;
    let token = kw.run(token_request(&sa)).unwrap().token;
    assert!(kw.run(verify_request(&token)).unwrap().allowed);
    for _ in 0..5 {
        let before = kw.store().calls();
        assert!(kw.run(verify_request(&token)).unwrap().allowed);
        assert_eq!(
            kw.store().calls() - before,
            2,
            "two rounds: the token, then account, tenant and membership in one get_many"
        );
    }
}

/// Drives `op` against `store`, answering every round at once.
fn finish<S: Store>(op: Op, store: &S) -> Result<Answer> {
    op.run_on(store).0
}

#[test]
fn r16_a_read_answered_before_a_revocation_through_the_same_engine_is_never_kept() {
    let (kw, sa, tokens) = setup(1);
    let token = tokens[0].token.clone();
    let engine = kw.engine().clone();
    let env = |n: u8| Env { now: T0, seed: [n; 32] };
    let store = kw.store();

    // A verify sends its first read, and the store answers it (the token, not yet revoked)...
    let mut in_flight = engine.start(verify_request(&token).into_call(), env(1));
    let Step::Need(first) = in_flight.step() else { panic!("verify reads the token first") };
    let stale = StoreRequest::run_batch(&first, store);

    // ...then, before that answer reaches the engine, a revocation through the same engine lands.
    let revoke = RevokeToken { actor: ROOT.into(), principal: sa.clone(), token_id: tokens[0].info.token_id.clone() };
    finish(engine.start(revoke.into_call(), env(2)), store).unwrap();

    // The in-flight verify finishes with what it read: it started before the revocation.
    in_flight.provide(stale);
    let Answer::Decision(decision) = finish(in_flight, store).unwrap() else { panic!("a decision") };
    assert!(decision.allowed);

    // The next decision must not answer from that stale read.
    let Answer::Decision(after) = finish(engine.start(verify_request(&token).into_call(), env(3)), store).unwrap()
    else {
        panic!("a decision")
    };
    assert_eq!(after.reason, "token_revoked");
}

#[test]
fn r16_a_last_use_stamp_answered_after_a_revocation_through_the_same_engine_does_not_bring_the_token_back() {
    let (kw, sa, tokens) = setup(1);
    let token = tokens[0].token.clone();
    let engine = kw.engine().clone();
    let env = |n: u8| Env { now: T0, seed: [n; 32] };
    let store = kw.store();
    let decide = |n: u8| match finish(engine.start(verify_request(&token).into_call(), env(n)), store).unwrap() {
        Answer::Decision(d) => d.reason,
        other => panic!("a decision, not {other:?}"),
    };

    // A first verify reads, decides, and stamps last use: the stamp lands in the store,
    // but its reply is slow to come back.
    let mut first = engine.start(verify_request(&token).into_call(), env(1));
    let held = loop {
        match first.step() {
            Step::Need(requests) if requests.iter().any(|r| r.written_key().is_some()) => {
                break StoreRequest::run_batch(&requests, store);
            }
            Step::Need(requests) => first.provide(StoreRequest::run_batch(&requests, store)),
            Step::Done(answer) => panic!("the first use stamps last use before answering: {answer:?}"),
        }
    };

    // Meanwhile the token is revoked through the same engine, and the next decision sees it.
    let revoke = RevokeToken { actor: ROOT.into(), principal: sa.clone(), token_id: tokens[0].info.token_id.clone() };
    finish(engine.start(revoke.into_call(), env(2)), store).unwrap();
    assert_eq!(decide(3), "token_revoked");

    // The stamp's reply arrives late; it must not put the unrevoked copy back in the window.
    first.provide(held);
    let Step::Done(answer) = first.step() else { panic!("the first verify is done") };
    assert!(matches!(answer, Ok(Answer::Decision(d)) if d.allowed));
    assert_eq!(decide(4), "token_revoked");
}

#[test]
fn r16_token_ids_that_exist_nowhere_are_not_kept_in_the_window() {
    let (kw, _, tokens) = setup(1);
    assert!(kw.run(verify_request(&tokens[0].token)).unwrap().allowed);
    // A well-formed token (valid checksum) whose id is unknown: read every time, never kept.
    let created = {
        let other = Keyward::new(Options::default(), MemoryStore::new(), TestEnv::with_seed_base(1 << 40)).unwrap();
        other.run(CreateTenant { tenant: "acme".into(), admin: ROOT.into(), name: None, settings: None }).unwrap();
        let sa = other.run(service_account_request("bot", Some("viewer"))).unwrap().principal;
        other.run(token_request(&sa)).unwrap().token
    };
    for _ in 0..3 {
        let before = kw.store().calls();
        assert_eq!(kw.run(verify_request(&created)).unwrap().reason, "invalid_credentials");
        assert_eq!(kw.store().calls() - before, 1, "the unknown token is read, and only it");
    }
    // The known token is still answered from the window.
    let before = kw.store().calls();
    assert!(kw.run(verify_request(&tokens[0].token)).unwrap().allowed);
    assert_eq!(kw.store().calls(), before);
}

#[test]
fn r16_writes_that_decisions_never_read_leave_the_window_as_it_is() {
    let (kw, sa, tokens) = setup(1);
    assert!(kw.run(verify_request(&tokens[0].token)).unwrap().allowed);
    // A refused admin call writes only its audit event: no decision reads events.
    let refused = kw.run(DisableAccount { actor: sa.as_str().into(), principal: ROOT.into() }).unwrap_err();
    assert_eq!(refused.code(), "forbidden");
    let before = kw.store().calls();
    assert!(kw.run(verify_request(&tokens[0].token)).unwrap().allowed);
    assert_eq!(kw.store().calls(), before, "still answered from the window");
}

#[test]
fn r16_a_clock_stepping_back_is_no_reason_to_trust_what_was_read() {
    let (kw, _, tokens) = setup(1);
    let token = &tokens[0].token;
    assert!(kw.run(verify_request(token)).unwrap().allowed);
    // Positive control: a moment later, within the window, nothing is read.
    kw.env().advance(1_000);
    let before = kw.store().calls();
    assert!(kw.run(verify_request(token)).unwrap().allowed);
    assert_eq!(kw.store().calls(), before);
    // A clock now earlier than the read: the documents' age is unknown, so they are read again.
    kw.env().advance(-2_000);
    let before = kw.store().calls();
    assert!(kw.run(verify_request(token)).unwrap().allowed);
    assert!(kw.store().calls() > before, "a clock behind the read goes to the store");
}

#[test]
fn r16_the_window_is_a_whole_number_of_ms_up_to_one_day() {
    let at_limit = Options { max_staleness_ms: MAX_STALENESS_LIMIT_MS, ..Options::default() };
    assert!(Engine::new(at_limit).is_ok());
    let over = Options { max_staleness_ms: MAX_STALENESS_LIMIT_MS + 1, ..Options::default() };
    let err = Engine::new(over).unwrap_err();
    assert_eq!((err.code(), err.to_data().field.as_deref()), ("invalid_argument", Some("max_staleness_ms")));
    // Hosts hand the option over as a JavaScript number or a Python int.
    for bad in [-1.0, 0.5, f64::NAN, f64::INFINITY, (MAX_STALENESS_LIMIT_MS + 1) as f64] {
        let err = keyward_core::host::max_staleness_ms(bad).unwrap_err();
        assert_eq!(err.code(), "invalid_argument", "{bad}");
    }
    assert_eq!(keyward_core::host::max_staleness_ms(0.0).unwrap(), 0);
    assert_eq!(keyward_core::host::max_staleness_ms(60_000.0).unwrap(), 60_000);
}
