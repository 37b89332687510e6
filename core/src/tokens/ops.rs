//! `create_token`, `list_tokens`, `rename_token`, `revoke_token`, `rotate_token`
//! (R-21..R-27, R-52, R-53). All owner-only, except that a user manages its own
//! personal tokens.

use serde_json::Value;

use crate::audit::details;
use crate::authz::admin::{conflict, load_owner_scope, require_credential_reach, OwnerCheck, MAX_ATTEMPTS};
use crate::call::{CreateToken, ListTokens, RenameToken, RevokeToken, RotateToken};
use crate::docs::{account_key, token_key, AccountDoc, Hidden, TokenDoc, SCHEMA};
use crate::error::{Error, Result};
use crate::op::{Cx, Doc};
use crate::records::{Status, TokenCreated, TokenInfo};
use crate::tenancy::settings::{Settings, MAX_TTL_DAYS};
use crate::tokens::format;
use crate::validate;

const DAY_MS: i64 = 86_400_000;
/// Default rotation grace period.
pub const DEFAULT_GRACE_SECONDS: u64 = 86_400;

/// The R-53 record of a token.
pub(crate) fn token_info(doc: &TokenDoc) -> TokenInfo {
    TokenInfo {
        token_id: doc.token_id.clone(),
        name: doc.name.clone(),
        created_at: doc.created_at,
        created_by: doc.created_by.clone(),
        expires_at: doc.expires_at,
        last_used_at: doc.last_used_at,
        revoked_at: doc.revoked_at,
        scopes: doc.scopes.clone(),
    }
}

fn days_ms(days: u64) -> i64 {
    i64::try_from(days.min(MAX_TTL_DAYS)).unwrap_or(0) * DAY_MS
}

/// The expiry of a new token: the tenant's default clamped to its cap, or exactly one
/// of `ttl_days`, `expires_at`, `never_expires`.
pub(crate) fn expiry(
    settings: &Settings,
    now: i64,
    ttl_days: Option<u64>,
    expires_at: Option<i64>,
    never: bool,
) -> Result<Option<i64>> {
    let given = usize::from(ttl_days.is_some()) + usize::from(expires_at.is_some()) + usize::from(never);
    if given > 1 {
        let field = if never { "never_expires" } else { "expires_at" };
        return Err(Error::invalid(field, "give at most one of ttl_days, expires_at and never_expires"));
    }
    let cap = settings.max_token_ttl_days.map(|d| now.saturating_add(days_ms(d)));
    if never {
        if !settings.allow_non_expiring_tokens {
            return Err(Error::invalid("never_expires", "this tenant does not allow non-expiring tokens"));
        }
        // A cap means every token expires, whatever `allow_non_expiring_tokens` says.
        if settings.max_token_ttl_days.is_some() {
            return Err(Error::invalid("never_expires", "this tenant caps token lifetimes (max_token_ttl_days)"));
        }
        return Ok(None);
    }
    let at = match (ttl_days, expires_at) {
        (Some(0), _) => return Err(Error::invalid("ttl_days", "must be at least 1")),
        (Some(d), _) if d > MAX_TTL_DAYS => return Err(Error::invalid("ttl_days", format!("at most {MAX_TTL_DAYS}"))),
        (Some(d), _) => {
            let at = now.saturating_add(days_ms(d));
            if cap.is_some_and(|c| at > c) {
                return Err(Error::invalid("ttl_days", "longer than the tenant's max_token_ttl_days"));
            }
            at
        }
        (None, Some(at)) => {
            if at <= now {
                return Err(Error::invalid("expires_at", "must be in the future"));
            }
            if cap.is_some_and(|c| at > c) || at > now.saturating_add(days_ms(MAX_TTL_DAYS)) {
                return Err(Error::invalid("expires_at", "later than the tenant's max_token_ttl_days"));
            }
            at
        }
        (None, None) => {
            let at = now.saturating_add(days_ms(settings.default_token_ttl_days));
            cap.map_or(at, |c| at.min(c))
        }
    };
    Ok(Some(at))
}

fn is_live(doc: &TokenDoc, now: i64) -> bool {
    doc.revoked_at.is_none() && doc.expires_at.is_none_or(|at| now < at)
}

fn owner_check(action: &'static str, audit_action: &'static str, target: Option<String>) -> OwnerCheck<'static> {
    OwnerCheck {
        kind: "tokens",
        action,
        service_action: audit_action,
        user_action: audit_action,
        target,
        personal: true,
        tombstoned: false,
    }
}

fn refuse_revoked(acc: &AccountDoc) -> Result<()> {
    if acc.status == Status::Revoked {
        return Err(Error::precondition(format!("account `{}` is revoked: no new credentials", acc.principal)));
    }
    Ok(())
}

/// A fresh token for `acc`, not yet written.
fn mint(
    cx: &Cx,
    acc: &AccountDoc,
    created_by: &str,
    name: Option<String>,
    expires_at: Option<i64>,
    scopes: Option<Vec<crate::authz::pattern::Scope>>,
) -> (TokenDoc, String) {
    let options = &cx.engine.options;
    let id = format::base62(format::ID_LEN, |b| cx.random(b));
    let secret = format::base62(format::SECRET_LEN, |b| cx.random(b));
    let token = format::assemble(&options.token_prefix, &id, &secret);
    let doc = TokenDoc {
        schema: SCHEMA,
        token_id: id.clone(),
        uid: acc.uid.clone(),
        principal: acc.principal.clone(),
        tenant: acc.tenant.clone(),
        name: name.unwrap_or(id),
        hash: Hidden(format::hash_secret(&secret, options.pepper.as_deref())),
        created_at: cx.now,
        created_by: created_by.to_owned(),
        expires_at,
        last_used_at: None,
        revoked_at: None,
        scopes,
    };
    (doc, token)
}

/// Adds a token id to the account (pruning ids whose tokens are gone), then writes the token:
/// the record that grants, last. `cap` is checked against the live tokens read in the
/// same compare-and-set round, so concurrent calls cannot exceed it.
async fn store_new_token(cx: &Cx, principal: &str, token: &TokenDoc, cap: Option<u64>) -> Result<()> {
    let key = account_key(principal);
    for _ in 0..MAX_ATTEMPTS {
        let acc = crate::authz::admin::account(cx, principal).await?;
        if acc.value.uid != token.uid {
            return Err(Error::not_found(format!("account `{principal}`")));
        }
        let keys: Vec<String> = acc.value.tokens.iter().map(|id| token_key(id)).collect();
        let existing = cx.docs::<TokenDoc>(&keys).await?;
        if let Some(cap) = cap {
            let live = existing.iter().flatten().filter(|t| is_live(&t.value, cx.now)).count();
            if live as u64 >= cap {
                return Err(Error::quota(format!(
                    "`{principal}` holds {live} live tokens, the tenant's max_tokens_per_account"
                )));
            }
        }
        let mut next = acc.value.clone();
        next.tokens =
            acc.value.tokens.iter().zip(&existing).filter(|(_, t)| t.is_some()).map(|(id, _)| id.clone()).collect();
        next.tokens.push(token.token_id.clone());
        if cx.put(&key, &next, Some(acc.version)).await?.is_none() {
            continue;
        }
        if cx.put(&token_key(&token.token_id), token, None).await?.is_none() {
            return Err(conflict("token id"));
        }
        return Ok(());
    }
    Err(conflict(&format!("account `{principal}`")))
}

/// Issues a token (R-20..R-23, R-26); the plaintext is in the answer and nowhere else.
pub(crate) async fn create_token(cx: &Cx, a: CreateToken) -> Result<TokenCreated> {
    if let Some(name) = &a.name {
        validate::token_name(name)?;
    }
    for scope in a.scopes.iter().flatten() {
        if let Some(t) = &scope.tenant {
            validate::tenant_id(t)
                .map_err(|_| Error::invalid("scopes", format!("`{}` is not a tenant id", validate::clip(t))))?;
        }
    }
    let owner = load_owner_scope(cx, &a.actor, &a.principal, owner_check("write", "token.create", None)).await?;
    refuse_revoked(&owner.target.value)?;
    require_credential_reach(cx, &owner, a.scopes.as_deref(), &a.principal).await?;
    let settings = &owner.scope.tenant.value.settings;
    let expires_at = expiry(settings, cx.now, a.ttl_days, a.expires_at, a.never_expires)?;
    let (doc, token) = mint(cx, &owner.target.value, a.actor.principal(), a.name, expires_at, a.scopes);
    store_new_token(cx, &a.principal, &doc, Some(settings.max_tokens_per_account)).await?;
    let target = format!("token:{}", doc.token_id);
    let d = details([("principal", Value::String(a.principal.clone())), ("name", Value::String(doc.name.clone()))]);
    cx.record(&doc.tenant, owner.scope.actor.actor_ref(), "token.create", &target, Ok(()), d).await?;
    Ok(TokenCreated { info: token_info(&doc), token })
}

/// Every token of the account, revoked and expired included, oldest first.
pub(crate) async fn list_tokens(cx: &Cx, a: ListTokens) -> Result<Vec<TokenInfo>> {
    let owner = load_owner_scope(cx, &a.actor, &a.principal, owner_check("read", "", None)).await?;
    let acc = &owner.target.value;
    let keys: Vec<String> = acc.tokens.iter().map(|id| token_key(id)).collect();
    let mut infos: Vec<TokenInfo> = cx
        .docs::<TokenDoc>(&keys)
        .await?
        .into_iter()
        .flatten()
        .filter(|t| t.value.uid == acc.uid)
        .map(|t| token_info(&t.value))
        .collect();
    infos.sort_by(|x, y| (x.created_at, &x.token_id).cmp(&(y.created_at, &y.token_id)));
    Ok(infos)
}

/// Reads a token of the account; another account's token is `not_found`.
async fn token_of(cx: &Cx, acc: &AccountDoc, token_id: &str) -> Result<Doc<TokenDoc>> {
    let ok_id = token_id.len() == format::ID_LEN && token_id.bytes().all(|b| b.is_ascii_alphanumeric());
    if !ok_id {
        return Err(Error::invalid("token_id", "not a token id"));
    }
    match cx.doc::<TokenDoc>(&token_key(token_id)).await? {
        Some(doc) if doc.value.uid == acc.uid => Ok(doc),
        _ => Err(Error::not_found(format!("token `{token_id}` of `{}`", acc.principal))),
    }
}

/// Read-modify-write of one token with retry.
async fn change_token(
    cx: &Cx,
    acc: &AccountDoc,
    token_id: &str,
    mut change: impl FnMut(&mut TokenDoc) -> Result<bool>,
) -> Result<TokenDoc> {
    for _ in 0..MAX_ATTEMPTS {
        let current = token_of(cx, acc, token_id).await?;
        let mut next = current.value.clone();
        if !change(&mut next)? {
            return Ok(next);
        }
        if cx.put(&token_key(token_id), &next, Some(current.version)).await?.is_some() {
            return Ok(next);
        }
    }
    Err(conflict(&format!("token `{token_id}`")))
}

/// Renames a token.
pub(crate) async fn rename_token(cx: &Cx, a: RenameToken) -> Result<TokenInfo> {
    validate::token_name(&a.name)?;
    let target = format!("token:{}", a.token_id);
    let owner =
        load_owner_scope(cx, &a.actor, &a.principal, owner_check("write", "token.rename", Some(target.clone())))
            .await?;
    let doc = change_token(cx, &owner.target.value, &a.token_id, |t| {
        let changed = t.name != a.name;
        t.name = a.name.clone();
        Ok(changed)
    })
    .await?;
    let d = details([("name", Value::String(a.name.clone()))]);
    cx.record(&doc.tenant, owner.scope.actor.actor_ref(), "token.rename", &target, Ok(()), d).await?;
    Ok(token_info(&doc))
}

/// Revokes a token at once; revoking a revoked token changes nothing.
pub(crate) async fn revoke_token(cx: &Cx, a: RevokeToken) -> Result<TokenInfo> {
    let target = format!("token:{}", a.token_id);
    let owner =
        load_owner_scope(cx, &a.actor, &a.principal, owner_check("write", "token.revoke", Some(target.clone())))
            .await?;
    let now = cx.now;
    let doc = change_token(cx, &owner.target.value, &a.token_id, |t| {
        if t.revoked_at.is_some() {
            return Ok(false);
        }
        t.revoked_at = Some(now);
        Ok(true)
    })
    .await?;
    cx.record(&doc.tenant, owner.scope.actor.actor_ref(), "token.revoke", &target, Ok(()), Default::default()).await?;
    Ok(token_info(&doc))
}

/// Rotation: a new token with the old one's name, scopes and lifetime length (clamped
/// to the tenant's cap), exempt from the token cap; then the old one is set to expire after
/// the grace period, never later than it would have anyway. The new token is written before
/// the old one is shortened, so an interrupted rotation never locks a client out.
pub(crate) async fn rotate_token(cx: &Cx, a: RotateToken) -> Result<TokenCreated> {
    let grace = a.grace_seconds.unwrap_or(DEFAULT_GRACE_SECONDS);
    if grace > MAX_TTL_DAYS * 86_400 {
        return Err(Error::invalid("grace_seconds", format!("at most {MAX_TTL_DAYS} days")));
    }
    let old_target = format!("token:{}", a.token_id);
    let owner =
        load_owner_scope(cx, &a.actor, &a.principal, owner_check("write", "token.rotate", Some(old_target.clone())))
            .await?;
    let acc = owner.target.value.clone();
    refuse_revoked(&acc)?;
    let old = token_of(cx, &acc, &a.token_id).await?;
    if old.value.revoked_at.is_some() {
        return Err(Error::precondition(format!("token `{}` is revoked", a.token_id)));
    }
    if !is_live(&old.value, cx.now) {
        return Err(Error::precondition(format!("token `{}` has expired", a.token_id)));
    }
    require_credential_reach(cx, &owner, old.value.scopes.as_deref(), &old_target).await?;
    let settings = &owner.scope.tenant.value.settings;
    let cap = settings.max_token_ttl_days.map(|d| cx.now.saturating_add(days_ms(d)));
    let expires_at = match old.value.expires_at {
        Some(at) => Some(cx.now.saturating_add(at.saturating_sub(old.value.created_at).max(0))),
        None if settings.allow_non_expiring_tokens => None,
        None => Some(cx.now.saturating_add(days_ms(settings.default_token_ttl_days))),
    };
    let expires_at = match (expires_at, cap) {
        (Some(at), Some(c)) => Some(at.min(c)),
        (None, Some(c)) => Some(c),
        (at, None) => at,
    };
    let (doc, token) =
        mint(cx, &acc, a.actor.principal(), Some(old.value.name.clone()), expires_at, old.value.scopes.clone());
    store_new_token(cx, &a.principal, &doc, None).await?;
    // The event goes before the old token is shortened: a failure after this point leaves
    // the old token working, so the rotation can simply be run again.
    let target = format!("token:{}", doc.token_id);
    let d = details([("replaces", Value::String(old_target)), ("grace_seconds", Value::from(grace))]);
    cx.record(&doc.tenant, owner.scope.actor.actor_ref(), "token.rotate", &target, Ok(()), d).await?;
    let grace_end = cx.now.saturating_add(i64::try_from(grace).unwrap_or(0).saturating_mul(1000));
    change_token(cx, &acc, &a.token_id, |t| {
        let at = t.expires_at.map_or(grace_end, |at| at.min(grace_end));
        let changed = t.expires_at != Some(at);
        t.expires_at = Some(at);
        Ok(changed)
    })
    .await?;
    Ok(TokenCreated { info: token_info(&doc), token })
}
