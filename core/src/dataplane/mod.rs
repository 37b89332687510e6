//! The data plane (SPEC §3, R-44, R-45): `authenticate`, `verify`, `authorize`,
//! `effective_permissions`. The hot path: at most two rounds of reads and no write but the
//! throttled last-use stamp; decisions come from compiled rights (DESIGN.md).
//!
//! `authenticate`, `verify` and `authorize` run as a hand-written step machine the caller owns
//! ([`machine`]): no boxed future, no lock of their own, events built only when someone takes
//! them. `effective_permissions` is read rarely and stays an `async fn` over [`Cx`], like the
//! admin operations. Both share the checks below, so a decision reads the same way whichever
//! path asks.

pub(crate) mod credentials;
pub(crate) mod machine;

use std::sync::Arc;

use serde_json::Value;

use crate::audit::{details, ActorRef, AuditEvent};
use crate::authz::admin::token_refusal;
use crate::authz::compiled::Rights;
use crate::authz::pattern::{check_requested_resource, parse_requested_permission, Scope};
use crate::call::{EffectivePermissions, Subject};
use crate::docs::{account_key, membership_key, tenant_key, token_key, AccountHead, TokenDoc};
use crate::engine::Inner;
use crate::error::{Error, Result};
use crate::op::{Cx, Doc};
use crate::records::{AccountKind, Channel, Decision, EffectiveGrant, Identity, Matched, Status};
use crate::store::Versioned;
use crate::tokens::format;
use crate::validate;

pub(crate) use machine::Plane;

/// A token document as read, parsed once per version and text ([`crate::parsed`]).
fn token_doc(engine: &Inner, key: &str, v: Option<Versioned>) -> Result<Option<Doc<Arc<TokenDoc>>>> {
    v.map(|v| Ok(Doc { value: engine.tokens().get(key, &v)?, version: v.version })).transpose()
}

/// An account's head as read, parsed once per version and text.
fn account_head(engine: &Inner, key: &str, v: Option<Versioned>) -> Result<Option<Arc<AccountHead>>> {
    v.map(|v| engine.accounts().get(key, &v)).transpose()
}

/// The stored documents that give an account rights in one tenant, with the tenant and the
/// membership's key they were read under (borrowed from the call and its keys).
struct Access<'a> {
    tenant: &'a str,
    membership_key: &'a str,
    tenant_doc: Option<Versioned>,
    membership: Option<Versioned>,
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

/// A data-plane decision's event for the host's audit callback only, sanitized as every
/// event is. Callers build it only when someone takes events.
fn decision_event(
    now: i64,
    tenant: Option<&str>,
    actor: Option<&AccountHead>,
    action: &'static str,
    target: String,
    reason: Option<&str>,
    details: serde_json::Map<String, Value>,
) -> AuditEvent {
    AuditEvent {
        time: now,
        tenant: tenant.map(str::to_owned),
        actor: actor.map(ActorRef::of_head),
        action: action.to_owned(),
        target,
        outcome: if reason.is_none() { "ok" } else { "denied" }.to_owned(),
        reason: reason.map(str::to_owned),
        details,
    }
    .sanitized()
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

impl<'a> Asked<'a> {
    /// A question [`asked`] checked already, split again rather than checked again: the
    /// machine cannot keep slices of the call it owns across steps.
    fn checked(permission: &'a str, resource: &'a str) -> Asked<'a> {
        let (kind, action) = permission.split_once(':').unwrap_or((permission, ""));
        Asked { kind, action, resource }
    }
}

fn denied(reason: &'static str, principal: Option<&str>) -> Decision {
    Decision { allowed: false, reason: reason.to_owned(), principal: principal.map(str::to_owned), matched: None }
}

/// An active account's rights in the tenant of `access`; `None` without access there (no
/// tenant, no membership, or one left by a deleted namesake, R-06).
fn rights_in(engine: &Inner, account: &AccountHead, access: &Access<'_>) -> Result<Option<Arc<Rights>>> {
    let (Some(t), Some(m)) = (&access.tenant_doc, &access.membership) else {
        return Ok(None);
    };
    let member = engine.cache().member_rights(access.tenant, t, access.membership_key, m)?;
    Ok((member.uid == account.uid).then_some(member.rights))
}

/// Decides for an active account in a tenant: its rights there intersected with the
/// token's scopes, explained.
fn decide(
    engine: &Inner,
    account: &AccountHead,
    access: &Access<'_>,
    scopes: Option<&[Scope]>,
    q: &Asked<'_>,
) -> Result<Decision> {
    let forbidden = || denied("forbidden", Some(&account.principal));
    let Some(rights) = rights_in(engine, account, access)? else {
        return Ok(forbidden());
    };
    let Some((grant, source)) = rights.check(q.kind, q.action, q.resource) else {
        return Ok(forbidden());
    };
    if let Some(scopes) = scopes {
        let in_scope = scopes.iter().any(|s| {
            s.tenant.as_deref().is_none_or(|st| st == access.tenant) && s.grant.matches(q.kind, q.action, q.resource)
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

/// The scopes that bind a subject.
enum Scopes<'s> {
    /// None: the account's full rights.
    All,
    /// An identity's own, when no token made it.
    Given(&'s [Scope]),
    /// Its token's, as stored.
    Token(Arc<TokenDoc>),
}

impl Scopes<'_> {
    fn get(&self) -> Option<&[Scope]> {
        match self {
            Scopes::All => None,
            Scopes::Given(s) => Some(s),
            Scopes::Token(t) => t.scopes.as_deref(),
        }
    }
}

/// What `authorize` and `effective_permissions` read about their subject, in one round.
struct Loaded<'a> {
    account: Arc<AccountHead>,
    access: Access<'a>,
    scopes: Scopes<'a>,
    /// Why an identity acts for nobody: its token is gone, another uid's, revoked or expired
    ///
    refused: Option<Error>,
}

/// The keys of the subject's round: its account, the tenant, its membership there — and, for
/// an identity made by a token, that token.
fn subject_keys(subject: &Subject, tenant: &str) -> Result<Vec<String>> {
    let principal = subject.principal();
    validate::principal_text(principal)?;
    let mut keys = vec![account_key(principal), tenant_key(tenant), membership_key(tenant, principal)];
    keys.extend(subject_token(subject).map(token_key));
    Ok(keys)
}

/// The token that made an identity, when it could be one: a token id that could never be one
/// is a token that is gone, and no key is built from it.
fn subject_token(subject: &Subject) -> Option<&str> {
    match subject {
        Subject::Identity(i) => i.token_id.as_deref().filter(|id| format::is_token_id(id)),
        Subject::Principal(_) => None,
    }
}

/// The subject as read with [`subject_keys`]. `None` for an unknown principal, or an identity
/// whose account was deleted (and perhaps re-created).
fn subject_read<'a>(
    engine: &Inner,
    now: i64,
    subject: &'a Subject,
    tenant: &'a str,
    keys: &'a [String],
    answers: Vec<Option<Versioned>>,
) -> Result<Option<Loaded<'a>>> {
    let identity = match subject {
        Subject::Principal(_) => None,
        Subject::Identity(i) => Some(i),
    };
    let token_id = identity.and_then(|i| i.token_id.as_deref());
    let key = |i: usize| keys.get(i).map_or("", String::as_str);
    let mut raw = answers.into_iter();
    let account = account_head(engine, key(0), raw.next().flatten())?;
    let access =
        Access { tenant, membership_key: key(2), tenant_doc: raw.next().flatten(), membership: raw.next().flatten() };
    let token = match subject_token(subject) {
        Some(_) => token_doc(engine, key(3), raw.next().flatten())?.map(|d| d.value),
        None => None,
    };
    let uid = identity.and_then(|i| i.uid.as_deref());
    let Some(account) = account.filter(|a| !a.deleting && !a.creating && uid.is_none_or(|u| u == a.uid)) else {
        return Ok(None);
    };
    let (scopes, refused) = match (identity, token_id) {
        (None, _) => (Scopes::All, None),
        (Some(i), None) => (i.scopes.as_deref().map_or(Scopes::All, Scopes::Given), None),
        (Some(_), Some(id)) => match token_refusal(&account.uid, id, token.as_deref(), now) {
            Some(error) => (Scopes::All, Some(error)),
            None => (token.map_or(Scopes::All, Scopes::Token), None),
        },
    };
    Ok(Some(Loaded { account, access, scopes, refused }))
}

/// What the subject may do in the tenant, with sources, in explanation order; a token's scopes
/// narrow each grant to its intersection with them. An inactive account, or one without
/// access to the tenant, may do nothing: `[]`. An unknown principal is `not_found`. Always
/// reads the store: the staleness window serves only `authenticate`, `verify` and `authorize`
///
pub(crate) async fn effective_permissions(cx: &Cx, a: EffectivePermissions) -> Result<Vec<EffectiveGrant>> {
    validate::tenant_id(&a.tenant)?;
    let keys = subject_keys(&a.identity_or_principal, &a.tenant)?;
    let answers = cx.get_many(&keys).await?;
    let Some(Loaded { account, access, scopes, refused }) =
        subject_read(&cx.engine, cx.now, &a.identity_or_principal, &a.tenant, &keys, answers)?
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
    let Some(rights) = rights_in(&cx.engine, &account, &access)? else {
        return Ok(Vec::new());
    };
    let scopes: Option<Vec<&Scope>> =
        scopes.get().map(|s| s.iter().filter(|s| s.tenant.as_deref().is_none_or(|st| st == a.tenant)).collect());
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
