//! The command line: nouns first, each sub-command turned into one operation of API.md with
//! its arguments named as API.md names them ([`Plan`]). Nothing here decides anything: the
//! core checks every value.

use clap::{Args, Parser, Subcommand};
use keyward_core::Error;
use serde_json::{Map, Value};

use crate::output::Format;
use crate::{invalid, read_password, read_token};

const MAIN_HELP: &str = "\
Examples:
  keyward tenant create acme --admin root@acme.test
  export KEYWARD_ACTOR=root@acme.test
  keyward sa create acme deploy-bot --role inference-user
  keyward token create deploy-bot@acme.sa.keyward.local --name ci
  KEYWARD_TOKEN=kw_... keyward verify acme models:read

Exit status: 0 done (verify/authorize: allowed), 1 denied or refused (rights, credentials),
2 usage or bad input, 3 refused by the target's state, 4 store or internal error.";

/// The `keyward` command.
#[derive(Debug, Parser)]
#[command(name = "keyward", version, about = "Keyward: service accounts, tokens and permission decisions", after_help = MAIN_HELP)]
pub struct Cli {
    /// SQLite file (created on first use) or a postgres:// / postgresql:// URL.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "KEYWARD_DB",
        default_value = "keyward.db",
        value_name = "PATH|URL",
        hide_env_values = true
    )]
    pub db: String,
    /// The acting principal of admin commands.
    #[arg(
        long = "as",
        global = true,
        help_heading = "Global options",
        env = "KEYWARD_ACTOR",
        value_name = "PRINCIPAL"
    )]
    pub actor: Option<String>,
    /// Output: `table` for people, `json` for the API.md record and nothing else.
    #[arg(short = 'o', long = "output", global = true, help_heading = "Global options", value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// Domain of service-account principals.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "KEYWARD_DOMAIN",
        default_value = "keyward.local"
    )]
    pub domain: String,
    /// Prefix of new tokens.
    #[arg(long, global = true, help_heading = "Global options", env = "KEYWARD_TOKEN_PREFIX", default_value = "kw")]
    pub token_prefix: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Noun,
}

/// One operation to run: its API.md name and arguments.
#[derive(Debug)]
pub struct Plan {
    /// The operation (`snake_case`).
    pub op: &'static str,
    /// Its arguments, as API.md names them (the actor is added for admin commands).
    pub args: Map<String, Value>,
    /// Whether it is an admin operation (needs `--as`).
    pub admin: bool,
    /// `--all`: the list field of the page to gather.
    pub all_pages: Option<&'static str>,
    /// A decision: not allowed exits 1.
    pub decision: bool,
}

impl Plan {
    fn new(op: &'static str, admin: bool) -> Plan {
        Plan { op, args: Map::new(), admin, all_pages: None, decision: false }
    }
    fn admin(op: &'static str) -> Plan {
        Plan::new(op, true)
    }
    fn set(mut self, key: &str, value: impl Into<Value>) -> Plan {
        self.args.insert(key.to_owned(), value.into());
        self
    }
    fn opt(self, key: &str, value: Option<impl Into<Value>>) -> Plan {
        match value {
            Some(v) => self.set(key, v),
            None => self,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Noun {
    /// Tenants: create, show, update settings, seats.
    #[command(
        subcommand,
        after_help = "Examples:\n  keyward tenant create acme --admin root@acme.test\n  keyward --as root@acme.test tenant seats acme"
    )]
    Tenant(TenantCmd),
    /// Custom roles.
    #[command(
        subcommand,
        after_help = "Examples:\n  keyward role define acme model-reader models:read 'models:list@models/*'"
    )]
    Role(RoleCmd),
    /// Groups, their members and grants.
    #[command(
        subcommand,
        after_help = "Examples:\n  keyward group create acme ml-bots --role inference-user\n  keyward group add-member acme ml-bots deploy-bot@acme.sa.keyward.local"
    )]
    Group(GroupCmd),
    /// Users owned by a tenant, and directory sync.
    #[command(
        subcommand,
        after_help = "Examples:\n  keyward user create acme ada@acme.test --name 'Ada L.' --role admin"
    )]
    User(UserCmd),
    /// Service accounts.
    #[command(subcommand, after_help = "Examples:\n  keyward sa create acme deploy-bot --role inference-user")]
    Sa(SaCmd),
    /// Accounts seen from a tenant: list, show, roles, grants, lifecycle.
    #[command(
        subcommand,
        after_help = "Examples:\n  keyward account list acme --filter 'service_account=true'\n  keyward account disable deploy-bot@acme.sa.keyward.local"
    )]
    Account(AccountCmd),
    /// An account's access to another tenant.
    #[command(
        subcommand,
        after_help = "Examples:\n  keyward --as root@globex.test access grant globex deploy-bot@acme.sa.keyward.local --role viewer"
    )]
    Access(AccessCmd),
    /// Tokens of an account.
    #[command(
        subcommand,
        after_help = "Examples:\n  keyward token create deploy-bot@acme.sa.keyward.local --name ci --ttl-days 30\n  keyward token rotate deploy-bot@acme.sa.keyward.local TOKEN_ID"
    )]
    Token(TokenCmd),
    /// Verifies a token (env KEYWARD_TOKEN, else stdin's first line) and decides a permission.
    #[command(
        after_help = "Example:\n  KEYWARD_TOKEN=kw_... keyward verify acme models:read models/llama-3\n  echo \"$TOKEN\" | keyward -o json verify acme models:read\n\nExit status 0 when allowed, 1 when denied (the decision is still printed)."
    )]
    Verify {
        /// Tenant.
        tenant: String,
        /// Permission, `type:action`.
        permission: String,
        /// Resource (default `*`).
        resource: Option<String>,
        /// Channel the token is presented on (api, ui, ...).
        #[arg(long)]
        channel: Option<String>,
    },
    /// The identity behind a token (env KEYWARD_TOKEN, else stdin), or a password sign-in.
    #[command(
        after_help = "Examples:\n  KEYWARD_TOKEN=kw_... keyward authenticate\n  printf '%s' \"$PW\" | keyward authenticate --principal bot@acme.sa.keyward.local --password-stdin"
    )]
    Authenticate {
        /// Channel (api, ui, ...).
        #[arg(long)]
        channel: Option<String>,
        /// Sign in with a password as this principal (with --password-stdin).
        #[arg(long, requires = "password_stdin")]
        principal: Option<String>,
        /// Read the password from stdin (all of it, less one trailing newline).
        #[arg(long, requires = "principal")]
        password_stdin: bool,
    },
    /// Decides a permission for a principal in a tenant.
    #[command(
        after_help = "Example:\n  keyward authorize acme deploy-bot@acme.sa.keyward.local models:read models/llama-3\n\nExit status 0 when allowed, 1 when denied (the decision is still printed)."
    )]
    Authorize {
        /// Tenant.
        tenant: String,
        /// Principal.
        principal: String,
        /// Permission, `type:action`.
        permission: String,
        /// Resource (default `*`).
        resource: Option<String>,
    },
    /// What a principal may do in a tenant, with the source of each grant.
    #[command(after_help = "Example:\n  keyward permissions acme deploy-bot@acme.sa.keyward.local")]
    Permissions {
        /// Tenant.
        tenant: String,
        /// Principal.
        principal: String,
    },
    /// A tenant's audit events, newest first.
    #[command(
        after_help = "Examples:\n  keyward audit acme\n  keyward -o json audit acme --filter 'action=token.create' --all"
    )]
    Audit {
        /// Tenant.
        tenant: String,
        #[command(flatten)]
        page: Page,
    },
}

/// Paging of `account list` and `audit`.
#[derive(Debug, Args)]
pub struct Page {
    /// Filter (SPEC R-70 grammar).
    #[arg(long)]
    filter: Option<String>,
    /// Items per page (default 100, max 1000).
    #[arg(long)]
    page_size: Option<u64>,
    /// Continue from a previous page's next_page_token.
    #[arg(long, conflicts_with = "all")]
    page_token: Option<String>,
    /// Fetch every page; print one page holding every item.
    #[arg(long)]
    all: bool,
}

#[derive(Debug, Subcommand)]
pub enum TenantCmd {
    /// Creates a tenant and its first admin (bootstrap: no --as needed).
    #[command(
        after_help = "Example:\n  keyward tenant create acme --admin root@acme.test --name 'Acme Corp' --set seat_limit=50"
    )]
    Create {
        /// Tenant id.
        tenant: String,
        /// The first admin's email.
        #[arg(long)]
        admin: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// A setting, KEY=VALUE (VALUE parsed as JSON, else a string); repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Shows a tenant.
    #[command(after_help = "Example:\n  keyward --as root@acme.test tenant show acme")]
    Show {
        /// Tenant id.
        tenant: String,
    },
    /// Merges settings into a tenant's.
    #[command(
        after_help = "Example:\n  keyward tenant update acme --set default_token_ttl_days=90 --set seat_limit=20"
    )]
    Update {
        /// Tenant id.
        tenant: String,
        /// A setting, KEY=VALUE (VALUE parsed as JSON, else a string); repeatable.
        #[arg(long = "set", value_name = "KEY=VALUE", required = true)]
        set: Vec<String>,
    },
    /// Seats in use.
    #[command(after_help = "Example:\n  keyward tenant seats acme")]
    Seats {
        /// Tenant id.
        tenant: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RoleCmd {
    /// Creates or replaces a custom role.
    #[command(after_help = "Example:\n  keyward role define acme model-reader models:read 'models:list@models/*'")]
    Define {
        /// Tenant.
        tenant: String,
        /// Role name.
        role: String,
        /// Grants: PERMISSION[@RESOURCE] or a JSON object.
        #[arg(required = true)]
        grants: Vec<String>,
    },
    /// Deletes an unused custom role.
    #[command(after_help = "Example:\n  keyward role delete acme model-reader")]
    Delete {
        /// Tenant.
        tenant: String,
        /// Role name.
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum GroupCmd {
    /// Creates a group.
    #[command(
        after_help = "Example:\n  keyward group create acme ml-bots --role inference-user --grant 'models:read@models/llama*'"
    )]
    Create {
        /// Tenant.
        tenant: String,
        /// Group name.
        group: String,
        /// A role of the group; repeatable.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// A grant, PERMISSION[@RESOURCE]; repeatable.
        #[arg(long = "grant")]
        grants: Vec<String>,
    },
    /// Deletes a group.
    #[command(after_help = "Example:\n  keyward group delete acme ml-bots")]
    Delete {
        /// Tenant.
        tenant: String,
        /// Group name.
        group: String,
    },
    /// Adds an account to a group.
    #[command(after_help = "Example:\n  keyward group add-member acme ml-bots deploy-bot@acme.sa.keyward.local")]
    AddMember {
        /// Tenant.
        tenant: String,
        /// Group name.
        group: String,
        /// Principal.
        principal: String,
    },
    /// Removes an account from a group.
    #[command(after_help = "Example:\n  keyward group remove-member acme ml-bots deploy-bot@acme.sa.keyward.local")]
    RemoveMember {
        /// Tenant.
        tenant: String,
        /// Group name.
        group: String,
        /// Principal.
        principal: String,
    },
    /// Adds grants to a group.
    #[command(after_help = "Example:\n  keyward group grant acme ml-bots datasets:read 'models:write@models/ft-*'")]
    Grant {
        /// Tenant.
        tenant: String,
        /// Group name.
        group: String,
        /// Grants: PERMISSION[@RESOURCE] or a JSON object.
        #[arg(required = true)]
        grants: Vec<String>,
    },
    /// Removes grants from a group.
    #[command(after_help = "Example:\n  keyward group revoke acme ml-bots datasets:read")]
    Revoke {
        /// Tenant.
        tenant: String,
        /// Group name.
        group: String,
        /// Grants: PERMISSION[@RESOURCE] or a JSON object.
        #[arg(required = true)]
        grants: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Creates a user owned by the tenant.
    #[command(after_help = "Example:\n  keyward user create acme ada@acme.test --name 'Ada L.' --role admin --mfa")]
    Create {
        /// Tenant.
        tenant: String,
        /// The user's email.
        email: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Direct role.
        #[arg(long)]
        role: Option<String>,
        /// The user signs in with a second factor.
        #[arg(long)]
        mfa: bool,
    },
    /// Takes a user out of the tenant (prints nothing).
    #[command(after_help = "Example:\n  keyward user remove acme ada@acme.test")]
    Remove {
        /// Tenant.
        tenant: String,
        /// The user's email.
        email: String,
    },
    /// Makes the tenant's users match a directory: FILE (or `-`, stdin) holds a JSON list of {email, name}.
    #[command(
        after_help = "Example:\n  echo '[{\"email\": \"ada@acme.test\", \"name\": \"Ada\"}]' | keyward user sync acme -"
    )]
    Sync {
        /// Tenant.
        tenant: String,
        /// JSON file, or `-` for stdin.
        file: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SaCmd {
    /// Creates a service account.
    #[command(
        after_help = "Example:\n  keyward sa create acme deploy-bot --description 'CI deploys' --role inference-user --grant 'models:write@models/ft-*'"
    )]
    Create {
        /// Tenant.
        tenant: String,
        /// Name (the principal is NAME@TENANT.sa.DOMAIN).
        name: String,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// Direct role.
        #[arg(long)]
        role: Option<String>,
        /// A grant, PERMISSION[@RESOURCE]; repeatable.
        #[arg(long = "grant")]
        grants: Vec<String>,
        /// Read a password from stdin (all of it, less one trailing newline).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Changes a service account's description.
    #[command(
        after_help = "Example:\n  keyward sa update deploy-bot@acme.sa.keyward.local --description 'deploys from CI'"
    )]
    Update {
        /// Principal.
        principal: String,
        /// New description.
        #[arg(long, required = true)]
        description: String,
    },
    /// Sets (from stdin) or clears a service account's password.
    #[command(
        after_help = "Example:\n  printf '%s' \"$PW\" | keyward sa set-password deploy-bot@acme.sa.keyward.local --password-stdin"
    )]
    SetPassword {
        /// Principal.
        principal: String,
        /// Read the password from stdin (all of it, less one trailing newline).
        #[arg(long, conflicts_with = "clear", required_unless_present = "clear")]
        password_stdin: bool,
        /// Clear the password.
        #[arg(long)]
        clear: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccountCmd {
    /// Lists the accounts with access to a tenant.
    #[command(
        after_help = "Examples:\n  keyward account list acme\n  keyward -o json account list acme --filter 'service_account=true' --all"
    )]
    List {
        /// Tenant.
        tenant: String,
        #[command(flatten)]
        page: Page,
    },
    /// Shows an account as seen from a tenant.
    #[command(after_help = "Example:\n  keyward account show acme deploy-bot@acme.sa.keyward.local")]
    Show {
        /// Tenant.
        tenant: String,
        /// Principal.
        principal: String,
    },
    /// Sets (or clears) an account's direct role in a tenant.
    #[command(
        after_help = "Examples:\n  keyward account set-role acme deploy-bot@acme.sa.keyward.local viewer\n  keyward account set-role acme deploy-bot@acme.sa.keyward.local --clear"
    )]
    SetRole {
        /// Tenant.
        tenant: String,
        /// Principal.
        principal: String,
        /// Role.
        #[arg(required_unless_present = "clear", conflicts_with = "clear")]
        role: Option<String>,
        /// Clear the direct role.
        #[arg(long)]
        clear: bool,
    },
    /// Adds direct grants in a tenant.
    #[command(
        after_help = "Example:\n  keyward account grant acme deploy-bot@acme.sa.keyward.local 'models:read@models/llama*'"
    )]
    Grant {
        /// Tenant.
        tenant: String,
        /// Principal.
        principal: String,
        /// Grants: PERMISSION[@RESOURCE] or a JSON object.
        #[arg(required = true)]
        grants: Vec<String>,
    },
    /// Removes direct grants in a tenant.
    #[command(
        after_help = "Example:\n  keyward account revoke-grant acme deploy-bot@acme.sa.keyward.local 'models:read@models/llama*'"
    )]
    RevokeGrant {
        /// Tenant.
        tenant: String,
        /// Principal.
        principal: String,
        /// Grants: PERMISSION[@RESOURCE] or a JSON object.
        #[arg(required = true)]
        grants: Vec<String>,
    },
    /// Disables an account (reversible).
    #[command(after_help = "Example:\n  keyward account disable deploy-bot@acme.sa.keyward.local")]
    Disable {
        /// Principal.
        principal: String,
    },
    /// Enables a disabled account.
    #[command(after_help = "Example:\n  keyward account enable deploy-bot@acme.sa.keyward.local")]
    Enable {
        /// Principal.
        principal: String,
    },
    /// Revokes an account for good.
    #[command(after_help = "Example:\n  keyward account revoke deploy-bot@acme.sa.keyward.local")]
    Revoke {
        /// Principal.
        principal: String,
    },
    /// Deletes an account and its credentials (prints nothing).
    #[command(after_help = "Example:\n  keyward account delete deploy-bot@acme.sa.keyward.local")]
    Delete {
        /// Principal.
        principal: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccessCmd {
    /// Gives an account access to another tenant.
    #[command(
        after_help = "Example:\n  keyward --as root@globex.test access grant globex deploy-bot@acme.sa.keyward.local --role viewer"
    )]
    Grant {
        /// Tenant giving access.
        tenant: String,
        /// Principal.
        principal: String,
        /// Role there.
        #[arg(long)]
        role: Option<String>,
        /// A grant there, PERMISSION[@RESOURCE]; repeatable.
        #[arg(long = "grant")]
        grants: Vec<String>,
    },
    /// Removes an account's access to a tenant that does not own it (prints nothing).
    #[command(
        after_help = "Example:\n  keyward --as root@globex.test access remove globex deploy-bot@acme.sa.keyward.local"
    )]
    Remove {
        /// Tenant.
        tenant: String,
        /// Principal.
        principal: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Issues a token; the secret is printed this once.
    #[command(
        after_help = "Examples:\n  keyward token create deploy-bot@acme.sa.keyward.local --name ci --ttl-days 30\n  keyward token create deploy-bot@acme.sa.keyward.local --scope 'models:read@models/llama*' --scope globex/models:read"
    )]
    Create {
        /// Principal.
        principal: String,
        /// Token name.
        #[arg(long)]
        name: Option<String>,
        /// Lifetime in days.
        #[arg(long, group = "expiry")]
        ttl_days: Option<u64>,
        /// Expiry, ms since the epoch.
        #[arg(long, group = "expiry")]
        expires_at: Option<i64>,
        /// Never expires (when the tenant allows it).
        #[arg(long, group = "expiry")]
        never_expires: bool,
        /// A scope, [TENANT/]PERMISSION[@RESOURCE] or a JSON object; repeatable.
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// Lists an account's tokens, revoked and expired included.
    #[command(after_help = "Example:\n  keyward token list deploy-bot@acme.sa.keyward.local")]
    List {
        /// Principal.
        principal: String,
    },
    /// Renames a token.
    #[command(after_help = "Example:\n  keyward token rename deploy-bot@acme.sa.keyward.local TOKEN_ID ci-old")]
    Rename {
        /// Principal.
        principal: String,
        /// Token id.
        token_id: String,
        /// New name.
        name: String,
    },
    /// Revokes a token.
    #[command(after_help = "Example:\n  keyward token revoke deploy-bot@acme.sa.keyward.local TOKEN_ID")]
    Revoke {
        /// Principal.
        principal: String,
        /// Token id.
        token_id: String,
    },
    /// Rotates a token: a new one (printed this once), the old one valid for a grace period.
    #[command(
        after_help = "Example:\n  keyward token rotate deploy-bot@acme.sa.keyward.local TOKEN_ID --grace-seconds 3600"
    )]
    Rotate {
        /// Principal.
        principal: String,
        /// Token id.
        token_id: String,
        /// How long the old token stays valid (default 86400).
        #[arg(long)]
        grace_seconds: Option<u64>,
    },
}

/// `PERMISSION[@RESOURCE]`, or a JSON object; a scope may start with `TENANT/`.
fn grant_value(text: &str, field: &str, scope: bool) -> Result<Value, Error> {
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(text).map_err(|e| invalid(field, format!("not a JSON grant: {e}")));
    }
    let (head, resource) = match text.split_once('@') {
        Some((head, resource)) => (head, Some(resource)),
        None => (text, None),
    };
    // A permission never holds `/`: before it, the tenant of a scope.
    let (tenant, permission) = match head.split_once('/') {
        Some((tenant, permission)) if scope => (Some(tenant), permission),
        Some(_) => return Err(invalid(field, format!("`{head}`: TENANT/ is for token scopes only"))),
        None => (None, head),
    };
    if tenant.is_none() && resource.is_none() {
        return Ok(Value::String(permission.to_owned()));
    }
    let mut grant = Map::new();
    grant.insert("permission".into(), permission.into());
    grant.insert("resource".into(), resource.unwrap_or("*").into());
    if let Some(t) = tenant {
        grant.insert("tenant".into(), t.into());
    }
    Ok(Value::Object(grant))
}

fn grants(texts: &[String]) -> Result<Value, Error> {
    texts.iter().map(|t| grant_value(t, "grants", false)).collect::<Result<Vec<_>, _>>().map(Value::Array)
}

/// `--set KEY=VALUE`...: VALUE parsed as JSON, else a string.
fn settings(pairs: &[String]) -> Result<Value, Error> {
    let mut map = Map::new();
    for pair in pairs {
        let (key, value) =
            pair.split_once('=').ok_or_else(|| invalid("settings", format!("`{pair}`: expected KEY=VALUE")))?;
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
        map.insert(key.to_owned(), value);
    }
    Ok(Value::Object(map))
}

fn paged(plan: Plan, page: Page, items: &'static str) -> Plan {
    let mut plan = plan.opt("filter", page.filter).opt("page_size", page.page_size).opt("page_token", page.page_token);
    if page.all {
        plan.all_pages = Some(items);
    }
    plan
}

impl Noun {
    /// The operation this command line asks for.
    pub fn plan(self) -> Result<Plan, Error> {
        use Plan as P;
        Ok(match self {
            Noun::Tenant(cmd) => match cmd {
                TenantCmd::Create { tenant, admin, name, set } => {
                    let plan =
                        P::new("create_tenant", false).set("tenant", tenant).set("admin", admin).opt("name", name);
                    if set.is_empty() {
                        plan
                    } else {
                        plan.set("settings", settings(&set)?)
                    }
                }
                TenantCmd::Show { tenant } => P::admin("get_tenant").set("tenant", tenant),
                TenantCmd::Update { tenant, set } => {
                    P::admin("update_tenant_settings").set("tenant", tenant).set("settings", settings(&set)?)
                }
                TenantCmd::Seats { tenant } => P::admin("seat_usage").set("tenant", tenant),
            },
            Noun::Role(cmd) => match cmd {
                RoleCmd::Define { tenant, role, grants: g } => {
                    P::admin("define_role").set("tenant", tenant).set("role", role).set("grants", grants(&g)?)
                }
                RoleCmd::Delete { tenant, role } => P::admin("delete_role").set("tenant", tenant).set("role", role),
            },
            Noun::Group(cmd) => match cmd {
                GroupCmd::Create { tenant, group, roles, grants: g } => P::admin("create_group")
                    .set("tenant", tenant)
                    .set("group", group)
                    .set("roles", roles)
                    .set("grants", grants(&g)?),
                GroupCmd::Delete { tenant, group } => {
                    P::admin("delete_group").set("tenant", tenant).set("group", group)
                }
                GroupCmd::AddMember { tenant, group, principal } => {
                    P::admin("add_group_member").set("tenant", tenant).set("group", group).set("principal", principal)
                }
                GroupCmd::RemoveMember { tenant, group, principal } => P::admin("remove_group_member")
                    .set("tenant", tenant)
                    .set("group", group)
                    .set("principal", principal),
                GroupCmd::Grant { tenant, group, grants: g } => P::admin("grant_group_permissions")
                    .set("tenant", tenant)
                    .set("group", group)
                    .set("grants", grants(&g)?),
                GroupCmd::Revoke { tenant, group, grants: g } => P::admin("revoke_group_permissions")
                    .set("tenant", tenant)
                    .set("group", group)
                    .set("grants", grants(&g)?),
            },
            Noun::User(cmd) => match cmd {
                UserCmd::Create { tenant, email, name, role, mfa } => P::admin("create_user")
                    .set("tenant", tenant)
                    .set("email", email)
                    .opt("name", name)
                    .opt("role", role)
                    .set("mfa", mfa),
                UserCmd::Remove { tenant, email } => P::admin("remove_user").set("tenant", tenant).set("email", email),
                UserCmd::Sync { tenant, file } => {
                    let text = if file == "-" {
                        let mut text = String::new();
                        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                            .map_err(|e| invalid("users", format!("cannot read stdin: {e}")))?;
                        text
                    } else {
                        std::fs::read_to_string(&file)
                            .map_err(|e| invalid("users", format!("cannot read {file}: {e}")))?
                    };
                    let users: Value =
                        serde_json::from_str(&text).map_err(|e| invalid("users", format!("not a JSON list: {e}")))?;
                    P::admin("sync_directory").set("tenant", tenant).set("users", users)
                }
            },
            Noun::Sa(cmd) => match cmd {
                SaCmd::Create { tenant, name, description, role, grants: g, password_stdin } => {
                    let plan = P::admin("create_service_account")
                        .set("tenant", tenant)
                        .set("name", name)
                        .opt("description", description)
                        .opt("role", role)
                        .set("grants", grants(&g)?);
                    if password_stdin {
                        plan.set("password", read_password()?)
                    } else {
                        plan
                    }
                }
                SaCmd::Update { principal, description } => {
                    P::admin("update_service_account").set("principal", principal).set("description", description)
                }
                SaCmd::SetPassword { principal, password_stdin, clear: _ } => {
                    let password = if password_stdin { Value::String(read_password()?) } else { Value::Null };
                    P::admin("set_password").set("principal", principal).set("password", password)
                }
            },
            Noun::Account(cmd) => match cmd {
                AccountCmd::List { tenant, page } => {
                    paged(P::admin("list_accounts").set("tenant", tenant), page, "accounts")
                }
                AccountCmd::Show { tenant, principal } => {
                    P::admin("get_account").set("tenant", tenant).set("principal", principal)
                }
                AccountCmd::SetRole { tenant, principal, role, clear: _ } => P::admin("set_role")
                    .set("tenant", tenant)
                    .set("principal", principal)
                    .set("role", role.map_or(Value::Null, Value::String)),
                AccountCmd::Grant { tenant, principal, grants: g } => P::admin("grant_permissions")
                    .set("tenant", tenant)
                    .set("principal", principal)
                    .set("grants", grants(&g)?),
                AccountCmd::RevokeGrant { tenant, principal, grants: g } => P::admin("revoke_permissions")
                    .set("tenant", tenant)
                    .set("principal", principal)
                    .set("grants", grants(&g)?),
                AccountCmd::Disable { principal } => P::admin("disable_account").set("principal", principal),
                AccountCmd::Enable { principal } => P::admin("enable_account").set("principal", principal),
                AccountCmd::Revoke { principal } => P::admin("revoke_account").set("principal", principal),
                AccountCmd::Delete { principal } => P::admin("delete_account").set("principal", principal),
            },
            Noun::Access(cmd) => match cmd {
                AccessCmd::Grant { tenant, principal, role, grants: g } => P::admin("grant_access")
                    .set("tenant", tenant)
                    .set("principal", principal)
                    .opt("role", role)
                    .set("grants", grants(&g)?),
                AccessCmd::Remove { tenant, principal } => {
                    P::admin("remove_access").set("tenant", tenant).set("principal", principal)
                }
            },
            Noun::Token(cmd) => match cmd {
                TokenCmd::Create { principal, name, ttl_days, expires_at, never_expires, scopes } => {
                    let plan = P::admin("create_token")
                        .set("principal", principal)
                        .opt("name", name)
                        .opt("ttl_days", ttl_days)
                        .opt("expires_at", expires_at)
                        .set("never_expires", never_expires);
                    if scopes.is_empty() {
                        plan
                    } else {
                        let scopes =
                            scopes.iter().map(|s| grant_value(s, "scopes", true)).collect::<Result<Vec<_>, _>>()?;
                        plan.set("scopes", scopes)
                    }
                }
                TokenCmd::List { principal } => P::admin("list_tokens").set("principal", principal),
                TokenCmd::Rename { principal, token_id, name } => {
                    P::admin("rename_token").set("principal", principal).set("token_id", token_id).set("name", name)
                }
                TokenCmd::Revoke { principal, token_id } => {
                    P::admin("revoke_token").set("principal", principal).set("token_id", token_id)
                }
                TokenCmd::Rotate { principal, token_id, grace_seconds } => P::admin("rotate_token")
                    .set("principal", principal)
                    .set("token_id", token_id)
                    .opt("grace_seconds", grace_seconds),
            },
            Noun::Verify { tenant, permission, resource, channel } => {
                let mut plan = P::new("verify", false)
                    .set("token", read_token()?)
                    .set("tenant", tenant)
                    .set("permission", permission)
                    .opt("resource", resource)
                    .opt("channel", channel);
                plan.decision = true;
                plan
            }
            Noun::Authenticate { channel, principal: Some(principal), password_stdin: true } => {
                P::new("authenticate_password", false)
                    .set("principal", principal)
                    .set("password", read_password()?)
                    .opt("channel", channel)
            }
            Noun::Authenticate { channel, .. } => {
                P::new("authenticate", false).set("token", read_token()?).opt("channel", channel)
            }
            Noun::Authorize { tenant, principal, permission, resource } => {
                let mut plan = P::new("authorize", false)
                    .set("identity_or_principal", principal)
                    .set("tenant", tenant)
                    .set("permission", permission)
                    .opt("resource", resource);
                plan.decision = true;
                plan
            }
            Noun::Permissions { tenant, principal } => {
                P::new("effective_permissions", false).set("identity_or_principal", principal).set("tenant", tenant)
            }
            Noun::Audit { tenant, page } => paged(P::admin("audit_log").set("tenant", tenant), page, "events"),
        })
    }
}
