//! Users as a directory sees them: `remove_user`, `sync_directory` and `seat_usage`
//! (R-03, R-07, R-08, R-52, R-61..R-63).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::accounts::create::{create_account, NewAccount};
use crate::accounts::lifecycle::{ensure_admin_left_everywhere, ensure_admins_remain, ensure_not_last_admin, erase};
use crate::audit::details;
use crate::authz::admin::{account, conflict, load_scope, TenantScope, MAX_ATTEMPTS};
use crate::call::{RemoveUser, SeatUsage, SyncDirectory};
use crate::docs::{account_key, membership_key, AccountDoc, MembershipDoc};
use crate::error::{Error, Result};
use crate::op::{Cx, Doc};
use crate::records::{AccountKind, Seats, Status, SyncReport};
use crate::tenancy::memberships;
use crate::validate;

/// Active users and service accounts with access to the tenant, read from its memberships.
pub(crate) async fn count_seats(cx: &Cx, tenant: &str) -> Result<(u64, u64)> {
    let members: Vec<MembershipDoc> = memberships(cx, tenant).await?.into_iter().map(|m| m.value).collect();
    let keys: Vec<String> = members.iter().map(|m| account_key(&m.principal)).collect();
    let (mut users, mut services) = (0, 0);
    for (m, acc) in members.iter().zip(cx.docs::<AccountDoc>(&keys).await?) {
        let Some(acc) = acc.map(|d| d.value).filter(|a| !a.deleting && a.uid == m.uid) else { continue };
        match acc.kind {
            AccountKind::User if acc.status == Status::Active => users += 1,
            AccountKind::User => {}
            AccountKind::Service => services += 1,
        }
    }
    Ok((users, services))
}

/// Refuses adding `new_users` active users past the tenant's `seat_limit`.
pub(crate) async fn ensure_seats(cx: &Cx, scope: &TenantScope, new_users: u64, leaving: u64) -> Result<()> {
    let Some(limit) = scope.tenant.value.settings.seat_limit else { return Ok(()) };
    if new_users == 0 {
        return Ok(());
    }
    let (used, _) = count_seats(cx, scope.id()).await?;
    if used.saturating_sub(leaving) + new_users > limit {
        return Err(Error::quota(format!("tenant `{}` has {used} of {limit} seats in use", scope.id())));
    }
    Ok(())
}

/// `seat_usage`: active users count, service accounts apart; `accounts:read`.
pub(crate) async fn seat_usage(cx: &Cx, a: SeatUsage) -> Result<Seats> {
    let scope = load_scope(cx, &a.actor, &a.tenant).await?;
    scope.require(cx, "accounts", "read", "", &format!("tenant:{}", a.tenant)).await?;
    let (seats_used, service_accounts) = count_seats(cx, &a.tenant).await?;
    Ok(Seats { seats_used, seat_limit: scope.tenant.value.settings.seat_limit, service_accounts })
}

/// Takes a user out of the tenant; `accounts:delete`. A user the tenant owns is
/// deleted with its personal tokens; service accounts it created stay. A user owned
/// elsewhere loses its access to this tenant only. Never the tenant's last admin.
pub(crate) async fn remove_user(cx: &Cx, a: RemoveUser) -> Result<()> {
    let email = validate::email(&a.email, &cx.engine.options.domain)?;
    let scope = load_scope(cx, &a.actor, &a.tenant).await?;
    scope.require(cx, "accounts", "delete", "user.remove", &email).await?;
    let acc = account(cx, &email).await?;
    if acc.value.kind != AccountKind::User {
        return Err(Error::invalid("email", "not a user: delete service accounts with delete_account"));
    }
    let m = cx.doc::<MembershipDoc>(&membership_key(&a.tenant, &email)).await?;
    if m.is_none_or(|m| m.value.uid != acc.value.uid) {
        return Err(Error::not_found(format!("user `{email}` in tenant `{}`", a.tenant)));
    }
    let owned = acc.value.tenant == a.tenant;
    if owned {
        // Deleting the user removes its access everywhere.
        ensure_admin_left_everywhere(cx, &acc.value).await?;
    } else {
        ensure_not_last_admin(cx, &a.tenant, &email).await?;
    }
    leave(cx, &a.tenant, acc).await?;
    let d = details([("owned", Value::Bool(owned))]);
    cx.record(&a.tenant, scope.actor.actor_ref(), "user.remove", &email, Ok(()), d).await
}

/// Deletes a user the tenant owns; removes the access of one it does not.
async fn leave(cx: &Cx, tenant: &str, acc: Doc<AccountDoc>) -> Result<()> {
    if acc.value.tenant == tenant {
        return erase(cx, acc).await;
    }
    let principal = acc.value.principal.clone();
    let m_key = membership_key(tenant, &principal);
    if let Some(m) = cx.doc::<MembershipDoc>(&m_key).await? {
        if m.value.uid == acc.value.uid && !cx.delete(&m_key, m.version).await? {
            return Err(conflict(&format!("access of `{principal}` to tenant `{tenant}`")));
        }
    }
    let mut current = acc;
    for _ in 0..MAX_ATTEMPTS {
        let mut next = current.value.clone();
        next.tenants.retain(|t| t != tenant);
        if cx.put(&account_key(&principal), &next, Some(current.version)).await?.is_some() {
            return Ok(());
        }
        current = account(cx, &principal).await?;
    }
    Err(conflict(&format!("account `{principal}`")))
}

/// Makes the tenant's own users match an identity provider's list: creates the missing
/// ones with no role, renames changed ones, removes the unlisted ones. Service accounts
/// and users owned elsewhere are never touched; listed emails that belong to another tenant are
/// skipped and counted. Everything is checked before the first write: removing the actor or the
/// last admin, or going past `seat_limit`, changes nothing.
pub(crate) async fn sync_directory(cx: &Cx, a: SyncDirectory) -> Result<SyncReport> {
    let mut listed: BTreeMap<String, Option<String>> = BTreeMap::new();
    for u in &a.users {
        let email = validate::email(&u.email, &cx.engine.options.domain).map_err(|e| e.for_field("users"))?;
        if let Some(n) = &u.name {
            validate::display_name(n, "users").map_err(|e| match e {
                Error::InvalidArgument { message, .. } => {
                    Error::invalid("users", format!("the name of `{email}`: {message}"))
                }
                other => other,
            })?;
        }
        listed.insert(email, u.name.clone());
    }
    let scope = load_scope(cx, &a.actor, &a.tenant).await?;
    let target = format!("tenant:{}", a.tenant);
    scope.require(cx, "accounts", "write", "user.sync", &target).await?;
    scope.require(cx, "accounts", "delete", "user.sync", &target).await?;

    // The tenant's own users: an owner membership whose account still names this tenant and
    // the same uid (a membership left behind by a deleted namesake is nobody's, R-06).
    let owned: Vec<MembershipDoc> = memberships(cx, &a.tenant)
        .await?
        .into_iter()
        .map(|m| m.value)
        .filter(|m| m.owned && m.kind == AccountKind::User)
        .collect();
    let owned_keys: Vec<String> = owned.iter().map(|m| account_key(&m.principal)).collect();
    let mut own: BTreeMap<String, AccountDoc> = BTreeMap::new();
    for (m, acc) in owned.iter().zip(cx.docs::<AccountDoc>(&owned_keys).await?) {
        if let Some(acc) = acc.map(|d| d.value).filter(|d| !d.deleting && d.uid == m.uid && d.tenant == a.tenant) {
            own.insert(m.principal.clone(), acc);
        }
    }
    let keys: Vec<String> = listed.keys().map(|e| account_key(e)).collect();
    let existing = cx.docs::<AccountDoc>(&keys).await?;
    let mut report = SyncReport { created: 0, updated: 0, removed: 0, skipped: 0 };
    let (mut creates, mut renames) = (Vec::new(), Vec::new());
    for ((email, name), acc) in listed.iter().zip(existing) {
        match acc.filter(|d| !d.value.deleting) {
            None => creates.push((email.clone(), name.clone())),
            Some(d) if d.value.tenant != a.tenant || d.value.kind != AccountKind::User => report.skipped += 1,
            Some(d) => {
                if name.as_ref().is_some_and(|n| *n != d.value.name) {
                    renames.push((d, name.clone().unwrap_or_default()));
                }
            }
        }
    }
    let removes: Vec<&AccountDoc> = own.values().filter(|acc| !listed.contains_key(&acc.principal)).collect();
    if removes.iter().any(|acc| acc.principal == a.actor) {
        return Err(Error::precondition(format!("the list leaves out `{}`, who is syncing it", a.actor)));
    }
    let leaving: Vec<&str> = removes.iter().map(|acc| acc.principal.as_str()).collect();
    ensure_admins_remain(cx, &a.tenant, &leaving).await?;
    for acc in &removes {
        // Deleting a user removes its access to other tenants too.
        for other in &acc.tenants {
            ensure_not_last_admin(cx, other, &acc.principal).await?;
        }
    }
    // Only active users hold seats: removing a disabled one frees none.
    let freed = removes.iter().filter(|acc| acc.status == Status::Active).count();
    ensure_seats(cx, &scope, creates.len() as u64, freed as u64).await?;

    for p in removes.iter().map(|acc| &acc.principal) {
        if let Ok(acc) = account(cx, p).await {
            erase(cx, acc).await?;
            cx.record(
                &a.tenant,
                scope.actor.actor_ref(),
                "user.remove",
                p,
                Ok(()),
                details([("sync", Value::Bool(true))]),
            )
            .await?;
            report.removed += 1;
        }
    }
    for (doc, name) in renames {
        let email = doc.value.principal.clone();
        rename_user(cx, doc, &name).await?;
        let d = details([("name", Value::String(name)), ("sync", Value::Bool(true))]);
        cx.record(&a.tenant, scope.actor.actor_ref(), "user.update", &email, Ok(()), d).await?;
        report.updated += 1;
    }
    for (email, name) in creates {
        let local = email.split('@').next().unwrap_or_default().to_owned();
        let new = NewAccount::user(email, name.unwrap_or(local), None, false);
        create_account(cx, &scope, new).await?;
        report.created += 1;
    }
    Ok(report)
}

/// Sets a user's display name (directory sync), with retry.
async fn rename_user(cx: &Cx, mut current: Doc<AccountDoc>, name: &str) -> Result<()> {
    let key = account_key(&current.value.principal);
    for _ in 0..MAX_ATTEMPTS {
        let mut next = current.value.clone();
        next.name = name.to_owned();
        next.updated_at = cx.now;
        if cx.put(&key, &next, Some(current.version)).await?.is_some() {
            return Ok(());
        }
        current = account(cx, &current.value.principal).await?;
    }
    Err(conflict(&format!("account `{}`", current.value.principal)))
}
