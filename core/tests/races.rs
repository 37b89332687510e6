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

/// Found by the harness, left to the token work (core/src/tokens/ops.rs): `store_new_token`
/// writes the account's token list first and prunes ids whose token document is missing, so a
/// second creation slipped in before the first one's token write drops the first token's id.
#[test]
#[ignore = "known race in create_token (tokens/ops.rs prunes an in-flight token's id)"]
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
