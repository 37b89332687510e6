//! The documents Keyward stores (schema 1). Crate-private: the public records are in
//! [`crate::records`]. See [`crate::store`] for the key layout.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::authz::pattern::{Grant, Scope};
use crate::records::{AccountKind, Status};
use crate::tenancy::settings::Settings;

/// Current schema version of every stored document.
pub const SCHEMA: u32 = 1;

fn schema() -> u32 {
    SCHEMA
}

/// A stored secret derivative (a hash), kept out of `Debug` output.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Hidden(pub String);

impl std::fmt::Debug for Hidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `t/<tenant>`: settings, custom roles and groups of one tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantDoc {
    #[serde(default = "schema")]
    pub schema: u32,
    pub tenant: String,
    pub name: String,
    pub settings: Settings,
    pub created_at: i64,
    /// Custom roles by name.
    #[serde(default)]
    pub roles: BTreeMap<String, Vec<Grant>>,
    /// Groups by name (`everyone` always present).
    #[serde(default)]
    pub groups: BTreeMap<String, GroupDef>,
    /// The last creation or deletion of a group or role written here, so that a rerun of one
    /// interrupted before its event writes that event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_change: Option<LastChange>,
}

/// A mutation of the tenant document and the time its event is written at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastChange {
    /// When: the time of its event.
    pub at: i64,
    /// The event's action, e.g. `group.delete`.
    pub action: String,
    /// The event's target, e.g. `group:ml`.
    pub target: String,
}

/// A group's policy: the roles and grants it gives its members.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GroupDef {
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub grants: Vec<Grant>,
}

/// `a/<principal>`: one account, owned by one tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountDoc {
    #[serde(default = "schema")]
    pub schema: u32,
    pub uid: String,
    pub kind: AccountKind,
    pub name: String,
    pub principal: String,
    /// Owner tenant.
    pub tenant: String,
    #[serde(default)]
    pub description: Option<String>,
    pub status: Status,
    /// Set while a deletion is being cleaned up: the account is gone for every purpose.
    #[serde(default)]
    pub deleting: bool,
    /// Set while a creation is under way: written first, cleared last, after the
    /// membership and the audit event. Until then the account is absent for every purpose: no
    /// rights, no credential, not listed; a rerun of the creation completes it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub creating: bool,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    #[serde(default)]
    pub mfa: bool,
    /// Argon2id PHC string. Never serialised into any record or event.
    #[serde(default)]
    pub password_hash: Option<Hidden>,
    /// Tenants other than the owner where the account has access.
    #[serde(default)]
    pub tenants: Vec<String>,
    /// Ids of the account's tokens, revoked and expired included until removed.
    #[serde(default)]
    pub tokens: Vec<String>,
}

/// The fields of an account document the data plane needs: parsed
/// without the account's lists of tenants and tokens.
#[derive(Debug, Clone, Deserialize)]
pub struct AccountHead {
    pub uid: String,
    pub kind: AccountKind,
    pub principal: String,
    /// Owner tenant.
    pub tenant: String,
    pub status: Status,
    #[serde(default)]
    pub deleting: bool,
    #[serde(default)]
    pub creating: bool,
    #[serde(default)]
    pub mfa: bool,
}

impl AccountDoc {
    /// The data plane's view of this account.
    pub fn head(&self) -> AccountHead {
        AccountHead {
            uid: self.uid.clone(),
            kind: self.kind,
            principal: self.principal.clone(),
            tenant: self.tenant.clone(),
            status: self.status,
            deleting: self.deleting,
            creating: self.creating,
            mfa: self.mfa,
        }
    }

    /// Whether the account exists for every purpose: not half-created, not being deleted.
    pub fn live(&self) -> bool {
        !self.deleting && !self.creating
    }

    /// Whether this account has a membership document in `tenant`.
    pub fn has_access(&self, tenant: &str) -> bool {
        self.tenant == tenant || self.tenants.iter().any(|t| t == tenant)
    }
}

/// `m/<tenant>/<principal>`: an account's access to one tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MembershipDoc {
    #[serde(default = "schema")]
    pub schema: u32,
    pub uid: String,
    pub principal: String,
    pub tenant: String,
    pub kind: AccountKind,
    /// Whether `tenant` owns the account.
    pub owned: bool,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub grants: Vec<Grant>,
    /// Groups other than `everyone`, which every member belongs to implicitly.
    #[serde(default)]
    pub groups: Vec<String>,
    pub created_at: i64,
}

/// `k/<token_id>`: a token's metadata and the hash of its secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenDoc {
    #[serde(default = "schema")]
    pub schema: u32,
    pub token_id: String,
    pub uid: String,
    pub principal: String,
    /// Owner tenant of the account.
    pub tenant: String,
    pub name: String,
    /// Hex SHA-256 or HMAC-SHA-256 of the secret part.
    pub hash: Hidden,
    pub created_at: i64,
    pub created_by: String,
    #[serde(default)]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub last_used_at: Option<i64>,
    #[serde(default)]
    pub revoked_at: Option<i64>,
    #[serde(default)]
    pub scopes: Option<Vec<Scope>>,
    /// Set while the call that creates the token has not completed: a pending token is
    /// not usable and not listed, unless it is a rotation's successor that its old token names
    /// in `rotated_to` (the rotation committed; only the clean-up that clears this was lost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
    /// A rotation of this token under way: not yet committed, it changes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<RotationClaim>,
    /// The id of the token that replaced this one: set by the write that commits a rotation,
    /// so a token is rotated only once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_to: Option<String>,
}

/// The pending state of a token being created.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    /// When the creating call's audit event is (or was) written; also the token's age for
    /// clean-up.
    pub since: i64,
    /// Random id of the call that holds the token now: another call that takes the token over
    /// (a rerun) changes it, so the first call's commit fails and it never answers a secret that
    /// is no longer stored.
    pub attempt: String,
    /// For a rotation's successor: the id of the token it replaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_of: Option<String>,
    /// For a rotation's successor: the `seq` of the claim whose call wrote it.
    #[serde(default)]
    pub seq: u64,
}

/// A rotation claimed on the old token, before it commits.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RotationClaim {
    /// The successor's token id.
    pub to: String,
    /// Random id of the call that holds the claim.
    pub attempt: String,
    /// When the rotation's audit event is (or was) written.
    pub since: i64,
    /// Counts the calls that held the claim: the successor is written only by a call whose
    /// claim is newer than the one that last wrote it, so the call that commits always finds
    /// its own secret there.
    pub seq: u64,
}

impl TokenDoc {
    /// Whether the token takes part in anything: not pending, or the committed successor of a
    /// rotation (`old` is the token it replaces, when read).
    pub fn committed(&self, old: Option<&TokenDoc>) -> bool {
        match &self.pending {
            None => true,
            Some(p) => p.rotation_of.is_some() && old.is_some_and(|o| o.rotated_to.as_deref() == Some(&self.token_id)),
        }
    }
}

/// Whether a decision (`authenticate`, `verify`, `authorize`) may read this key: tenants,
/// accounts, memberships and tokens. Writes to other keys (audit events, quota claims) leave the
/// staleness window as it is.
pub fn decisions_read(key: &str) -> bool {
    ["t/", "a/", "m/", "k/"].iter().any(|p| key.starts_with(p))
}

/// Key of a tenant document.
pub fn tenant_key(tenant: &str) -> String {
    format!("t/{tenant}")
}
/// Key of an account document.
pub fn account_key(principal: &str) -> String {
    format!("a/{principal}")
}
/// Key of a membership document.
pub fn membership_key(tenant: &str, principal: &str) -> String {
    format!("m/{tenant}/{principal}")
}
/// Prefix of a tenant's memberships.
pub fn membership_prefix(tenant: &str) -> String {
    format!("m/{tenant}/")
}
/// Key of a token document.
pub fn token_key(token_id: &str) -> String {
    format!("k/{token_id}")
}
/// Prefix of a tenant's audit events.
pub fn event_prefix(tenant: &str) -> String {
    format!("e/{tenant}/")
}
