//! `create_token`, `list_tokens`, `rename_token`, `revoke_token`, `rotate_token`
//! (R-21..R-27, R-52, R-53). All owner-only, except that a user manages its own
//! personal tokens.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::audit::details;
use crate::authz::admin::{conflict, load_owner_scope, require_credential_reach, OwnerCheck, MAX_ATTEMPTS};
use crate::call::{CreateToken, ListTokens, RenameToken, RevokeToken, RotateToken};
use crate::docs::{account_key, token_key, AccountDoc, Hidden, Pending, RotationClaim, TokenDoc, SCHEMA};
use crate::error::{Error, Result};
use crate::op::{Cx, Doc};
use crate::records::{Status, TokenCreated, TokenInfo};
use crate::tenancy::settings::{Settings, MAX_TTL_DAYS};
use crate::tokens::format;
use crate::validate;

const DAY_MS: i64 = 86_400_000;
/// Default rotation grace period.
pub const DEFAULT_GRACE_SECONDS: u64 = 86_400;
/// How long (ms of host time) a token may stay pending before another call may clean it up: a
/// creating call that has not committed by then was interrupted.
pub const PENDING_TTL_MS: i64 = 60_000;

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

/// A fresh secret for token `id`: the stored hash and the plaintext token.
fn secret(cx: &Cx, id: &str) -> (Hidden, String) {
    let options = &cx.engine.options;
    let secret = zeroize::Zeroizing::new(format::base62(format::SECRET_LEN, |b| cx.random(b)));
    let token = format::assemble(&options.token_prefix, id, &secret);
    (Hidden(format::hash_secret(&secret, options.pepper.as_deref())), token)
}

/// A random id naming one call's hold on a pending token or a rotation claim.
fn attempt_id(cx: &Cx) -> String {
    format::base62(format::ID_LEN, |b| cx.random(b))
}

/// A fresh token for `acc`, not yet written, pending for this call (`attempt`) since now.
#[allow(clippy::too_many_arguments)]
fn mint(
    cx: &Cx,
    acc: &AccountDoc,
    created_by: &str,
    id: Option<String>,
    name: Option<String>,
    expires_at: Option<i64>,
    scopes: Option<Vec<crate::authz::pattern::Scope>>,
    pending: Pending,
) -> (TokenDoc, String) {
    let id = id.unwrap_or_else(|| format::base62(format::ID_LEN, |b| cx.random(b)));
    let (hash, token) = secret(cx, &id);
    let doc = TokenDoc {
        schema: SCHEMA,
        token_id: id.clone(),
        uid: acc.uid.clone(),
        principal: acc.principal.clone(),
        tenant: acc.tenant.clone(),
        name: name.unwrap_or(id),
        hash,
        created_at: cx.now,
        created_by: created_by.to_owned(),
        expires_at,
        last_used_at: None,
        revoked_at: None,
        scopes,
        pending: Some(pending),
        rotation: None,
        rotated_to: None,
    };
    (doc, token)
}

/// Token documents by id, read in one round; missing ones are left out.
type Tokens = BTreeMap<String, Doc<TokenDoc>>;

async fn read_tokens(cx: &Cx, ids: &[String]) -> Result<Tokens> {
    let keys: Vec<String> = ids.iter().map(|id| token_key(id)).collect();
    let docs = cx.docs::<TokenDoc>(&keys).await?;
    Ok(ids.iter().cloned().zip(docs).filter_map(|(id, doc)| doc.map(|d| (id, d))).collect())
}

/// Whether `t` is a token at all (not a creation under way), judged with its account's tokens.
fn committed_in(t: &TokenDoc, all: &Tokens) -> bool {
    let old = t.pending.as_ref().and_then(|p| p.rotation_of.as_ref()).and_then(|id| all.get(id));
    t.committed(old.map(|d| &d.value))
}

/// Whether an uncommitted token was left by a call that had [`PENDING_TTL_MS`] to finish.
fn stale(t: &TokenDoc, now: i64) -> bool {
    t.pending.as_ref().is_some_and(|p| now.saturating_sub(p.since) >= PENDING_TTL_MS)
}

/// Lists a written, still pending token on its account. The token document is written first,
/// so a listed id always has its document and no racing call can prune a token being created;
/// ids whose document is gone, and uncommitted tokens older than [`PENDING_TTL_MS`], are
/// dropped (their documents deleted). `cap` counts live tokens plus young pending creations,
/// read in the same compare-and-set round, so racing creations never both take the last slot
/// . Listing an id already listed (a rerun) changes nothing.
async fn add_to_account(cx: &Cx, principal: &str, token: &TokenDoc, cap: Option<u64>) -> Result<()> {
    let key = account_key(principal);
    for _ in 0..MAX_ATTEMPTS {
        let acc = crate::authz::admin::account(cx, principal).await?;
        if acc.value.uid != token.uid {
            return Err(Error::not_found(format!("account `{principal}`")));
        }
        if acc.value.tokens.contains(&token.token_id) {
            return Ok(());
        }
        let docs = read_tokens(cx, &acc.value.tokens).await?;
        let (mut keep, mut dropped, mut taken) = (Vec::new(), Vec::new(), 0u64);
        for id in &acc.value.tokens {
            let Some(doc) = docs.get(id) else { continue };
            let t = &doc.value;
            if committed_in(t, &docs) {
                taken += u64::from(is_live(t, cx.now));
            } else if stale(t, cx.now) {
                dropped.push((id, doc.version));
                continue;
            } else if t.pending.as_ref().is_some_and(|p| p.rotation_of.is_none()) {
                // A creation under way may still take its slot; a rotation is exempt.
                taken += 1;
            }
            keep.push(id.clone());
        }
        if let Some(cap) = cap {
            if taken >= cap {
                return Err(Error::quota(format!(
                    "`{principal}` holds {taken} live tokens, the tenant's max_tokens_per_account"
                )));
            }
        }
        let mut next = acc.value.clone();
        next.tokens = keep;
        next.tokens.push(token.token_id.clone());
        if cx.put(&key, &next, Some(acc.version)).await?.is_none() {
            continue;
        }
        for (id, version) in dropped {
            cx.delete(&token_key(id), version).await?;
        }
        return Ok(());
    }
    Err(conflict(&format!("account `{principal}`")))
}

/// Makes a pending creation usable: the write that grants, after its event. `None` when
/// another call took the token over ([`resume_creation`]).
async fn commit_creation(cx: &Cx, doc: &TokenDoc, mut version: u64) -> Result<Option<TokenDoc>> {
    let key = token_key(&doc.token_id);
    let attempt = doc.pending.as_ref().map(|p| p.attempt.clone());
    let mut next = doc.clone();
    next.pending = None;
    for _ in 0..MAX_ATTEMPTS {
        if cx.put(&key, &next, Some(version)).await?.is_some() {
            return Ok(Some(next));
        }
        match cx.doc::<TokenDoc>(&key).await? {
            Some(current) if current.value.pending.as_ref().map(|p| p.attempt.clone()) == attempt => {
                version = current.version;
                next = current.value;
                next.pending = None;
            }
            Some(_) => return Ok(None),
            None => {
                // Deleted with its account, or cleaned up after PENDING_TTL_MS.
                crate::authz::admin::account(cx, &doc.principal).await?;
                return Err(conflict(&format!("token `{}`", doc.token_id)));
            }
        }
    }
    Err(conflict(&format!("token `{}`", doc.token_id)))
}

/// A rerun of a `create_token` interrupted after its event was stored finishes that token
/// rather than issuing another, so the log holds one event per token. The token must be
/// a young pending creation of the same account by the same actor, with the same name, scopes
/// and lifetime, whose event is in the log. It gets a new secret (the interrupted call never
/// answered its own) and a new attempt id, so the first call, were it still running, could not
/// commit it: it would issue another token instead.
async fn resume_creation(
    cx: &Cx,
    acc: &AccountDoc,
    a: &CreateToken,
    expires_at: Option<i64>,
) -> Result<Option<TokenCreated>> {
    let docs = read_tokens(cx, &acc.tokens).await?;
    let lifetime = expires_at.map(|at| at.saturating_sub(cx.now));
    for (id, doc) in &docs {
        let t = &doc.value;
        let Some(p) = t.pending.as_ref().filter(|p| p.rotation_of.is_none()) else { continue };
        let same = !stale(t, cx.now)
            && t.uid == acc.uid
            && t.created_by == a.actor.principal()
            && t.name == a.name.as_deref().unwrap_or(id)
            && t.scopes == a.scopes
            && (t.expires_at == expires_at || t.expires_at.map(|at| at.saturating_sub(t.created_at)) == lifetime);
        if !same || !cx.event_stored(&t.tenant, p.since, "token.create", &format!("token:{id}")).await? {
            continue;
        }
        let (hash, token) = secret(cx, id);
        let mut next = t.clone();
        next.hash = hash;
        next.created_at = cx.now;
        next.expires_at = expires_at;
        next.pending = Some(Pending { since: p.since, attempt: attempt_id(cx), rotation_of: None, seq: 0 });
        let Some(version) = cx.put(&token_key(id), &next, Some(doc.version)).await? else { continue };
        if let Some(active) = commit_creation(cx, &next, version).await? {
            return Ok(Some(TokenCreated { info: token_info(&active), token }));
        }
    }
    Ok(None)
}

/// Issues a token (R-20..R-23, R-26); the plaintext is in the answer and nowhere else.
///
/// Writes, in order: the token, pending (unusable, unlisted); its id on the account,
/// under the cap; the event; then the token made usable. A call interrupted before the last
/// write leaves nothing usable; run again, it finishes the same token if its event was stored
/// ([`resume_creation`]), or issues another.
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
    let acc = &owner.target.value;
    if let Some(resumed) = resume_creation(cx, acc, &a, expires_at).await? {
        return Ok(resumed);
    }
    for _ in 0..MAX_ATTEMPTS {
        let pending = Pending { since: cx.now, attempt: attempt_id(cx), rotation_of: None, seq: 0 };
        let (doc, token) =
            mint(cx, acc, a.actor.principal(), None, a.name.clone(), expires_at, a.scopes.clone(), pending);
        let key = token_key(&doc.token_id);
        let Some(version) = cx.put(&key, &doc, None).await? else {
            continue; // the id is taken (or the write was lost): draw another
        };
        if let Err(e) = add_to_account(cx, &a.principal, &doc, Some(settings.max_tokens_per_account)).await {
            // Nothing refers to it; left behind, it is unlisted and never usable.
            let _ = cx.delete(&key, version).await;
            return Err(e);
        }
        let target = format!("token:{}", doc.token_id);
        let d = details([("principal", Value::String(a.principal.clone())), ("name", Value::String(doc.name.clone()))]);
        cx.record(&doc.tenant, owner.scope.actor.actor_ref(), "token.create", &target, Ok(()), d).await?;
        if let Some(active) = commit_creation(cx, &doc, version).await? {
            return Ok(TokenCreated { info: token_info(&active), token });
        }
        // A rerun of the same request took this token over: issue another.
    }
    Err(conflict(&format!("account `{}`", a.principal)))
}

/// Every token of the account, revoked and expired included, oldest first;
/// creations under way are not tokens yet.
pub(crate) async fn list_tokens(cx: &Cx, a: ListTokens) -> Result<Vec<TokenInfo>> {
    let owner = load_owner_scope(cx, &a.actor, &a.principal, owner_check("read", "", None)).await?;
    let acc = &owner.target.value;
    let docs = read_tokens(cx, &acc.tokens).await?;
    let mut infos: Vec<TokenInfo> = docs
        .values()
        .filter(|t| t.value.uid == acc.uid && committed_in(&t.value, &docs))
        .map(|t| token_info(&t.value))
        .collect();
    infos.sort_by(|x, y| (x.created_at, &x.token_id).cmp(&(y.created_at, &y.token_id)));
    Ok(infos)
}

/// Reads a token of the account; another account's token, or a creation under way, is
/// `not_found`.
async fn token_of(cx: &Cx, acc: &AccountDoc, token_id: &str) -> Result<Doc<TokenDoc>> {
    let ok_id = token_id.len() == format::ID_LEN && token_id.bytes().all(|b| b.is_ascii_alphanumeric());
    if !ok_id {
        return Err(Error::invalid("token_id", "not a token id"));
    }
    let not_found = || Error::not_found(format!("token `{token_id}` of `{}`", acc.principal));
    let doc = match cx.doc::<TokenDoc>(&token_key(token_id)).await? {
        Some(doc) if doc.value.uid == acc.uid => doc,
        _ => return Err(not_found()),
    };
    let committed = match doc.value.pending.as_ref().and_then(|p| p.rotation_of.as_deref()) {
        None => doc.value.pending.is_none(),
        Some(old) => doc.value.committed(cx.doc::<TokenDoc>(&token_key(old)).await?.map(|d| d.value).as_ref()),
    };
    if committed {
        Ok(doc)
    } else {
        Err(not_found())
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

/// Revokes a token at once; revoking a revoked token changes nothing. It takes a
/// credential away, so the token is written first; the event follows, stamped with
/// `revoked_at`, and a rerun writes it if it is missing, never twice.
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
    let at = doc.revoked_at.unwrap_or(now);
    cx.record_once(at, &doc.tenant, owner.scope.actor.actor_ref(), "token.revoke", &target, Default::default()).await?;
    Ok(token_info(&doc))
}

/// The rotation preconditions on the old token.
fn rotatable(old: &TokenDoc, now: i64) -> Result<()> {
    let id = &old.token_id;
    if old.revoked_at.is_some() {
        return Err(Error::precondition(format!("token `{id}` is revoked")));
    }
    if old.rotated_to.is_some() {
        return Err(Error::precondition(format!("token `{id}` was already rotated")));
    }
    if !is_live(old, now) {
        return Err(Error::precondition(format!("token `{id}` has expired")));
    }
    Ok(())
}

/// Rotation: a new token with the old one's name, scopes and lifetime length (clamped
/// to the tenant's cap), exempt from the token cap; the old one is set to expire after the
/// grace period, never later than it would have anyway, and records its successor, so it is
/// rotated only once.
///
/// Writes, in order: a claim on the old token (it changes nothing the data plane
/// reads); the new token, pending; its id on the account; the event; then the commit, one
/// write of the old token that shortens it and names its successor: from that write on the
/// new token verifies (through the old one's `rotated_to`) and the old one may be rotated no
/// more. A last, best-effort write clears the new token's pending state. Interrupted before the
/// commit, the old token works as before, and a rerun takes the claim over: same new token
/// id, a new secret, the event written once. Racing rotations take the claim from each other;
/// a call that lost its claim fails with `failed_precondition`, so exactly one commits.
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
    rotatable(&old.value, cx.now)?;
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
    let (claim, claimed) = claim_rotation(cx, &acc, old).await?;
    let pending = Pending {
        since: claim.since,
        attempt: claim.attempt.clone(),
        rotation_of: Some(a.token_id.clone()),
        seq: claim.seq,
    };
    let name = Some(claimed.value.name.clone());
    let scopes = claimed.value.scopes.clone();
    let (doc, token) = mint(cx, &acc, a.actor.principal(), Some(claim.to.clone()), name, expires_at, scopes, pending);
    let new_version = write_successor(cx, &doc, &claim, &a.token_id).await?;
    add_to_account(cx, &a.principal, &doc, None).await?;
    let target = format!("token:{}", doc.token_id);
    let d = details([("replaces", Value::String(old_target)), ("grace_seconds", Value::from(grace))]);
    cx.record_once(claim.since, &doc.tenant, owner.scope.actor.actor_ref(), "token.rotate", &target, d).await?;
    let grace_end = cx.now.saturating_add(i64::try_from(grace).unwrap_or(0).saturating_mul(1000));
    let old_key = token_key(&a.token_id);
    let (mut old, mut version) = (claimed.value, claimed.version);
    for attempt in 0..=MAX_ATTEMPTS {
        if attempt == MAX_ATTEMPTS {
            return Err(conflict(&format!("token `{}`", a.token_id)));
        }
        if old.rotation.as_ref().map(|c| &c.attempt) != Some(&claim.attempt) {
            return Err(lost_claim(&a.token_id));
        }
        rotatable(&old, cx.now)?;
        let mut next = old.clone();
        next.expires_at = Some(next.expires_at.map_or(grace_end, |at| at.min(grace_end)));
        next.rotation = None;
        next.rotated_to = Some(doc.token_id.clone());
        if cx.put(&old_key, &next, Some(version)).await?.is_some() {
            break;
        }
        let fresh = token_of(cx, &acc, &a.token_id).await?;
        (old, version) = (fresh.value, fresh.version);
    }
    // Committed: the new token verifies through the old one. Clearing its pending state only
    // saves the data plane a read; a failure here changes nothing.
    let mut active = doc;
    active.pending = None;
    let _ = cx.put(&token_key(&active.token_id), &active, Some(new_version)).await;
    Ok(TokenCreated { info: token_info(&active), token })
}

fn lost_claim(token_id: &str) -> Error {
    Error::precondition(format!("token `{token_id}` was rotated by another call"))
}

/// Claims the rotation of `old` for this call: a fresh claim, or one left by an interrupted or
/// concurrent rotation taken over (same successor id and event time, next `seq`). Returns the
/// claim and the old token as written with it.
async fn claim_rotation(cx: &Cx, acc: &AccountDoc, mut old: Doc<TokenDoc>) -> Result<(RotationClaim, Doc<TokenDoc>)> {
    let attempt = attempt_id(cx);
    let fresh_to = format::base62(format::ID_LEN, |b| cx.random(b));
    for _ in 0..MAX_ATTEMPTS {
        rotatable(&old.value, cx.now)?;
        let claim = match &old.value.rotation {
            Some(c) => RotationClaim { to: c.to.clone(), attempt: attempt.clone(), since: c.since, seq: c.seq + 1 },
            None => RotationClaim { to: fresh_to.clone(), attempt: attempt.clone(), since: cx.now, seq: 1 },
        };
        let mut next = old.value.clone();
        next.rotation = Some(claim.clone());
        if let Some(version) = cx.put(&token_key(&next.token_id), &next, Some(old.version)).await? {
            return Ok((claim, Doc { value: next, version }));
        }
        old = token_of(cx, acc, &old.value.token_id).await?;
    }
    Err(conflict(&format!("token `{}`", old.value.token_id)))
}

/// Writes a rotation's successor, pending. One left by an earlier holder of the claim is
/// replaced; one written under a newer claim means this call lost the claim.
async fn write_successor(cx: &Cx, doc: &TokenDoc, claim: &RotationClaim, old_id: &str) -> Result<u64> {
    let key = token_key(&doc.token_id);
    for _ in 0..MAX_ATTEMPTS {
        let expected = match cx.doc::<TokenDoc>(&key).await? {
            None => None,
            Some(left) => match &left.value.pending {
                Some(p) if p.rotation_of.as_deref() == Some(old_id) && p.seq < claim.seq => Some(left.version),
                // Written under a newer claim, or already committed and made usable by it.
                _ => return Err(lost_claim(old_id)),
            },
        };
        if let Some(version) = cx.put(&key, doc, expected).await? {
            return Ok(version);
        }
    }
    Err(conflict(&format!("token `{}`", doc.token_id)))
}
