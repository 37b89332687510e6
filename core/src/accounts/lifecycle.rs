//! The account lifecycle: description, disable/enable, revoke, delete. All are
//! owner-only.

use serde_json::Value;

use crate::accounts::account_record;
use crate::audit::{details, ActorRef};
use crate::authz::admin::{conflict, load_owner_scope, require_holds_target, OwnerCheck, OwnerScope, MAX_ATTEMPTS};
use crate::authz::admins::{ensure_admin_remains_everywhere, first_without_admin, undone};
use crate::call::{DeleteAccount, DisableAccount, EnableAccount, RevokeAccount, UpdateServiceAccount};
use crate::docs::{account_key, membership_key, tenant_key, token_key, AccountDoc, MembershipDoc, TenantDoc};
use crate::error::{Error, Result};
use crate::op::{Cx, Doc};
use crate::records::{Account, AccountKind, Status};
use crate::tenancy::quota::{claim, release, Held, Unit};
use crate::validate;

fn check<'a>(action: &'a str, service_action: &'a str, user_action: &'a str) -> OwnerCheck<'a> {
    OwnerCheck {
        kind: "accounts",
        action,
        service_action,
        user_action,
        target: None,
        personal: false,
        tombstoned: false,
    }
}

/// Read-modify-write of the target account with retry, recorded as `action` in the
/// owner tenant — and, with `everywhere`, in every tenant where the account has access.
///
/// `admin_of` are the tenants where the change takes an active admin away: after the write,
/// each must still have one, or the write is undone.
///
/// With `once` (status changes, R-92), a call that finds the change already made (a rerun, or
/// a repeated call) writes the event, stamped with the account's `updated_at` (the time of
/// the change), only when the log lacks it: the event the first one did not write. A call
/// that makes the change, and every call without `once`, records its event.
async fn change_account(
    cx: &Cx,
    owner: OwnerScope,
    everywhere: bool,
    admin_of: Vec<String>,
    d: serde_json::Map<String, Value>,
    once: bool,
    change: impl FnMut(&mut AccountDoc) -> Result<bool>,
) -> Result<Account> {
    let (actor, action) = (owner.scope.actor.actor_ref(), owner.action.clone());
    let principal = owner.target.value.principal.clone();
    // The tenants whose logs got the event before the write, if this call stored it first.
    let mut stored_first = Vec::new();
    let result = change_account_once(cx, owner, everywhere, admin_of, &d, once, change, &mut stored_first).await;
    let tenants: Vec<&str> = stored_first.iter().map(String::as_str).collect();
    cx.settle(!tenants.is_empty(), &tenants, &actor, &action, &principal, &d, result).await
}

#[allow(clippy::too_many_arguments)]
async fn change_account_once(
    cx: &Cx,
    owner: OwnerScope,
    everywhere: bool,
    admin_of: Vec<String>,
    d: &serde_json::Map<String, Value>,
    once: bool,
    mut change: impl FnMut(&mut AccountDoc) -> Result<bool>,
    stored_first: &mut Vec<String>,
) -> Result<Account> {
    let key = account_key(&owner.target.value.principal);
    let mut current = owner.target;
    let tenants_of = |acc: &AccountDoc| {
        let mut tenants = vec![acc.tenant.clone()];
        if everywhere {
            tenants.extend(acc.tenants.iter().cloned());
        }
        tenants
    };
    for _ in 0..MAX_ATTEMPTS {
        let mut next = current.value.clone();
        let changed = change(&mut next)?;
        if changed {
            next.updated_at = cx.now;
            // An account made active again gives its rights back: only after its event is
            // stored.
            if next.status == Status::Active && current.value.status != Status::Active && stored_first.is_empty() {
                let tenants = tenants_of(&next);
                let tenants: Vec<&str> = tenants.iter().map(String::as_str).collect();
                cx.record_each(&tenants, &owner.scope.actor.actor_ref(), &owner.action, &next.principal, d).await?;
                *stored_first = tenants_of(&next);
            }
            let Some(written) = cx.put(&key, &next, Some(current.version)).await? else {
                current = crate::authz::admin::account(cx, &next.principal).await?;
                continue;
            };
            if let Some(tenant) = first_without_admin(cx, &admin_of).await? {
                cx.put(&key, &current.value, Some(written)).await?;
                return Err(undone(&tenant));
            }
        }
        let tenants = tenants_of(&next);
        let tenants: Vec<&str> = tenants.iter().map(String::as_str).collect();
        let actor = owner.scope.actor.actor_ref();
        // A call that made the change records it, unless a call completing it (a rerun, a
        // repeat) wrote the event first: an earlier change of the same kind within the same
        // millisecond has an event that looks the same, but another one lies between.
        if stored_first.is_empty() && once {
            for tenant in tenants {
                let (at, a, p) = (next.updated_at, &owner.action, &next.principal);
                match changed {
                    true => cx.append_once(at, tenant, actor.clone(), a, p, d.clone()).await?,
                    false => cx.record_once(at, tenant, actor.clone(), a, p, d.clone()).await?,
                }
            }
        } else if stored_first.is_empty() {
            cx.record_each(&tenants, &actor, &owner.action, &next.principal, d).await?;
        }
        let m = cx.doc::<MembershipDoc>(&membership_key(&next.tenant, &next.principal)).await?;
        return Ok(account_record(&next, m.as_ref().map(|m| &m.value), &next.tenant));
    }
    Err(conflict(&format!("account `{}`", current.value.principal)))
}

/// Changes a service account's description; `accounts:write` in the owner tenant. Users have
/// no description: `invalid_argument`.
pub(crate) async fn update_service_account(cx: &Cx, a: UpdateServiceAccount) -> Result<Account> {
    if let Some(d) = &a.description {
        validate::description(d)?;
    }
    let owner =
        load_owner_scope(cx, &a.actor, &a.principal, check("write", "service_account.update", "user.update")).await?;
    if owner.target.value.kind != AccountKind::Service {
        return Err(Error::invalid("principal", "only service accounts have a description"));
    }
    change_account(cx, owner, false, Vec::new(), Default::default(), false, |doc| {
        let changed = doc.description != a.description;
        doc.description = a.description.clone();
        Ok(changed)
    })
    .await
}

fn revoked(principal: &str) -> Error {
    Error::precondition(format!("account `{principal}` is revoked for good"))
}

/// `active` → `disabled`; disabling a disabled account changes nothing; a revoked one is
/// `failed_precondition`. Takes effect at the next verification.
pub(crate) async fn disable_account(cx: &Cx, a: DisableAccount) -> Result<Account> {
    let owner =
        load_owner_scope(cx, &a.actor, &a.principal, check("write", "service_account.disable", "user.disable")).await?;
    require_holds_target(cx, &owner, &a.principal).await?;
    let admin_of = ensure_admin_remains_everywhere(cx, &owner.target.value).await?;
    change_account(cx, owner, false, admin_of, Default::default(), true, |doc| match doc.status {
        Status::Revoked => Err(revoked(&doc.principal)),
        Status::Disabled => Ok(false),
        Status::Active => {
            doc.status = Status::Disabled;
            Ok(true)
        }
    })
    .await
}

/// `disabled` → `active`; a revoked account is `failed_precondition`. A disabled user
/// starts taking a seat again in every tenant where it has access: each seat is claimed first,
/// and past a `seat_limit` it is `quota_exceeded`. The claims are made for the tenants
/// on the account as read; if that list changes before the status is written, they are made
/// again.
pub(crate) async fn enable_account(cx: &Cx, a: EnableAccount) -> Result<Account> {
    for _ in 0..MAX_ATTEMPTS {
        let owner =
            load_owner_scope(cx, &a.actor, &a.principal, check("write", "service_account.enable", "user.enable"))
                .await?;
        require_holds_target(cx, &owner, &a.principal).await?;
        let seated = owner.target.value.clone();
        let held = claim_seats_to_enable(cx, &seated).await?;
        let mut moved = false;
        let enabled = change_account(cx, owner, false, Vec::new(), Default::default(), true, |doc| match doc.status {
            Status::Revoked => Err(revoked(&doc.principal)),
            Status::Active => Ok(false),
            Status::Disabled if doc.kind == AccountKind::User && doc.tenants != seated.tenants => {
                moved = true;
                Err(conflict(&format!("account `{}`", doc.principal)))
            }
            Status::Disabled => {
                doc.status = Status::Active;
                Ok(true)
            }
        })
        .await;
        release(cx, held).await;
        if !moved {
            return enabled;
        }
    }
    Err(conflict(&format!("account `{}`", a.principal)))
}

/// A seat for a disabled user in each tenant where it has access and a `seat_limit` applies.
async fn claim_seats_to_enable(cx: &Cx, acc: &AccountDoc) -> Result<Held> {
    let mut held = Held::default();
    if acc.kind != AccountKind::User || acc.status != Status::Disabled {
        return Ok(held);
    }
    let tenants: Vec<&String> = std::iter::once(&acc.tenant).chain(&acc.tenants).collect();
    let keys: Vec<String> = tenants.iter().map(|t| tenant_key(t)).collect();
    for (tenant, doc) in tenants.into_iter().zip(cx.docs::<TenantDoc>(&keys).await?) {
        let Some(limit) = doc.and_then(|d| d.value.settings.seat_limit) else { continue };
        match claim(cx, tenant, Unit::Seat, limit, std::slice::from_ref(&acc.principal), &[]).await {
            Ok(h) => held.extend(h),
            Err(e) => {
                release(cx, held).await;
                return Err(e);
            }
        }
    }
    Ok(held)
}

/// `active|disabled` → `revoked`, for good; the principal stays, inactive. Revoking a
/// revoked account changes nothing.
pub(crate) async fn revoke_account(cx: &Cx, a: RevokeAccount) -> Result<Account> {
    let owner =
        load_owner_scope(cx, &a.actor, &a.principal, check("write", "service_account.revoke", "user.revoke")).await?;
    require_holds_target(cx, &owner, &a.principal).await?;
    let admin_of = ensure_admin_remains_everywhere(cx, &owner.target.value).await?;
    change_account(cx, owner, true, admin_of, Default::default(), true, |doc| {
        let changed = doc.status != Status::Revoked;
        doc.status = Status::Revoked;
        Ok(changed)
    })
    .await
}

/// Deletes an account: a tombstone first, so nothing of it verifies from that write
/// on; then the event; then its tokens and memberships, and the account record last.
/// A rerun finds the tombstone, writes the event if the log lacks it at the tombstone's
/// `updated_at`, and finishes the clean-up. The audit history stays.
pub(crate) async fn delete_account(cx: &Cx, a: DeleteAccount) -> Result<()> {
    let mut deleting = check("delete", "service_account.delete", "user.delete");
    deleting.tombstoned = true;
    let owner = load_owner_scope(cx, &a.actor, &a.principal, deleting).await?;
    if !owner.target.value.deleting {
        require_holds_target(cx, &owner, &a.principal).await?;
    }
    let target = &owner.target.value;
    let tenants: Vec<String> = std::iter::once(&target.tenant).chain(&target.tenants).cloned().collect();
    let d = details([("kind", Value::String(owner.target.value.kind.as_str().to_owned()))]);
    let event = DeletionEvent {
        tenants: &tenants,
        actor: owner.scope.actor.actor_ref(),
        action: &owner.action,
        target: &a.principal,
        details: d,
    };
    // An earlier deletion interrupted after its tombstone is finished, not checked again.
    let admin_of = match owner.target.value.deleting {
        true => Vec::new(),
        false => ensure_admin_remains_everywhere(cx, &owner.target.value).await?,
    };
    erase(cx, owner.target, &admin_of, &event).await
}

/// The event of a deletion, written in each tenant concerned between the tombstone and
/// the clean-up.
pub(crate) struct DeletionEvent<'a> {
    /// The owner tenant and every other tenant where the account had access.
    pub tenants: &'a [String],
    pub actor: ActorRef,
    pub action: &'a str,
    pub target: &'a str,
    pub details: serde_json::Map<String, Value>,
}

/// Deletes an account everywhere: the tombstone first, so nothing of it verifies from that
/// write on (already there when an interrupted deletion is run again); then the event, written
/// once, timed by the tombstone; then [`finish_deletion`]. In `admin_of`, the tenants
/// where it was an active admin, another must remain once the tombstone is written, or it is
/// lifted.
pub(crate) async fn erase(
    cx: &Cx,
    current: Doc<AccountDoc>,
    admin_of: &[String],
    event: &DeletionEvent<'_>,
) -> Result<()> {
    let tomb = match current.value.deleting {
        true => current,
        false => tombstone(cx, current, admin_of).await?,
    };
    for tenant in event.tenants {
        let (actor, details) = (event.actor.clone(), event.details.clone());
        cx.record_once(tomb.value.updated_at, tenant, actor, event.action, event.target, details).await?;
    }
    finish_deletion(cx, tomb).await
}

/// Marks an account deleted (`deleting`, `updated_at` now): from this write on it is gone for
/// every purpose, and nothing of it verifies; lifted again if a tenant of `admin_of` is
/// left without an active admin.
async fn tombstone(cx: &Cx, mut current: Doc<AccountDoc>, admin_of: &[String]) -> Result<Doc<AccountDoc>> {
    let key = account_key(&current.value.principal);
    for _ in 0..MAX_ATTEMPTS {
        let mut next = current.value.clone();
        next.deleting = true;
        next.updated_at = cx.now;
        if let Some(version) = cx.put(&key, &next, Some(current.version)).await? {
            if let Some(tenant) = first_without_admin(cx, admin_of).await? {
                cx.put(&key, &current.value, Some(version)).await?;
                return Err(undone(&tenant));
            }
            return Ok(Doc { value: next, version });
        }
        current = crate::authz::admin::account(cx, &current.value.principal).await?;
    }
    Err(conflict(&format!("account `{}`", current.value.principal)))
}

#[derive(serde::Deserialize)]
struct OwnedBy {
    uid: String,
}

/// Removes what a tombstoned account left: tokens, memberships whose uid is its own, and the
/// account record last. Safe to run again after any interruption.
pub(crate) async fn finish_deletion(cx: &Cx, tombstone: Doc<AccountDoc>) -> Result<()> {
    let acc = &tombstone.value;
    let mut keys: Vec<String> = acc.tokens.iter().map(|id| token_key(id)).collect();
    keys.extend(std::iter::once(&acc.tenant).chain(&acc.tenants).map(|t| membership_key(t, &acc.principal)));
    for _ in 0..MAX_ATTEMPTS {
        let mut left = Vec::new();
        for (key, entry) in keys.iter().zip(cx.get_many(&keys).await?) {
            let Some(entry) = entry else { continue };
            // Only what belongs to this uid; a membership key may already hold a namesake's.
            let owned_by: OwnedBy = crate::op::parse(key, &entry.value)?;
            if owned_by.uid == acc.uid && !cx.delete(key, entry.version).await? {
                left.push(key.clone());
            }
        }
        if left.is_empty() {
            // The tombstone goes last, once nothing of the account is left.
            if !cx.delete(&account_key(&acc.principal), tombstone.version).await? {
                return Err(conflict(&format!("account `{}`", acc.principal)));
            }
            return Ok(());
        }
        keys = left;
    }
    Err(conflict(&format!("account `{}`", acc.principal)))
}
