//! A tenant's admins and its last one: the active accounts that hold the bare `*` on
//! resource `*` there, from any source — a role, a custom role, a group, a direct grant. Every
//! operation that could take the last one away simulates its change and refuses with
//! `failed_precondition` when a tenant that had an admin would be left with none. Each tenant
//! is judged by its own documents alone.

use std::collections::BTreeSet;

use crate::authz::compiled::{CompiledTenant, Rights};
use crate::authz::pattern::{Grant, Permission, Resource};
use crate::docs::{account_key, tenant_key, AccountDoc, MembershipDoc, TenantDoc};
use crate::error::{Error, Result};
use crate::op::Cx;
use crate::records::Status;

/// A change to simulate before it is written.
pub(crate) enum AdminChange<'a> {
    /// These principals lose their access, or stop being active (deleted, disabled, revoked).
    Leaving(&'a [&'a str]),
    /// One account's membership becomes this (its role, grants or groups change).
    Membership(&'a MembershipDoc),
    /// The tenant's roles and groups become these.
    Policy(&'a TenantDoc),
}

/// Whether `rights` hold the bare `*` on `*`.
pub(crate) fn is_admin(rights: &Rights) -> bool {
    rights.covers(&Grant { permission: Permission::All, resource: Resource::All })
}

fn last_admin(tenant: &str) -> Error {
    Error::precondition(format!("that would leave tenant `{tenant}` without an active admin"))
}

/// Whether the change takes an active admin away from the tenant: the caller must then
/// [`confirm_admin_left`] after its write, since a concurrent call may have taken another.
#[must_use]
pub(crate) struct Touched(pub bool);

/// Refuses (`failed_precondition`) a change that would leave `tenant`, which has an active
/// admin, without one.
pub(crate) async fn ensure_admin_remains(cx: &Cx, tenant: &str, change: AdminChange<'_>) -> Result<Touched> {
    let Some(doc) = cx.doc::<TenantDoc>(&tenant_key(tenant)).await? else {
        return Ok(Touched(false));
    };
    let before_policy = cx.engine.cache().tenant(&doc.value, doc.version);
    let after_policy = match &change {
        AdminChange::Policy(next) => std::sync::Arc::new(CompiledTenant::compile(next, 0)),
        _ => std::sync::Arc::clone(&before_policy),
    };
    let members: Vec<MembershipDoc> =
        crate::tenancy::memberships(cx, tenant).await?.into_iter().map(|m| m.value).collect();
    let holders = |policy: &CompiledTenant, after: bool| -> BTreeSet<(String, String)> {
        members
            .iter()
            .filter_map(|m| {
                let m = match (&change, after) {
                    (AdminChange::Membership(next), true) if next.principal == m.principal => *next,
                    (AdminChange::Leaving(leaving), true) if leaving.contains(&m.principal.as_str()) => return None,
                    _ => m,
                };
                is_admin(&policy.rights(m)).then(|| (m.principal.clone(), m.uid.clone()))
            })
            .collect()
    };
    let before = holders(&before_policy, false);
    let after = holders(&after_policy, true);
    if after == before {
        return Ok(Touched(false));
    }
    // Only active accounts count, whose uid the membership names (not a deleted namesake's).
    let candidates: Vec<&(String, String)> = before.union(&after).collect();
    let keys: Vec<String> = candidates.iter().map(|(p, _)| account_key(p)).collect();
    let accounts = cx.docs::<AccountDoc>(&keys).await?;
    let active: BTreeSet<&(String, String)> = candidates
        .into_iter()
        .zip(accounts)
        .filter(|((_, uid), acc)| {
            acc.as_ref().is_some_and(|a| a.value.live() && &a.value.uid == uid && a.value.status == Status::Active)
        })
        .map(|(c, _)| c)
        .collect();
    let had = before.iter().any(|c| active.contains(c));
    let keeps = after.iter().any(|c| active.contains(c));
    if had && !keeps {
        return Err(last_admin(tenant));
    }
    Ok(Touched(before.iter().any(|c| active.contains(c) && !after.contains(c))))
}

/// After a write that took an admin away ([`Touched`]): the tenant must still have an active
/// admin. Two calls that each checked while the other's admin was still there may both have
/// written; each then finds none, undoes its own write and refuses, so the race ends with the
/// admins kept.
pub(crate) async fn confirm_admin_left(cx: &Cx, tenant: &str) -> Result<bool> {
    let Some(doc) = cx.doc::<TenantDoc>(&tenant_key(tenant)).await? else {
        return Ok(true);
    };
    let policy = cx.engine.cache().tenant(&doc.value, doc.version);
    let holders: Vec<MembershipDoc> = crate::tenancy::memberships(cx, tenant)
        .await?
        .into_iter()
        .map(|m| m.value)
        .filter(|m| is_admin(&policy.rights(m)))
        .collect();
    let keys: Vec<String> = holders.iter().map(|m| account_key(&m.principal)).collect();
    let accounts = cx.docs::<AccountDoc>(&keys).await?;
    Ok(holders.iter().zip(accounts).any(|(m, acc)| {
        acc.is_some_and(|a| a.value.live() && a.value.uid == m.uid && a.value.status == Status::Active)
    }))
}

/// The error of a change undone because the tenant's last admin went meanwhile.
pub(crate) fn undone(tenant: &str) -> Error {
    last_admin(tenant)
}

/// [`ensure_admin_remains`] in every tenant where `acc` has access: for changes that take the
/// account away everywhere (deletion, disabling, revocation). Answers the tenants it was an
/// active admin of, to confirm after the write.
pub(crate) async fn ensure_admin_remains_everywhere(cx: &Cx, acc: &AccountDoc) -> Result<Vec<String>> {
    let mut touched = Vec::new();
    for tenant in std::iter::once(&acc.tenant).chain(&acc.tenants) {
        if ensure_admin_remains(cx, tenant, AdminChange::Leaving(&[acc.principal.as_str()])).await?.0 {
            touched.push(tenant.clone());
        }
    }
    Ok(touched)
}

/// [`confirm_admin_left`] in each of `tenants`; the first left without an admin, if any.
pub(crate) async fn first_without_admin(cx: &Cx, tenants: &[String]) -> Result<Option<String>> {
    for tenant in tenants {
        if !confirm_admin_left(cx, tenant).await? {
            return Ok(Some(tenant.clone()));
        }
    }
    Ok(None)
}
