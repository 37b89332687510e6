//! `create_tenant`, `get_tenant`, `update_tenant_settings`.

use serde_json::{json, Value};

use crate::audit::{details, ActorRef};
use crate::authz::admin::{conflict, load_scope, MAX_ATTEMPTS};
use crate::authz::compiled::builtin_role;
use crate::call::{CreateTenant, GetTenant, UpdateTenantSettings};
use crate::docs::{account_key, membership_key, tenant_key, AccountDoc, GroupDef, MembershipDoc, TenantDoc, SCHEMA};
use crate::error::{Error, Result};
use crate::op::{Cx, Doc};
use crate::records::{AccountKind, Status, Tenant};
use crate::tenancy::memberships;
use crate::tenancy::settings::Settings;
use crate::validate;

pub(crate) fn tenant_record(doc: &TenantDoc) -> Tenant {
    Tenant {
        tenant: doc.tenant.clone(),
        name: doc.name.clone(),
        settings: doc.settings.clone(),
        created_at: doc.created_at,
    }
}

fn display_name(name: Option<String>, tenant: &str) -> Result<String> {
    let name = name.unwrap_or_else(|| tenant.to_owned());
    validate::display_name(&name, "name")?;
    Ok(name)
}

/// Creates the tenant and its first admin. When the admin's email already names a user, that
/// user is given the `admin` role in the new tenant instead of a second account.
///
/// Writes, in order: the admin's account (if new) or its list of tenants, the admin's
/// membership, the event, then the tenant document last: until it exists the tenant grants
/// nothing, so an interrupted call leaves no tenant and can simply be run again. The
/// event is stamped with the membership's `created_at`, which a rerun keeps, so a rerun writes
/// it only when the log lacks it.
pub(crate) async fn create_tenant(cx: &Cx, a: CreateTenant) -> Result<Tenant> {
    validate::tenant_id(&a.tenant)?;
    let email = validate::email(&a.admin, &cx.engine.options.domain).map_err(|e| e.for_field("admin"))?;
    let name = display_name(a.name, &a.tenant)?;
    let settings = Settings::default().merged(&a.settings.unwrap_or_default())?;
    if let Some(role) = &settings.default_service_account_role {
        if builtin_role(role).is_none() {
            return Err(Error::not_found(format!("role `{role}` (a new tenant has only the built-in roles)")));
        }
    }
    let tenant = a.tenant;
    let keys = [tenant_key(&tenant), account_key(&email), membership_key(&tenant, &email)];
    for _ in 0..MAX_ATTEMPTS {
        let mut docs = cx.get_many(&keys).await?.into_iter();
        if docs.next().flatten().is_some() {
            return Err(Error::exists(format!("tenant `{tenant}`")));
        }
        let account = docs.next().flatten();
        let membership = docs.next().flatten();
        // A tenant that does not exist has no members: memberships left by an earlier
        // creation that never completed must not make anyone a member of this one.
        for stale in memberships(cx, &tenant).await? {
            if stale.value.principal != email {
                cx.delete(&membership_key(&tenant, &stale.value.principal), stale.version).await?;
            }
        }
        let admin = match account {
            None => {
                let local = email.split('@').next().unwrap_or_default().to_owned();
                let doc = AccountDoc {
                    schema: SCHEMA,
                    uid: cx.new_uid(),
                    kind: AccountKind::User,
                    name: local,
                    principal: email.clone(),
                    tenant: tenant.clone(),
                    description: None,
                    status: Status::Active,
                    deleting: false,
                    creating: false,
                    created_at: cx.now,
                    created_by: "system".into(),
                    updated_at: cx.now,
                    mfa: false,
                    password_hash: None,
                    tenants: Vec::new(),
                    tokens: Vec::new(),
                };
                if cx.put(&keys[1], &doc, None).await?.is_none() {
                    continue;
                }
                doc
            }
            Some(raw) => {
                let doc = Doc { value: crate::op::parse::<AccountDoc>(&keys[1], &raw.value)?, version: raw.version };
                if doc.value.deleting {
                    return Err(Error::precondition(format!("account `{email}` is being deleted")));
                }
                if !doc.value.has_access(&tenant) {
                    let mut next = doc.value.clone();
                    next.tenants.push(tenant.clone());
                    if cx.put(&keys[1], &next, Some(doc.version)).await?.is_none() {
                        continue;
                    }
                    next
                } else {
                    doc.value
                }
            }
        };
        let member = MembershipDoc {
            schema: SCHEMA,
            uid: admin.uid.clone(),
            principal: email.clone(),
            tenant: tenant.clone(),
            kind: AccountKind::User,
            owned: admin.tenant == tenant,
            role: Some("admin".into()),
            grants: Vec::new(),
            groups: Vec::new(),
            created_at: cx.now,
        };
        let left = membership
            .map(|m| Ok::<_, Error>((crate::op::parse::<MembershipDoc>(&keys[2], &m.value)?, m.version)))
            .transpose()?;
        let since = match left {
            // Written by an interrupted run of this creation: its time is the event's.
            Some((m, _)) if m.uid == member.uid && m.role == member.role => m.created_at,
            left => {
                if cx.put(&keys[2], &member, left.map(|(_, v)| v)).await?.is_none() {
                    continue;
                }
                cx.now
            }
        };
        let target = format!("tenant:{tenant}");
        let d = details([("admin", Value::String(email.clone())), ("name", Value::String(name.clone()))]);
        cx.record_once(since, &tenant, ActorRef::system(), "tenant.create", &target, d).await?;
        let doc = TenantDoc {
            schema: SCHEMA,
            tenant: tenant.clone(),
            name: name.clone(),
            settings: settings.clone(),
            created_at: cx.now,
            roles: Default::default(),
            groups: [("everyone".to_owned(), GroupDef::default())].into_iter().collect(),
            last_change: None,
        };
        // A lost race is answered from a fresh read (`already_exists` when the tenant is there),
        // never assumed: the rest of this creation stays, and the next round keeps it.
        if cx.put(&keys[0], &doc, None).await?.is_none() {
            continue;
        }
        return Ok(tenant_record(&doc));
    }
    Err(conflict(&format!("tenant `{tenant}`")))
}

/// A tenant's record; any account with access to the tenant may read it.
pub(crate) async fn get_tenant(cx: &Cx, a: GetTenant) -> Result<Tenant> {
    let scope = load_scope(cx, &a.actor, &a.tenant).await?;
    scope.require_credential(cx, "", "").await?;
    let active = scope.actor.account.as_ref().is_some_and(|acc| acc.status == Status::Active);
    if !scope.actor.member || !active {
        return Err(Error::forbidden(format!("`{}` has no access to tenant `{}`", scope.actor.principal, a.tenant)));
    }
    Ok(tenant_record(&scope.tenant.value))
}

/// Merges settings; `settings:write`. Naming a default service-account role gives it,
/// so the actor must hold that role's grants.
pub(crate) async fn update_tenant_settings(cx: &Cx, a: UpdateTenantSettings) -> Result<Tenant> {
    let target = format!("tenant:{}", a.tenant);
    for _ in 0..MAX_ATTEMPTS {
        let scope = load_scope(cx, &a.actor, &a.tenant).await?;
        scope.require(cx, "settings", "write", "tenant.update", &target).await?;
        let mut doc = scope.tenant.value.clone();
        doc.settings = doc.settings.merged(&a.settings)?;
        // Canonical names: JavaScript writes `defaultServiceAccountRole`, and the check must
        // hold whatever the spelling.
        let changed = Settings::named_in(&a.settings);
        if changed.contains(&"default_service_account_role") {
            if let Some(role) = &doc.settings.default_service_account_role {
                let grants = scope.role_grants(role)?;
                scope.require_covers(cx, &grants, "tenant.update", &target).await?;
            }
        }
        if cx.put(&tenant_key(&a.tenant), &doc, Some(scope.tenant.version)).await?.is_none() {
            continue;
        }
        let d = details([("settings", Value::Array(changed.iter().map(|k| json!(k)).collect()))]);
        cx.record(&a.tenant, scope.actor.actor_ref(), "tenant.update", &target, Ok(()), d).await?;
        return Ok(tenant_record(&doc));
    }
    Err(conflict(&format!("tenant `{}`", a.tenant)))
}
