//! Groups and their policies. Membership is kept on the account's
//! membership document (`groups`), so one write adds or removes it; `everyone` holds every
//! account with access to the tenant implicitly.

use serde_json::Value;

use crate::audit::{details, ActorRef};
use crate::authz::admin::{conflict, load_scope, TenantScope, MAX_ATTEMPTS};
use crate::authz::admins::{confirm_admin_left, ensure_admin_remains, undone, AdminChange};
use crate::authz::pattern::Grant;
use crate::call::{
    Actor, AddGroupMember, CreateGroup, DeleteGroup, GrantGroupPermissions, RemoveGroupMember, RevokeGroupPermissions,
};
use crate::docs::{membership_key, tenant_key, GroupDef, MembershipDoc, TenantDoc};
use crate::error::{Error, Result};
use crate::op::Cx;
use crate::records::Group;
use crate::tenancy::roles::pin_name;
use crate::tenancy::{finish_interrupted, mark_change, memberships};
use crate::validate;

/// The group every account with access belongs to.
pub const EVERYONE: &str = "everyone";

/// The group record, with its members read from the tenant's memberships.
pub(crate) async fn group_record(cx: &Cx, doc: &TenantDoc, group: &str) -> Result<Group> {
    let def = doc.groups.get(group).cloned().unwrap_or_default();
    let members = memberships(cx, &doc.tenant)
        .await?
        .into_iter()
        .filter(|m| group == EVERYONE || m.value.groups.iter().any(|g| g == group))
        .map(|m| m.value.principal)
        .collect();
    Ok(Group { tenant: doc.tenant.clone(), group: group.to_owned(), roles: def.roles, grants: def.grants, members })
}

fn existing<'a>(doc: &'a mut TenantDoc, group: &str) -> Result<&'a mut GroupDef> {
    let tenant = doc.tenant.clone();
    doc.groups.get_mut(group).ok_or_else(|| Error::not_found(format!("group `{group}` in tenant `{tenant}`")))
}

/// Creates a group with roles and grants, all of which the actor must hold.
pub(crate) async fn create_group(cx: &Cx, a: CreateGroup) -> Result<Group> {
    validate::role_or_group_name(&a.group, "group")?;
    let target = format!("group:{}", a.group);
    for _ in 0..MAX_ATTEMPTS {
        let scope = load_scope(cx, &a.actor, &a.tenant).await?;
        scope.require(cx, "groups", "write", "group.create", &target).await?;
        if scope.tenant.value.groups.contains_key(&a.group) {
            // The group this call's interrupted run created, whose event is missing.
            if finish_interrupted(cx, &scope, "group.create", &target).await? {
                return group_record(cx, &scope.tenant.value, &a.group).await;
            }
            return Err(Error::exists(format!("group `{}` in tenant `{}`", a.group, a.tenant)));
        }
        let mut given: Vec<Grant> = a.grants.clone();
        for role in &a.roles {
            given.extend(scope.role_grants(role)?);
        }
        scope.require_covers(cx, &given, "group.create", &target).await?;
        let mut doc = scope.tenant.value.clone();
        let mut roles = a.roles.clone();
        roles.dedup();
        doc.groups.insert(a.group.clone(), GroupDef { roles, grants: a.grants.clone() });
        mark_change(cx, &mut doc, "group.create", &target);
        if cx.put(&tenant_key(&a.tenant), &doc, Some(scope.tenant.version)).await?.is_none() {
            continue;
        }
        cx.record(&a.tenant, scope.actor.actor_ref(), "group.create", &target, Ok(()), Default::default()).await?;
        return group_record(cx, &doc, &a.group).await;
    }
    Err(conflict(&format!("tenant `{}`", a.tenant)))
}

/// Deletes a group: first every membership that names it (the records that grant), then the
/// group itself, so a group re-created under the same name starts empty.
pub(crate) async fn delete_group(cx: &Cx, a: DeleteGroup) -> Result<()> {
    validate::role_or_group_name(&a.group, "group")?;
    if a.group == EVERYONE {
        return Err(Error::invalid("group", "`everyone` is built in and cannot be deleted"));
    }
    let target = format!("group:{}", a.group);
    for _ in 0..MAX_ATTEMPTS {
        let scope = load_scope(cx, &a.actor, &a.tenant).await?;
        scope.require(cx, "groups", "write", "group.delete", &target).await?;
        let mut doc = scope.tenant.value.clone();
        if !doc.groups.contains_key(&a.group) && finish_interrupted(cx, &scope, "group.delete", &target).await? {
            return Ok(());
        }
        existing(&mut doc, &a.group)?;
        let mut after = doc.clone();
        after.groups.remove(&a.group);
        scope.require_holds_narrowed(cx, &after, "group.delete", &target).await?;
        // Checked before the memberships change; see README "Known limits" for a concurrent
        // demotion of the other admins.
        let _ = ensure_admin_remains(cx, &a.tenant, AdminChange::Policy(&after)).await?;
        for m in memberships(cx, &a.tenant).await? {
            if m.value.groups.contains(&a.group) {
                update_membership(cx, &a.tenant, &m.value.principal, |m| {
                    m.groups.retain(|g| g != &a.group);
                    Ok(())
                })
                .await?;
            }
        }
        doc.groups.remove(&a.group);
        mark_change(cx, &mut doc, "group.delete", &target);
        if cx.put(&tenant_key(&a.tenant), &doc, Some(scope.tenant.version)).await?.is_none() {
            continue;
        }
        cx.record(&a.tenant, scope.actor.actor_ref(), "group.delete", &target, Ok(()), Default::default()).await?;
        return Ok(());
    }
    Err(conflict(&format!("tenant `{}`", a.tenant)))
}

/// Read-modify-write of one membership with retry; `not_found` when the account has no
/// access to the tenant.
pub(crate) async fn update_membership(
    cx: &Cx,
    tenant: &str,
    principal: &str,
    mut change: impl FnMut(&mut MembershipDoc) -> Result<()>,
) -> Result<MembershipDoc> {
    let key = membership_key(tenant, principal);
    for _ in 0..MAX_ATTEMPTS {
        let Some(doc) = cx.doc::<MembershipDoc>(&key).await? else {
            return Err(Error::not_found(format!("account `{principal}` in tenant `{tenant}`")));
        };
        let mut next = doc.value.clone();
        change(&mut next)?;
        if cx.put(&key, &next, Some(doc.version)).await?.is_some() {
            return Ok(next);
        }
    }
    Err(conflict(&format!("access of `{principal}` to tenant `{tenant}`")))
}

/// Adds or removes a group membership. Changing an account's groups needs holding all of its
/// rights in the tenant, judged again on each compare-and-set round's read; a removal
/// must leave the tenant an admin.
async fn member_change(cx: &Cx, scope: &TenantScope, group: &str, principal: &str, add: bool) -> Result<()> {
    let action = if add { "group.add_member" } else { "group.remove_member" };
    let acc = crate::authz::admin::account(cx, principal).await?;
    let change = |m: &mut MembershipDoc| {
        if add {
            if !m.groups.iter().any(|g| g == group) {
                m.groups.push(group.to_owned());
                m.groups.sort();
            }
        } else {
            m.groups.retain(|g| g != group);
        }
    };
    let current = cx.doc::<MembershipDoc>(&membership_key(scope.id(), principal)).await?;
    let mut touched = false;
    if let Some(current) = current.filter(|m| m.value.uid == acc.value.uid) {
        scope.require_holds_all(cx, &current.value, action, principal).await?;
        let mut next = current.value.clone();
        change(&mut next);
        touched = ensure_admin_remains(cx, scope.id(), AdminChange::Membership(&next)).await?.0;
    }
    // Joining a group gives its rights: only after the event is stored; leaving one takes
    // them away first, and the event follows — unless the actor leaves itself: a rerun
    // could then no longer act, and the event would never be written.
    let d = details_of(group);
    let event_first = add || scope.actor.principal == principal;
    if event_first {
        cx.record(scope.id(), scope.actor.actor_ref(), action, principal, Ok(()), d.clone()).await?;
    }
    let result = member_write(cx, scope, group, principal, add, touched, change).await;
    let result = match result {
        Ok(()) if !event_first => cx.record(scope.id(), scope.actor.actor_ref(), action, principal, Ok(()), d).await,
        other => other,
    };
    cx.settle(event_first, &[scope.id()], &scope.actor.actor_ref(), action, principal, &details_of(group), result).await
}

fn details_of(group: &str) -> serde_json::Map<String, Value> {
    details([("group", Value::String(group.to_owned()))])
}

/// The write of [`member_change`], with the pin of the group it joins and the undo of
/// a removal that left the tenant no admin.
async fn member_write(
    cx: &Cx,
    scope: &TenantScope,
    group: &str,
    principal: &str,
    add: bool,
    touched: bool,
    change: impl Fn(&mut MembershipDoc),
) -> Result<()> {
    update_membership(cx, scope.id(), principal, |m| {
        if !scope.holds_all(m) {
            return Err(scope.holds_not_all(principal));
        }
        change(m);
        Ok(())
    })
    .await?;
    // The group may have been deleted (and its memberships cleared) between the check and the
    // write: then the membership names no group and would give the rights of any group later
    // created under that name. Pin the group, or take the membership back.
    if add && !pin_name(cx, scope.id(), |t| t.groups.contains_key(group)).await? {
        update_membership(cx, scope.id(), principal, |m| {
            m.groups.retain(|g| g != group);
            Ok(())
        })
        .await?;
        return Err(Error::not_found(format!("group `{group}` in tenant `{}`", scope.id())));
    }
    // Another call may have taken the other admins meanwhile: then undo this removal.
    if touched && !confirm_admin_left(cx, scope.id()).await? {
        update_membership(cx, scope.id(), principal, |m| {
            if !m.groups.iter().any(|g| g == group) {
                m.groups.push(group.to_owned());
                m.groups.sort();
            }
            Ok(())
        })
        .await?;
        return Err(undone(scope.id()));
    }
    Ok(())
}

/// Adds an account with access to the tenant to a group; the actor must hold what the group
/// gives. `everyone` is implicit: `invalid_argument`.
pub(crate) async fn add_group_member(cx: &Cx, a: AddGroupMember) -> Result<Group> {
    validate::role_or_group_name(&a.group, "group")?;
    if a.group == EVERYONE {
        return Err(Error::invalid("group", "every account with access is a member of `everyone`"));
    }
    let scope = load_scope(cx, &a.actor, &a.tenant).await?;
    scope.require(cx, "groups", "write", "group.add_member", &a.principal).await?;
    let grants = scope.group_grants(&a.group)?;
    scope.require_covers(cx, &grants, "group.add_member", &a.principal).await?;
    member_change(cx, &scope, &a.group, &a.principal, true).await?;
    let now = cx.doc::<TenantDoc>(&tenant_key(&a.tenant)).await?;
    let tenant = now.ok_or_else(|| Error::not_found(format!("tenant `{}`", a.tenant)))?;
    group_record(cx, &tenant.value, &a.group).await
}

/// Removes an account from a group; never from `everyone`.
pub(crate) async fn remove_group_member(cx: &Cx, a: RemoveGroupMember) -> Result<Group> {
    validate::role_or_group_name(&a.group, "group")?;
    if a.group == EVERYONE {
        return Err(Error::invalid("group", "no account can be removed from `everyone`"));
    }
    let scope = load_scope(cx, &a.actor, &a.tenant).await?;
    scope.require(cx, "groups", "write", "group.remove_member", &a.principal).await?;
    scope.group_grants(&a.group)?;
    member_change(cx, &scope, &a.group, &a.principal, false).await?;
    group_record(cx, &scope.tenant.value, &a.group).await
}

async fn change_group_grants(
    cx: &Cx,
    actor: &Actor,
    tenant: &str,
    group: &str,
    grants: &[Grant],
    add: bool,
) -> Result<Group> {
    validate::role_or_group_name(group, "group")?;
    let (action, target) = (if add { "group.grant" } else { "group.revoke" }, format!("group:{group}"));
    let d = details([("grants", serde_json::to_value(grants).unwrap_or(Value::Null))]);
    // The actor whose `ok` event this call stored before its write, if it did.
    let mut recorded: Option<ActorRef> = None;
    let result = async {
        for _ in 0..MAX_ATTEMPTS {
            let scope = load_scope(cx, actor, tenant).await?;
            scope.require(cx, "groups", "write", action, &target).await?;
            if add {
                scope.require_covers(cx, grants, action, &target).await?;
            }
            let mut doc = scope.tenant.value.clone();
            let def = existing(&mut doc, group)?;
            for g in grants {
                if add && !def.grants.contains(g) {
                    def.grants.push(g.clone());
                } else if !add {
                    def.grants.retain(|x| x != g);
                }
            }
            if !add {
                scope.require_holds_narrowed(cx, &doc, action, &target).await?;
            }
            let touched = match add {
                true => false,
                false => ensure_admin_remains(cx, tenant, AdminChange::Policy(&doc)).await?.0,
            };
            // Grants given take effect only after their event is stored, once per call.
            if add && recorded.is_none() {
                cx.record(tenant, scope.actor.actor_ref(), action, &target, Ok(()), d.clone()).await?;
                recorded = Some(scope.actor.actor_ref());
            }
            let Some(written) = cx.put(&tenant_key(tenant), &doc, Some(scope.tenant.version)).await? else {
                continue;
            };
            // Another call may have taken the other admins meanwhile: then undo this.
            if touched && !confirm_admin_left(cx, tenant).await? {
                cx.put(&tenant_key(tenant), &scope.tenant.value, Some(written)).await?;
                return Err(undone(tenant));
            }
            if !add {
                cx.record(tenant, scope.actor.actor_ref(), action, &target, Ok(()), d.clone()).await?;
            }
            return group_record(cx, &doc, group).await;
        }
        Err(conflict(&format!("tenant `{tenant}`")))
    }
    .await;
    match recorded {
        Some(actor) => cx.settle(true, &[tenant], &actor, action, &target, &d, result).await,
        None => result,
    }
}

/// Gives a group grants ("policies", R-43); the actor must hold them.
pub(crate) async fn grant_group_permissions(cx: &Cx, a: GrantGroupPermissions) -> Result<Group> {
    change_group_grants(cx, &a.actor, &a.tenant, &a.group, &a.grants, true).await
}

/// Takes grants from a group; grants it does not have are ignored.
pub(crate) async fn revoke_group_permissions(cx: &Cx, a: RevokeGroupPermissions) -> Result<Group> {
    change_group_grants(cx, &a.actor, &a.tenant, &a.group, &a.grants, false).await
}
