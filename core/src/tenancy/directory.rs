//! Users as a directory sees them: `remove_user`, `sync_directory` and `seat_usage`
//! (R-03, R-07, R-08, R-52, R-61..R-63).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::accounts::create::{create_account, NewAccount};
use crate::accounts::lifecycle::{erase, DeletionEvent};
use crate::audit::details;
use crate::authz::admin::{account, account_or_tombstone, conflict, load_scope, TenantScope, MAX_ATTEMPTS};
use crate::authz::admins::{
    ensure_admin_remains, ensure_admin_remains_everywhere, first_without_admin, undone, AdminChange,
};
use crate::call::{RemoveUser, SeatUsage, SyncDirectory};
use crate::docs::{account_key, membership_key, AccountDoc, MembershipDoc};
use crate::error::{Error, Result};
use crate::op::{Cx, Doc};
use crate::records::{AccountKind, Seats, Status, SyncReport};
use crate::tenancy::memberships;
use crate::tenancy::quota::{self, Held, Unit};
use crate::validate;

/// Active users and service accounts with access to the tenant, read from its memberships.
pub(crate) async fn count_seats(cx: &Cx, tenant: &str) -> Result<(u64, u64)> {
    let members: Vec<MembershipDoc> = memberships(cx, tenant).await?.into_iter().map(|m| m.value).collect();
    let keys: Vec<String> = members.iter().map(|m| account_key(&m.principal)).collect();
    let (mut users, mut services) = (0, 0);
    for (m, acc) in members.iter().zip(cx.docs::<AccountDoc>(&keys).await?) {
        let Some(acc) = acc.map(|d| d.value).filter(|a| a.live() && a.uid == m.uid) else { continue };
        match acc.kind {
            AccountKind::User if acc.status == Status::Active => users += 1,
            AccountKind::User => {}
            AccountKind::Service => services += 1,
        }
    }
    Ok((users, services))
}

/// Claims a seat for each of `users` (principals about to become active users with access)
/// under the tenant's `seat_limit`; `quota_exceeded` past it. `leaving` users give
/// theirs up. Claimed by compare-and-set, so racing calls never both take the last seat
/// ([`crate::tenancy::quota`]); release the claims once the users are written.
pub(crate) async fn claim_seats(cx: &Cx, scope: &TenantScope, users: &[String], leaving: &[&str]) -> Result<Held> {
    match scope.tenant.value.settings.seat_limit {
        Some(limit) => quota::claim(cx, scope.id(), Unit::Seat, limit, users, leaving).await,
        None => Ok(Held::default()),
    }
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
    let acc = account_or_tombstone(cx, &email).await?;
    if acc.value.creating {
        return Err(Error::not_found(format!("account `{email}`")));
    }
    if acc.value.kind != AccountKind::User {
        return Err(Error::invalid("email", "not a user: delete service accounts with delete_account"));
    }
    if acc.value.deleting {
        // This tenant's deletion of its user, interrupted after the tombstone: finish it, its
        // events included, without judging again what is already taken away.
        if acc.value.tenant != a.tenant {
            return Err(Error::not_found(format!("account `{email}`")));
        }
        let concerned: Vec<String> = std::iter::once(&acc.value.tenant).chain(&acc.value.tenants).cloned().collect();
        let d = details([("owned", Value::Bool(true))]);
        let actor = scope.actor.actor_ref();
        let event = DeletionEvent { tenants: &concerned, actor, action: "user.remove", target: &email, details: d };
        return erase(cx, acc, &[], &event).await;
    }
    let m = cx.doc::<MembershipDoc>(&membership_key(&a.tenant, &email)).await?;
    let Some(m) = m.filter(|m| m.value.uid == acc.value.uid) else {
        if acc.value.tenant != a.tenant && acc.value.has_access(&a.tenant) {
            // A removal interrupted after it took the access: finish it, its events included,
            // without judging again what is already taken away.
            let concerned = [a.tenant.as_str(), acc.value.tenant.as_str()];
            let d = details([("owned", Value::Bool(false))]);
            cx.record_each(&concerned, &scope.actor.actor_ref(), "user.remove", &email, &d).await?;
            return unlist(cx, acc, &a.tenant).await;
        }
        return Err(Error::not_found(format!("user `{email}` in tenant `{}`", a.tenant)));
    };
    // Removing or deleting a user takes all its rights here: the actor must hold them.
    scope.require_holds_all(cx, &m.value, "user.remove", &email).await?;
    let owned = acc.value.tenant == a.tenant;
    let admin_of = if owned {
        // Deleting the user removes its access everywhere.
        ensure_admin_remains_everywhere(cx, &acc.value).await?
    } else {
        let touched = ensure_admin_remains(cx, &a.tenant, AdminChange::Leaving(&[email.as_str()])).await?;
        touched.0.then(|| a.tenant.clone()).into_iter().collect()
    };
    // Every tenant concerned hears of it: for a deletion, every tenant where the user
    // had access; for a removal of access, this tenant and the owner.
    let concerned: Vec<String> = match owned {
        true => std::iter::once(&acc.value.tenant).chain(&acc.value.tenants).cloned().collect(),
        false => vec![a.tenant.clone(), acc.value.tenant.clone()],
    };
    let d = details([("owned", Value::Bool(owned))]);
    let actor = scope.actor.actor_ref();
    if owned {
        let event = DeletionEvent { tenants: &concerned, actor, action: "user.remove", target: &email, details: d };
        return erase(cx, acc, &admin_of, &event).await;
    }
    // Taking access away takes effect first, then its events, and the account's list of
    // tenants last: a rerun that finds the tenant still listed writes the events.
    leave(cx, &scope, &acc, &admin_of).await?;
    let concerned: Vec<&str> = concerned.iter().map(String::as_str).collect();
    cx.record_each(&concerned, &actor, "user.remove", &email, &d).await?;
    unlist(cx, acc, &a.tenant).await
}

/// Removes the membership of a user owned elsewhere. In `admin_of`, the tenants where it was an
/// active admin, another must remain after the write, or it is undone.
async fn leave(cx: &Cx, scope: &TenantScope, acc: &Doc<AccountDoc>, admin_of: &[String]) -> Result<()> {
    let tenant = scope.id();
    let principal = acc.value.principal.clone();
    let m_key = membership_key(tenant, &principal);
    if let Some(m) = cx.doc::<MembershipDoc>(&m_key).await? {
        // Judged again on the membership this delete replaces.
        if m.value.uid == acc.value.uid && !scope.holds_all(&m.value) {
            return Err(scope.holds_not_all(&principal));
        }
        if m.value.uid == acc.value.uid && !cx.delete(&m_key, m.version).await? {
            return Err(conflict(&format!("access of `{principal}` to tenant `{tenant}`")));
        }
        if let Some(left) = first_without_admin(cx, admin_of).await? {
            cx.put(&m_key, &m.value, None).await?;
            return Err(undone(&left));
        }
    }
    Ok(())
}

/// Takes `tenant` off the account's list of tenants where it has access.
async fn unlist(cx: &Cx, acc: Doc<AccountDoc>, tenant: &str) -> Result<()> {
    let principal = acc.value.principal.clone();
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
    // Removals of an earlier sync (or remove_user) interrupted after the tombstone: finished
    // here, their events included.
    let mut unfinished: Vec<Doc<AccountDoc>> = Vec::new();
    for (m, acc) in owned.iter().zip(cx.docs::<AccountDoc>(&owned_keys).await?) {
        let Some(acc) = acc.filter(|d| d.value.uid == m.uid && d.value.tenant == a.tenant) else { continue };
        if acc.value.live() {
            own.insert(m.principal.clone(), acc.value);
        } else if acc.value.deleting {
            unfinished.push(acc);
        }
    }
    let keys: Vec<String> = listed.keys().map(|e| account_key(e)).collect();
    let existing = cx.docs::<AccountDoc>(&keys).await?;
    let mut report = SyncReport { created: 0, updated: 0, removed: 0, skipped: 0 };
    let (mut creates, mut renames) = (Vec::new(), Vec::new());
    for ((email, name), acc) in listed.iter().zip(existing) {
        // A user whose creation was interrupted is completed like a missing one.
        match acc.filter(|d| !(d.value.deleting || d.value.creating && d.value.tenant == a.tenant)) {
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
    if removes.iter().any(|acc| acc.principal == a.actor.principal()) {
        return Err(Error::precondition(format!("the list leaves out `{}`, who is syncing it", a.actor.principal())));
    }
    let leaving: Vec<&str> = removes.iter().map(|acc| acc.principal.as_str()).collect();
    // Checked before the first write, so a refused sync changes nothing; unlike the one-account
    // operations, a sync does not undo itself when a concurrent call takes the other admins
    // meanwhile (README "Known limits").
    let _ = ensure_admin_remains(cx, &a.tenant, AdminChange::Leaving(&leaving)).await?;
    for acc in &removes {
        // Deleting a user removes its access to other tenants too.
        for other in &acc.tenants {
            let _ = ensure_admin_remains(cx, other, AdminChange::Leaving(&[acc.principal.as_str()])).await?;
        }
    }
    // Only active users hold seats: removing a disabled one frees none.
    let new_users: Vec<String> = creates.iter().map(|(email, _)| email.clone()).collect();
    let held = claim_seats(cx, &scope, &new_users, &leaving).await?;
    let removals = unfinished
        .into_iter()
        .map(|tombstone| Removal::Unfinished(Box::new(tombstone)))
        .chain(removes.iter().map(|acc| Removal::Unlisted(&acc.principal)));
    let done = apply_sync(cx, &scope, &a, removals.collect(), renames, creates, report).await;
    quota::release(cx, held).await;
    done
}

/// The writes of [`sync_directory`], once everything is checked and the seats claimed.
/// A user a sync removes: one whose deletion an earlier call began, or one the list leaves out.
enum Removal<'a> {
    Unfinished(Box<Doc<AccountDoc>>),
    Unlisted(&'a str),
}

async fn apply_sync(
    cx: &Cx,
    scope: &TenantScope,
    a: &SyncDirectory,
    removals: Vec<Removal<'_>>,
    renames: Vec<(Doc<AccountDoc>, String)>,
    creates: Vec<(String, Option<String>)>,
    mut report: SyncReport,
) -> Result<SyncReport> {
    for removal in removals {
        let acc = match removal {
            Removal::Unfinished(tombstone) => Ok(*tombstone),
            Removal::Unlisted(p) => account(cx, p).await,
        };
        if let Ok(acc) = acc {
            let p = &acc.value.principal.clone();
            // Checked before the first write; a concurrent demotion of the other admins is not
            // undone here (README "Known limits").
            let tenants: Vec<String> = std::iter::once(&a.tenant).chain(&acc.value.tenants).cloned().collect();
            let event = DeletionEvent {
                tenants: &tenants,
                actor: scope.actor.actor_ref(),
                action: "user.remove",
                target: p,
                details: details([("sync", Value::Bool(true))]),
            };
            erase(cx, acc, &[], &event).await?;
            report.removed += 1;
        }
    }
    for (doc, name) in renames {
        // The event first: a rerun finds the name already changed and writes nothing.
        let email = doc.value.principal.clone();
        let d = details([("name", Value::String(name.clone())), ("sync", Value::Bool(true))]);
        cx.record(&a.tenant, scope.actor.actor_ref(), "user.update", &email, Ok(()), d).await?;
        rename_user(cx, doc, &name).await?;
        report.updated += 1;
    }
    for (email, name) in creates {
        let local = email.split('@').next().unwrap_or_default().to_owned();
        let new = NewAccount::user(email, name.unwrap_or(local), None, false);
        create_account(cx, scope, new).await?;
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
