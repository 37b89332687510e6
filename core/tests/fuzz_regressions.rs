//! What the fuzzers (fuzz/, issue 11) found, kept as tests: each drives the step machine on a
//! store holding what the fuzzer wrote, and bounds the rounds, so a regression fails rather
//! than hangs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

use keyward_core::*;
use serde_json::json;

const T0: i64 = 1_700_000_000_000;

fn call(op: &str, args: serde_json::Value) -> Call {
    Call::from_json(json!({ "op": op, "args": args })).unwrap()
}

/// Runs `call`, answering from `store`; `None` when it takes more than `max_rounds` rounds.
fn run_bounded(engine: &Engine, store: &MemoryStore, call: Call, max_rounds: usize) -> Option<Result<Answer>> {
    let mut op = engine.start(call, Env { now: T0 + 60_000, seed: [9; 32] });
    for _ in 0..max_rounds {
        match op.step() {
            Step::Need(requests) => op.provide(StoreRequest::run_batch(&requests, store)),
            Step::Done(answer) => return Some(answer),
        }
    }
    None
}

/// Memberships stored under keys that sort after the principal they name (a corrupt or
/// hostile store): `list_accounts` used to resume the listing after the principal the
/// document named rather than after the key listed, so it read the same page for ever when
/// the filter let none of them through. The listing must end, with an answer or a typed
/// error.
#[test]
fn r94_r34_list_accounts_ends_when_memberships_name_an_earlier_principal() {
    let engine = Engine::new(Options::default()).unwrap();
    let store = MemoryStore::new();
    let root = "root@acme.test";
    let steps = [
        call("create_tenant", json!({"tenant": "acme", "admin": root})),
        call("create_user", json!({"actor": root, "tenant": "acme", "email": "alice@acme.test"})),
        call("create_service_account", json!({"actor": root, "tenant": "acme", "name": "zed-bot"})),
    ];
    for (n, c) in steps.into_iter().enumerate() {
        let (answer, _) = engine.run(&store, c, Env { now: T0 + n as i64, seed: [n as u8; 32] });
        answer.unwrap();
    }
    let alice = store.get("m/acme/alice@acme.test").unwrap().unwrap();
    for i in 0..8 {
        assert_eq!(store.put(&format!("m/acme/alice@acme.test-{i}"), &alice.value, None), Ok(Some(1)));
    }
    let list = call(
        "list_accounts",
        json!({"actor": root, "tenant": "acme", "filter": "service_account = true", "page_size": 1}),
    );
    let answer = run_bounded(&engine, &store, list, 100).expect("list_accounts ends");
    let page = match answer.unwrap() {
        Answer::AccountPage(page) => page,
        other => panic!("not a page: {other:?}"),
    };
    let principals: Vec<&str> = page.accounts.iter().map(|a| a.principal.as_str()).collect();
    assert_eq!(principals, ["zed-bot@acme.sa.keyward.local"], "the service account is still listed");
}
