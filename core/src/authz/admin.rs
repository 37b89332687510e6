//! Authorising admin operations and recording denied attempts.

use std::sync::Arc;

use crate::audit::ActorRef;
use crate::authz::compiled::{CompiledTenant, Rights};
use crate::authz::pattern::{Grant, Scope};
use crate::call::{Actor, IdentityRef};
use crate::docs::{account_key, membership_key, tenant_key, token_key, AccountDoc, MembershipDoc, TenantDoc, TokenDoc};
use crate::error::{Error, Result};
use crate::op::{Cx, Doc};
use crate::records::{AccountKind, Status};
use crate::validate;

/// How often a compare-and-set write is retried on fresh data before `conflict`.
pub(crate) const MAX_ATTEMPTS: usize = 5;

/// The `conflict` error after [`MAX_ATTEMPTS`] lost races on `what`.
pub(crate) fn conflict(what: &str) -> Error {
    Error::Conflict { message: format!("{what} kept changing; try again") }
}

/// The acting principal as seen from one tenant.
pub(crate) struct ActorView {
    pub principal: String,
    pub account: Option<AccountDoc>,
    /// Whether the actor has access to the tenant (a membership that names its uid).
    pub member: bool,
    /// Its rights there, narrowed by its token's scopes; empty unless it is active, a
    /// member, and its credential (when it acts as an identity) still holds.
    pub rights: Arc<Rights>,
    /// Whether a token's scopes narrow those rights: such an actor is never its own
    /// unrestricted self (no personal exemption, R-52).
    pub scoped: bool,
    /// Why the identity acting acts for nobody: its token is gone, belongs to another
    /// uid, is revoked or has expired. Every check answers this error, with its denied event.
    pub refused: Option<Error>,
}

impl ActorView {
    pub fn actor_ref(&self) -> ActorRef {
        match &self.account {
            Some(a) => ActorRef::of(a),
            None => ActorRef::unknown(&self.principal),
        }
    }
}

/// A tenant, its compiled policy, and the actor's standing in it.
pub(crate) struct TenantScope {
    pub tenant: Doc<TenantDoc>,
    pub compiled: Arc<CompiledTenant>,
    pub actor: ActorView,
}

/// Why an identity acts for nobody, judged from its account and token as stored.
fn identity_refusal(
    identity: &IdentityRef,
    account: Option<&AccountDoc>,
    token: Option<&TokenDoc>,
    now: i64,
) -> Option<Error> {
    let bad = || Some(Error::InvalidCredentials);
    let Some(account) = account else { return bad() };
    if identity.uid.as_deref().is_some_and(|u| u != account.uid) {
        return bad();
    }
    let id = identity.token_id.as_deref()?;
    token_refusal(&account.uid, id, token, now)
}

/// Why token `id`, as stored, acts for nobody any more for the account with `uid`:
/// gone, another uid's, or a creation still under way → `invalid_credentials`; then
/// revoked, then expired. `None` when it still holds. One judgement for `authorize`,
/// `effective_permissions` and admin actors.
pub(crate) fn token_refusal(uid: &str, id: &str, token: Option<&TokenDoc>, now: i64) -> Option<Error> {
    // A rotation's successor is written pending; `authenticate` made an identity of it only
    // once its rotation committed.
    let made_by = |t: &&TokenDoc| t.uid == uid && t.token_id == id;
    let created = |t: &&TokenDoc| t.pending.as_ref().is_none_or(|p| p.rotation_of.is_some());
    let Some(token) = token.filter(made_by).filter(created) else {
        return Some(Error::InvalidCredentials);
    };
    if token.revoked_at.is_some() {
        return Some(Error::TokenRevoked);
    }
    if token.expires_at.is_some_and(|at| now >= at) {
        return Some(Error::TokenExpired);
    }
    None
}

/// Reads a tenant and the actor's account and membership there — and, for an identity made by
/// a token, that token — in one round. The actor must be a well-formed principal.
pub(crate) async fn load_scope(cx: &Cx, actor: &Actor, tenant: &str) -> Result<TenantScope> {
    let principal = actor.principal();
    validate::actor(principal, &cx.engine.options.domain)?;
    validate::tenant_id(tenant)?;
    let identity = match actor {
        Actor::Identity(i) => Some(i),
        Actor::Principal(_) => None,
    };
    let token_id = identity.and_then(|i| i.token_id.as_deref()).filter(|id| crate::tokens::format::is_token_id(id));
    let (t_key, a_key, m_key) = (tenant_key(tenant), account_key(principal), membership_key(tenant, principal));
    let k_key = token_id.map(token_key);
    let mut keys = vec![t_key.clone(), a_key.clone(), m_key.clone()];
    keys.extend(k_key.clone());
    let mut raw = cx.get_many(&keys).await?.into_iter();
    let (t, a, m, k) = (raw.next().flatten(), raw.next().flatten(), raw.next().flatten(), raw.next().flatten());
    let Some(t) = t else {
        return Err(Error::not_found(format!("tenant `{tenant}`")));
    };
    let tenant_doc = Doc { value: crate::op::parse::<TenantDoc>(&t_key, &t.value)?, version: t.version };
    let account = a.map(|a| crate::op::parse::<AccountDoc>(&a_key, &a.value)).transpose()?.filter(|a| a.live());
    let membership =
        m.map(|m| Ok::<_, Error>((crate::op::parse::<MembershipDoc>(&m_key, &m.value)?, m.version))).transpose()?;
    let membership = membership.filter(|(m, _)| account.as_ref().is_some_and(|a| a.uid == m.uid));
    let token = match (k, &k_key) {
        (Some(k), Some(key)) => Some(crate::op::parse::<TokenDoc>(key, &k.value)?),
        _ => None,
    };
    let refused = identity.and_then(|i| identity_refusal(i, account.as_ref(), token.as_ref(), cx.now));
    // The token's stored scopes bind, never those the caller sent along; an identity
    // made without a token may still narrow itself with the scopes it carries.
    let scopes = match identity {
        Some(i) if i.token_id.is_some() => token.as_ref().and_then(|t| t.scopes.clone()),
        Some(i) => i.scopes.clone(),
        None => None,
    };
    let compiled = cx.engine.cache().tenant(&tenant_doc.value, tenant_doc.version);
    let active = account.as_ref().is_some_and(|a| a.status == Status::Active);
    let rights = match &membership {
        Some((m, _)) if active && refused.is_none() => {
            let full = cx.engine.cache().rights(&tenant_doc.value, tenant_doc.version, m);
            Arc::new(match &scopes {
                Some(scopes) => full.narrowed(tenant, scopes),
                None => full,
            })
        }
        _ => Arc::new(Rights::default()),
    };
    Ok(TenantScope {
        tenant: tenant_doc,
        compiled,
        actor: ActorView {
            principal: principal.to_owned(),
            account,
            member: membership.is_some() && refused.is_none(),
            rights,
            scoped: scopes.is_some(),
            refused,
        },
    })
}

impl TenantScope {
    pub fn id(&self) -> &str {
        &self.tenant.value.tenant
    }

    /// Records a denied attempt and returns its error. Reads have no audit action (`""`):
    /// their denials are answered but not stored.
    pub async fn deny(&self, cx: &Cx, error: Error, action: &str, target: &str) -> Error {
        if action.is_empty() {
            return error;
        }
        match cx.record(self.id(), self.actor.actor_ref(), action, target, Err(&error), Default::default()).await {
            Ok(()) => error,
            Err(store) => store,
        }
    }

    /// An identity whose token no longer holds acts for nobody: its error, recorded as
    /// a denied attempt.
    pub async fn require_credential(&self, cx: &Cx, audit_action: &str, target: &str) -> Result<()> {
        match &self.actor.refused {
            None => Ok(()),
            Some(error) => Err(self.deny(cx, error.clone(), audit_action, target).await),
        }
    }

    /// The actor must hold `kind:action` on `*` in this tenant.
    pub async fn require(&self, cx: &Cx, kind: &str, action: &str, audit_action: &str, target: &str) -> Result<()> {
        self.require_credential(cx, audit_action, target).await?;
        if self.actor.rights.check(kind, action, "*").is_some() {
            return Ok(());
        }
        let error =
            Error::forbidden(format!("`{}` lacks `{kind}:{action}` in tenant `{}`", self.actor.principal, self.id()));
        Err(self.deny(cx, error, audit_action, target).await)
    }

    /// The actor must hold every one of `grants`.
    pub async fn require_covers(&self, cx: &Cx, grants: &[Grant], audit_action: &str, target: &str) -> Result<()> {
        self.require_credential(cx, audit_action, target).await?;
        match grants.iter().find(|g| !self.actor.rights.covers(g)) {
            None => Ok(()),
            Some(g) => {
                let error = Error::forbidden(format!(
                    "`{}` cannot give `{g}` in tenant `{}`: it does not hold it (no escalation)",
                    self.actor.principal,
                    self.id()
                ));
                Err(self.deny(cx, error, audit_action, target).await)
            }
        }
    }

    /// Whether the actor holds every right that membership `m` gives here.
    pub fn holds_all(&self, m: &MembershipDoc) -> bool {
        self.actor.rights.covers_all(&self.compiled.rights(m))
    }

    /// The error for an actor that does not hold all of an account's rights here.
    pub fn holds_not_all(&self, principal: &str) -> Error {
        Error::forbidden(format!(
            "`{}` does not hold every right `{principal}` has in tenant `{}`, so it cannot change them (no escalation)",
            self.actor.principal,
            self.id()
        ))
    }

    /// Changing, narrowing or removing an account's role, grants or groups here needs holding
    /// all of its rights here: a clerk cannot demote an admin.
    pub async fn require_holds_all(&self, cx: &Cx, m: &MembershipDoc, audit_action: &str, target: &str) -> Result<()> {
        if self.holds_all(m) {
            return Ok(());
        }
        Err(self.deny(cx, self.holds_not_all(&m.principal), audit_action, target).await)
    }

    /// Narrowing a role or a group narrows every account that holds it: the actor must hold all
    /// the rights of each account whose rights `next` would shrink here.
    pub async fn require_holds_narrowed(
        &self,
        cx: &Cx,
        next: &TenantDoc,
        audit_action: &str,
        target: &str,
    ) -> Result<()> {
        let after = CompiledTenant::compile(next, 0);
        for m in crate::tenancy::memberships(cx, self.id()).await? {
            if !after.rights(&m.value).covers_all(&self.compiled.rights(&m.value)) {
                self.require_holds_all(cx, &m.value, audit_action, target).await?;
            }
        }
        Ok(())
    }

    /// The grants a role gives, or `not_found`.
    pub fn role_grants(&self, role: &str) -> Result<Vec<Grant>> {
        self.compiled
            .role(role)
            .map(<[Grant]>::to_vec)
            .ok_or_else(|| Error::not_found(format!("role `{role}` in tenant `{}`", self.id())))
    }

    /// The grants a group gives (its roles expanded), or `not_found`.
    pub fn group_grants(&self, group: &str) -> Result<Vec<Grant>> {
        self.compiled
            .group(group)
            .map(<[Grant]>::to_vec)
            .ok_or_else(|| Error::not_found(format!("group `{group}` in tenant `{}`", self.id())))
    }
}

/// An owner-only operation's target, and the actor's standing in the owner tenant.
pub(crate) struct OwnerScope {
    pub target: Doc<AccountDoc>,
    pub scope: TenantScope,
    /// The audit action for this target's kind.
    pub action: String,
}

/// What an owner-only operation needs.
pub(crate) struct OwnerCheck<'a> {
    /// Permission type and action, in the owner tenant.
    pub kind: &'a str,
    pub action: &'a str,
    /// Audit actions for a service account and for a user target.
    pub service_action: &'a str,
    pub user_action: &'a str,
    /// Event target when not the principal (e.g. `token:<id>`).
    pub target: Option<String>,
    /// Whether a user acting on its own account needs no permission (personal tokens, R-52).
    pub personal: bool,
    /// Whether a deletion still being cleaned up counts as the target (to finish it, R-92).
    pub tombstoned: bool,
}

/// Loads the target account (`not_found`), then authorises the actor in its owner tenant:
/// no access there is `not_owner`, access without the permission `forbidden`.
pub(crate) async fn load_owner_scope(
    cx: &Cx,
    actor: &Actor,
    principal: &str,
    check: OwnerCheck<'_>,
) -> Result<OwnerScope> {
    let target = match check.tombstoned {
        true => account_or_tombstone(cx, principal).await,
        false => account(cx, principal).await,
    };
    let target = match target {
        Ok(target) => target,
        // A dead credential learns nothing, not even which accounts exist.
        Err(not_found) => {
            let target = check.target.as_deref().unwrap_or(principal);
            return Err(refuse_dead_identity(cx, actor, check.service_action, target).await?.unwrap_or(not_found));
        }
    };
    let scope = load_scope(cx, actor, &target.value.tenant).await?;
    let action = match target.value.kind {
        AccountKind::Service => check.service_action,
        AccountKind::User => check.user_action,
    };
    let event_target = check.target.clone().unwrap_or_else(|| principal.to_owned());
    scope.require_credential(cx, action, &event_target).await?;
    // A user manages its own personal tokens — unless it acts through a scoped token,
    // whose scopes then bind like anyone's.
    let personal = check.personal
        && actor.principal() == principal
        && target.value.kind == AccountKind::User
        && !scope.actor.scoped;
    if personal && scope.actor.account.as_ref().is_some_and(|a| a.uid == target.value.uid && a.status == Status::Active)
    {
        return Ok(OwnerScope { target, scope, action: action.to_owned() });
    }
    if !scope.actor.member {
        let error = Error::not_owner(format!(
            "`{principal}` is owned by tenant `{}`, where `{}` has no access",
            target.value.tenant, scope.actor.principal
        ));
        return Err(scope.deny(cx, error, action, &event_target).await);
    }
    scope.require(cx, check.kind, check.action, action, &event_target).await?;
    Ok(OwnerScope { target, scope, action: action.to_owned() })
}

/// For an identity whose token no longer holds: its error, recorded as a denied `action` on
/// `target` in the actor's own tenant. `None` for a principal, or an identity that still holds.
async fn refuse_dead_identity(cx: &Cx, actor: &Actor, action: &str, target: &str) -> Result<Option<Error>> {
    let Actor::Identity(identity) = actor else { return Ok(None) };
    validate::actor(&identity.principal, &cx.engine.options.domain)?;
    let a_key = account_key(&identity.principal);
    let k_key = identity.token_id.as_deref().filter(|id| crate::tokens::format::is_token_id(id)).map(token_key);
    let keys: Vec<String> = std::iter::once(a_key.clone()).chain(k_key.clone()).collect();
    let mut raw = cx.get_many(&keys).await?.into_iter();
    let account = raw.next().flatten().map(|a| crate::op::parse::<AccountDoc>(&a_key, &a.value)).transpose()?;
    let account = account.filter(AccountDoc::live);
    let token = match (raw.next().flatten(), &k_key) {
        (Some(k), Some(key)) => Some(crate::op::parse::<TokenDoc>(key, &k.value)?),
        _ => None,
    };
    let Some(error) = identity_refusal(identity, account.as_ref(), token.as_ref(), cx.now) else { return Ok(None) };
    if let Some(account) = &account {
        cx.record(&account.tenant, ActorRef::of(account), action, target, Err(&error), Default::default()).await?;
    }
    Ok(Some(error))
}

/// Disabling, enabling, revoking or deleting an account changes all of its rights at once: the
/// actor must hold all of them in the owner tenant (R-47: a clerk cannot demote an admin).
pub(crate) async fn require_holds_target(cx: &Cx, owner: &OwnerScope, target: &str) -> Result<()> {
    let acc = &owner.target.value;
    let Some(m) = cx.doc::<MembershipDoc>(&membership_key(&acc.tenant, &acc.principal)).await? else {
        return Ok(());
    };
    if m.value.uid != acc.uid {
        return Ok(());
    }
    owner.scope.require_holds_all(cx, &m.value, &owner.action, target).await
}

/// "A credential made at home carries elsewhere only what its maker holds at home":
/// the account's rights in every tenant the credential reaches must be covered by the actor's
/// own (scope-narrowed) rights in the owner tenant. A credential reaches every tenant the
/// account has access to, except those that all of its `scopes` leave out by naming another
/// tenant; a password has none (`None`: every tenant). An account giving itself a credential
/// gains nothing it does not hold — unless it acts through a scoped token.
pub(crate) async fn require_credential_reach(
    cx: &Cx,
    owner: &OwnerScope,
    scopes: Option<&[Scope]>,
    target: &str,
) -> Result<()> {
    let (acc, actor) = (&owner.target.value, &owner.scope.actor);
    if actor.principal == acc.principal && !actor.scoped {
        return Ok(());
    }
    let reaches = |t: &String| scopes.is_none_or(|s| s.iter().any(|s| s.tenant.as_ref().is_none_or(|st| st == t)));
    let tenants: Vec<&String> = std::iter::once(&acc.tenant).chain(&acc.tenants).filter(|t| reaches(t)).collect();
    let pairs: Vec<(String, String)> =
        tenants.iter().map(|t| (tenant_key(t), membership_key(t, &acc.principal))).collect();
    let keys: Vec<String> = pairs.iter().flat_map(|(t, m)| [t.clone(), m.clone()]).collect();
    let mut raw = cx.get_many(&keys).await?.into_iter();
    for (tenant, (t_key, m_key)) in tenants.iter().zip(&pairs) {
        let (t, m) = (raw.next().flatten(), raw.next().flatten());
        let (Some(t), Some(m)) = (t, m) else { continue };
        let t_doc = crate::op::parse::<TenantDoc>(t_key, &t.value)?;
        let m_doc = crate::op::parse::<MembershipDoc>(m_key, &m.value)?;
        if m_doc.uid != acc.uid {
            continue;
        }
        let rights = cx.engine.cache().rights(&t_doc, t.version, &m_doc);
        if !actor.rights.covers_all(&rights) {
            let error = Error::forbidden(format!(
                "`{}` holds rights in tenant `{tenant}` that `{}` does not hold in tenant `{}`: a credential made \
                 there would carry them (no escalation)",
                acc.principal, actor.principal, acc.tenant
            ));
            return Err(owner.scope.deny(cx, error, &owner.action, target).await);
        }
    }
    Ok(())
}

/// Reads an account, half-deleted ones included; a missing one is `not_found`.
pub(crate) async fn account_or_tombstone(cx: &Cx, principal: &str) -> Result<Doc<AccountDoc>> {
    validate::principal_text(principal)?;
    cx.doc::<AccountDoc>(&account_key(principal))
        .await?
        .ok_or_else(|| Error::not_found(format!("account `{principal}`")))
}

/// Reads an account; a missing or half-deleted one is `not_found`.
pub(crate) async fn account(cx: &Cx, principal: &str) -> Result<Doc<AccountDoc>> {
    validate::principal_text(principal)?;
    match cx.doc::<AccountDoc>(&account_key(principal)).await? {
        Some(doc) if doc.value.live() => Ok(doc),
        _ => Err(Error::not_found(format!("account `{principal}`"))),
    }
}
