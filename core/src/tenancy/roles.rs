//! `define_role`, `delete_role`.

use serde_json::Value;

use crate::audit::{details, ActorRef};
use crate::authz::admin::{conflict, load_scope, MAX_ATTEMPTS};
use crate::authz::admins::{confirm_admin_left, ensure_admin_remains, undone, AdminChange};
use crate::authz::compiled::builtin_role;
use crate::call::{DefineRole, DeleteRole};
use crate::docs::{tenant_key, TenantDoc};
use crate::error::{Error, Result};
use crate::op::Cx;
use crate::records::Role;
use crate::tenancy::{finish_interrupted, mark_change, memberships};
use crate::validate;

fn custom_name(role: &str) -> Result<()> {
    validate::role_or_group_name(role, "role")?;
    if builtin_role(role).is_some() {
        return Err(Error::invalid("role", format!("`{role}` is a built-in role and cannot be changed")));
    }
    Ok(())
}

/// Creates or replaces a custom role; every grant must be held by the actor.
pub(crate) async fn define_role(cx: &Cx, a: DefineRole) -> Result<Role> {
    custom_name(&a.role)?;
    let target = format!("role:{}", a.role);
    // The actor and details of the `ok` event this call stored before its write, if it did.
    let mut recorded: Option<(ActorRef, serde_json::Map<String, Value>)> = None;
    let result = async {
        for _ in 0..MAX_ATTEMPTS {
            let scope = load_scope(cx, &a.actor, &a.tenant).await?;
            scope.require(cx, "roles", "write", "role.define", &target).await?;
            scope.require_covers(cx, &a.grants, "role.define", &target).await?;
            let mut doc = scope.tenant.value.clone();
            let old = doc.roles.insert(a.role.clone(), a.grants.clone());
            let replaced = old.is_some();
            // A definition that adds grants gives them to every holder: only after its event is
            // stored; one that only narrows takes effect first.
            let gives = a.grants.iter().any(|g| !old.as_ref().is_some_and(|o| o.contains(g)));
            let d = details([
                ("grants", serde_json::to_value(&a.grants).unwrap_or(Value::Null)),
                ("replaced", Value::Bool(replaced)),
            ]);
            if replaced {
                scope.require_holds_narrowed(cx, &doc, "role.define", &target).await?;
            }
            let touched = replaced && ensure_admin_remains(cx, &a.tenant, AdminChange::Policy(&doc)).await?.0;
            if gives && recorded.is_none() {
                cx.record(&a.tenant, scope.actor.actor_ref(), "role.define", &target, Ok(()), d.clone()).await?;
                recorded = Some((scope.actor.actor_ref(), d.clone()));
            }
            let Some(written) = cx.put(&tenant_key(&a.tenant), &doc, Some(scope.tenant.version)).await? else {
                continue;
            };
            // Another call may have taken the other admins meanwhile: then undo this.
            if touched && !confirm_admin_left(cx, &a.tenant).await? {
                cx.put(&tenant_key(&a.tenant), &scope.tenant.value, Some(written)).await?;
                return Err(undone(&a.tenant));
            }
            if recorded.is_none() {
                cx.record(&a.tenant, scope.actor.actor_ref(), "role.define", &target, Ok(()), d).await?;
            }
            return Ok(Role {
                tenant: a.tenant.clone(),
                role: a.role.clone(),
                grants: a.grants.clone(),
                builtin: false,
            });
        }
        Err(conflict(&format!("tenant `{}`", a.tenant)))
    }
    .await;
    match &recorded {
        Some((actor, d)) => cx.settle(true, &[&a.tenant], actor, "role.define", &target, d, result).await,
        None => result,
    }
}

/// Deletes a custom role; one still used by an account, a group or the tenant's
/// `default_service_account_role` is `failed_precondition`.
pub(crate) async fn delete_role(cx: &Cx, a: DeleteRole) -> Result<()> {
    custom_name(&a.role)?;
    let target = format!("role:{}", a.role);
    for _ in 0..MAX_ATTEMPTS {
        let scope = load_scope(cx, &a.actor, &a.tenant).await?;
        scope.require(cx, "roles", "write", "role.delete", &target).await?;
        let mut doc = scope.tenant.value.clone();
        if !doc.roles.contains_key(&a.role) {
            // Deleted by this call's interrupted run, whose event is missing.
            if finish_interrupted(cx, &scope, "role.delete", &target).await? {
                return Ok(());
            }
            return Err(Error::not_found(format!("role `{}` in tenant `{}`", a.role, a.tenant)));
        }
        let in_group = doc.groups.iter().find(|(_, g)| g.roles.contains(&a.role)).map(|(n, _)| format!("group `{n}`"));
        let as_default = (doc.settings.default_service_account_role.as_deref() == Some(a.role.as_str()))
            .then(|| "the tenant's default_service_account_role".to_owned());
        let held =
            memberships(cx, &a.tenant).await?.into_iter().find(|m| m.value.role.as_deref() == Some(a.role.as_str()));
        if let Some(user) = in_group.or(as_default).or(held.map(|m| format!("`{}`", m.value.principal))) {
            return Err(Error::precondition(format!("role `{}` is still used by {user}", a.role)));
        }
        doc.roles.remove(&a.role);
        mark_change(cx, &mut doc, "role.delete", &target);
        if cx.put(&tenant_key(&a.tenant), &doc, Some(scope.tenant.version)).await?.is_none() {
            continue;
        }
        cx.record(&a.tenant, scope.actor.actor_ref(), "role.delete", &target, Ok(()), Default::default()).await?;
        return Ok(());
    }
    Err(conflict(&format!("tenant `{}`", a.tenant)))
}

/// Pins a name that a membership write just used: writes the tenant document back unchanged,
/// by compare-and-set, at a version where `defined` still holds. `false` when it
/// no longer does: the caller takes its write back.
///
/// A deletion reads the tenant, then the memberships, and writes the tenant at the version it
/// read. So either this write lands first — the deletion's write fails and, reading again, it
/// sees the membership (a role in use; a group member to clear) — or the deletion lands first
/// and this call sees the name gone. A role or group being deleted never ends up in use.
pub(crate) async fn pin_name(cx: &Cx, tenant: &str, defined: impl Fn(&TenantDoc) -> bool) -> Result<bool> {
    let key = tenant_key(tenant);
    for _ in 0..MAX_ATTEMPTS {
        let Some(doc) = cx.doc::<TenantDoc>(&key).await? else { return Ok(false) };
        if !defined(&doc.value) {
            return Ok(false);
        }
        if cx.put(&key, &doc.value, Some(doc.version)).await?.is_some() {
            return Ok(true);
        }
    }
    Err(conflict(&format!("tenant `{tenant}`")))
}

/// Whether a membership naming `role` must be pinned: built-in roles are never deleted.
pub(crate) fn custom_role(role: Option<&str>) -> Option<&str> {
    role.filter(|r| builtin_role(r).is_none())
}

/// Clears `role` from a membership where a call just set it, once the role turned out to be
/// deleted (see [`pin_name`]).
pub(crate) async fn take_role_back(cx: &Cx, tenant: &str, principal: &str, role: &str) -> Result<()> {
    crate::tenancy::groups::update_membership(cx, tenant, principal, |m| {
        if m.role.as_deref() == Some(role) {
            m.role = None;
        }
        Ok(())
    })
    .await
    .map(|_| ())
}
