//! `create_service_account`, `create_user` (R-01..R-03, R-40, R-47, R-62).

use crate::accounts::account_record;
use crate::accounts::lifecycle::finish_deletion;
use crate::authz::admin::{conflict, load_scope, TenantScope, MAX_ATTEMPTS};
use crate::authz::pattern::Grant;
use crate::call::{CreateServiceAccount, CreateUser};
use crate::docs::{account_key, membership_key, AccountDoc, Hidden, MembershipDoc, SCHEMA};
use crate::error::{Error, Result};
use crate::op::{parse, Cx};
use crate::passwords::ops::new_hash;
use crate::records::{Account, AccountKind, Status};
use crate::tenancy::directory::claim_seats;
use crate::tenancy::quota::{claim, release, Held, Unit};
use crate::tenancy::roles::{custom_role, pin_name, take_role_back};
use crate::validate;

/// What a new account is given in its owner tenant.
pub(crate) struct NewAccount {
    kind: AccountKind,
    principal: String,
    name: String,
    description: Option<String>,
    role: Option<String>,
    grants: Vec<Grant>,
    mfa: bool,
    password_hash: Option<Hidden>,
    action: &'static str,
}

impl NewAccount {
    /// A user: no description, grants or password.
    pub(crate) fn user(email: String, name: String, role: Option<String>, mfa: bool) -> NewAccount {
        NewAccount {
            kind: AccountKind::User,
            principal: email,
            name,
            description: None,
            role,
            grants: Vec::new(),
            mfa,
            password_hash: None,
            action: "user.create",
        }
    }
}

/// Claims the principal, then writes the membership that grants. A principal left
/// behind by an interrupted deletion is cleaned up first, so a deleted name can be reused
///
///
/// The account is written first marked `creating`, so it is absent for every purpose (no
/// rights, no credential, not listed) until, after its membership and its audit event, the
/// mark is cleared: a half-created account is never usable, and a rerun of the creation
/// completes it with the rerun's own description and password and a fresh uid, so nothing
/// bound to the interrupted attempt survives.
pub(crate) async fn create_account(cx: &Cx, scope: &TenantScope, new: NewAccount) -> Result<Account> {
    let tenant = scope.id().to_owned();
    let key = account_key(&new.principal);
    let m_key = membership_key(&tenant, &new.principal);
    for _ in 0..MAX_ATTEMPTS {
        let mut docs = cx.get_many(&[key.clone(), m_key.clone()]).await?.into_iter();
        let existing = docs.next().flatten().map(|v| parse::<AccountDoc>(&key, &v.value).map(|d| (d, v.version)));
        let membership =
            docs.next().flatten().map(|v| parse::<MembershipDoc>(&m_key, &v.value).map(|m| (m, v.version)));
        let membership = membership.transpose()?;
        // `since`: when the creation began, which an interrupted attempt's event bears.
        let (expected, since) = match existing.transpose()? {
            Some((acc, version)) if acc.deleting => {
                finish_deletion(cx, crate::op::Doc { value: acc, version }).await?;
                continue;
            }
            // The account of a creation that was interrupted: it was never acknowledged, so
            // this call completes it, with its own data.
            Some((acc, version)) if acc.creating && acc.tenant == tenant && acc.kind == new.kind => {
                (Some(version), Some(acc.created_at))
            }
            Some(_) => return Err(Error::exists(format!("account `{}`", new.principal))),
            None => (None, None),
        };
        let mut doc = AccountDoc {
            schema: SCHEMA,
            uid: cx.new_uid(),
            kind: new.kind,
            name: new.name.clone(),
            principal: new.principal.clone(),
            tenant: tenant.clone(),
            description: new.description.clone(),
            status: Status::Active,
            deleting: false,
            creating: true,
            created_at: since.unwrap_or(cx.now),
            created_by: scope.actor.principal.clone(),
            updated_at: cx.now,
            mfa: new.mfa,
            password_hash: new.password_hash.clone(),
            tenants: Vec::new(),
            tokens: Vec::new(),
        };
        let Some(version) = cx.put(&key, &doc, expected).await? else { continue };
        let member = MembershipDoc {
            schema: SCHEMA,
            uid: doc.uid.clone(),
            principal: new.principal.clone(),
            tenant: tenant.clone(),
            kind: new.kind,
            owned: true,
            role: new.role.clone(),
            grants: new.grants.clone(),
            groups: Vec::new(),
            created_at: cx.now,
        };
        // A membership of a deleted namesake or of the interrupted attempt may be there; the
        // new one replaces it (its uid no longer matches any account).
        if cx.put(&m_key, &member, membership.map(|(_, v)| v)).await?.is_none() {
            continue;
        }
        // A custom role given may have been deleted meanwhile: pin it, or take it back.
        if let Some(role) = custom_role(new.role.as_deref()) {
            if !pin_name(cx, &tenant, |t| t.roles.contains_key(role)).await? {
                take_role_back(cx, &tenant, &new.principal, role).await?;
                return Err(Error::not_found(format!("role `{role}` in tenant `{tenant}`")));
            }
        }
        // The event before the account becomes usable.
        // Completing an interrupted attempt writes its event only if that attempt did not.
        let d = crate::audit::details([("kind", new.kind.as_str().into())]);
        match since {
            Some(at) => cx.record_once(at, &tenant, scope.actor.actor_ref(), new.action, &new.principal, d).await?,
            None => cx.record(&tenant, scope.actor.actor_ref(), new.action, &new.principal, Ok(()), d).await?,
        }
        doc.creating = false;
        if cx.put(&key, &doc, Some(version)).await?.is_none() {
            // Another call took the half-created account over; it (or a rerun) completes it.
            continue;
        }
        return Ok(account_record(&doc, Some(&member), &tenant));
    }
    Err(conflict(&format!("account `{}`", new.principal)))
}

/// What the new account is given: the role's grants and direct grants. The actor must hold
/// them all.
async fn check_given(
    cx: &Cx,
    scope: &TenantScope,
    role: Option<&str>,
    grants: &[Grant],
    action: &str,
    target: &str,
) -> Result<()> {
    let mut given = grants.to_vec();
    if let Some(role) = role {
        given.extend(scope.role_grants(role)?);
    }
    scope.require_covers(cx, &given, action, target).await
}

/// Creates a service account owned by `tenant`; `accounts:write`. Without a role it gets the
/// tenant's `default_service_account_role`, unset by default. Past
/// `max_service_accounts` it is `quota_exceeded` and nothing is written, however many
/// hosts create at once: the unit is claimed first ([`crate::tenancy::quota`]).
pub(crate) async fn create_service_account(cx: &Cx, a: CreateServiceAccount) -> Result<Account> {
    validate::service_account_name(&a.name)?;
    validate::tenant_id(&a.tenant)?;
    if let Some(d) = &a.description {
        validate::description(d)?;
    }
    let principal = format!("{}@{}.sa.{}", a.name, a.tenant, cx.engine.options.domain);
    let scope = load_scope(cx, &a.actor, &a.tenant).await?;
    scope.require(cx, "accounts", "write", "service_account.create", &principal).await?;
    let role = a.role.clone().or_else(|| scope.tenant.value.settings.default_service_account_role.clone());
    check_given(cx, &scope, role.as_deref(), &a.grants, "service_account.create", &principal).await?;
    let policy = &scope.tenant.value.settings.password_policy;
    let password_hash = a.password.as_ref().map(|p| new_hash(cx, policy, p.expose())).transpose()?;
    let new = NewAccount {
        kind: AccountKind::Service,
        principal,
        name: a.name,
        description: a.description,
        role,
        grants: a.grants,
        mfa: false,
        password_hash,
        action: "service_account.create",
    };
    // the unit is claimed by compare-and-set before it is written (`tenancy::quota`).
    let held = match scope.tenant.value.settings.max_service_accounts {
        Some(cap) => claim(cx, &a.tenant, Unit::ServiceAccount, cap, std::slice::from_ref(&new.principal), &[]).await?,
        None => Held::default(),
    };
    let created = create_account(cx, &scope, new).await;
    release(cx, held).await;
    created
}

/// Creates a user owned by `tenant`; `accounts:write`. An email that already names a
/// user anywhere is `already_exists`: emails are unique in the engine.
pub(crate) async fn create_user(cx: &Cx, a: CreateUser) -> Result<Account> {
    let email = validate::email(&a.email, &cx.engine.options.domain)?;
    let name = match a.name {
        Some(n) => {
            validate::display_name(&n, "name")?;
            n
        }
        None => email.split('@').next().unwrap_or_default().to_owned(),
    };
    let scope = load_scope(cx, &a.actor, &a.tenant).await?;
    scope.require(cx, "accounts", "write", "user.create", &email).await?;
    check_given(cx, &scope, a.role.as_deref(), &[], "user.create", &email).await?;
    let held = claim_seats(cx, &scope, std::slice::from_ref(&email), &[]).await?;
    let created = create_account(cx, &scope, NewAccount::user(email, name, a.role, a.mfa)).await;
    release(cx, held).await;
    created
}
