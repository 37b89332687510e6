//! Every operation as data: [`Call`] (the operation and its arguments, as API.md names them)
//! and [`Answer`] (its record). Conformance scenarios and bindings speak this form:
//! `{"op": "create_token", "args": {"actor": ..., "principal": ...}}`.
//!
//! In Rust, each argument struct is also a typed [`Request`]: `keyward.run(CreateToken {..})`
//! returns a [`TokenCreated`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::authz::pattern::{Grant, Scope};
use crate::error::{Error, Result};
use crate::records::*;
use crate::secret::Secret;

fn default_resource() -> String {
    "*".to_owned()
}

/// Identity record or bare principal, as `authorize` and `effective_permissions` take it, and
/// as every admin operation takes its actor (API.md "Admin operations", R-26).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Subject {
    /// A principal: the account's full rights.
    Principal(String),
    /// An identity from `authenticate`: its token's scopes apply, and it must still
    /// name the same account (`uid`).
    Identity(IdentityRef),
}

/// The fields of an identity that decisions use; other fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityRef {
    /// The account.
    pub principal: String,
    /// The account's uid when the identity was made; a re-created account does not match.
    #[serde(default)]
    pub uid: Option<String>,
    /// The token that made the identity (`None` for a password sign-in). When set, the token
    /// is read again: a revoked, expired or missing one acts for nobody, and its stored scopes
    /// (not these) apply.
    #[serde(default)]
    pub token_id: Option<String>,
    /// Scopes of the token that made the identity.
    #[serde(default)]
    pub scopes: Option<Vec<Scope>>,
}

/// The actor of an admin operation: a principal (its full rights), or an identity from
/// `authenticate`, whose token's scopes narrow its rights.
pub type Actor = Subject;

impl Subject {
    /// The principal named.
    pub fn principal(&self) -> &str {
        match self {
            Subject::Principal(p) => p,
            Subject::Identity(i) => &i.principal,
        }
    }
}

impl From<String> for Subject {
    fn from(p: String) -> Subject {
        Subject::Principal(p)
    }
}

impl From<&str> for Subject {
    fn from(p: &str) -> Subject {
        Subject::Principal(p.to_owned())
    }
}

impl From<&Identity> for Subject {
    fn from(i: &Identity) -> Subject {
        Subject::Identity(IdentityRef {
            principal: i.principal.clone(),
            uid: Some(i.uid.clone()),
            token_id: i.token_id.clone(),
            scopes: i.scopes.clone(),
        })
    }
}

macro_rules! calls {
    ($( $(#[$doc:meta])* $variant:ident($args:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty $(= $default:literal)?),* $(,)? }) -> $answer:ident($out:ty); )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
            #[serde(deny_unknown_fields)]
            pub struct $args {
                $( #[doc = concat!("`", stringify!($field), "`, as API.md names it.")] $(#[$fdoc])* $(#[serde(default = $default)])? pub $field: $ty, )*
            }

            impl Request for $args {
                type Output = $out;
                fn into_call(self) -> Call {
                    Call::$variant(self)
                }
                fn from_answer(answer: Answer) -> Result<$out> {
                    match answer {
                        Answer::$answer(out) => Ok(out),
                        _ => Err(Error::internal(concat!("unexpected answer to ", stringify!($variant)))),
                    }
                }
            }
        )*

        /// One operation with its arguments.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "op", content = "args", rename_all = "snake_case")]
        #[allow(missing_docs)]
        pub enum Call {
            $( $variant($args), )*
        }

        impl Call {
            /// Whether the operation needs the host's random bytes ([`crate::Env::seed`]): all
            /// but the decisions (`authenticate`, `verify`, `authorize`,
            /// `effective_permissions`), which create nothing and store nothing. A host may skip
            /// drawing a seed for those and pass zeros.
            pub fn draws_randomness(&self) -> bool {
                !matches!(
                    self,
                    Call::Authenticate(_) | Call::Verify(_) | Call::Authorize(_) | Call::EffectivePermissions(_)
                )
            }

            /// The operation's name, as in API.md.
            pub fn name(&self) -> &'static str {
                match self {
                    $( Call::$variant(_) => stringify!($variant), )*
                }
            }
        }
    };
}

fn none<T>() -> Option<T> {
    None
}
fn empty<T>() -> Vec<T> {
    Vec::new()
}
fn no() -> bool {
    false
}
fn api() -> Channel {
    Channel::Api
}

// Optional arguments carry `= default_fn`; the rest are required (API.md's positional and
// keyword-only parameters without a default).
calls! {
    /// Creates a tenant and its first admin. Bootstrap: no actor; the host guards it.
    CreateTenant(CreateTenant { tenant: String, admin: String, name: Option<String> = "none", settings: Option<Map<String, Value>> = "none" }) -> Tenant(Tenant);
    /// A tenant's record; needs any access to it.
    GetTenant(GetTenant { actor: Actor, tenant: String }) -> Tenant(Tenant);
    /// Merges settings; `settings:write`.
    UpdateTenantSettings(UpdateTenantSettings { actor: Actor, tenant: String, settings: Map<String, Value> }) -> Tenant(Tenant);
    /// Creates or replaces a custom role; `roles:write`.
    DefineRole(DefineRole { actor: Actor, tenant: String, role: String, grants: Vec<Grant> }) -> Role(Role);
    /// Deletes an unused custom role; `roles:write`.
    DeleteRole(DeleteRole { actor: Actor, tenant: String, role: String }) -> Nothing(());
    /// Creates a group; `groups:write`.
    CreateGroup(CreateGroup { actor: Actor, tenant: String, group: String, roles: Vec<String> = "empty", grants: Vec<Grant> = "empty" }) -> Group(Group);
    /// Deletes a group; `groups:write`.
    DeleteGroup(DeleteGroup { actor: Actor, tenant: String, group: String }) -> Nothing(());
    /// Adds an account to a group; `groups:write`.
    AddGroupMember(AddGroupMember { actor: Actor, tenant: String, group: String, principal: String }) -> Group(Group);
    /// Removes an account from a group; `groups:write`.
    RemoveGroupMember(RemoveGroupMember { actor: Actor, tenant: String, group: String, principal: String }) -> Group(Group);
    /// Adds grants to a group; `groups:write`.
    GrantGroupPermissions(GrantGroupPermissions { actor: Actor, tenant: String, group: String, grants: Vec<Grant> }) -> Group(Group);
    /// Removes grants from a group; `groups:write`.
    RevokeGroupPermissions(RevokeGroupPermissions { actor: Actor, tenant: String, group: String, grants: Vec<Grant> }) -> Group(Group);
    /// Creates a user owned by the tenant; `accounts:write`.
    CreateUser(CreateUser { actor: Actor, tenant: String, email: String, name: Option<String> = "none", role: Option<String> = "none", mfa: bool = "no" }) -> Account(Account);
    /// Takes a user out of the tenant; `accounts:delete`.
    RemoveUser(RemoveUser { actor: Actor, tenant: String, email: String }) -> Nothing(());
    /// Makes the tenant's own users match an identity provider's list.
    SyncDirectory(SyncDirectory { actor: Actor, tenant: String, users: Vec<DirectoryUser> }) -> SyncReport(SyncReport);
    /// Seats in use; `accounts:read`.
    SeatUsage(SeatUsage { actor: Actor, tenant: String }) -> Seats(Seats);
    /// Creates a service account; `accounts:write`.
    CreateServiceAccount(CreateServiceAccount { actor: Actor, tenant: String, name: String, description: Option<String> = "none", role: Option<String> = "none", grants: Vec<Grant> = "empty", password: Option<Secret> = "none" }) -> Account(Account);
    /// An account as seen from a tenant; `accounts:read`.
    GetAccount(GetAccount { actor: Actor, tenant: String, principal: String }) -> Account(Account);
    /// Accounts with access to a tenant, by principal; `accounts:read`.
    ListAccounts(ListAccounts { actor: Actor, tenant: String, filter: Option<String> = "none", page_size: Option<u64> = "none", page_token: Option<String> = "none" }) -> AccountPage(AccountPage);
    /// Changes a service account's description; owner's `accounts:write`.
    UpdateServiceAccount(UpdateServiceAccount { actor: Actor, principal: String, description: Option<String> }) -> Account(Account);
    /// Sets or clears the direct role in a tenant; `accounts:write`.
    SetRole(SetRole { actor: Actor, tenant: String, principal: String, role: Option<String> }) -> Account(Account);
    /// Adds direct grants in a tenant; `accounts:write`.
    GrantPermissions(GrantPermissions { actor: Actor, tenant: String, principal: String, grants: Vec<Grant> }) -> Account(Account);
    /// Removes direct grants in a tenant; `accounts:write`.
    RevokePermissions(RevokePermissions { actor: Actor, tenant: String, principal: String, grants: Vec<Grant> }) -> Account(Account);
    /// Gives an account access to another tenant; `accounts:write` there.
    GrantAccess(GrantAccess { actor: Actor, tenant: String, principal: String, role: Option<String> = "none", grants: Vec<Grant> = "empty" }) -> Account(Account);
    /// Removes an account's access to a non-owner tenant; `accounts:write` there.
    RemoveAccess(RemoveAccess { actor: Actor, tenant: String, principal: String }) -> Nothing(());
    /// Disables an account; owner's `accounts:write`.
    DisableAccount(DisableAccount { actor: Actor, principal: String }) -> Account(Account);
    /// Enables a disabled account; owner's `accounts:write`.
    EnableAccount(EnableAccount { actor: Actor, principal: String }) -> Account(Account);
    /// Revokes an account for good; owner's `accounts:write`.
    RevokeAccount(RevokeAccount { actor: Actor, principal: String }) -> Account(Account);
    /// Deletes an account and its credentials; owner's `accounts:delete`.
    DeleteAccount(DeleteAccount { actor: Actor, principal: String }) -> Nothing(());
    /// Issues a token (R-20..R-23); owner's `tokens:write`.
    CreateToken(CreateToken { actor: Actor, principal: String, name: Option<String> = "none", ttl_days: Option<u64> = "none", expires_at: Option<i64> = "none", never_expires: bool = "no", scopes: Option<Vec<Scope>> = "none" }) -> TokenCreated(TokenCreated);
    /// An account's tokens, revoked and expired included; owner's `tokens:read`.
    ListTokens(ListTokens { actor: Actor, principal: String }) -> Tokens(Vec<TokenInfo>);
    /// Renames a token; owner's `tokens:write`.
    RenameToken(RenameToken { actor: Actor, principal: String, token_id: String, name: String }) -> TokenInfo(TokenInfo);
    /// Revokes a token; owner's `tokens:write`.
    RevokeToken(RevokeToken { actor: Actor, principal: String, token_id: String }) -> TokenInfo(TokenInfo);
    /// Rotates a token with a grace period; owner's `tokens:write`.
    RotateToken(RotateToken { actor: Actor, principal: String, token_id: String, grace_seconds: Option<u64> = "none" }) -> TokenCreated(TokenCreated);
    /// Sets or clears a service account's password; owner's `accounts:write`.
    SetPassword(SetPassword { actor: Actor, principal: String, password: Option<Secret> }) -> Account(Account);
    /// Signs in with a password (R-10..R-13, R-51); raises on failure.
    AuthenticatePassword(AuthenticatePassword { principal: String, password: Secret, channel: Channel = "api" }) -> Identity(Identity);
    /// A tenant's audit events, newest first; `audit:read`.
    AuditLog(AuditLog { actor: Actor, tenant: String, filter: Option<String> = "none", page_size: Option<u64> = "none", page_token: Option<String> = "none" }) -> AuditPage(AuditPage);
    /// Verifies a token (R-10..R-15); raises on failure.
    Authenticate(Authenticate { token: Secret, channel: Channel = "api" }) -> Identity(Identity);
    /// Decides a permission for an identity or principal in a tenant.
    Authorize(Authorize { #[serde(alias = "principal", alias = "identity")] identity_or_principal: Subject, tenant: String, permission: String, resource: String = "default_resource" }) -> Decision(Decision);
    /// Verifies a token and decides in one call; credential failures are data.
    Verify(Verify { token: Secret, tenant: String, permission: String, resource: String = "default_resource", channel: Channel = "api" }) -> Decision(Decision);
    /// What an identity or principal may do in a tenant, with sources.
    EffectivePermissions(EffectivePermissions { #[serde(alias = "principal", alias = "identity")] identity_or_principal: Subject, tenant: String }) -> Effective(Vec<EffectiveGrant>);
}

/// The record an operation answers with.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[allow(missing_docs)]
pub enum Answer {
    Tenant(Tenant),
    Role(Role),
    Group(Group),
    Account(Account),
    AccountPage(AccountPage),
    TokenInfo(TokenInfo),
    TokenCreated(TokenCreated),
    Tokens(Vec<TokenInfo>),
    SyncReport(SyncReport),
    AuditPage(AuditPage),
    Seats(Seats),
    Identity(Identity),
    Decision(Decision),
    Effective(Vec<EffectiveGrant>),
    /// Removals answer nothing (`null`).
    Nothing(()),
}

/// A typed operation: its argument struct, and the record it answers with.
pub trait Request {
    /// The record answered.
    type Output;
    /// The operation as data.
    fn into_call(self) -> Call;
    /// Extracts the typed record from an answer.
    fn from_answer(answer: Answer) -> Result<Self::Output>;
}

impl Call {
    /// Whether the operation hashes a password (Argon2id, tens of milliseconds): hosts run
    /// such calls off their main thread or without their interpreter lock.
    pub fn hashes_password(&self) -> bool {
        match self {
            Call::SetPassword(a) => a.password.is_some(),
            Call::CreateServiceAccount(a) => a.password.is_some(),
            Call::AuthenticatePassword(_) => true,
            _ => false,
        }
    }

    /// Parses `{"op", "args"}` JSON, as scenarios and bindings send it. An unknown operation,
    /// a missing or unknown argument, or a value of the wrong shape is `invalid_argument`
    /// naming the argument.
    pub fn from_json(value: Value) -> Result<Call> {
        let op = value.get("op").and_then(Value::as_str).unwrap_or_default().to_owned();
        // The tag must come first: serde then reads `args` straight into the operation's
        // struct, and the error path names the argument at fault.
        let mut ordered = Map::new();
        ordered.insert("op".into(), Value::String(op.clone()));
        ordered.insert("args".into(), value.get("args").cloned().unwrap_or_else(|| Value::Object(Map::new())));
        serde_path_to_error::deserialize::<_, Call>(Value::Object(ordered)).map_err(|e| {
            let path = e.path().to_string();
            let field = path.strip_prefix("args.").unwrap_or(&path);
            let field = field.split(['.', '[']).next().filter(|f| !f.is_empty() && *f != "?" && *f != "args");
            let message = e.into_inner().to_string();
            let field = match (unknown_or_missing(&message), field) {
                (Some(name), _) => name,
                (None, Some(f)) => f.to_owned(),
                (None, None) if op.is_empty() || message.starts_with("unknown variant") => "op".to_owned(),
                (None, None) => "args".to_owned(),
            };
            Error::invalid(&field, message)
        })
    }
}

fn unknown_or_missing(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `").or_else(|| message.strip_prefix("missing field `"))?;
    Some(rest.split('`').next()?.to_owned())
}
