//! The data plane (SPEC §3, R-44, R-45): `authenticate`, `verify`, `authorize`,
//! `effective_permissions`. The hot path: at most two rounds of reads and no write but the
//! throttled last-use stamp; decisions come from compiled rights (DESIGN.md).

use serde_json::Value;

use crate::audit::{details, ActorRef, AuditEvent};
use crate::authz::pattern::{check_requested_resource, parse_requested_permission, Scope};
use crate::call::{Authenticate, Authorize, EffectivePermissions, Subject, Verify};
use std::sync::Arc;

use crate::authz::admin::token_refusal;
use crate::authz::compiled::Rights;
use crate::docs::{account_key, membership_key, tenant_key, token_key, AccountHead, TokenDoc};
use crate::error::{Error, Result};
use crate::op::{to_json, Cx, Doc};
use crate::records::{AccountKind, Channel, Decision, EffectiveGrant, Identity, Matched, Status};
use crate::store::Versioned;
use crate::tokens::format;
use crate::validate;

/// Last use is stamped at most once per this many ms per token.
pub const LAST_USE_RESOLUTION_MS: i64 = 60_000;

/// A token whose secret verified, with the records read for it.
struct Checked {
    token: Doc<Arc<TokenDoc>>,
    account: Arc<AccountHead>,
    /// The tenant asked about and the account's membership there, as read: the compiled-rights
    /// cache parses them only when they changed.
    access: Access,
}

/// The stored documents that give an account rights in one tenant.
struct Access {
    tenant: String,
    tenant_doc: Option<Versioned>,
    membership_key: String,
    membership: Option<Versioned>,
}

/// Why a credential failed, and whose it was once the secret verified (for the event).
struct Failed {
    error: Error,
    account: Option<Arc<AccountHead>>,
}

fn fail(error: Error) -> Failed {
    Failed { error, account: None }
}

/// A token document as read, parsed once per version and text ([`crate::parsed`]).
fn token_doc(cx: &Cx, key: &str, v: Option<Versioned>) -> Result<Option<Doc<Arc<TokenDoc>>>> {
    v.map(|v| Ok(Doc { value: cx.engine.tokens().get(key, &v)?, version: v.version })).transpose()
}

/// An account's head as read, parsed once per version and text.
fn account_head(cx: &Cx, key: &str, v: Option<Versioned>) -> Result<Option<Arc<AccountHead>>> {
    v.map(|v| cx.engine.accounts().get(key, &v)).transpose()
}

/// Checks a presented token in the order of R-12..R-13 and: the secret first
/// (every failure before it is `invalid_credentials`), then revoked, expired, account status,
/// channel. Reads the token, then account (and the tenant asked about) in one more round.
async fn check_token(
    cx: &Cx,
    token: Option<&format::Parsed<'_>>,
    channel: Channel,
    tenant: Option<&str>,
) -> Result<std::result::Result<Checked, Failed>> {
    let options = &cx.engine.options;
    let Some(parsed) = token else {
        return Ok(Err(fail(Error::InvalidCredentials)));
    };
    let computed = format::digest_secret(parsed.secret, options.pepper.as_deref());
    let t_key = token_key(parsed.id);
    let raw = cx.get_many_recent(std::slice::from_ref(&t_key)).await?.into_iter().next().flatten();
    let stored = token_doc(cx, &t_key, raw)?;
    // Compare even when the id is unknown, so timing does not tell the two apart.
    let reference = stored.as_ref().map_or("", |t| t.value.hash.0.as_str());
    let secret_ok = format::digest_matches(&computed, reference);
    let Some(token) = stored.filter(|_| secret_ok) else {
        return Ok(Err(fail(Error::InvalidCredentials)));
    };
    // A token being created is no token yet, unless it is a rotation's successor whose
    // rotation committed: the old token, read with the account, says so.
    let predecessor = match &token.value.pending {
        None => None,
        Some(p) => match &p.rotation_of {
            Some(old) => Some(token_key(old)),
            None => return Ok(Err(fail(Error::InvalidCredentials))),
        },
    };
    let principal = token.value.principal.clone();
    let a_key = account_key(&principal);
    let tenant = tenant.unwrap_or_default();
    let mut keys = vec![a_key.clone()];
    if !tenant.is_empty() {
        keys.push(tenant_key(tenant));
        keys.push(membership_key(tenant, &principal));
    }
    let m_key = keys.last().cloned().unwrap_or_default();
    keys.extend(predecessor.clone());
    let mut raw = cx.get_many_recent(&keys).await?.into_iter();
    let account = account_head(cx, &a_key, raw.next().flatten())?;
    let (tenant_doc, membership) = match tenant.is_empty() {
        true => (None, None),
        false => (raw.next().flatten(), raw.next().flatten()),
    };
    let access = Access { tenant: tenant.to_owned(), tenant_doc, membership_key: m_key, membership };
    if let Some(old_key) = &predecessor {
        let old = token_doc(cx, old_key, raw.next().flatten())?;
        if !token.value.committed(old.as_ref().map(|d| &*d.value)) {
            return Ok(Err(fail(Error::InvalidCredentials)));
        }
    }
    // A token whose account is gone, or re-created under its name, is nobody's.
    let Some(account) = account.filter(|a| a.uid == token.value.uid && !a.deleting && !a.creating) else {
        return Ok(Err(fail(Error::InvalidCredentials)));
    };
    let t = &token.value;
    let error = if t.revoked_at.is_some() {
        Some(Error::TokenRevoked)
    } else if t.expires_at.is_some_and(|at| cx.now >= at) {
        Some(Error::TokenExpired)
    } else {
        login_error(&account, channel)
    };
    if let Some(error) = error {
        return Ok(Err(Failed { error, account: Some(account) }));
    }
    Ok(Ok(Checked { token, account, access }))
}

/// Once a secret verified: the account's status, then the channel.
pub(crate) fn login_error(account: &AccountHead, channel: Channel) -> Option<Error> {
    status_error(account.status).or_else(|| channel_error(account.kind, channel))
}

fn status_error(status: Status) -> Option<Error> {
    match status {
        Status::Active => None,
        Status::Disabled => Some(Error::AccountDisabled),
        Status::Revoked => Some(Error::AccountRevoked),
    }
}

/// Service accounts sign in on `api` only.
fn channel_error(kind: AccountKind, channel: Channel) -> Option<Error> {
    (kind == AccountKind::Service && channel != Channel::Api).then_some(Error::ChannelNotAllowed)
}

/// never for service accounts; for users with `mfa`, on `ui` and `oidc`.
pub(crate) fn requires_second_factor(account: &AccountHead, channel: Channel) -> bool {
    account.kind == AccountKind::User && account.mfa && channel != Channel::Api
}

/// Stamps `last_used_at` at most once a minute; any failure is ignored.
async fn stamp_last_use(cx: &Cx, token: &Doc<Arc<TokenDoc>>) {
    let due = token.value.last_used_at.is_none_or(|at| cx.now.saturating_sub(at) >= LAST_USE_RESOLUTION_MS);
    if !due {
        return;
    }
    let mut next = TokenDoc::clone(&token.value);
    next.last_used_at = Some(cx.now);
    let Ok(value) = to_json(&next) else { return };
    // A lost race or a failing store leaves the stamp for the next use; the decision stands.
    cx.stamp(token_key(&next.token_id), value, token.version).await;
}

pub(crate) fn identity_of(account: &AccountHead, token: Option<&TokenDoc>, channel: Channel) -> Identity {
    Identity {
        principal: account.principal.clone(),
        kind: account.kind,
        tenant: account.tenant.clone(),
        uid: account.uid.clone(),
        token_id: token.map(|t| t.token_id.clone()),
        status: account.status,
        scopes: token.and_then(|t| t.scopes.clone()),
        requires_second_factor: requires_second_factor(account, channel),
    }
}

/// An event's target for a presented token: its id when it parses (never its secret).
fn token_target(token: Option<&format::Parsed<'_>>) -> String {
    format!("token:{}", token.map_or("", |p| p.id))
}

/// Hands a data-plane decision to the audit callback only; builds nothing when no one
/// takes events.
fn emit(
    cx: &Cx,
    tenant: Option<&str>,
    actor: Option<&AccountHead>,
    action: &str,
    target: impl FnOnce() -> String,
    reason: Option<&str>,
    d: impl FnOnce() -> serde_json::Map<String, Value>,
) {
    if !cx.wants_events() {
        return;
    }
    let (target, d) = (target(), d());
    cx.emit(AuditEvent {
        time: cx.now,
        tenant: tenant.map(str::to_owned),
        actor: actor.map(ActorRef::of_head),
        action: action.to_owned(),
        target,
        outcome: if reason.is_none() { "ok" } else { "denied" }.to_owned(),
        reason: reason.map(str::to_owned),
        details: d,
    });
}

/// Verifies a token and returns its identity; any failure is raised (R-10..R-13).
pub(crate) async fn authenticate(cx: &Cx, a: Authenticate) -> Result<Identity> {
    let parsed = format::parse(a.token.expose(), &cx.engine.options.token_prefix).ok();
    let target = || token_target(parsed.as_ref());
    let d = || details([("channel", Value::String(a.channel.as_str().to_owned()))]);
    match check_token(cx, parsed.as_ref(), a.channel, None).await? {
        Err(failed) => {
            let owner = failed.account.as_ref().map(|acc| acc.tenant.as_str());
            emit(cx, owner, failed.account.as_deref(), "auth.authenticate", target, Some(failed.error.code()), d);
            Err(failed.error)
        }
        Ok(checked) => {
            stamp_last_use(cx, &checked.token).await;
            emit(cx, Some(&checked.account.tenant), Some(&checked.account), "auth.authenticate", target, None, d);
            Ok(identity_of(&checked.account, Some(&checked.token.value), a.channel))
        }
    }
}

/// What a request asks for, checked before any store access.
struct Asked<'a> {
    kind: &'a str,
    action: &'a str,
    resource: &'a str,
}

fn asked<'a>(tenant: &str, permission: &'a str, resource: &'a str) -> Result<Asked<'a>> {
    validate::tenant_id(tenant)?;
    let (kind, action) = parse_requested_permission(permission)?;
    check_requested_resource(resource)?;
    Ok(Asked { kind, action, resource })
}

fn denied(reason: &Error, principal: Option<&str>) -> Decision {
    Decision {
        allowed: false,
        reason: reason.code().to_owned(),
        principal: principal.map(str::to_owned),
        matched: None,
    }
}

/// Decides for an active account in a tenant: its rights there intersected with the
/// token's scopes, explained.
/// An active account's rights in the tenant of `access`; `None` without access there (no
/// tenant, no membership, or one left by a deleted namesake, R-06).
fn rights_in(cx: &Cx, account: &AccountHead, access: &Access) -> Result<Option<Arc<Rights>>> {
    let (Some(t), Some(m)) = (&access.tenant_doc, &access.membership) else {
        return Ok(None);
    };
    let member = cx.engine.cache().member_rights(&access.tenant, t, &access.membership_key, m)?;
    Ok((member.uid == account.uid).then_some(member.rights))
}

fn decide(
    cx: &Cx,
    account: &AccountHead,
    access: &Access,
    scopes: Option<&[Scope]>,
    q: &Asked<'_>,
) -> Result<Decision> {
    let tenant_id = access.tenant.as_str();
    let forbidden = || Decision {
        allowed: false,
        reason: "forbidden".into(),
        principal: Some(account.principal.clone()),
        matched: None,
    };
    let Some(rights) = rights_in(cx, account, access)? else {
        return Ok(forbidden());
    };
    let Some((grant, source)) = rights.check(q.kind, q.action, q.resource) else {
        return Ok(forbidden());
    };
    if let Some(scopes) = scopes {
        let in_scope = scopes.iter().any(|s| {
            s.tenant.as_deref().is_none_or(|st| st == tenant_id) && s.grant.matches(q.kind, q.action, q.resource)
        });
        if !in_scope {
            return Ok(forbidden());
        }
    }
    Ok(Decision {
        allowed: true,
        reason: "allowed".into(),
        principal: Some(account.principal.clone()),
        matched: Some(Matched {
            permission: grant.permission.to_string(),
            resource: grant.resource.to_string(),
            source: source.to_owned(),
        }),
    })
}

fn decision_details(q: &Asked<'_>, channel: Option<Channel>) -> serde_json::Map<String, Value> {
    let mut d = details([
        ("permission", Value::String(format!("{}:{}", q.kind, q.action))),
        ("resource", Value::String(q.resource.to_owned())),
    ]);
    if let Some(c) = channel {
        d.insert("channel".into(), Value::String(c.as_str().to_owned()));
    }
    d
}

/// Verifies a token and decides in one call. Credential failures are data in the decision;
/// only bad arguments and store failures raise.
pub(crate) async fn verify(cx: &Cx, a: Verify) -> Result<Decision> {
    let q = asked(&a.tenant, &a.permission, &a.resource)?;
    let parsed = format::parse(a.token.expose(), &cx.engine.options.token_prefix).ok();
    let target = || token_target(parsed.as_ref());
    let d = || decision_details(&q, Some(a.channel));
    match check_token(cx, parsed.as_ref(), a.channel, Some(&a.tenant)).await? {
        Err(failed) => {
            let principal = failed.account.as_ref().map(|acc| acc.principal.as_str());
            emit(cx, Some(&a.tenant), failed.account.as_deref(), "auth.verify", target, Some(failed.error.code()), d);
            Ok(denied(&failed.error, principal))
        }
        Ok(checked) => {
            let decision = decide(cx, &checked.account, &checked.access, checked.token.value.scopes.as_deref(), &q)?;
            stamp_last_use(cx, &checked.token).await;
            let reason = (!decision.allowed).then_some(decision.reason.as_str());
            emit(cx, Some(&a.tenant), Some(&checked.account), "auth.verify", target, reason, d);
            Ok(decision)
        }
    }
}

/// What `authorize` and `effective_permissions` read about their subject, in one round.
struct Loaded {
    account: Arc<AccountHead>,
    access: Access,
    /// The scopes that bind: a token's as stored, or an identity's own when it has no token.
    scopes: Option<Vec<Scope>>,
    /// Why an identity acts for nobody: its token is gone, another uid's, revoked or expired
    ///
    refused: Option<Error>,
}

/// Where a read round may be answered from.
#[derive(Clone, Copy)]
enum Reads {
    /// The staleness window when it holds every key (R-16: `authorize`).
    MayBeRecent,
    /// The store (everything else).
    Store,
}

/// The subject's account and its access to the tenant — and, for an identity made by a token,
/// that token — in one round. `None` for an unknown principal, or an identity whose
/// account was deleted (and perhaps re-created).
async fn load_subject(cx: &Cx, subject: &Subject, tenant: &str, reads: Reads) -> Result<Option<Loaded>> {
    let (principal, identity) = match subject {
        Subject::Principal(p) => (p.as_str(), None),
        Subject::Identity(i) => (i.principal.as_str(), Some(i)),
    };
    validate::principal_text(principal)?;
    let token_id = identity.and_then(|i| i.token_id.as_deref());
    // A token id that could never be one is a token that is gone: no key is built from it.
    let token_key = token_id.filter(|id| format::is_token_id(id)).map(token_key);
    let [a_key, t_key, m_key] = [account_key(principal), tenant_key(tenant), membership_key(tenant, principal)];
    let mut keys = vec![a_key.clone(), t_key, m_key.clone()];
    keys.extend(token_key.clone());
    let answers = match reads {
        Reads::MayBeRecent => cx.get_many_recent(&keys).await?,
        Reads::Store => cx.get_many(&keys).await?,
    };
    let mut raw = answers.into_iter();
    let account = account_head(cx, &a_key, raw.next().flatten())?;
    let access = Access {
        tenant: tenant.to_owned(),
        tenant_doc: raw.next().flatten(),
        membership_key: m_key,
        membership: raw.next().flatten(),
    };
    let token = match &token_key {
        Some(key) => token_doc(cx, key, raw.next().flatten())?.map(|d| d.value),
        None => None,
    };
    let uid = identity.and_then(|i| i.uid.as_deref());
    let Some(account) = account.filter(|a| !a.deleting && !a.creating && uid.is_none_or(|u| u == a.uid)) else {
        return Ok(None);
    };
    let (scopes, refused) = match (identity, token_id) {
        (None, _) => (None, None),
        (Some(i), None) => (i.scopes.clone(), None),
        (Some(_), Some(id)) => match token_refusal(&account.uid, id, token.as_deref(), cx.now) {
            Some(error) => (None, Some(error)),
            None => (token.and_then(|t| t.scopes.clone()), None),
        },
    };
    Ok(Some(Loaded { account, access, scopes, refused }))
}

/// Decides a permission for an identity or principal in a tenant. An identity's
/// token is checked again in the same read round: its failure is the decision's reason.
pub(crate) async fn authorize(cx: &Cx, a: Authorize) -> Result<Decision> {
    let q = asked(&a.tenant, &a.permission, &a.resource)?;
    let d = || decision_details(&q, None);
    let Some(loaded) = load_subject(cx, &a.identity_or_principal, &a.tenant, Reads::MayBeRecent).await? else {
        let target = || a.identity_or_principal.principal().to_owned();
        emit(cx, Some(&a.tenant), None, "auth.authorize", target, Some("not_found"), d);
        return Ok(denied(&Error::not_found(""), None));
    };
    let account = &loaded.account;
    let decision = match loaded.refused.clone().or_else(|| status_error(account.status)) {
        Some(e) => denied(&e, Some(&account.principal)),
        None => decide(cx, account, &loaded.access, loaded.scopes.as_deref(), &q)?,
    };
    let reason = (!decision.allowed).then_some(decision.reason.as_str());
    emit(cx, Some(&a.tenant), Some(account), "auth.authorize", || account.principal.clone(), reason, d);
    Ok(decision)
}

/// What the subject may do in the tenant, with sources, in explanation order; a token's scopes
/// narrow each grant to its intersection with them. An inactive account, or one without
/// access to the tenant, may do nothing: `[]`. An unknown principal is `not_found`.
pub(crate) async fn effective_permissions(cx: &Cx, a: EffectivePermissions) -> Result<Vec<EffectiveGrant>> {
    validate::tenant_id(&a.tenant)?;
    let Some(Loaded { account, access, scopes, refused }) =
        load_subject(cx, &a.identity_or_principal, &a.tenant, Reads::Store).await?
    else {
        return Err(Error::not_found("account"));
    };
    // An identity whose token no longer holds may do nothing, and says why.
    if let Some(error) = refused {
        return Err(error);
    }
    if account.status != Status::Active {
        return Ok(Vec::new());
    }
    let Some(rights) = rights_in(cx, &account, &access)? else {
        return Ok(Vec::new());
    };
    let scopes: Option<Vec<&Scope>> =
        scopes.as_ref().map(|s| s.iter().filter(|s| s.tenant.as_deref().is_none_or(|st| st == a.tenant)).collect());
    let mut out: Vec<EffectiveGrant> = Vec::new();
    for (grant, source) in rights.entries() {
        let narrowed: Vec<_> = match &scopes {
            None => vec![grant.clone()],
            Some(scopes) => scopes.iter().filter_map(|s| grant.intersect(&s.grant)).collect(),
        };
        for g in narrowed {
            let line = Matched {
                permission: g.permission.to_string(),
                resource: g.resource.to_string(),
                source: source.to_owned(),
            };
            if !out.contains(&line) {
                out.push(line);
            }
        }
    }
    Ok(out)
}
