//! Tenants, their settings, roles and groups (SPEC §6, §8).

pub mod directory;
pub mod groups;
pub mod quota;
pub mod roles;
pub mod settings;
pub mod tenants;

use crate::authz::admin::TenantScope;
use crate::docs::{membership_prefix, LastChange, MembershipDoc, TenantDoc};
use crate::error::Result;
use crate::op::{parse, Cx, Doc};

/// Marks `doc` as changed by `action` on `target` now, for [`finish_interrupted`].
pub(crate) fn mark_change(cx: &Cx, doc: &mut TenantDoc, action: &str, target: &str) {
    doc.last_change = Some(LastChange { at: cx.now, action: action.to_owned(), target: target.to_owned() });
}

/// Whether the tenant document records `action` on `target` as its last group or role change
/// while the log lacks its event: an earlier call was interrupted between its write and its
/// event. The event is then written, at the change's time, and the rerun is complete.
pub(crate) async fn finish_interrupted(cx: &Cx, scope: &TenantScope, action: &str, target: &str) -> Result<bool> {
    let Some(change) = &scope.tenant.value.last_change else { return Ok(false) };
    if change.action != action
        || change.target != target
        || cx.event_stored(scope.id(), change.at, action, target).await?
    {
        return Ok(false);
    }
    cx.record_once(change.at, scope.id(), scope.actor.actor_ref(), action, target, Default::default()).await?;
    Ok(true)
}

/// Every membership of a tenant, in principal order.
pub(crate) async fn memberships(cx: &Cx, tenant: &str) -> Result<Vec<Doc<MembershipDoc>>> {
    cx.list_all(&membership_prefix(tenant))
        .await?
        .into_iter()
        .map(|e| Ok(Doc { value: parse::<MembershipDoc>(&e.key, &e.value)?, version: e.version }))
        .collect()
}
