//! Every operation as data: [`Call`] (the operation and its arguments, as API.md names them)
//! and [`Answer`] (its record). Conformance scenarios and bindings speak this form:
//! `{"op": "create_token", "args": {"actor": ..., "principal": ...}}`.
//!
//! In Rust, each argument struct is also a typed [`Request`]: `keyward.run(CreateToken {..})`
//! returns a [`TokenCreated`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::authz::pattern::{Grant, Scope};
use crate::engine::Inner;
use crate::error::{Error, Result};
use crate::op::{Env, Op};
use crate::records::*;
use crate::secret::Secret;
use crate::{accounts, dataplane, passwords, tenancy, tokens};

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
    /// (not these) apply. JavaScript's identities spell it `tokenId`.
    #[serde(default, alias = "tokenId")]
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

/// One parameter of an operation, as the table declares it (API.md's order and names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamSpec {
    /// The name (`snake_case`; JavaScript spells it in camelCase).
    pub name: &'static str,
    /// The Rust type, as written in the table (`Option<String>`, `Vec<Grant>`, ...): the stub
    /// generator maps it to each host's type.
    pub rust_type: &'static str,
    /// The function giving its default (`"none"`, `"empty"`, ...); `None`: required.
    pub default: Option<&'static str>,
    /// Keyword-only (Python, after `*`; JavaScript's trailing options object), else positional.
    pub keyword: bool,
}

impl OpSpec {
    /// The positional parameters, in order.
    pub fn positional(&self) -> impl Iterator<Item = &'static ParamSpec> {
        self.params.iter().filter(|p| !p.keyword)
    }

    /// The keyword-only parameters.
    pub fn keywords(&self) -> impl Iterator<Item = &'static ParamSpec> {
        self.params.iter().filter(|p| p.keyword)
    }

    /// How many positional parameters are required (the rest have defaults).
    pub fn required(&self) -> usize {
        self.positional().filter(|p| p.default.is_none()).count()
    }
}

/// One operation, as the table declares it: the single source of dispatch, the hosts'
/// signatures, the Python methods and stubs and the TypeScript declarations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpSpec {
    /// The name (`snake_case`, as in API.md).
    pub op: &'static str,
    /// What it does, in Markdown: the first line is a summary.
    pub doc: &'static str,
    /// Its parameters: the positional ones, then the keyword-only ones.
    pub params: &'static [ParamSpec],
    /// The [`Answer`] variant it answers with (`Nothing` for removals).
    pub answer: &'static str,
}

const fn param(name: &'static str, rust_type: &'static str, default: &'static str, keyword: bool) -> ParamSpec {
    ParamSpec { name, rust_type, default: if default.is_empty() { None } else { Some(default) }, keyword }
}

/// The operation table. Each entry: docs, `name: Variant(positional; keyword-only) ->
/// AnswerVariant(Type) by task|plane handler` (see [`start!`]). An optional argument carries `= "default_fn"`. From it come
/// the argument structs, [`Call`], dispatch ([`Call::start`]), [`Call::from_named`] and
/// [`OPERATIONS`] (which `host` and the stub generator `bindings/stubs` read).
macro_rules! calls {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident : $variant:ident(
            $( $(#[$pattr:meta])* $p:ident : $pty:ty $(= $pdef:literal)? ),* ;
            $( $(#[$kattr:meta])* $k:ident : $kty:ty $(= $kdef:literal)? ),* $(,)?
        ) -> $answer:ident($out:ty) by $kind:ident $handler:path;
    )*) => {
        $(
            $(#[doc = $doc])*
            #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
            #[serde(deny_unknown_fields)]
            pub struct $variant {
                $( #[doc = concat!("`", stringify!($p), "`, as API.md names it.")] $(#[$pattr])* $(#[serde(default = $pdef)])? pub $p: $pty, )*
                $( #[doc = concat!("`", stringify!($k), "` (keyword-only), as API.md names it.")] $(#[$kattr])* $(#[serde(default = $kdef)])? pub $k: $kty, )*
            }

            impl Request for $variant {
                type Output = $out;
                fn into_call(self) -> Call {
                    Call::$variant(self)
                }
                fn from_answer(answer: Answer) -> Result<$out> {
                    match answer {
                        Answer::$answer(out) => Ok(out),
                        _ => Err(Error::internal(concat!("unexpected answer to ", stringify!($name)))),
                    }
                }
            }
        )*

        /// One operation with its arguments.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "op", content = "args", rename_all = "snake_case")]
        #[allow(missing_docs)]
        pub enum Call {
            $( $variant($variant), )*
        }

        /// Every operation, in API.md's order.
        pub const OPERATIONS: &[OpSpec] = &[
            $(
                OpSpec {
                    op: stringify!($name),
                    doc: concat!($($doc, "\n",)*),
                    params: &[
                        $( param(stringify!($p), stringify!($pty), stringify!($($pdef)?), false), )*
                        $( param(stringify!($k), stringify!($kty), stringify!($($kdef)?), true), )*
                    ],
                    answer: stringify!($answer),
                },
            )*
        ];

        impl Call {
            /// The operation's name, as in API.md (`create_token`).
            pub fn name(&self) -> &'static str {
                match self {
                    $( Call::$variant(_) => stringify!($name), )*
                }
            }

            /// Reads operation `op`'s named arguments straight from any serde data format (JSON
            /// text, a JavaScript value, a parsed `Value`) into its struct. An unknown operation,
            /// a missing or unknown argument, or a value of the wrong shape is
            /// `invalid_argument` naming the argument at fault.
            pub fn from_named<'de, D: serde::Deserializer<'de>>(op: &str, args: D) -> Result<Call> {
                match op {
                    $( stringify!($name) => typed(args).map(Call::$variant), )*
                    _ => Err(Error::invalid("op", format!("unknown operation `{op}`"))),
                }
            }

            /// Starts the operation (the engine's dispatch).
            pub(crate) fn start(self, inner: Arc<Inner>, env: Env) -> Op {
                match self {
                    $( Call::$variant(a) => start!($kind $handler, inner, env, a, $answer), )*
                }
            }
        }
    };
}

/// How an operation runs: `task`, an `async fn` over [`crate::op::Cx`] (admin operations);
/// `plane`, a constructor of the data plane's hand-written step machine (the hot path).
macro_rules! start {
    (task $handler:path, $inner:ident, $env:ident, $a:ident, $answer:ident) => {
        Op::new($inner, $env, move |cx| async move { $handler(&cx, $a).await.map(Answer::$answer) })
    };
    (plane $handler:path, $inner:ident, $env:ident, $a:ident, $answer:ident) => {
        Op::plane($inner, $env, $handler($a))
    };
}

/// Deserialises an argument struct, naming the argument at fault in the error.
fn typed<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(args: D) -> Result<T> {
    serde_path_to_error::deserialize(args).map_err(|e| {
        let path = e.path().to_string();
        let top = path.split(['.', '[']).next().filter(|f| !f.is_empty() && *f != "?").map(str::to_owned);
        let message = e.into_inner().to_string();
        // Where in a JSON text is no news to a host that never wrote one.
        let message = message.split(" at line ").next().unwrap_or_default().to_owned();
        // A key the caller wrote names the error only when it looks like a name: an error never
        // echoes what could be a secret.
        // An argument is named by itself, even when what is wrong lies inside it (a grant's
        // unknown key names `grants`); an unknown or missing argument by its own name.
        let field = top.or_else(|| unknown_or_missing(&message)).filter(|f| name_shaped(f));
        Error::invalid(field.as_deref().unwrap_or("args"), message)
    })
}

/// A key that may name the error: name-like, and not shaped like a token, which the
/// alphabet alone would let through (`kw_<id>_<secret>` is 55 such characters).
fn name_shaped(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && matches!(crate::error::redact(name), std::borrow::Cow::Borrowed(_))
}

impl Call {
    /// Whether the operation needs the host's random bytes ([`crate::Env::seed`]): all but the
    /// decisions (`authenticate`, `verify`, `authorize`, `effective_permissions`), which create
    /// nothing and store nothing. A host may skip drawing a seed for those and pass zeros.
    pub fn draws_randomness(&self) -> bool {
        !matches!(self, Call::Authenticate(_) | Call::Verify(_) | Call::Authorize(_) | Call::EffectivePermissions(_))
    }
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
fn hundred() -> Option<u64> {
    Some(100)
}
fn one_day() -> Option<u64> {
    Some(86_400)
}

// The table. Docs say what each operation does and which rules it keeps; a Python docstring
// and a TypeScript comment are made from them, so they name errors by their codes.
calls! {
    /// Creates a tenant and its first admin, the user `admin` (an email).
    ///
    /// Bootstrap: there is no actor, so the host must guard this call. If a user with that
    /// email exists, it gets the `admin` role in the new tenant instead. Writes `tenant.create`
    /// with actor kind `system`. `settings` are checked as `update_tenant_settings`
    /// checks them.
    create_tenant: CreateTenant(tenant: String; admin: String, name: Option<String> = "none", settings: Option<Map<String, Value>> = "none") -> Tenant(Tenant) by task tenancy::tenants::create_tenant;
    /// The tenant's record; needs any access to the tenant.
    get_tenant: GetTenant(actor: Actor, tenant: String;) -> Tenant(Tenant) by task tenancy::tenants::get_tenant;
    /// Merges `settings` into the tenant's, each value checked; `settings:write`.
    ///
    /// Keys: `default_token_ttl_days`, `max_token_ttl_days`, `allow_non_expiring_tokens`,
    /// `max_tokens_per_account`, `max_service_accounts`, `seat_limit`,
    /// `default_service_account_role` (no escalation, R-47), `password_policy`.
    update_tenant_settings: UpdateTenantSettings(actor: Actor, tenant: String, settings: Map<String, Value>;) -> Tenant(Tenant) by task tenancy::tenants::update_tenant_settings;
    /// Creates or replaces custom role `role`; `roles:write`.
    ///
    /// Built-in names are refused; the actor must hold every grant it gives.
    define_role: DefineRole(actor: Actor, tenant: String, role: String, grants: Vec<Grant>;) -> Role(Role) by task tenancy::roles::define_role;
    /// Deletes a custom role; one still in use is `failed_precondition`; `roles:write`.
    delete_role: DeleteRole(actor: Actor, tenant: String, role: String;) -> Nothing(()) by task tenancy::roles::delete_role;
    /// Creates a group carrying `roles` and `grants`; `groups:write`.
    create_group: CreateGroup(actor: Actor, tenant: String, group: String; roles: Vec<String> = "empty", grants: Vec<Grant> = "empty") -> Group(Group) by task tenancy::groups::create_group;
    /// Deletes a group; `everyone` cannot be deleted; `groups:write`.
    delete_group: DeleteGroup(actor: Actor, tenant: String, group: String;) -> Nothing(()) by task tenancy::groups::delete_group;
    /// Adds an account with access to the tenant to a group; `groups:write`.
    add_group_member: AddGroupMember(actor: Actor, tenant: String, group: String, principal: String;) -> Group(Group) by task tenancy::groups::add_group_member;
    /// Removes an account from a group; never from `everyone`; `groups:write`.
    remove_group_member: RemoveGroupMember(actor: Actor, tenant: String, group: String, principal: String;) -> Group(Group) by task tenancy::groups::remove_group_member;
    /// Adds grants to a group; `groups:write`.
    grant_group_permissions: GrantGroupPermissions(actor: Actor, tenant: String, group: String, grants: Vec<Grant>;) -> Group(Group) by task tenancy::groups::grant_group_permissions;
    /// Removes grants from a group; `groups:write`.
    revoke_group_permissions: RevokeGroupPermissions(actor: Actor, tenant: String, group: String, grants: Vec<Grant>;) -> Group(Group) by task tenancy::groups::revoke_group_permissions;
    /// Creates a user owned by the tenant; its principal is the email.
    ///
    /// `accounts:write`; a `role` beyond the actor's own rights is `forbidden`; past the
    /// tenant's `seat_limit` is `quota_exceeded`.
    create_user: CreateUser(actor: Actor, tenant: String, email: String; name: Option<String> = "none", role: Option<String> = "none", mfa: bool = "no") -> Account(Account) by task accounts::create::create_user;
    /// Removes a user and its personal tokens; never the last admin.
    ///
    /// `accounts:delete`.
    remove_user: RemoveUser(actor: Actor, tenant: String, email: String;) -> Nothing(()) by task tenancy::directory::remove_user;
    /// Makes the tenant's own users match an identity provider's list.
    ///
    /// `users` is a list of `{email, name}`. Creates, renames and removes users only; service
    /// accounts and external users are untouched. `accounts:write` and `accounts:delete`.
    /// Answers `{created, updated, removed, skipped}`.
    sync_directory: SyncDirectory(actor: Actor, tenant: String, users: Vec<DirectoryUser>;) -> SyncReport(SyncReport) by task tenancy::directory::sync_directory;
    /// Creates a service account owned by `tenant`; `accounts:write`.
    ///
    /// Its principal is `<name>@<tenant>.sa.<domain>`. Without `role` it gets the tenant's
    /// `default_service_account_role` (none by default, R-40). The actor must hold the rights
    /// it gives; past `max_service_accounts` is `quota_exceeded`. A `password`
    /// must meet the tenant's policy and is stored as Argon2id.
    create_service_account: CreateServiceAccount(actor: Actor, tenant: String, name: String; description: Option<String> = "none", role: Option<String> = "none", grants: Vec<Grant> = "empty", password: Option<Secret> = "none") -> Account(Account) by task accounts::create::create_service_account;
    /// An account as seen from `tenant`; `accounts:read`.
    get_account: GetAccount(actor: Actor, tenant: String, principal: String;) -> Account(Account) by task accounts::read::get_account;
    /// Accounts with access to `tenant`, owned and external, by principal.
    ///
    /// `filter` uses the AIP-160 grammar of R-70 (a bad one is `invalid_filter` with its
    /// `position`); `page_size` is 1 to 1,000. `accounts:read`. Answers
    /// `{accounts, next_page_token}`.
    list_accounts: ListAccounts(actor: Actor, tenant: String; filter: Option<String> = "none", page_size: Option<u64> = "hundred", page_token: Option<String> = "none") -> AccountPage(AccountPage) by task accounts::read::list_accounts;
    /// Changes a service account's description; owner's `accounts:write`.
    update_service_account: UpdateServiceAccount(actor: Actor, principal: String; description: Option<String>) -> Account(Account) by task accounts::lifecycle::update_service_account;
    /// Sets (or with null clears) the account's one direct role in `tenant`.
    ///
    /// `accounts:write`; no escalation.
    set_role: SetRole(actor: Actor, tenant: String, principal: String, role: Option<String>;) -> Account(Account) by task accounts::access::set_role;
    /// Adds direct grants in `tenant`; `accounts:write`.
    grant_permissions: GrantPermissions(actor: Actor, tenant: String, principal: String, grants: Vec<Grant>;) -> Account(Account) by task accounts::access::grant_permissions;
    /// Removes direct grants in `tenant`; `accounts:write`.
    revoke_permissions: RevokePermissions(actor: Actor, tenant: String, principal: String, grants: Vec<Grant>;) -> Account(Account) by task accounts::access::revoke_permissions;
    /// Gives an account of another tenant access to `tenant`.
    ///
    /// Needs `accounts:write` in `tenant`; the owner tenant is `invalid_argument`, a second
    /// grant `already_exists`.
    grant_access: GrantAccess(actor: Actor, tenant: String, principal: String; role: Option<String> = "none", grants: Vec<Grant> = "empty") -> Account(Account) by task accounts::access::grant_access;
    /// Removes an external account's access to `tenant`; `accounts:write`.
    remove_access: RemoveAccess(actor: Actor, tenant: String, principal: String;) -> Nothing(()) by task accounts::access::remove_access;
    /// Disables an account: its credentials stop working at once.
    disable_account: DisableAccount(actor: Actor, principal: String;) -> Account(Account) by task accounts::lifecycle::disable_account;
    /// Enables a disabled account; a revoked one is `failed_precondition`.
    enable_account: EnableAccount(actor: Actor, principal: String;) -> Account(Account) by task accounts::lifecycle::enable_account;
    /// Revokes an account for good; the principal is kept as inactive.
    revoke_account: RevokeAccount(actor: Actor, principal: String;) -> Account(Account) by task accounts::lifecycle::revoke_account;
    /// Deletes an account and its credentials; owner's `accounts:delete`.
    delete_account: DeleteAccount(actor: Actor, principal: String;) -> Nothing(()) by task accounts::lifecycle::delete_account;
    /// Sets (or with null clears) a service account's password.
    ///
    /// A weak password is `weak_password` listing the unmet `rules`; a user is
    /// `invalid_argument`. Hashing takes tens of milliseconds: hosts run it off their main
    /// thread (Python releases the GIL).
    set_password: SetPassword(actor: Actor, principal: String, password: Option<Secret>;) -> Account(Account) by task passwords::ops::set_password;
    /// Issues a token (R-20..R-23, R-26, R-47); owner's `tokens:write`.
    ///
    /// At most one of `ttl_days`, `expires_at` (ms) and `never_expires`. The answer
    /// holds `token`, the plaintext: the only time it is seen.
    create_token: CreateToken(actor: Actor, principal: String; name: Option<String> = "none", ttl_days: Option<u64> = "none", expires_at: Option<i64> = "none", never_expires: bool = "no", scopes: Option<Vec<Scope>> = "none") -> TokenCreated(TokenCreated) by task tokens::ops::create_token;
    /// An account's tokens, revoked and expired included: metadata only.
    ///
    /// Owner's `tokens:read`.
    list_tokens: ListTokens(actor: Actor, principal: String;) -> Tokens(Vec<TokenInfo>) by task tokens::ops::list_tokens;
    /// Renames a token (1 to 64 printable characters, R-24); owner's `tokens:write`.
    rename_token: RenameToken(actor: Actor, principal: String, token_id: String, name: String;) -> TokenInfo(TokenInfo) by task tokens::ops::rename_token;
    /// Revokes a token; revoking a revoked one changes nothing; owner's `tokens:write`.
    revoke_token: RevokeToken(actor: Actor, principal: String, token_id: String;) -> TokenInfo(TokenInfo) by task tokens::ops::revoke_token;
    /// Issues a successor and lets the old token expire after `grace_seconds`.
    ///
    /// Same name, scopes and lifetime length; a revoked or expired token is
    /// `failed_precondition`. Owner's `tokens:write`. The answer holds the new `token`.
    rotate_token: RotateToken(actor: Actor, principal: String, token_id: String; grace_seconds: Option<u64> = "one_day") -> TokenCreated(TokenCreated) by task tokens::ops::rotate_token;
    /// Active users counted as seats; service accounts apart; `accounts:read`.
    seat_usage: SeatUsage(actor: Actor, tenant: String;) -> Seats(Seats) by task tenancy::directory::seat_usage;
    /// The tenant's audit events, newest first; `audit:read`.
    ///
    /// `filter` uses R-70's grammar over `action`, `actor`, `target`, `outcome` and `time`.
    /// Answers `{events, next_page_token}`.
    audit_log: AuditLog(actor: Actor, tenant: String; filter: Option<String> = "none", page_size: Option<u64> = "hundred", page_token: Option<String> = "none") -> AuditPage(AuditPage) by task crate::audit::log::audit_log;
    /// Verifies a token and answers who it belongs to (R-10..R-15, R-20, R-21).
    ///
    /// Raises `invalid_credentials` until the secret verifies, then `token_revoked`,
    /// `token_expired`, `account_disabled` / `account_revoked` and `channel_not_allowed`, in
    /// that order.
    authenticate: Authenticate(token: Secret; channel: Channel = "api") -> Identity(Identity) by plane dataplane::Plane::authenticate;
    /// Signs a service account in with its password (R-10..R-13, R-50, R-51).
    ///
    /// Raises like `authenticate`. Hashing takes tens of milliseconds: hosts run it off their
    /// main thread (Python releases the GIL).
    authenticate_password: AuthenticatePassword(principal: String, password: Secret; channel: Channel = "api") -> Identity(Identity) by task passwords::ops::authenticate_password;
    /// Decides `permission` on `resource` in `tenant`.
    ///
    /// Takes a principal (the account's full rights) or an identity from `authenticate` (its
    /// token's scopes apply, R-26). The decision explains itself: `matched` says which grant
    /// allowed it and its source.
    authorize: Authorize(#[serde(alias = "principal", alias = "identity")] identity_or_principal: Subject, tenant: String, permission: String, resource: String = "default_resource";) -> Decision(Decision) by plane dataplane::Plane::authorize;
    /// Authenticates a token and authorizes in one call (R-10..R-15, R-44, R-45).
    ///
    /// Never raises for a bad credential: the failure's code is the decision's `reason`.
    verify: Verify(token: Secret, tenant: String, permission: String, resource: String = "default_resource"; channel: Channel = "api") -> Decision(Decision) by plane dataplane::Plane::verify;
    /// Every grant an identity or principal holds in `tenant`, with its source.
    effective_permissions: EffectivePermissions(#[serde(alias = "principal", alias = "identity")] identity_or_principal: Subject, tenant: String;) -> Effective(Vec<EffectiveGrant>) by task dataplane::effective_permissions;
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

    /// Parses `{"op", "args"}` JSON, as scenarios and the `keyward` command write it: the
    /// arguments are read by [`Call::from_named`].
    pub fn from_json(value: Value) -> Result<Call> {
        let Value::Object(mut map) = value else {
            return Err(Error::invalid("op", "expected {\"op\", \"args\"}"));
        };
        let op = match map.remove("op") {
            Some(Value::String(op)) => op,
            _ => return Err(Error::invalid("op", "missing operation name")),
        };
        Call::from_named(&op, map.remove("args").unwrap_or_else(|| Value::Object(Map::new())))
    }
}

fn unknown_or_missing(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `").or_else(|| message.strip_prefix("missing field `"))?;
    Some(rest.split('`').next()?.to_owned())
}
