//! Check-then-write races of the trust rules: a second call slipped in at every
//! write point of a first (`support::interleave`), and the rule checked on what is left.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

mod support;

use keyward_core::*;
use support::interleave::{for_every_write_point, Interleaving, World};
use support::ROOT;

const ANN: &str = "ann@acme.test";

/// `acme` with two admins: its first admin and `ann`.
fn two_admins(w: &World) {
    w.run(CreateTenant { tenant: "acme".into(), admin: ROOT.into(), name: None, settings: None }).unwrap();
    w.run(CreateUser {
        actor: ROOT.into(),
        tenant: "acme".into(),
        email: ANN.into(),
        name: None,
        role: Some("admin".into()),
        mfa: false,
    })
    .unwrap();
}

fn is_active_admin(w: &World, principal: &str) -> bool {
    let decision = w
        .run(Authorize {
            identity_or_principal: principal.into(),
            tenant: "acme".into(),
            permission: "settings:write".into(),
            resource: "*".into(),
        })
        .unwrap();
    let everything = w
        .run(EffectivePermissions { identity_or_principal: principal.into(), tenant: "acme".into() })
        .unwrap_or_default();
    decision.allowed && everything.iter().any(|g| g.permission == "*" && g.resource == "*")
}

fn an_admin_is_left(w: &World, i: &Interleaving) {
    assert!(
        is_active_admin(w, ROOT) || is_active_admin(w, ANN),
        "k={} of {}: tenant left without an active admin; first={:?} second={:?}",
        i.k,
        i.writes_alone,
        i.first,
        i.second
    );
    assert!(i.successes() <= 1, "k={}: both removals succeeded: {i:?}", i.k);
}

fn demote(actor: &str, principal: &str) -> Call {
    SetRole { actor: actor.into(), tenant: "acme".into(), principal: principal.into(), role: None }.into_call()
}

fn disable(actor: &str, principal: &str) -> Call {
    DisableAccount { actor: actor.into(), principal: principal.into() }.into_call()
}

#[test]
fn r61_two_admins_demoting_each_other_never_leave_the_tenant_without_one() {
    let points = for_every_write_point(two_admins, |_| demote(ROOT, ANN), |_| demote(ANN, ROOT), an_admin_is_left);
    assert!(points >= 2);
}

#[test]
fn r61_two_admins_disabling_each_other_never_leave_the_tenant_without_one() {
    for_every_write_point(two_admins, |_| disable(ROOT, ANN), |_| disable(ANN, ROOT), an_admin_is_left);
}

#[test]
fn r61_a_deletion_racing_a_demotion_never_leaves_the_tenant_without_an_admin() {
    let delete = |_: &World| DeleteAccount { actor: ROOT.into(), principal: ANN.into() }.into_call();
    for_every_write_point(two_admins, delete, |_| demote(ANN, ROOT), an_admin_is_left);
    for_every_write_point(two_admins, |_| demote(ANN, ROOT), delete, an_admin_is_left);
}

#[test]
fn r61_a_removal_from_the_admins_group_racing_a_demotion_never_leaves_the_tenant_without_an_admin() {
    let setup = |w: &World| {
        two_admins(w);
        w.run(CreateGroup {
            actor: ROOT.into(),
            tenant: "acme".into(),
            group: "owners".into(),
            roles: vec!["admin".into()],
            grants: vec![],
        })
        .unwrap();
        w.run(AddGroupMember {
            actor: ROOT.into(),
            tenant: "acme".into(),
            group: "owners".into(),
            principal: ANN.into(),
        })
        .unwrap();
        w.run(SetRole { actor: ROOT.into(), tenant: "acme".into(), principal: ANN.into(), role: None }).unwrap();
    };
    let leave_group = |_: &World| {
        RemoveGroupMember { actor: ROOT.into(), tenant: "acme".into(), group: "owners".into(), principal: ANN.into() }
            .into_call()
    };
    for_every_write_point(setup, leave_group, |_| demote(ANN, ROOT), an_admin_is_left);
}

#[test]
fn r61_positive_control_one_admin_may_still_step_down_when_another_remains() {
    let w = support::interleave::world();
    two_admins(&w);
    w.call(demote(ROOT, ROOT)).unwrap();
    assert!(!is_active_admin(&w, ROOT) && is_active_admin(&w, ANN));
    let refused = w.call(demote(ANN, ANN)).unwrap_err();
    assert_eq!(refused.code(), "failed_precondition");
}

/// A clerk may change what it fully holds; once the account holds more (an admin's `*`
/// granted in between), the clerk's change is refused — judged on the membership the write
/// replaces, not on the one read before.
#[test]
fn r47_a_clerk_never_changes_an_account_made_admin_meanwhile() {
    const CLERK: &str = "clerk@acme.test";
    const BOB: &str = "bob@acme.test";
    let setup = |w: &World| {
        w.run(CreateTenant { tenant: "acme".into(), admin: ROOT.into(), name: None, settings: None }).unwrap();
        let grants = ["accounts:write", "*:read"].iter().map(|g| serde_json::from_value(serde_json::json!(g)).unwrap());
        w.run(DefineRole { actor: ROOT.into(), tenant: "acme".into(), role: "clerk".into(), grants: grants.collect() })
            .unwrap();
        for (email, role) in [(CLERK, "clerk"), (BOB, "viewer")] {
            w.run(CreateUser {
                actor: ROOT.into(),
                tenant: "acme".into(),
                email: email.into(),
                name: None,
                role: Some(role.into()),
                mfa: false,
            })
            .unwrap();
        }
    };
    let clerk_demotes = |_: &World| demote(CLERK, BOB);
    let root_promotes = |_: &World| {
        SetRole { actor: ROOT.into(), tenant: "acme".into(), principal: BOB.into(), role: Some("admin".into()) }
            .into_call()
    };
    for_every_write_point(setup, clerk_demotes, root_promotes, |w, i| {
        let bob = w.run(GetAccount { actor: ROOT.into(), tenant: "acme".into(), principal: BOB.into() }).unwrap();
        let promoted_after_the_clerk = i.first.is_ok() && bob.roles == ["admin"];
        let refused = i.first.as_ref().err().map(Error::code);
        assert!(
            promoted_after_the_clerk || refused == Some("forbidden"),
            "k={}: the clerk changed an admin's role: first={:?} bob={:?}",
            i.k,
            i.first,
            bob.roles
        );
        assert_eq!(bob.roles, ["admin"], "k={}: the admin's promotion is never lost", i.k);
    });
}
