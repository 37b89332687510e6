//! The plain-data records every host returns (API.md, "Records"). Timestamps are integers,
//! milliseconds since the epoch.

use serde::{Deserialize, Serialize};

use crate::authz::pattern::{Grant, Scope};
use crate::tenancy::settings::Settings;

/// Kind of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// A person.
    User,
    /// A service account.
    Service,
}

impl AccountKind {
    /// `"user"` or `"service"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::User => "user",
            AccountKind::Service => "service",
        }
    }
}

/// Lifecycle status of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Credentials work.
    Active,
    /// Reversibly switched off.
    Disabled,
    /// Terminally switched off; the principal is kept and shown as inactive.
    Revoked,
}

impl Status {
    /// `"active"`, `"disabled"` or `"revoked"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Disabled => "disabled",
            Status::Revoked => "revoked",
        }
    }
}

/// Channel a credential is presented on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A headless client.
    #[default]
    Api,
    /// Web sign-in.
    Ui,
    /// Federated sign-in.
    Oidc,
}

impl Channel {
    /// `"api"`, `"ui"` or `"oidc"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Api => "api",
            Channel::Ui => "ui",
            Channel::Oidc => "oidc",
        }
    }
}

/// Who a verified credential belongs to (API.md "identity").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The account's principal.
    pub principal: String,
    /// `user` or `service`.
    pub kind: AccountKind,
    /// The owner tenant.
    pub tenant: String,
    /// The account's immutable uid.
    pub uid: String,
    /// The token presented; `None` for a password.
    pub token_id: Option<String>,
    /// The account's status.
    pub status: Status,
    /// The token's scopes; `None`: the account's full rights.
    pub scopes: Option<Vec<Scope>>,
    /// Whether the host must still ask for a second factor.
    pub requires_second_factor: bool,
}

/// The grant that allowed a decision, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matched {
    /// Permission pattern of the grant.
    pub permission: String,
    /// Resource pattern of the grant.
    pub resource: String,
    /// `role:<name>`, `group:<name>` or `direct`.
    pub source: String,
}

/// An explained decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Whether the request is allowed.
    pub allowed: bool,
    /// `"allowed"` or an error code (`forbidden`, `not_found`, or a credential code in
    /// `verify`).
    pub reason: String,
    /// The account decided about; `None` when unknown.
    pub principal: Option<String>,
    /// The grant that matched, when allowed.
    pub matched: Option<Matched>,
}

/// One line of `effective_permissions`: a grant and its source.
pub type EffectiveGrant = Matched;

/// An account as seen from one tenant (API.md "account").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Global identity string.
    pub principal: String,
    /// `sa::<name>` or `user::<email>`.
    pub id: String,
    /// Immutable random id; null for a tenant that does not own the account.
    pub uid: Option<String>,
    /// `user` or `service`.
    pub kind: AccountKind,
    /// Name or the email's local part.
    pub name: String,
    /// Owner tenant.
    pub tenant: String,
    /// Whether the tenant asked about owns the account.
    pub owned: bool,
    /// Free text, at most 1,000 characters; null for a non-owner.
    pub description: Option<String>,
    /// Lifecycle status.
    pub status: Status,
    /// The direct role in the tenant asked about: zero or one.
    pub roles: Vec<String>,
    /// Groups in that tenant, `everyone` included.
    pub groups: Vec<String>,
    /// Direct grants in that tenant.
    pub grants: Vec<Grant>,
    /// For users: whether a second factor is required on `ui`/`oidc`; null for a non-owner.
    pub mfa: Option<bool>,
    /// For service accounts: whether a password is set; null for a non-owner.
    pub has_password: Option<bool>,
    /// Creation time.
    pub created_at: i64,
    /// Principal of the creator, `"system"` for a tenant's first admin; null for a non-owner.
    pub created_by: Option<String>,
    /// Last change.
    pub updated_at: i64,
}

/// Token metadata: exactly the fields of R-53, never the secret or its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// Public id, the middle part of the token.
    pub token_id: String,
    /// Editable name.
    pub name: String,
    /// Creation time.
    pub created_at: i64,
    /// Principal of the creator.
    pub created_by: String,
    /// Expiry; `None` for a non-expiring token.
    pub expires_at: Option<i64>,
    /// Last successful use, stamped at most once a minute.
    pub last_used_at: Option<i64>,
    /// Revocation time.
    pub revoked_at: Option<i64>,
    /// Scopes; `None`: the account's full rights.
    pub scopes: Option<Vec<Scope>>,
}

/// A new token: its metadata plus the plaintext, shown this once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCreated {
    /// Metadata.
    #[serde(flatten)]
    pub info: TokenInfo,
    /// The plaintext token. Not kept anywhere by Keyward.
    pub token: String,
}

impl std::fmt::Debug for TokenCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCreated").field("info", &self.info).field("token", &"<redacted>").finish()
    }
}

/// A tenant (API.md "tenant").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Tenant id.
    pub tenant: String,
    /// Display name.
    pub name: String,
    /// Settings.
    pub settings: Settings,
    /// Creation time.
    pub created_at: i64,
}

/// A role (API.md "role").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// Tenant it is defined in.
    pub tenant: String,
    /// Name.
    pub role: String,
    /// Its grants.
    pub grants: Vec<Grant>,
    /// Whether it is built in.
    pub builtin: bool,
}

/// A group (API.md "group").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Tenant.
    pub tenant: String,
    /// Name.
    pub group: String,
    /// Roles the group carries.
    pub roles: Vec<String>,
    /// Grants the group carries.
    pub grants: Vec<Grant>,
    /// Principals of its members, in order.
    pub members: Vec<String>,
}

/// A page of accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountPage {
    /// The accounts, ordered by principal.
    pub accounts: Vec<Account>,
    /// Opaque token for the next page; `None` at the end.
    pub next_page_token: Option<String>,
}

/// `seat_usage`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seats {
    /// Active users with access to the tenant.
    pub seats_used: u64,
    /// The tenant's `seat_limit`.
    pub seat_limit: Option<u64>,
    /// Service accounts with access to the tenant; never seats.
    pub service_accounts: u64,
}

/// `sync_directory`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    /// Users created.
    pub created: u64,
    /// Users whose name changed.
    pub updated: u64,
    /// Users removed.
    pub removed: u64,
    /// Listed emails that belong to another tenant.
    pub skipped: u64,
}

/// One user of an identity provider's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryUser {
    /// Email.
    pub email: String,
    /// Display name; `None` keeps the current one (or the email's local part).
    #[serde(default)]
    pub name: Option<String>,
}

/// A page of audit events, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    /// The events.
    pub events: Vec<crate::audit::AuditEvent>,
    /// Opaque token for the next page; `None` at the end.
    pub next_page_token: Option<String>,
}
