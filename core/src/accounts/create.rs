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
use crate::tenancy::directory::ensure_seats;
use crate::tenancy::memberships;
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
        let doc = match existing.transpose()? {
            Some((acc, version)) if acc.deleting => {
                finish_deletion(cx, crate::op::Doc { value: acc, version }).await?;
                continue;
            }
            // The account of a creation that stopped before its membership was written: it was
            // never acknowledged, so this call completes it.
            Some((acc, _))
                if acc.tenant == tenant
                    && acc.kind == new.kind
                    && membership.as_ref().is_none_or(|(m, _)| m.uid != acc.uid) =>
            {
                acc
            }
            Some(_) => return Err(Error::exists(format!("account `{}`", new.principal))),
            None => {
                let doc = AccountDoc {
                    schema: SCHEMA,
                    uid: cx.new_uid(),
                    kind: new.kind,
                    name: new.name.clone(),
                    principal: new.principal.clone(),
                    tenant: tenant.clone(),
                    description: new.description.clone(),
                    status: Status::Active,
                    deleting: false,
                    created_at: cx.now,
                    created_by: scope.actor.principal.clone(),
                    updated_at: cx.now,
                    mfa: new.mfa,
                    password_hash: new.password_hash.clone(),
                    tenants: Vec::new(),
                    tokens: Vec::new(),
                };
                if cx.put(&key, &doc, None).await?.is_none() {
                    continue;
                }
                doc
            }
        };
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
        // A stale membership of a deleted namesake may survive an interrupted clean-up; the
        // new one replaces it (its uid no longer matches any account).
        if cx.put(&m_key, &member, membership.map(|(_, v)| v)).await?.is_none() {
            continue;
        }
        let d = crate::audit::details([("kind", new.kind.as_str().into())]);
        cx.record(&tenant, scope.actor.actor_ref(), new.action, &new.principal, Ok(()), d).await?;
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
/// `max_service_accounts` it is `quota_exceeded` and nothing is written.
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
    if let Some(cap) = scope.tenant.value.settings.max_service_accounts {
        let owned = memberships(cx, &a.tenant)
            .await?
            .iter()
            .filter(|m| m.value.owned && m.value.kind == AccountKind::Service)
            .count();
        if owned as u64 >= cap {
            return Err(Error::quota(format!("tenant `{}` may own at most {cap} service accounts", a.tenant)));
        }
    }
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
    create_account(cx, &scope, new).await
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
    ensure_seats(cx, &scope, 1, 0).await?;
    create_account(cx, &scope, NewAccount::user(email, name, a.role, a.mfa)).await
}
