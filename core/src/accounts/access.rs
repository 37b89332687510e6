//! An account's access to a tenant: direct role and grants, and access to tenants
//! other than its owner. Each writes only the membership document of the tenant
//! concerned, so nothing one tenant does changes rights in another.

use serde_json::Value;

use crate::accounts::account_record;
use crate::audit::details;
use crate::authz::admin::{account, conflict, load_scope, TenantScope, MAX_ATTEMPTS};
use crate::authz::admins::{confirm_admin_left, ensure_admin_remains, undone, AdminChange};
use crate::authz::pattern::Grant;
use crate::call::{GrantAccess, GrantPermissions, RemoveAccess, RevokePermissions, SetRole};
use crate::docs::{account_key, membership_key, AccountDoc, MembershipDoc, SCHEMA};
use crate::error::{Error, Result};
use crate::op::Cx;
use crate::records::{Account, Status};
use crate::tenancy::groups::update_membership;
use crate::tenancy::quota::{self, Held};
use crate::tenancy::roles::{custom_role, pin_name, take_role_back};

/// Applies `change` to the account's membership in the scope's tenant and records `action`.
/// The actor must hold all of the account's rights there, judged again on the
/// membership each compare-and-set round reads, and the change must leave the tenant an
/// admin.
async fn change_access(
    cx: &Cx,
    scope: &TenantScope,
    principal: &str,
    action: &str,
    d: serde_json::Map<String, Value>,
    pinned: bool,
    change: impl FnMut(&mut MembershipDoc) -> Result<()>,
) -> Result<Account> {
    let mut stored_first = false;
    let result = change_access_once(cx, scope, principal, action, &d, pinned, change, &mut stored_first).await;
    cx.settle(stored_first, &[scope.id()], &scope.actor.actor_ref(), action, principal, &d, result).await
}

#[allow(clippy::too_many_arguments)]
async fn change_access_once(
    cx: &Cx,
    scope: &TenantScope,
    principal: &str,
    action: &str,
    d: &serde_json::Map<String, Value>,
    pinned: bool,
    mut change: impl FnMut(&mut MembershipDoc) -> Result<()>,
    stored_first: &mut bool,
) -> Result<Account> {
    let acc = account(cx, principal).await?;
    let gone = || Error::not_found(format!("account `{principal}` in tenant `{}`", scope.id()));
    let current = cx.doc::<MembershipDoc>(&membership_key(scope.id(), principal)).await?;
    // A membership left by a deleted namesake is not this account's.
    let current = current.filter(|m| m.value.uid == acc.value.uid).ok_or_else(gone)?;
    scope.require_holds_all(cx, &current.value, action, principal).await?;
    let mut next = current.value.clone();
    change(&mut next)?;
    let touched = ensure_admin_remains(cx, scope.id(), AdminChange::Membership(&next)).await?;
    // A change that gives rights takes effect only after its event is stored; one that only
    // takes rights away takes effect first, and its event follows — unless the actor
    // takes its own: a rerun could then no longer act, and the event would never be written.
    let gives = gives_rights(&current.value, &next) || scope.actor.principal == principal;
    if gives {
        cx.record(scope.id(), scope.actor.actor_ref(), action, principal, Ok(()), d.clone()).await?;
        *stored_first = true;
    }
    let m = update_membership(cx, scope.id(), principal, |m| {
        if m.uid != acc.value.uid {
            return Err(gone());
        }
        if !scope.holds_all(m) {
            return Err(scope.holds_not_all(principal));
        }
        change(m)
    })
    .await?;
    // A custom role just set may have been deleted meanwhile: pin it, or take it back.
    if let Some(role) = custom_role(pinned.then_some(m.role.as_deref()).flatten()) {
        if !pin_name(cx, scope.id(), |t| t.roles.contains_key(role)).await? {
            take_role_back(cx, scope.id(), principal, role).await?;
            return Err(Error::not_found(format!("role `{role}` in tenant `{}`", scope.id())));
        }
    }
    // Another call may have taken the other admins meanwhile: then undo this change.
    if touched.0 && !confirm_admin_left(cx, scope.id()).await? {
        // Only this call's own change is taken back; anything written since stays.
        update_membership(cx, scope.id(), principal, |now| {
            let (was, wrote) = (&current.value, &m);
            if wrote.role != was.role && now.role == wrote.role {
                now.role.clone_from(&was.role);
            }
            if wrote.grants != was.grants && now.grants == wrote.grants {
                now.grants.clone_from(&was.grants);
            }
            if wrote.groups != was.groups && now.groups == wrote.groups {
                now.groups.clone_from(&was.groups);
            }
            Ok(())
        })
        .await?;
        return Err(undone(scope.id()));
    }
    if !gives {
        cx.record(scope.id(), scope.actor.actor_ref(), action, principal, Ok(()), d.clone()).await?;
    }
    Ok(account_record(&acc.value, Some(&m), scope.id()))
}

/// Whether going from membership `was` to `now` gives anything: a new role, a grant or a
/// group it did not have.
fn gives_rights(was: &MembershipDoc, now: &MembershipDoc) -> bool {
    (now.role.is_some() && now.role != was.role)
        || now.grants.iter().any(|g| !was.grants.contains(g))
        || now.groups.iter().any(|g| !was.groups.contains(g))
}

/// Sets or clears the account's one direct role in the tenant; `accounts:write`, and
/// the actor must hold the role's grants.
pub(crate) async fn set_role(cx: &Cx, a: SetRole) -> Result<Account> {
    let scope = load_scope(cx, &a.actor, &a.tenant).await?;
    scope.require(cx, "accounts", "write", "access.set_role", &a.principal).await?;
    if let Some(role) = &a.role {
        let grants = scope.role_grants(role)?;
        scope.require_covers(cx, &grants, "access.set_role", &a.principal).await?;
    }
    let d = details([("role", a.role.clone().map_or(Value::Null, Value::String))]);
    change_access(cx, &scope, &a.principal, "access.set_role", d, true, |m| {
        m.role = a.role.clone();
        Ok(())
    })
    .await
}

/// Adds direct grants in the tenant; the actor must hold them.
pub(crate) async fn grant_permissions(cx: &Cx, a: GrantPermissions) -> Result<Account> {
    let scope = load_scope(cx, &a.actor, &a.tenant).await?;
    scope.require(cx, "accounts", "write", "access.grant", &a.principal).await?;
    scope.require_covers(cx, &a.grants, "access.grant", &a.principal).await?;
    let d = details([("grants", serde_json::to_value(&a.grants).unwrap_or(Value::Null))]);
    change_access(cx, &scope, &a.principal, "access.grant", d, false, |m| {
        for g in &a.grants {
            if !m.grants.contains(g) {
                m.grants.push(g.clone());
            }
        }
        Ok(())
    })
    .await
}

/// Removes direct grants in the tenant; grants not held are ignored.
pub(crate) async fn revoke_permissions(cx: &Cx, a: RevokePermissions) -> Result<Account> {
    let scope = load_scope(cx, &a.actor, &a.tenant).await?;
    scope.require(cx, "accounts", "write", "access.revoke", &a.principal).await?;
    let d = details([("grants", serde_json::to_value(&a.grants).unwrap_or(Value::Null))]);
    change_access(cx, &scope, &a.principal, "access.revoke", d, false, |m| {
        m.grants.retain(|g| !a.grants.contains(g));
        Ok(())
    })
    .await
}

/// Gives an account access to a tenant other than its owner: `accounts:write` there,
/// and the actor must hold what it gives. Writes the account's list of tenants first
/// and the membership, which grants, last.
pub(crate) async fn grant_access(cx: &Cx, a: GrantAccess) -> Result<Account> {
    let scope = load_scope(cx, &a.actor, &a.tenant).await?;
    scope.require(cx, "accounts", "write", "access.add_tenant", &a.principal).await?;
    let mut given: Vec<Grant> = a.grants.clone();
    if let Some(role) = &a.role {
        given.extend(scope.role_grants(role)?);
    }
    scope.require_covers(cx, &given, "access.add_tenant", &a.principal).await?;
    let mut held = Held::default();
    let granted = add_access(cx, &scope, &a, &mut held).await;
    quota::release(cx, held).await;
    granted
}

/// The writes of [`grant_access`]. An active user takes a seat: it is claimed before
/// the account write, which is compare-and-set on the version whose status was judged, and
/// held until the membership is written. A disabled user takes none; enabling it claims one
/// in every tenant on its list, which the account write puts this one on first.
async fn add_access(cx: &Cx, scope: &TenantScope, a: &GrantAccess, held: &mut Held) -> Result<Account> {
    let key = account_key(&a.principal);
    let m_key = membership_key(&a.tenant, &a.principal);
    let exists = || Error::exists(format!("access of `{}` to tenant `{}`", a.principal, a.tenant));
    let mut seat = false;
    // The account's list of tenants first (it grants nothing by itself)...
    let mut listed = None;
    for _ in 0..MAX_ATTEMPTS {
        let acc = account(cx, &a.principal).await?;
        if acc.value.tenant == a.tenant {
            return Err(Error::invalid("tenant", format!("tenant `{}` owns `{}` already", a.tenant, a.principal)));
        }
        if acc.value.status == Status::Revoked {
            return Err(Error::precondition(format!("account `{}` is revoked", a.principal)));
        }
        if !seat && acc.value.kind == crate::records::AccountKind::User && acc.value.status == Status::Active {
            held.extend(
                crate::tenancy::directory::claim_seats(cx, scope, std::slice::from_ref(&a.principal), &[]).await?,
            );
            seat = true;
        }
        let existing = cx.doc::<MembershipDoc>(&m_key).await?;
        if existing.as_ref().is_some_and(|m| m.value.uid == acc.value.uid) {
            return Err(exists());
        }
        if !acc.value.tenants.contains(&a.tenant) {
            let mut next: AccountDoc = acc.value.clone();
            next.tenants.push(a.tenant.clone());
            if cx.put(&key, &next, Some(acc.version)).await?.is_none() {
                continue;
            }
        }
        listed = Some((acc.value, existing.map(|m| m.version)));
        break;
    }
    let Some((acc, mut expected)) = listed else {
        return Err(conflict(&format!("account `{}`", a.principal)));
    };
    // ...then the events, in the granting tenant and the owner's, before the membership
    // that grants: a grant never takes effect without its event.
    let d = details([("role", a.role.clone().map_or(Value::Null, Value::String))]);
    let actor = scope.actor.actor_ref();
    cx.record_each(&[&a.tenant, &acc.tenant], &actor, "access.add_tenant", &a.principal, &d).await?;
    let member = MembershipDoc {
        schema: SCHEMA,
        uid: acc.uid.clone(),
        principal: a.principal.clone(),
        tenant: a.tenant.clone(),
        kind: acc.kind,
        owned: false,
        role: a.role.clone(),
        grants: a.grants.clone(),
        groups: Vec::new(),
        created_at: cx.now,
    };
    for _ in 0..MAX_ATTEMPTS {
        if let Some(version) = cx.put(&m_key, &member, expected).await? {
            // A custom role given may have been deleted meanwhile: pin it, or take the access
            // back.
            if let Some(role) = custom_role(a.role.as_deref()) {
                if !pin_name(cx, &a.tenant, |t| t.roles.contains_key(role)).await? {
                    cx.delete(&m_key, version).await?;
                    return Err(Error::not_found(format!("role `{role}` in tenant `{}`", a.tenant)));
                }
            }
            return Ok(account_record(&acc, Some(&member), &a.tenant));
        }
        match cx.doc::<MembershipDoc>(&m_key).await? {
            Some(m) if m.value.uid == acc.uid => return Err(exists()),
            other => expected = other.map(|m| m.version),
        }
    }
    Err(conflict(&format!("access of `{}` to tenant `{}`", a.principal, a.tenant)))
}

/// Removes an account's access to a non-owner tenant: the membership first (it grants),
/// then the account's list of tenants.
pub(crate) async fn remove_access(cx: &Cx, a: RemoveAccess) -> Result<()> {
    let scope = load_scope(cx, &a.actor, &a.tenant).await?;
    scope.require(cx, "accounts", "write", "access.remove_tenant", &a.principal).await?;
    let acc = account(cx, &a.principal).await?;
    if acc.value.tenant == a.tenant {
        return Err(Error::invalid(
            "tenant",
            format!("tenant `{}` owns `{}`: delete the account instead", a.tenant, a.principal),
        ));
    }
    let m_key = membership_key(&a.tenant, &a.principal);
    let mut touched = false;
    if let Some(m) = cx.doc::<MembershipDoc>(&m_key).await?.filter(|m| m.value.uid == acc.value.uid) {
        scope.require_holds_all(cx, &m.value, "access.remove_tenant", &a.principal).await?;
        touched = ensure_admin_remains(cx, &a.tenant, AdminChange::Leaving(&[a.principal.as_str()])).await?.0;
    }
    let mut removed = false;
    for _ in 0..MAX_ATTEMPTS {
        match cx.doc::<MembershipDoc>(&m_key).await? {
            Some(m) if m.value.uid == acc.value.uid => {
                if !scope.holds_all(&m.value) {
                    return Err(scope.holds_not_all(&a.principal));
                }
                if cx.delete(&m_key, m.version).await? {
                    // Another call may have taken the other admins meanwhile.
                    if touched && !confirm_admin_left(cx, &a.tenant).await? {
                        cx.put(&m_key, &m.value, None).await?;
                        return Err(undone(&a.tenant));
                    }
                    removed = true;
                    break;
                }
            }
            // Already gone, but still listed on the account: an earlier call was interrupted
            // between its two writes; this one completes it.
            _ if acc.value.tenants.contains(&a.tenant) => {
                removed = true;
                break;
            }
            _ => return Err(Error::not_found(format!("access of `{}` to tenant `{}`", a.principal, a.tenant))),
        }
    }
    if !removed {
        return Err(conflict(&format!("access of `{}` to tenant `{}`", a.principal, a.tenant)));
    }
    // The rights are gone; the events come before the account's list of tenants is updated, so
    // that a rerun, finding the tenant still listed, writes them if this call could not.
    let tenants = [a.tenant.as_str(), acc.value.tenant.as_str()];
    let actor = scope.actor.actor_ref();
    cx.record_each(&tenants, &actor, "access.remove_tenant", &a.principal, &Default::default()).await?;
    let key = account_key(&a.principal);
    for _ in 0..MAX_ATTEMPTS {
        let acc = account(cx, &a.principal).await?;
        let mut next = acc.value.clone();
        next.tenants.retain(|t| t != &a.tenant);
        if cx.put(&key, &next, Some(acc.version)).await?.is_some() {
            return Ok(());
        }
    }
    Err(conflict(&format!("account `{}`", a.principal)))
}
