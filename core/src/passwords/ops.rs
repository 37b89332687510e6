//! `set_password` (owner-only, service accounts only) and `authenticate_password` (R-50,
//! ..R-13).

use serde_json::Value;

use crate::audit::{details, ActorRef, AuditEvent};
use crate::authz::admin::{load_owner_scope, require_credential_reach, OwnerCheck, MAX_ATTEMPTS};
use crate::call::{AuthenticatePassword, SetPassword};
use crate::dataplane::{identity_of, login_error};
use crate::docs::{account_key, AccountDoc, Hidden};
use crate::error::{Error, Result};
use crate::op::Cx;
use crate::passwords::{hash, policy};
use crate::records::{Account, AccountKind, Identity};

/// Checks a new password against the owner tenant's policy and hashes it.
pub(crate) fn new_hash(cx: &Cx, policy_name: &str, password: &str) -> Result<Hidden> {
    policy::check(policy_name, password)?;
    let mut salt = [0u8; 16];
    cx.random(&mut salt);
    hash::hash(password, &salt).map(Hidden)
}

/// Sets (or, with `None`, clears) a service account's password; `accounts:write` in the
/// owner tenant. Users have no password: `invalid_argument`.
pub(crate) async fn set_password(cx: &Cx, a: SetPassword) -> Result<Account> {
    let check = OwnerCheck {
        kind: "accounts",
        action: "write",
        service_action: if a.password.is_some() { "password.set" } else { "password.clear" },
        user_action: if a.password.is_some() { "password.set" } else { "password.clear" },
        target: None,
        personal: false,
        tombstoned: false,
    };
    let owner = load_owner_scope(cx, &a.actor, &a.principal, check).await?;
    if owner.target.value.kind != AccountKind::Service {
        return Err(Error::invalid(
            "principal",
            "users have no password: they sign in through their identity provider",
        ));
    }
    if a.password.is_some() && owner.target.value.status == crate::records::Status::Revoked {
        return Err(Error::precondition(format!("account `{}` is revoked: no new credentials", a.principal)));
    }
    if a.password.is_some() {
        // A password has no scopes: it carries the account's rights everywhere.
        require_credential_reach(cx, &owner, None, &a.principal).await?;
    }
    let hashed = match &a.password {
        Some(p) => Some(new_hash(cx, &owner.scope.tenant.value.settings.password_policy, p.expose())?),
        None => None,
    };
    let key = account_key(&a.principal);
    let mut current = owner.target.clone();
    // A password given is a credential: it takes effect only after its event is stored. One
    // cleared takes effect first, then its event.
    let record = || {
        let actor = owner.scope.actor.actor_ref();
        cx.record(&owner.target.value.tenant, actor, &owner.action, &a.principal, Ok(()), Default::default())
    };
    if hashed.is_some() {
        record().await?;
    }
    for _ in 0..MAX_ATTEMPTS {
        let mut next: AccountDoc = current.value.clone();
        next.password_hash = hashed.clone();
        next.updated_at = cx.now;
        if cx.put(&key, &next, Some(current.version)).await?.is_some() {
            if hashed.is_none() {
                record().await?;
            }
            let m = cx
                .doc::<crate::docs::MembershipDoc>(&crate::docs::membership_key(&next.tenant, &next.principal))
                .await?;
            return Ok(crate::accounts::account_record(&next, m.as_ref().map(|m| &m.value), &next.tenant));
        }
        current = crate::authz::admin::account(cx, &a.principal).await?;
    }
    Err(crate::authz::admin::conflict(&format!("account `{}`", a.principal)))
}

/// Signs in with a password (R-10..R-13, R-51): the password is checked after the account
/// lookup even when there is no such account or no password, against a decoy hash of the same
/// cost, so the answer and its timing never tell these apart.
pub(crate) async fn authenticate_password(cx: &Cx, a: AuthenticatePassword) -> Result<Identity> {
    let account = if crate::validate::principal_text(&a.principal).is_ok() {
        cx.doc::<AccountDoc>(&account_key(&a.principal.to_lowercase())).await?.map(|d| d.value).filter(|d| d.live())
    } else {
        None
    };
    let phc = account.as_ref().and_then(|acc| acc.password_hash.as_ref()).map(|h| h.0.as_str());
    let secret_ok = hash::verify(a.password.expose(), phc);
    let d = details([("channel", Value::String(a.channel.as_str().to_owned()))]);
    let emit = |acc: Option<&AccountDoc>, reason: Option<&str>| {
        cx.emit(AuditEvent {
            time: cx.now,
            tenant: acc.map(|acc| acc.tenant.clone()),
            actor: acc.map(ActorRef::of),
            action: "auth.authenticate".into(),
            target: acc.map_or_else(|| a.principal.clone(), |acc| acc.principal.clone()),
            outcome: if reason.is_none() { "ok" } else { "denied" }.into(),
            reason: reason.map(str::to_owned),
            details: d.clone(),
        })
    };
    let Some(account) = account.filter(|_| secret_ok) else {
        emit(None, Some("invalid_credentials"));
        return Err(Error::InvalidCredentials);
    };
    if let Some(error) = login_error(&account.head(), a.channel) {
        emit(Some(&account), Some(error.code()));
        return Err(error);
    }
    emit(Some(&account), None);
    Ok(identity_of(&account.head(), None, a.channel))
}
