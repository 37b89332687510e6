//! Authorising admin operations and recording denied attempts.

use std::sync::Arc;

use crate::audit::ActorRef;
use crate::authz::compiled::{CompiledTenant, Rights};
use crate::authz::pattern::Grant;
use crate::docs::{account_key, membership_key, tenant_key, AccountDoc, MembershipDoc, TenantDoc};
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
    /// Its rights there; empty unless it is active and a member.
    pub rights: Arc<Rights>,
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

/// Reads a tenant and the actor's account and membership there, in one round.
pub(crate) async fn load_scope(cx: &Cx, actor: &str, tenant: &str) -> Result<TenantScope> {
    validate::tenant_id(tenant)?;
    let keys = [tenant_key(tenant), account_key(actor), membership_key(tenant, actor)];
    let mut raw = cx.get_many(&keys).await?.into_iter();
    let (t, a, m) = (raw.next().flatten(), raw.next().flatten(), raw.next().flatten());
    let Some(t) = t else {
        return Err(Error::not_found(format!("tenant `{tenant}`")));
    };
    let tenant_doc = Doc { value: crate::op::parse::<TenantDoc>(&keys[0], &t.value)?, version: t.version };
    let account = a.map(|a| crate::op::parse::<AccountDoc>(&keys[1], &a.value)).transpose()?.filter(|a| a.live());
    let membership =
        m.map(|m| Ok::<_, Error>((crate::op::parse::<MembershipDoc>(&keys[2], &m.value)?, m.version))).transpose()?;
    let membership = membership.filter(|(m, _)| account.as_ref().is_some_and(|a| a.uid == m.uid));
    let compiled = cx.engine.cache().tenant(&tenant_doc.value, tenant_doc.version);
    let active = account.as_ref().is_some_and(|a| a.status == Status::Active);
    let rights = match &membership {
        Some((m, _)) if active => Arc::new(cx.engine.cache().rights(&tenant_doc.value, tenant_doc.version, m)),
        _ => Arc::new(Rights::default()),
    };
    Ok(TenantScope {
        tenant: tenant_doc,
        compiled,
        actor: ActorView { principal: actor.to_owned(), account, member: membership.is_some(), rights },
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

    /// The actor must hold `kind:action` on `*` in this tenant.
    pub async fn require(&self, cx: &Cx, kind: &str, action: &str, audit_action: &str, target: &str) -> Result<()> {
        if self.actor.rights.check(kind, action, "*").is_some() {
            return Ok(());
        }
        let error =
            Error::forbidden(format!("`{}` lacks `{kind}:{action}` in tenant `{}`", self.actor.principal, self.id()));
        Err(self.deny(cx, error, audit_action, target).await)
    }

    /// The actor must hold every one of `grants`.
    pub async fn require_covers(&self, cx: &Cx, grants: &[Grant], audit_action: &str, target: &str) -> Result<()> {
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
    actor: &str,
    principal: &str,
    check: OwnerCheck<'_>,
) -> Result<OwnerScope> {
    let target = match check.tombstoned {
        true => account_or_tombstone(cx, principal).await?,
        false => account(cx, principal).await?,
    };
    let scope = load_scope(cx, actor, &target.value.tenant).await?;
    let action = match target.value.kind {
        AccountKind::Service => check.service_action,
        AccountKind::User => check.user_action,
    };
    let event_target = check.target.clone().unwrap_or_else(|| principal.to_owned());
    let personal = check.personal && actor == principal && target.value.kind == AccountKind::User;
    if personal && scope.actor.account.as_ref().is_some_and(|a| a.uid == target.value.uid && a.status == Status::Active)
    {
        return Ok(OwnerScope { target, scope, action: action.to_owned() });
    }
    if !scope.actor.member {
        let error = Error::not_owner(format!(
            "`{principal}` is owned by tenant `{}`, where `{actor}` has no access",
            target.value.tenant
        ));
        return Err(scope.deny(cx, error, action, &event_target).await);
    }
    scope.require(cx, check.kind, check.action, action, &event_target).await?;
    Ok(OwnerScope { target, scope, action: action.to_owned() })
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
