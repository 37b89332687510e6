//! Property tests (proptest) over the Rust engine (`Keyward` over `MemoryStore`), issue 11
//! point 4. Each property names the SPEC rules it proves:
//!
//! - `r44_r33_tenant_isolation_...`: no sequence of admin operations in tenant A changes a
//!   decision in tenant B; an A account with access to B changes there only through B's own
//!   operations (or its owner's lifecycle operations, R-05).
//! - `r26_scopes_never_widen_...`: a scoped token is allowed exactly what an unscoped token of
//!   the same account is allowed and its scopes match, never more.
//! - `r47_no_escalation_...`: whatever an actor does, every right an account gains (and every
//!   right a credential it makes carries) is covered by one of the actor's own grants.
//! - `r04_r05_r13_...`: a revoked or expired token, or one whose account is disabled, revoked or
//!   deleted, never verifies, and says why in R-13's order.
//! - `r40_r48_decisions_equal_the_reference_model_...`: `authorize`, `verify` and
//!   `effective_permissions` equal a small model of SPEC §6 written here, apart from the engine.
//!
//! Cases per property: the figure given to [`config`], or `PROPTEST_CASES` when set.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

mod support;

use std::collections::{BTreeMap, BTreeSet};

use keyward_core::*;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Map, Value};
use support::{TestEnv, ROOT};

type Kw = Keyward<MemoryStore, TestEnv>;

/// The first admin of tenant `beta`.
const BETA_ROOT: &str = "root@beta.test";

/// `default` cases, or `PROPTEST_CASES` when the environment sets it.
fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    ProptestConfig { cases, ..ProptestConfig::default() }
}

fn engine() -> Kw {
    let kw = Keyward::new(Options::default(), MemoryStore::new(), TestEnv::new()).unwrap();
    for (tenant, admin) in [("acme", ROOT), ("beta", BETA_ROOT)] {
        kw.run(CreateTenant { tenant: tenant.into(), admin: admin.into(), name: None, settings: None }).unwrap();
    }
    kw
}

fn sa(name: &str, tenant: &str) -> String {
    format!("{name}@{tenant}.sa.keyward.local")
}

// ---------------------------------------------------------------------------------------------
// The reference model of SPEC §6, written from the text, not from the engine.

/// the types a `*` standing for the type never matches.
const ADMIN_TYPES: [&str; 6] = ["accounts", "tokens", "groups", "roles", "settings", "audit"];

/// A grant as text: a permission pattern and a resource pattern.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct G {
    perm: String,
    res: String,
}

impl G {
    fn new(perm: &str, res: &str) -> G {
        G { perm: perm.to_owned(), res: res.to_owned() }
    }
    /// The engine's form.
    fn grant(&self) -> Grant {
        Grant::parse(&self.perm, &self.res, "grants").unwrap()
    }
    fn matches(&self, perm: &str, res: &str) -> bool {
        perm_matches(&self.perm, perm) && res_matches(&self.res, res)
    }
    fn covers(&self, other: &G) -> bool {
        perm_covers(&self.perm, &other.perm) && res_covers(&self.res, &other.res)
    }
}

fn is_admin_type(t: &str) -> bool {
    ADMIN_TYPES.contains(&t)
}

fn split(p: &str) -> (&str, &str) {
    p.split_once(':').unwrap()
}

/// `*` alone matches every permission; in `type:action` a `*` is one whole segment, and a
/// `*` type never matches an administrative type.
fn perm_matches(pattern: &str, requested: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let ((pt, pa), (rt, ra)) = (split(pattern), split(requested));
    let type_ok = if pt == "*" { !is_admin_type(rt) } else { pt == rt };
    type_ok && (pa == "*" || pa == ra)
}

/// `*` alone matches every resource; a final `*` matches any suffix; otherwise literal.
/// The requested resource is literal, so `*` asked for is matched only by the pattern `*`.
fn res_matches(pattern: &str, requested: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    match pattern.strip_suffix('*') {
        Some(prefix) => requested.starts_with(prefix),
        None => pattern == requested,
    }
}

/// every permission `b` matches, `a` matches too.
fn perm_covers(a: &str, b: &str) -> bool {
    if a == "*" {
        return true;
    }
    if b == "*" {
        return false;
    }
    let ((at, aa), (bt, ba)) = (split(a), split(b));
    let type_ok = match (at, bt) {
        ("*", "*") => true,
        ("*", n) => !is_admin_type(n),
        (_, "*") => false,
        (x, y) => x == y,
    };
    type_ok && (aa == "*" || aa == ba)
}

/// every resource `b` matches, `a` matches too.
fn res_covers(a: &str, b: &str) -> bool {
    if a == "*" {
        return true;
    }
    if b == "*" {
        return false;
    }
    match a.strip_suffix('*') {
        Some(prefix) => b.strip_suffix('*').unwrap_or(b).starts_with(prefix),
        None => a == b,
    }
}

/// R-41's built-in roles, as the SPEC lists them.
fn builtin(name: &str) -> Option<Vec<G>> {
    let all = |ps: &[&str]| ps.iter().map(|p| G::new(p, "*")).collect::<Vec<_>>();
    Some(match name {
        "admin" => all(&["*"]),
        "contributor" => all(&["*:read", "*:write", "*:execute"]),
        "user" => all(&["*:read", "*:execute"]),
        "inference-user" => all(&["models:execute", "models:read", "deployments:read"]),
        "viewer" => all(&["*:read"]),
        _ => return None,
    })
}

#[derive(Debug, Clone, Default)]
struct MMember {
    role: Option<String>,
    grants: Vec<G>,
    groups: BTreeSet<String>,
}

#[derive(Debug, Clone)]
struct MTenant {
    roles: BTreeMap<String, Vec<G>>,
    /// Groups by name (`everyone` included): their roles and their own grants.
    groups: BTreeMap<String, (Vec<String>, Vec<G>)>,
    members: BTreeMap<String, MMember>,
}

impl Default for MTenant {
    fn default() -> MTenant {
        let mut groups = BTreeMap::new();
        groups.insert("everyone".to_owned(), (vec![], vec![]));
        MTenant { roles: BTreeMap::new(), groups, members: BTreeMap::new() }
    }
}

impl MTenant {
    fn role(&self, name: &str) -> Vec<G> {
        builtin(name).or_else(|| self.roles.get(name).cloned()).unwrap_or_default()
    }

    /// role, then direct grants, then the groups by name (`everyone` included), with the
    /// source R-45 reports; `None` without access to the tenant.
    fn rights(&self, principal: &str) -> Option<Vec<(G, String)>> {
        let m = self.members.get(principal)?;
        let mut out = Vec::new();
        if let Some(r) = &m.role {
            out.extend(self.role(r).into_iter().map(|g| (g, format!("role:{r}"))));
        }
        out.extend(m.grants.iter().map(|g| (g.clone(), "direct".to_owned())));
        for (name, (roles, grants)) in &self.groups {
            if name == "everyone" || m.groups.contains(name) {
                let source = format!("group:{name}");
                for r in roles {
                    out.extend(self.role(r).into_iter().map(|g| (g, source.clone())));
                }
                out.extend(grants.iter().map(|g| (g.clone(), source.clone())));
            }
        }
        Some(out)
    }
}

fn push_unique(list: &mut Vec<G>, g: &G) {
    if !list.contains(g) {
        list.push(g.clone());
    }
}

/// A token scope in the model: a grant, maybe limited to one tenant.
type MScope = (G, Option<String>);

fn scope_allows(scopes: &Option<Vec<MScope>>, tenant: &str, perm: &str, res: &str) -> bool {
    match scopes {
        None => true,
        Some(list) => list.iter().any(|(g, t)| t.as_deref().is_none_or(|t| t == tenant) && g.matches(perm, res)),
    }
}

fn engine_scopes(scopes: &Option<Vec<MScope>>) -> Option<Vec<Scope>> {
    scopes.as_ref().map(|l| l.iter().map(|(g, t)| Scope { grant: g.grant(), tenant: t.clone() }).collect())
}

// ---------------------------------------------------------------------------------------------
// Vocabularies for the generators.

/// Grant permission patterns: wildcards of every shape, administrative ones included.
const PERMS: [&str; 17] = [
    "*",
    "*:*",
    "*:read",
    "*:write",
    "models:*",
    "models:read",
    "models:write",
    "models:execute",
    "deployments:read",
    "deployments:*",
    "accounts:*",
    "accounts:write",
    "accounts:read",
    "tokens:write",
    "groups:write",
    "roles:write",
    "settings:write",
];
/// Resource patterns (`*` weighted: admin operations need grants on `*`, R-46).
const RESOURCES: [&str; 9] =
    ["*", "*", "*", "models/*", "models/llama*", "models/llama", "deployments/eu/*", "deployments/eu/x", "models/l*"];
/// Requested permissions: concrete `type:action`.
const REQ_PERMS: [&str; 8] = [
    "models:read",
    "models:write",
    "models:execute",
    "deployments:read",
    "deployments:delete",
    "accounts:write",
    "tokens:write",
    "audit:read",
];
/// Requested resources: literal (`models/llama*` is a literal asking for a resource whose id
/// ends in `*`).
const REQ_RES: [&str; 7] =
    ["*", "models/llama", "models/llama-2", "models/llama*", "models/gpt", "deployments/eu/x", "deployments/us/y"];
/// Role names: built-in ones, then the custom ones the tests define.
const ROLES: [&str; 8] = ["admin", "contributor", "user", "inference-user", "viewer", "ops", "reader", "deployer"];
const CUSTOM: [&str; 3] = ["ops", "reader", "deployer"];
const GROUPS: [&str; 3] = ["alpha", "ops", "zeta"];
const TENANTS: [&str; 2] = ["acme", "beta"];

fn grant() -> impl Strategy<Value = G> {
    (select(&PERMS[..]), select(&RESOURCES[..])).prop_map(|(p, r)| G::new(p, r))
}

fn grants(max: usize) -> impl Strategy<Value = Vec<G>> {
    prop::collection::vec(grant(), 0..=max)
}

fn scopes() -> impl Strategy<Value = Option<Vec<MScope>>> {
    let scope = (grant(), prop::option::of(select(&TENANTS[..]))).prop_map(|(g, t)| (g, t.map(str::to_owned)));
    prop::option::weighted(0.8, prop::collection::vec(scope, 0..=3))
}

fn role_name() -> impl Strategy<Value = Option<String>> {
    prop::option::of(select(&ROLES[..]).prop_map(str::to_owned))
}

fn requests() -> Vec<(&'static str, &'static str)> {
    REQ_PERMS.iter().flat_map(|p| REQ_RES.iter().map(move |r| (*p, *r))).collect()
}

fn authorize(kw: &Kw, subject: Subject, tenant: &str, perm: &str, res: &str) -> Decision {
    kw.run(Authorize {
        identity_or_principal: subject,
        tenant: tenant.into(),
        permission: perm.into(),
        resource: res.into(),
    })
    .unwrap()
}

fn verify(kw: &Kw, token: &str, tenant: &str, perm: &str, res: &str) -> Decision {
    kw.run(Verify {
        token: token.into(),
        tenant: tenant.into(),
        permission: perm.into(),
        resource: res.into(),
        channel: Channel::Api,
    })
    .unwrap()
}

fn effective(kw: &Kw, subject: Subject, tenant: &str) -> Result<Vec<EffectiveGrant>, Error> {
    kw.run(EffectivePermissions { identity_or_principal: subject, tenant: tenant.into() })
}

fn create_token(kw: &Kw, actor: Subject, principal: &str, scopes: Option<Vec<Scope>>) -> Result<TokenCreated, Error> {
    kw.run(CreateToken {
        actor,
        principal: principal.into(),
        name: None,
        ttl_days: None,
        expires_at: None,
        never_expires: false,
        scopes,
    })
}

fn decision_text(d: &Decision) -> String {
    format!("{}/{}/{:?}", d.allowed, d.reason, d.matched)
}

fn settings(v: Value) -> Map<String, Value> {
    serde_json::from_value(v).unwrap()
}

// ---------------------------------------------------------------------------------------------
// A world of roles, groups and accounts in `acme` (and one `beta` account with access to
// `acme`), set up by the admins, mirrored in the model: properties 2 and 5.

#[derive(Debug, Clone)]
struct AccountSpec {
    role: Option<String>,
    grants: Vec<G>,
    groups: Vec<usize>,
    scopes: Option<Vec<MScope>>,
}

#[derive(Debug, Clone)]
enum Mut {
    SetRole(usize, Option<String>),
    Grant(usize, G),
    Revoke(usize, usize),
    Redefine(usize, Vec<G>),
    AddMember(usize, usize),
    RemoveMember(usize, usize),
    GrantGroup(usize, G),
    RevokeGroup(usize, usize),
    DeleteGroup(usize),
}

#[derive(Debug, Clone)]
struct WorldSpec {
    roles: Vec<Vec<G>>,
    groups: Vec<Option<(Vec<String>, Vec<G>)>>,
    everyone: Vec<G>,
    /// `acme`'s service accounts `sa-0`, `sa-1`, ...
    accounts: Vec<AccountSpec>,
    /// `ext@beta`: its built-in role in `beta`, and its standing in `acme`.
    ext_beta_role: String,
    ext: AccountSpec,
    muts: Vec<Mut>,
}

fn account_spec() -> impl Strategy<Value = AccountSpec> {
    (role_name(), grants(3), prop::collection::vec(0..GROUPS.len(), 0..=2), scopes())
        .prop_map(|(role, grants, groups, scopes)| AccountSpec { role, grants, groups, scopes })
}

fn mutation() -> impl Strategy<Value = Mut> {
    let acc = 0usize..5;
    let group = 0..=GROUPS.len(); // GROUPS.len() stands for `everyone`
    prop_oneof![
        (acc.clone(), role_name()).prop_map(|(a, r)| Mut::SetRole(a, r)),
        (acc.clone(), grant()).prop_map(|(a, g)| Mut::Grant(a, g)),
        (acc.clone(), 0usize..4).prop_map(|(a, i)| Mut::Revoke(a, i)),
        (0..CUSTOM.len(), prop::collection::vec(grant(), 1..=3)).prop_map(|(r, g)| Mut::Redefine(r, g)),
        (acc.clone(), 0..GROUPS.len()).prop_map(|(a, g)| Mut::AddMember(a, g)),
        (acc, 0..GROUPS.len()).prop_map(|(a, g)| Mut::RemoveMember(a, g)),
        (group.clone(), grant()).prop_map(|(g, x)| Mut::GrantGroup(g, x)),
        (group, 0usize..4).prop_map(|(g, i)| Mut::RevokeGroup(g, i)),
        (0..GROUPS.len()).prop_map(Mut::DeleteGroup),
    ]
}

fn world_spec() -> impl Strategy<Value = WorldSpec> {
    (
        prop::collection::vec(prop::collection::vec(grant(), 1..=3), CUSTOM.len()),
        prop::collection::vec(
            prop::option::of((prop::collection::vec(select(&ROLES[..]).prop_map(str::to_owned), 0..=2), grants(2))),
            GROUPS.len(),
        ),
        grants(2),
        prop::collection::vec(account_spec(), 1..=4),
        select(&ROLES[..5]).prop_map(str::to_owned),
        account_spec(),
        prop::collection::vec(mutation(), 0..=5),
    )
        .prop_map(|(roles, groups, everyone, accounts, ext_beta_role, ext, muts)| WorldSpec {
            roles,
            groups,
            everyone,
            accounts,
            ext_beta_role,
            ext,
            muts,
        })
}

/// The world built: the engine, the model, and each account's principal and tokens.
struct World {
    kw: Kw,
    model: BTreeMap<String, MTenant>,
    /// Principal, unscoped token, scoped token and its scopes.
    accounts: Vec<(String, String, String, Option<Vec<MScope>>)>,
}

fn groups_of(spec: &AccountSpec, world: &BTreeMap<String, MTenant>) -> Vec<String> {
    let acme = &world["acme"];
    let mut out: Vec<String> =
        spec.groups.iter().map(|i| GROUPS[*i].to_owned()).filter(|g| acme.groups.contains_key(g)).collect();
    out.sort();
    out.dedup();
    out
}

fn build(spec: &WorldSpec) -> World {
    let kw = engine();
    let mut model: BTreeMap<String, MTenant> = TENANTS.iter().map(|t| ((*t).to_owned(), MTenant::default())).collect();
    // Each tenant's first admin holds `admin` there.
    for (t, root) in [("acme", ROOT), ("beta", BETA_ROOT)] {
        let m = MMember { role: Some("admin".into()), ..MMember::default() };
        model.get_mut(t).unwrap().members.insert(root.to_owned(), m);
    }
    let acme = model.get_mut("acme").unwrap();
    for (name, grants) in CUSTOM.iter().zip(&spec.roles) {
        kw.run(DefineRole {
            actor: ROOT.into(),
            tenant: "acme".into(),
            role: (*name).into(),
            grants: grants.iter().map(G::grant).collect(),
        })
        .unwrap();
        acme.roles.insert((*name).to_owned(), grants.clone());
    }
    for (name, def) in GROUPS.iter().zip(&spec.groups) {
        let Some((roles, grants)) = def else { continue };
        kw.run(CreateGroup {
            actor: ROOT.into(),
            tenant: "acme".into(),
            group: (*name).into(),
            roles: roles.clone(),
            grants: grants.iter().map(G::grant).collect(),
        })
        .unwrap();
        let mut own = Vec::new();
        grants.iter().for_each(|g| push_unique(&mut own, g));
        let mut rs = roles.clone();
        rs.dedup();
        acme.groups.insert((*name).to_owned(), (rs, own));
    }
    if !spec.everyone.is_empty() {
        kw.run(GrantGroupPermissions {
            actor: ROOT.into(),
            tenant: "acme".into(),
            group: "everyone".into(),
            grants: spec.everyone.iter().map(G::grant).collect(),
        })
        .unwrap();
        let own = &mut acme.groups.get_mut("everyone").unwrap().1;
        spec.everyone.iter().for_each(|g| push_unique(own, g));
    }
    let mut accounts = Vec::new();
    for (i, a) in spec.accounts.iter().enumerate() {
        let name = format!("sa-{i}");
        let principal = sa(&name, "acme");
        kw.run(CreateServiceAccount {
            actor: ROOT.into(),
            tenant: "acme".into(),
            name,
            description: None,
            role: a.role.clone(),
            grants: a.grants.iter().map(G::grant).collect(),
            password: None,
        })
        .unwrap();
        let groups = groups_of(a, &model);
        for g in &groups {
            kw.run(AddGroupMember {
                actor: ROOT.into(),
                tenant: "acme".into(),
                group: g.clone(),
                principal: principal.clone(),
            })
            .unwrap();
        }
        let mut m = MMember { role: a.role.clone(), groups: groups.into_iter().collect(), ..MMember::default() };
        a.grants.iter().for_each(|g| push_unique(&mut m.grants, g));
        model.get_mut("acme").unwrap().members.insert(principal.clone(), m);
        let full = create_token(&kw, ROOT.into(), &principal, None).unwrap().token;
        let scoped = create_token(&kw, ROOT.into(), &principal, engine_scopes(&a.scopes)).unwrap().token;
        accounts.push((principal, full, scoped, a.scopes.clone()));
    }
    // `ext` is owned by `beta` and has access to `acme`, where `acme` manages it.
    let ext = sa("ext", "beta");
    kw.run(CreateServiceAccount {
        actor: BETA_ROOT.into(),
        tenant: "beta".into(),
        name: "ext".into(),
        description: None,
        role: Some(spec.ext_beta_role.clone()),
        grants: vec![],
        password: None,
    })
    .unwrap();
    let beta_member = MMember { role: Some(spec.ext_beta_role.clone()), ..MMember::default() };
    model.get_mut("beta").unwrap().members.insert(ext.clone(), beta_member);
    kw.run(GrantAccess {
        actor: ROOT.into(),
        tenant: "acme".into(),
        principal: ext.clone(),
        role: spec.ext.role.clone(),
        grants: spec.ext.grants.iter().map(G::grant).collect(),
    })
    .unwrap();
    let groups = groups_of(&spec.ext, &model);
    for g in &groups {
        kw.run(AddGroupMember { actor: ROOT.into(), tenant: "acme".into(), group: g.clone(), principal: ext.clone() })
            .unwrap();
    }
    let mut m = MMember { role: spec.ext.role.clone(), groups: groups.into_iter().collect(), ..MMember::default() };
    spec.ext.grants.iter().for_each(|g| push_unique(&mut m.grants, g));
    model.get_mut("acme").unwrap().members.insert(ext.clone(), m);
    let full = create_token(&kw, BETA_ROOT.into(), &ext, None).unwrap().token;
    let scoped = create_token(&kw, BETA_ROOT.into(), &ext, engine_scopes(&spec.ext.scopes)).unwrap().token;
    accounts.push((ext, full, scoped, spec.ext.scopes.clone()));
    World { kw, model, accounts }
}

/// Applies one mutation by `acme`'s admin, to the engine and the model. Admin can do each of
/// them (R-46, R-47: it holds `*`), so every one must succeed; an operation the model says has
/// no target (an unknown group, a grant not held) is skipped.
fn mutate(w: &mut World, m: &Mut) -> Result<(), TestCaseError> {
    let principal = |i: usize| w.accounts[i % w.accounts.len()].0.clone();
    let acme = w.model.get_mut("acme").unwrap();
    let group_name = |i: usize| GROUPS.get(i).copied().unwrap_or("everyone").to_owned();
    let done: Result<(), Error> = match m {
        Mut::SetRole(a, role) => {
            let p = principal(*a);
            acme.members.get_mut(&p).unwrap().role = role.clone();
            w.kw.run(SetRole { actor: ROOT.into(), tenant: "acme".into(), principal: p, role: role.clone() }).map(drop)
        }
        Mut::Grant(a, g) => {
            let p = principal(*a);
            push_unique(&mut acme.members.get_mut(&p).unwrap().grants, g);
            let grants = vec![g.grant()];
            w.kw.run(GrantPermissions { actor: ROOT.into(), tenant: "acme".into(), principal: p, grants }).map(drop)
        }
        Mut::Revoke(a, i) => {
            let p = principal(*a);
            let held = &mut acme.members.get_mut(&p).unwrap().grants;
            if held.is_empty() {
                return Ok(());
            }
            let g = held.remove(i % held.len());
            let grants = vec![g.grant()];
            w.kw.run(RevokePermissions { actor: ROOT.into(), tenant: "acme".into(), principal: p, grants }).map(drop)
        }
        Mut::Redefine(r, grants) => {
            acme.roles.insert(CUSTOM[*r].to_owned(), grants.clone());
            let grants = grants.iter().map(G::grant).collect();
            w.kw.run(DefineRole { actor: ROOT.into(), tenant: "acme".into(), role: CUSTOM[*r].into(), grants })
                .map(drop)
        }
        Mut::AddMember(a, g) | Mut::RemoveMember(a, g) => {
            let (p, group) = (principal(*a), group_name(*g));
            if !acme.groups.contains_key(&group) {
                return Ok(());
            }
            let member = acme.members.get_mut(&p).unwrap();
            if matches!(m, Mut::AddMember(..)) {
                if member.groups.contains(&group) {
                    return Ok(());
                }
                member.groups.insert(group.clone());
                w.kw.run(AddGroupMember { actor: ROOT.into(), tenant: "acme".into(), group, principal: p }).map(drop)
            } else {
                if !member.groups.remove(&group) {
                    return Ok(());
                }
                w.kw.run(RemoveGroupMember { actor: ROOT.into(), tenant: "acme".into(), group, principal: p }).map(drop)
            }
        }
        Mut::GrantGroup(g, x) => {
            let group = group_name(*g);
            let Some(def) = acme.groups.get_mut(&group) else { return Ok(()) };
            push_unique(&mut def.1, x);
            let grants = vec![x.grant()];
            w.kw.run(GrantGroupPermissions { actor: ROOT.into(), tenant: "acme".into(), group, grants }).map(drop)
        }
        Mut::RevokeGroup(g, i) => {
            let group = group_name(*g);
            let Some(def) = acme.groups.get_mut(&group) else { return Ok(()) };
            if def.1.is_empty() {
                return Ok(());
            }
            let x = def.1.remove(i % def.1.len());
            let grants = vec![x.grant()];
            w.kw.run(RevokeGroupPermissions { actor: ROOT.into(), tenant: "acme".into(), group, grants }).map(drop)
        }
        Mut::DeleteGroup(g) => {
            let group = group_name(*g);
            if acme.groups.remove(&group).is_none() {
                return Ok(());
            }
            acme.members.values_mut().for_each(|m| {
                m.groups.remove(&group);
            });
            w.kw.run(DeleteGroup { actor: ROOT.into(), tenant: "acme".into(), group }).map(drop)
        }
    };
    done.map_err(|e| TestCaseError::fail(format!("{m:?} by the admin failed: {e:?}")))
}

/// every account's decisions in both tenants, by principal and by
/// its two tokens, and its effective permissions, against the model.
fn check_against_model(w: &World) -> Result<(), TestCaseError> {
    let reqs = requests();
    for (principal, full, scoped, scopes) in &w.accounts {
        for tenant in TENANTS {
            let rights = w.model[tenant].rights(principal);
            let expected_effective: BTreeSet<(String, String, String)> =
                rights.iter().flatten().map(|(g, s)| (g.perm.clone(), g.res.clone(), s.clone())).collect();
            let got: BTreeSet<(String, String, String)> = effective(&w.kw, principal.as_str().into(), tenant)
                .unwrap()
                .into_iter()
                .map(|m| (m.permission, m.resource, m.source))
                .collect();
            prop_assert_eq!(&got, &expected_effective, "effective_permissions of {} in {}", principal, tenant);
            for (perm, res) in &reqs {
                let first = rights.iter().flatten().find(|(g, _)| g.matches(perm, res));
                let ask = format!("{principal} asks {perm} on {res} in {tenant}");
                let d = authorize(&w.kw, principal.as_str().into(), tenant, perm, res);
                prop_assert_eq!(d.allowed, first.is_some(), "authorize: {}: {:?}", ask, d);
                prop_assert_eq!(&d.reason, if first.is_some() { "allowed" } else { "forbidden" }, "{}", ask);
                prop_assert_eq!(d.principal.as_deref(), Some(principal.as_str()));
                if let Some((_, source)) = first {
                    // the first source in order (role, direct, groups by name); the grant
                    // reported is one of that source's that matches.
                    let matched = d.matched.clone().unwrap();
                    prop_assert_eq!(&matched.source, source, "{}", ask);
                    let g = G::new(&matched.permission, &matched.resource);
                    let of_source = rights.iter().flatten().any(|(x, s)| *x == g && s == source);
                    prop_assert!(of_source && g.matches(perm, res), "{}: matched {:?} is not the source's", ask, g);
                } else {
                    prop_assert!(d.matched.is_none());
                }
                let v = verify(&w.kw, full, tenant, perm, res);
                prop_assert_eq!(decision_text(&v), decision_text(&d), "verify, unscoped: {}", ask);
                let in_scope = scope_allows(scopes, tenant, perm, res);
                let s = verify(&w.kw, scoped, tenant, perm, res);
                prop_assert_eq!(s.allowed, first.is_some() && in_scope, "verify, scopes {:?}: {}", scopes, ask);
                if s.allowed {
                    prop_assert_eq!(decision_text(&s), decision_text(&d), "{}", ask);
                } else {
                    prop_assert_eq!(&s.reason, "forbidden", "{}", ask);
                }
            }
        }
    }
    let d = authorize(&w.kw, sa("nobody", "acme").into(), "acme", "models:read", "*");
    prop_assert_eq!((d.allowed, d.reason.as_str()), (false, "not_found"));
    Ok(())
}

fn r40_r41_r44_r45_r48_r26_decisions_equal_the_reference_model_body(spec: &WorldSpec) -> Result<(), TestCaseError> {
    let mut w = build(spec);
    check_against_model(&w)?;
    for m in &spec.muts {
        mutate(&mut w, m)?;
    }
    check_against_model(&w)?;
    Ok(())
}

fn r26_scopes_never_widen_rights_body(spec: &WorldSpec) -> Result<(), TestCaseError> {
    let mut w = build(spec);
    for m in &spec.muts {
        mutate(&mut w, m)?;
    }
    let reqs = requests();
    for (principal, full, scoped, scopes) in &w.accounts {
        for tenant in TENANTS {
            for (perm, res) in &reqs {
                let unscoped = verify(&w.kw, full, tenant, perm, res);
                let narrowed = verify(&w.kw, scoped, tenant, perm, res);
                let in_scope = scope_allows(scopes, tenant, perm, res);
                prop_assert_eq!(
                    narrowed.allowed,
                    unscoped.allowed && in_scope,
                    "{} {} {} {} scopes {:?}",
                    principal,
                    tenant,
                    perm,
                    res,
                    scopes
                );
            }
            let ident = w.kw.run(Authenticate { token: scoped.as_str().into(), channel: Channel::Api }).unwrap();
            let scoped_eff = effective(&w.kw, Subject::from(&ident), tenant).unwrap();
            let full_eff = effective(&w.kw, principal.as_str().into(), tenant).unwrap();
            for e in &scoped_eff {
                let g = G::new(&e.permission, &e.resource);
                let by_account = full_eff.iter().any(|f| G::new(&f.permission, &f.resource).covers(&g));
                let by_scope = match scopes {
                    None => true,
                    Some(l) => l.iter().any(|(s, t)| t.as_deref().is_none_or(|t| t == tenant) && s.covers(&g)),
                };
                prop_assert!(by_account && by_scope, "{} in {}: {:?} is wider than {:?}", principal, tenant, e, scopes);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(48))]

    /// random roles, groups (with roles), `everyone`
    /// grants, direct grants, external access and token scopes; every decision (`authorize` by
    /// principal, `verify` by an unscoped and a scoped token) and every `effective_permissions`
    /// answer equals the model's, before and after random changes by the admin.
    #[test]
    fn r40_r41_r44_r45_r48_r26_decisions_equal_the_reference_model(spec in world_spec()) {
        r40_r41_r44_r45_r48_r26_decisions_equal_the_reference_model_body(&spec)?;
    }

    /// a scoped token is allowed a request only if an unscoped token of the same account
    /// is, and one of its scopes (for that tenant) matches; and then it is (the intersection,
    /// never more). Its effective permissions are each covered by an unscoped one and a scope.
    #[test]
    fn r26_scopes_never_widen_rights(spec in world_spec()) {
        r26_scopes_never_widen_rights_body(&spec)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Property 4: revoked, disabled, deleted and expired never verify (R-04, R-05, R-06, R-13,
//

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone)]
enum Life {
    CreateToken(usize, Option<u64>),
    RevokeToken(usize),
    RotateToken(usize, u64),
    Disable(usize),
    Enable(usize),
    RevokeAccount(usize),
    Delete(usize),
    Recreate(usize),
    Advance(i64),
}

fn life_op() -> impl Strategy<Value = Life> {
    let slot = 0usize..3;
    let tok = 0usize..16;
    prop_oneof![
        3 => (slot.clone(), prop::option::of(1u64..=3)).prop_map(|(s, d)| Life::CreateToken(s, d)),
        2 => tok.clone().prop_map(Life::RevokeToken),
        2 => (tok, select(&[0u64, 60, 3_600, 86_400][..])).prop_map(|(t, g)| Life::RotateToken(t, g)),
        1 => slot.clone().prop_map(Life::Disable),
        1 => slot.clone().prop_map(Life::Enable),
        1 => slot.clone().prop_map(Life::RevokeAccount),
        1 => slot.clone().prop_map(Life::Delete),
        1 => slot.prop_map(Life::Recreate),
        2 => select(&[1_000i64, 60_000, 3_600_000, DAY_MS, 2 * DAY_MS][..]).prop_map(Life::Advance),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MStatus {
    Active,
    Disabled,
    Revoked,
    Deleted,
}

#[derive(Debug, Clone)]
struct MAccount {
    status: MStatus,
    /// Bumped by every creation: a token binds to one incarnation.
    incarnation: u32,
    /// Whether this incarnation has access to `beta` (only the first `sa-0` has).
    beta: bool,
}

#[derive(Debug, Clone)]
struct MToken {
    token: String,
    token_id: String,
    slot: usize,
    incarnation: u32,
    created_at: i64,
    expires_at: Option<i64>,
    revoked: bool,
    rotated: bool,
}

fn slot_principal(slot: usize) -> String {
    sa(&format!("sa-{slot}"), "acme")
}

fn create_slot(kw: &Kw, slot: usize) -> Result<Account, Error> {
    kw.run(CreateServiceAccount {
        actor: ROOT.into(),
        tenant: "acme".into(),
        name: format!("sa-{slot}"),
        description: None,
        role: Some("viewer".into()),
        grants: vec![],
        password: None,
    })
}

/// What `verify` must answer for `t` now (R-13's order; a deleted account's or a former
/// incarnation's token is unknown: `invalid_credentials`, R-06, R-12), in `acme` asking
/// `models:read` on `*`, and in `beta` likewise.
fn expected_reason(t: &MToken, accounts: &[MAccount], now: i64, tenant: &str) -> &'static str {
    let a = &accounts[t.slot];
    if a.status == MStatus::Deleted || a.incarnation != t.incarnation {
        return "invalid_credentials";
    }
    if t.revoked {
        return "token_revoked";
    }
    if t.expires_at.is_some_and(|at| now >= at) {
        return "token_expired";
    }
    match a.status {
        MStatus::Disabled => "account_disabled",
        MStatus::Revoked => "account_revoked",
        _ if tenant == "beta" && !a.beta => "forbidden",
        _ => "allowed",
    }
}

fn check_lifecycle(kw: &Kw, accounts: &[MAccount], tokens: &[MToken], step: &str) -> Result<(), TestCaseError> {
    let now = kw.env().now.get();
    for t in tokens {
        for tenant in TENANTS {
            let want = expected_reason(t, accounts, now, tenant);
            let d = verify(kw, &t.token, tenant, "models:read", "*");
            prop_assert_eq!(
                d.reason.as_str(),
                want,
                "after {}: token {} of sa-{} in {}: {:?}",
                step,
                t.token_id,
                t.slot,
                tenant,
                t
            );
            prop_assert_eq!(d.allowed, want == "allowed");
            if want != "allowed" && want != "forbidden" {
                // A dead credential is allowed nothing, whatever it asks.
                for (perm, res) in
                    [("models:read", "models/llama"), ("accounts:write", "*"), ("deployments:read", "deployments/eu/x")]
                {
                    let other = verify(kw, &t.token, tenant, perm, res);
                    prop_assert!(!other.allowed && other.reason == want, "after {}: {:?}", step, other);
                }
            }
        }
    }
    Ok(())
}

fn token_of(created: &TokenCreated, slot: usize, incarnation: u32) -> MToken {
    MToken {
        token: created.token.clone(),
        token_id: created.info.token_id.clone(),
        slot,
        incarnation,
        created_at: created.info.created_at,
        expires_at: created.info.expires_at,
        revoked: false,
        rotated: false,
    }
}

fn r04_r05_r06_r13_r25_revoked_disabled_deleted_and_expired_never_verify_body(
    ops: &[Life],
) -> Result<(), TestCaseError> {
    let kw = engine();
    let mut accounts = Vec::new();
    for slot in 0..3 {
        create_slot(&kw, slot).unwrap();
        accounts.push(MAccount { status: MStatus::Active, incarnation: 1, beta: slot == 0 });
    }
    kw.run(GrantAccess {
        actor: BETA_ROOT.into(),
        tenant: "beta".into(),
        principal: slot_principal(0),
        role: Some("viewer".into()),
        grants: vec![],
    })
    .unwrap();
    let mut tokens: Vec<MToken> = Vec::new();
    for (n, op) in ops.iter().enumerate() {
        let now = kw.env().now.get();
        let step = format!("step {n} {op:?}");
        match op {
            Life::CreateToken(slot, ttl) => {
                let a = &accounts[*slot];
                let r = kw.run(CreateToken {
                    actor: ROOT.into(),
                    principal: slot_principal(*slot),
                    name: None,
                    ttl_days: *ttl,
                    expires_at: None,
                    never_expires: false,
                    scopes: None,
                });
                if matches!(a.status, MStatus::Revoked | MStatus::Deleted) {
                    prop_assert!(r.is_err(), "{}: a credential for a revoked or deleted account", step);
                }
                if let Ok(created) = r {
                    let want = now + ttl.map_or(365, |d| d as i64) * DAY_MS;
                    prop_assert_eq!(created.info.expires_at, Some(want), "{}: R-22", step);
                    tokens.push(token_of(&created, *slot, a.incarnation));
                }
            }
            Life::RevokeToken(i) => {
                if tokens.is_empty() {
                    continue;
                }
                let i = i % tokens.len();
                let t = &tokens[i];
                let r = kw.run(RevokeToken {
                    actor: ROOT.into(),
                    principal: slot_principal(t.slot),
                    token_id: t.token_id.clone(),
                });
                if r.is_ok() {
                    let a = &accounts[t.slot];
                    prop_assert!(
                        a.status != MStatus::Deleted && a.incarnation == t.incarnation,
                        "{}: revoked a token of another incarnation",
                        step
                    );
                    tokens[i].revoked = true;
                }
            }
            Life::RotateToken(i, grace) => {
                if tokens.is_empty() {
                    continue;
                }
                let i = i % tokens.len();
                let t = tokens[i].clone();
                let a = &accounts[t.slot];
                let r = kw.run(RotateToken {
                    actor: ROOT.into(),
                    principal: slot_principal(t.slot),
                    token_id: t.token_id.clone(),
                    grace_seconds: Some(*grace),
                });
                let dead = t.revoked || t.rotated || t.expires_at.is_some_and(|at| now >= at);
                if dead || a.incarnation != t.incarnation || matches!(a.status, MStatus::Revoked | MStatus::Deleted) {
                    prop_assert!(r.is_err(), "{}: rotated a dead token or one of a dead account: {:?}", step, t);
                }
                if let Ok(created) = r {
                    let grace_end = now + (*grace as i64) * 1000;
                    tokens[i].rotated = true;
                    tokens[i].expires_at = Some(t.expires_at.map_or(grace_end, |at| at.min(grace_end)));
                    let length = t.expires_at.map(|at| at - t.created_at);
                    prop_assert_eq!(
                        created.info.expires_at,
                        length.map(|l| now + l),
                        "{}: same lifetime length, R-25",
                        step
                    );
                    tokens.push(token_of(&created, t.slot, a.incarnation));
                }
            }
            Life::Disable(slot) | Life::Enable(slot) | Life::RevokeAccount(slot) | Life::Delete(slot) => {
                let (actor, principal) = (Subject::from(ROOT), slot_principal(*slot));
                let before = accounts[*slot].status;
                let (r, after) = match op {
                    Life::Disable(_) => (kw.run(DisableAccount { actor, principal }).map(drop), MStatus::Disabled),
                    Life::Enable(_) => (kw.run(EnableAccount { actor, principal }).map(drop), MStatus::Active),
                    Life::RevokeAccount(_) => (kw.run(RevokeAccount { actor, principal }).map(drop), MStatus::Revoked),
                    _ => (kw.run(DeleteAccount { actor, principal }).map(drop), MStatus::Deleted),
                };
                if before == MStatus::Deleted
                    || (before == MStatus::Revoked && matches!(after, MStatus::Active | MStatus::Disabled))
                {
                    prop_assert!(r.is_err(), "{}: from {:?}", step, before);
                }
                if after == MStatus::Deleted && before != MStatus::Deleted {
                    prop_assert!(r.is_ok(), "{}: the owner's admin may delete: {:?}", step, r);
                }
                if r.is_ok() {
                    accounts[*slot].status = after;
                    if after == MStatus::Deleted {
                        accounts[*slot].beta = false;
                    }
                }
            }
            Life::Recreate(slot) => {
                let r = create_slot(&kw, *slot);
                let a = &mut accounts[*slot];
                prop_assert_eq!(
                    r.is_ok(),
                    a.status == MStatus::Deleted,
                    "{}: a name is free only once deleted (R-06)",
                    step
                );
                if r.is_ok() {
                    *a = MAccount { status: MStatus::Active, incarnation: a.incarnation + 1, beta: false };
                }
            }
            Life::Advance(ms) => kw.env().advance(*ms),
        }
        check_lifecycle(&kw, &accounts, &tokens, &step)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(128))]

    /// random token and account lifecycles with time
    /// moving; after every step every token ever issued verifies exactly as the model says: a
    /// revoked or expired token, or one whose account is disabled, revoked or deleted (or was
    /// deleted and re-created), never verifies, in any tenant, for any permission; a live one
    /// does (positive control). Operations the SPEC refuses (credentials for a revoked or
    /// deleted account, rotating a dead or rotated token, enabling a revoked account) fail.
    #[test]
    fn r04_r05_r06_r13_r25_revoked_disabled_deleted_and_expired_never_verify(
        ops in prop::collection::vec(life_op(), 1..=24)
    ) {
        r04_r05_r06_r13_r25_revoked_disabled_deleted_and_expired_never_verify_body(&ops)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Property 3: no escalation.

const E_ROLES: [&str; 7] = ["admin", "contributor", "viewer", "inference-user", "ops", "reader", "fresh"];
const E_GROUPS: [&str; 3] = ["alpha", "fresh-group", "everyone"];
/// Accounts an actor may touch: itself, two targets, an account with access to `beta`, the
/// tenant's first admin, and two it may create.
const E_TARGETS: [&str; 7] = ["actor", "t-0", "t-1", "bridge", "root", "new-0", "new-1"];

fn e_principal(i: usize) -> String {
    match E_TARGETS[i] {
        "root" => ROOT.to_owned(),
        name => sa(name, "acme"),
    }
}

fn e_role() -> impl Strategy<Value = Option<String>> {
    prop::option::of(select(&E_ROLES[..]).prop_map(str::to_owned))
}

/// A grant an operation gives: one the actor holds (by index, when it holds any), else the
/// random one. Giving what it holds is what an actor may do, so the property sees gains.
type PG = (Option<usize>, G);

fn pg() -> impl Strategy<Value = PG> {
    (prop::option::weighted(0.6, 0usize..8), grant())
}

#[derive(Debug, Clone)]
enum EOp {
    CreateSa(usize, Option<String>, Vec<PG>),
    SetRole(usize, Option<String>),
    Grant(usize, Vec<PG>),
    Revoke(usize, G),
    AddMember(usize, usize),
    RemoveMember(usize, usize),
    DefineRole(usize, Vec<PG>),
    CreateGroup(Vec<String>, Vec<PG>),
    GrantGroup(usize, Vec<PG>),
    DefaultRole(Option<String>),
    CreateToken(usize, Option<Vec<MScope>>),
    RotateToken(usize),
    Disable(usize),
    Enable(usize),
}

fn e_op() -> impl Strategy<Value = EOp> {
    let target = 0..E_TARGETS.len();
    let some = || prop::collection::vec(pg(), 1..=2);
    prop_oneof![
        (5usize..7, e_role(), prop::collection::vec(pg(), 0..=2)).prop_map(|(t, r, g)| EOp::CreateSa(t, r, g)),
        (target.clone(), e_role()).prop_map(|(t, r)| EOp::SetRole(t, r)),
        (target.clone(), some()).prop_map(|(t, g)| EOp::Grant(t, g)),
        (target.clone(), grant()).prop_map(|(t, g)| EOp::Revoke(t, g)),
        (0..E_GROUPS.len(), target.clone()).prop_map(|(g, t)| EOp::AddMember(g, t)),
        (0..E_GROUPS.len(), target.clone()).prop_map(|(g, t)| EOp::RemoveMember(g, t)),
        (4usize..7, some()).prop_map(|(r, g)| EOp::DefineRole(r, g)),
        (
            prop::collection::vec(select(&E_ROLES[..]).prop_map(str::to_owned), 0..=1),
            prop::collection::vec(pg(), 0..=2)
        )
            .prop_map(|(r, g)| EOp::CreateGroup(r, g)),
        (0..E_GROUPS.len(), some()).prop_map(|(g, x)| EOp::GrantGroup(g, x)),
        e_role().prop_map(EOp::DefaultRole),
        (target.clone(), scopes()).prop_map(|(t, s)| EOp::CreateToken(t, s)),
        (0usize..2).prop_map(EOp::RotateToken),
        target.clone().prop_map(EOp::Disable),
        target.prop_map(EOp::Enable),
    ]
}

#[derive(Debug, Clone)]
struct EscalationSpec {
    /// Grants of the custom roles `ops` and `reader`.
    roles: (Vec<G>, Vec<G>),
    /// Roles and grants of group `alpha`.
    alpha: (Vec<String>, Vec<G>),
    /// `actor`, `t-0`, `t-1`, `bridge`: role, direct grants, member of `alpha`.
    accounts: Vec<(Option<String>, Vec<G>, bool)>,
    /// `bridge`'s built-in role in `beta`.
    bridge_beta_role: String,
    /// When set, the actor acts through an identity made by a token with these scopes.
    actor_scopes: Option<Vec<MScope>>,
    ops: Vec<EOp>,
}

/// A grant of administration, or a random one.
fn admin_grant() -> impl Strategy<Value = G> {
    let admin =
        select(&["accounts:write", "accounts:*", "groups:write", "roles:write", "tokens:write", "settings:write"][..]);
    prop_oneof![3 => admin.prop_map(|p| G::new(p, "*")), 2 => grant()]
}

fn escalation_spec(actor_grants: usize) -> impl Strategy<Value = EscalationSpec> {
    // Targets hold little (often nothing), so that an actor holds all their rights now and then
    // and may change them.
    let role = |p: f64| prop::option::weighted(p, select(&ROLES[..7]).prop_map(str::to_owned));
    let account = |p: f64, n: usize| (role(p), grants(n), any::<bool>());
    (
        (prop::collection::vec(grant(), 1..=3), prop::collection::vec(grant(), 1..=3)),
        (prop::collection::vec(select(&ROLES[..7]).prop_map(str::to_owned), 0..=1), grants(2)),
        (
            (account(0.7, 0), prop::collection::vec(admin_grant(), 0..=actor_grants)).prop_map(
                |((r, mut g, a), extra)| {
                    g.extend(extra);
                    (r, g, a)
                },
            ),
            account(0.3, 1),
            account(0.3, 1),
            account(0.5, 1),
        ),
        select(&ROLES[..5]).prop_map(str::to_owned),
        prop::option::weighted(
            0.3,
            prop::collection::vec((grant(), prop::option::of(select(&TENANTS[..]).prop_map(str::to_owned))), 1..=4),
        ),
        prop::collection::vec(e_op(), 1..=12),
    )
        .prop_map(|(roles, alpha, (a, t0, t1, b), bridge_beta_role, actor_scopes, ops)| EscalationSpec {
            roles,
            alpha,
            accounts: vec![a, t0, t1, b],
            bridge_beta_role,
            actor_scopes,
            ops,
        })
}

struct EWorld {
    kw: Kw,
    actor: Subject,
    /// Tokens the tenant's admin made for `t-0` and `bridge`, for the actor to rotate.
    token_ids: Vec<(String, String)>,
    /// The actor's rights in `acme` when it starts, as `effective_permissions` tells them.
    held: Vec<G>,
}

fn build_escalation(spec: &EscalationSpec, admin_actor: bool) -> EWorld {
    let kw = engine();
    let root = || Subject::from(ROOT);
    for (name, grants) in [("ops", &spec.roles.0), ("reader", &spec.roles.1)] {
        let grants = grants.iter().map(G::grant).collect();
        kw.run(DefineRole { actor: root(), tenant: "acme".into(), role: name.into(), grants }).unwrap();
    }
    let alpha_grants = spec.alpha.1.iter().map(G::grant).collect();
    kw.run(CreateGroup {
        actor: root(),
        tenant: "acme".into(),
        group: "alpha".into(),
        roles: spec.alpha.0.clone(),
        grants: alpha_grants,
    })
    .unwrap();
    for (i, (role, grants, in_alpha)) in spec.accounts.iter().enumerate() {
        let role = if i == 0 && admin_actor { Some("admin".to_owned()) } else { role.clone() };
        kw.run(CreateServiceAccount {
            actor: root(),
            tenant: "acme".into(),
            name: E_TARGETS[i].into(),
            description: None,
            role,
            grants: grants.iter().map(G::grant).collect(),
            password: None,
        })
        .unwrap();
        if *in_alpha {
            let principal = e_principal(i);
            kw.run(AddGroupMember { actor: root(), tenant: "acme".into(), group: "alpha".into(), principal }).unwrap();
        }
    }
    kw.run(GrantAccess {
        actor: BETA_ROOT.into(),
        tenant: "beta".into(),
        principal: e_principal(3),
        role: Some(spec.bridge_beta_role.clone()),
        grants: vec![],
    })
    .unwrap();
    let token_ids = [1usize, 3]
        .iter()
        .map(|i| (e_principal(*i), create_token(&kw, root(), &e_principal(*i), None).unwrap().info.token_id))
        .collect();
    let actor = match (&spec.actor_scopes, admin_actor) {
        (Some(scopes), false) => {
            let made = create_token(&kw, root(), &e_principal(0), engine_scopes(&Some(scopes.clone()))).unwrap();
            let ident = kw.run(Authenticate { token: made.token.as_str().into(), channel: Channel::Api }).unwrap();
            Subject::from(&ident)
        }
        _ => Subject::from(e_principal(0)),
    };
    let held = effective(&kw, e_principal(0).into(), "acme")
        .unwrap()
        .into_iter()
        .map(|m| G::new(&m.permission, &m.resource))
        .collect();
    EWorld { kw, actor, token_ids, held }
}

/// Runs one operation as the actor; a token it makes is returned.
fn run_as_actor(w: &EWorld, op: &EOp) -> Result<Option<TokenCreated>, Error> {
    let (kw, actor, t) = (&w.kw, || w.actor.clone(), || "acme".to_owned());
    let gs = |g: &[PG]| {
        let pick = |(i, g): &PG| match i {
            Some(i) if !w.held.is_empty() => w.held[i % w.held.len()].grant(),
            _ => g.grant(),
        };
        g.iter().map(pick).collect::<Vec<_>>()
    };
    match op {
        EOp::CreateSa(i, role, grants) => kw
            .run(CreateServiceAccount {
                actor: actor(),
                tenant: t(),
                name: E_TARGETS[*i].into(),
                description: None,
                role: role.clone(),
                grants: gs(grants),
                password: None,
            })
            .map(|_| None),
        EOp::SetRole(i, role) => kw
            .run(SetRole { actor: actor(), tenant: t(), principal: e_principal(*i), role: role.clone() })
            .map(|_| None),
        EOp::Grant(i, g) => kw
            .run(GrantPermissions { actor: actor(), tenant: t(), principal: e_principal(*i), grants: gs(g) })
            .map(|_| None),
        EOp::Revoke(i, g) => kw
            .run(RevokePermissions { actor: actor(), tenant: t(), principal: e_principal(*i), grants: vec![g.grant()] })
            .map(|_| None),
        EOp::AddMember(g, i) => kw
            .run(AddGroupMember { actor: actor(), tenant: t(), group: E_GROUPS[*g].into(), principal: e_principal(*i) })
            .map(|_| None),
        EOp::RemoveMember(g, i) => kw
            .run(RemoveGroupMember {
                actor: actor(),
                tenant: t(),
                group: E_GROUPS[*g].into(),
                principal: e_principal(*i),
            })
            .map(|_| None),
        EOp::DefineRole(r, g) => {
            kw.run(DefineRole { actor: actor(), tenant: t(), role: E_ROLES[*r].into(), grants: gs(g) }).map(|_| None)
        }
        EOp::CreateGroup(roles, g) => kw
            .run(CreateGroup {
                actor: actor(),
                tenant: t(),
                group: "fresh-group".into(),
                roles: roles.clone(),
                grants: gs(g),
            })
            .map(|_| None),
        EOp::GrantGroup(g, x) => kw
            .run(GrantGroupPermissions { actor: actor(), tenant: t(), group: E_GROUPS[*g].into(), grants: gs(x) })
            .map(|_| None),
        EOp::DefaultRole(role) => kw
            .run(UpdateTenantSettings {
                actor: actor(),
                tenant: t(),
                settings: settings(json!({ "default_service_account_role": role })),
            })
            .map(|_| None),
        EOp::CreateToken(i, scopes) => create_token(kw, actor(), &e_principal(*i), engine_scopes(scopes)).map(Some),
        EOp::RotateToken(i) => {
            let (principal, token_id) = w.token_ids[*i].clone();
            kw.run(RotateToken { actor: actor(), principal, token_id, grace_seconds: None }).map(Some)
        }
        EOp::Disable(i) => kw.run(DisableAccount { actor: actor(), principal: e_principal(*i) }).map(|_| None),
        EOp::Enable(i) => kw.run(EnableAccount { actor: actor(), principal: e_principal(*i) }).map(|_| None),
    }
}

/// Every touched account's rights in `acme`, as `(permission, resource)` pairs.
fn rights_by_account(kw: &Kw) -> Vec<BTreeSet<G>> {
    (0..E_TARGETS.len())
        .map(|i| {
            effective(kw, e_principal(i).into(), "acme")
                .map(|l| l.into_iter().map(|m| G::new(&m.permission, &m.resource)).collect())
                .unwrap_or_default()
        })
        .collect()
}

fn r47_r26_no_escalation_through_any_sequence_of_admin_operations_body(
    spec: &EscalationSpec,
) -> Result<(), TestCaseError> {
    let w = build_escalation(spec, false);
    let held = w.held.clone();
    let scopes = spec.actor_scopes.clone();
    let in_actor_scope = |covered: &dyn Fn(&G) -> bool| match &scopes {
        None => true,
        Some(l) => l.iter().any(|(s, t)| t.as_deref().is_none_or(|t| t == "acme") && covered(s)),
    };
    let before = rights_by_account(&w.kw);
    let mut made = Vec::new();
    for op in &spec.ops {
        if let Ok(Some(t)) = run_as_actor(&w, op) {
            made.push((op.clone(), t));
        }
    }
    let after = rights_by_account(&w.kw);
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        for g in a.difference(b) {
            let by_actor = held.iter().any(|h| h.covers(g)) && in_actor_scope(&|s: &G| s.covers(g));
            prop_assert!(
                by_actor,
                "{} gained {:?}, which the actor (holding {:?}, scopes {:?}) does not hold; ops {:?}",
                E_TARGETS[i],
                g,
                held,
                scopes,
                spec.ops
            );
        }
    }
    for (op, t) in &made {
        for tenant in TENANTS {
            for (perm, res) in requests() {
                let d = verify(&w.kw, &t.token, tenant, perm, res);
                if d.allowed {
                    let by_actor =
                        held.iter().any(|h| h.matches(perm, res)) && in_actor_scope(&|s: &G| s.matches(perm, res));
                    prop_assert!(
                        by_actor,
                        "a token made by {:?} is allowed {} on {} in {}, beyond the actor's {:?} (scopes {:?})",
                        op,
                        perm,
                        res,
                        tenant,
                        held,
                        scopes
                    );
                }
            }
        }
    }
    Ok(())
}

fn r47_positive_control_an_admin_actor_is_never_refused_for_rights_body(
    spec: &EscalationSpec,
) -> Result<(), TestCaseError> {
    let w = build_escalation(spec, true);
    for op in &spec.ops {
        // The actor may demote or disable itself; from then on it is no admin.
        let decision = authorize(&w.kw, w.actor.clone(), "acme", "accounts:write", "*");
        if decision.matched.is_none_or(|m| m.permission != "*") {
            break;
        }
        if let Err(e) = run_as_actor(&w, op) {
            prop_assert!(!matches!(e.code(), "forbidden" | "not_owner"), "{:?} by an admin: {:?}", op, e);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(128))]

    /// an actor with random rights (a role, direct grants, a group; maybe
    /// acting through a scoped token) runs random admin operations. Afterwards every right any
    /// account gained in `acme` is covered by one of the actor's own initial grants (and, when
    /// it acted through a token, by one of its scopes); every token it made or rotated is
    /// allowed, in any tenant, only what one of those grants matches (R-47's "a credential made
    /// at home carries elsewhere only what its maker holds at home").
    #[test]
    fn r47_r26_no_escalation_through_any_sequence_of_admin_operations(spec in escalation_spec(4)) {
        r47_r26_no_escalation_through_any_sequence_of_admin_operations_body(&spec)?;
    }

    /// R-47 positive control: the same operations by an actor holding `admin` (the bare `*`)
    /// are never refused for rights (`forbidden`, `not_owner`) while it holds it.
    #[test]
    fn r47_positive_control_an_admin_actor_is_never_refused_for_rights(spec in escalation_spec(0)) {
        r47_positive_control_an_admin_actor_is_never_refused_for_rights_body(&spec)?;
    }
}

/// a clerk holding `accounts:write` cannot make another account admin nor demote an
/// admin; an admin actor can do both (the deterministic control of the property above).
#[test]
fn r47_a_clerk_cannot_grant_admin_and_an_admin_can() {
    let kw = engine();
    let make = |name: &str, role: &str, grants: Vec<Grant>| {
        kw.run(CreateServiceAccount {
            actor: ROOT.into(),
            tenant: "acme".into(),
            name: name.into(),
            description: None,
            role: Some(role.into()),
            grants,
            password: None,
        })
        .unwrap()
        .principal
    };
    let clerk = make("clerk", "viewer", vec![G::new("accounts:write", "*").grant()]);
    let boss = make("boss", "admin", vec![]);
    let target = make("target", "viewer", vec![]);
    let set = |actor: &str, principal: &str, role: &str| {
        kw.run(SetRole {
            actor: actor.into(),
            tenant: "acme".into(),
            principal: principal.into(),
            role: Some(role.into()),
        })
    };
    assert_eq!(set(&clerk, &target, "admin").unwrap_err().code(), "forbidden");
    assert_eq!(set(&clerk, &boss, "viewer").unwrap_err().code(), "forbidden");
    assert!(!authorize(&kw, target.as_str().into(), "acme", "accounts:write", "*").allowed);
    set(&boss, &target, "admin").unwrap();
    assert!(authorize(&kw, target.as_str().into(), "acme", "accounts:write", "*").allowed);
}

// ---------------------------------------------------------------------------------------------
// Property 1: tenant isolation.

/// Accounts that operations in `acme` name: `acme`'s own, the `acme` account with access to
/// `beta`, then `beta`'s (which `acme`'s actors may try to reach).
const I_TARGETS: [&str; 7] = ["sa-0", "sa-1", "bridge", "root", "beta:sa-0", "beta:sa-1", "beta:root"];
/// Actors in `acme`: its first admin, one of its service accounts, and `bridge`.
const I_ACTORS: [&str; 3] = ["root", "sa-0", "bridge"];

fn i_principal(name: &str) -> String {
    match name {
        "root" => ROOT.to_owned(),
        "beta:root" => BETA_ROOT.to_owned(),
        _ => match name.strip_prefix("beta:") {
            Some(n) => sa(n, "beta"),
            None => sa(name, "acme"),
        },
    }
}

fn beta_owned(name: &str) -> bool {
    name.starts_with("beta:")
}

#[derive(Debug, Clone)]
enum AKind {
    CreateSa(usize),
    DefineRole(usize, Vec<G>),
    DeleteRole(usize),
    CreateGroup(usize, Vec<G>),
    DeleteGroup(usize),
    AddMember(usize, usize),
    RemoveMember(usize, usize),
    GrantGroup(usize, Vec<G>),
    SetRole(usize, Option<String>),
    Grant(usize, Vec<G>),
    Revoke(usize, G),
    GrantAccess(usize),
    RemoveAccess(usize),
    Settings(usize),
    CreateToken(usize),
    RevokeToken(usize),
    RotateToken(usize),
    Disable(usize),
    Enable(usize),
    RevokeAccount(usize),
    Delete(usize),
}

#[derive(Debug, Clone)]
struct AOp {
    actor: usize,
    /// Whether a tenant-scoped operation names `beta` (an `acme` actor reaching across).
    beta: bool,
    kind: AKind,
}

fn a_op() -> impl Strategy<Value = AOp> {
    let t = 0..I_TARGETS.len();
    let g = 0usize..3; // alpha, zeta, everyone
    let r = 0usize..2; // ops, reader
    let kind = prop_oneof![
        (0usize..2).prop_map(AKind::CreateSa),
        (r.clone(), prop::collection::vec(grant(), 1..=2)).prop_map(|(r, g)| AKind::DefineRole(r, g)),
        r.prop_map(AKind::DeleteRole),
        (0usize..2, grants(2)).prop_map(|(g, x)| AKind::CreateGroup(g, x)),
        (0usize..2).prop_map(AKind::DeleteGroup),
        (g.clone(), t.clone()).prop_map(|(g, t)| AKind::AddMember(g, t)),
        (g.clone(), t.clone()).prop_map(|(g, t)| AKind::RemoveMember(g, t)),
        (g, prop::collection::vec(grant(), 1..=2)).prop_map(|(g, x)| AKind::GrantGroup(g, x)),
        (t.clone(), role_name()).prop_map(|(t, r)| AKind::SetRole(t, r)),
        (t.clone(), prop::collection::vec(grant(), 1..=2)).prop_map(|(t, g)| AKind::Grant(t, g)),
        (t.clone(), grant()).prop_map(|(t, g)| AKind::Revoke(t, g)),
        t.clone().prop_map(AKind::GrantAccess),
        t.clone().prop_map(AKind::RemoveAccess),
        (0usize..3).prop_map(AKind::Settings),
        t.clone().prop_map(AKind::CreateToken),
        (0usize..8).prop_map(AKind::RevokeToken),
        (0usize..8).prop_map(AKind::RotateToken),
        t.clone().prop_map(AKind::Disable),
        t.clone().prop_map(AKind::Enable),
        t.clone().prop_map(AKind::RevokeAccount),
        t.prop_map(AKind::Delete),
    ];
    (0..I_ACTORS.len(), prop::bool::weighted(0.3), kind).prop_map(|(actor, beta, kind)| AOp { actor, beta, kind })
}

#[derive(Debug, Clone)]
struct IsolationSpec {
    /// `ops` in each tenant (the same name in both).
    roles: (Vec<G>, Vec<G>),
    /// `alpha` in each tenant.
    alpha: (Vec<G>, Vec<G>),
    /// `sa-0`, `sa-1` in `acme`, then in `beta`: role, grants, member of `alpha`.
    accounts: Vec<(Option<String>, Vec<G>, bool)>,
    /// `bridge`: its role in `acme`, its role in `beta` (no administration), and membership of
    /// `beta`'s `alpha`.
    bridge: (Option<String>, String, bool),
    beta_scopes: Option<Vec<MScope>>,
    ops: Vec<AOp>,
}

fn isolation_spec() -> impl Strategy<Value = IsolationSpec> {
    let account = || {
        (
            role_name().prop_filter("defined here", |r| !matches!(r.as_deref(), Some("reader" | "deployer"))),
            grants(2),
            any::<bool>(),
        )
    };
    (
        (prop::collection::vec(grant(), 1..=3), prop::collection::vec(grant(), 1..=3)),
        (grants(2), grants(2)),
        prop::collection::vec(account(), 4),
        (
            role_name().prop_filter("defined here", |r| !matches!(r.as_deref(), Some("reader" | "deployer"))),
            select(&["viewer", "user", "inference-user", "contributor"][..]).prop_map(str::to_owned),
            any::<bool>(),
        ),
        scopes(),
        prop::collection::vec(a_op(), 1..=20),
    )
        .prop_map(|(roles, alpha, accounts, bridge, beta_scopes, ops)| IsolationSpec {
            roles,
            alpha,
            accounts,
            bridge,
            beta_scopes,
            ops,
        })
}

struct IWorld {
    kw: Kw,
    /// Tokens of `beta`'s accounts (principal, token, its id).
    beta_tokens: Vec<(String, String, String)>,
    /// `bridge`'s token.
    bridge_token: String,
    /// Tokens operations may revoke or rotate: (principal, token id).
    token_ids: Vec<(String, String)>,
}

fn build_isolation(spec: &IsolationSpec) -> IWorld {
    let kw = engine();
    let mut beta_tokens = Vec::new();
    let mut token_ids = Vec::new();
    for (k, (tenant, admin)) in [("acme", ROOT), ("beta", BETA_ROOT)].into_iter().enumerate() {
        let (ops, alpha) = if k == 0 { (&spec.roles.0, &spec.alpha.0) } else { (&spec.roles.1, &spec.alpha.1) };
        let grants = ops.iter().map(G::grant).collect();
        kw.run(DefineRole { actor: admin.into(), tenant: tenant.into(), role: "ops".into(), grants }).unwrap();
        let grants = alpha.iter().map(G::grant).collect();
        kw.run(CreateGroup {
            actor: admin.into(),
            tenant: tenant.into(),
            group: "alpha".into(),
            roles: vec![],
            grants,
        })
        .unwrap();
        for i in 0..2 {
            let (role, grants, in_alpha) = &spec.accounts[2 * k + i];
            let name = format!("sa-{i}");
            let principal = sa(&name, tenant);
            kw.run(CreateServiceAccount {
                actor: admin.into(),
                tenant: tenant.into(),
                name,
                description: None,
                role: role.clone(),
                grants: grants.iter().map(G::grant).collect(),
                password: None,
            })
            .unwrap();
            if *in_alpha {
                let p = principal.clone();
                kw.run(AddGroupMember {
                    actor: admin.into(),
                    tenant: tenant.into(),
                    group: "alpha".into(),
                    principal: p,
                })
                .unwrap();
            }
            if k == 1 {
                for scopes in [None, engine_scopes(&spec.beta_scopes)] {
                    let t = create_token(&kw, admin.into(), &principal, scopes).unwrap();
                    token_ids.push((principal.clone(), t.info.token_id.clone()));
                    beta_tokens.push((principal.clone(), t.token, t.info.token_id));
                }
            }
        }
    }
    let bridge = sa("bridge", "acme");
    kw.run(CreateServiceAccount {
        actor: ROOT.into(),
        tenant: "acme".into(),
        name: "bridge".into(),
        description: None,
        role: spec.bridge.0.clone(),
        grants: vec![],
        password: None,
    })
    .unwrap();
    kw.run(GrantAccess {
        actor: BETA_ROOT.into(),
        tenant: "beta".into(),
        principal: bridge.clone(),
        role: Some(spec.bridge.1.clone()),
        grants: vec![],
    })
    .unwrap();
    if spec.bridge.2 {
        let p = bridge.clone();
        kw.run(AddGroupMember { actor: BETA_ROOT.into(), tenant: "beta".into(), group: "alpha".into(), principal: p })
            .unwrap();
    }
    let t = create_token(&kw, ROOT.into(), &bridge, None).unwrap();
    token_ids.insert(0, (bridge, t.info.token_id));
    IWorld { kw, beta_tokens, bridge_token: t.token, token_ids }
}

/// Runs one operation in `acme` (or reaching into `beta` from `acme`); `None` when the
/// operation would be `beta`'s own (skipped).
fn run_in_acme(w: &mut IWorld, op: &AOp) -> Option<Result<(), Error>> {
    let actor_name = I_ACTORS[op.actor];
    // `bridge` has access to `beta`: what it does there is `beta`'s own operation, by design.
    let tenant = if op.beta && actor_name != "bridge" { "beta" } else { "acme" };
    let actor = || Subject::from(i_principal(actor_name));
    let kw = &w.kw;
    let gs = |g: &[G]| g.iter().map(G::grant).collect::<Vec<_>>();
    let group = |g: usize| ["alpha", "zeta", "everyone"][g].to_owned();
    let target = |t: usize| i_principal(I_TARGETS[t]);
    // Owner-only operations on `beta`'s accounts are authorised in `beta`.
    let owner_only_in_beta = |t: usize| actor_name == "bridge" && beta_owned(I_TARGETS[t]);
    let tenant_ = || tenant.to_owned();
    let r = match &op.kind {
        AKind::CreateSa(i) => kw
            .run(CreateServiceAccount {
                actor: actor(),
                tenant: tenant_(),
                name: ["sa-2", "sa-0"][*i].into(),
                description: None,
                role: None,
                grants: vec![],
                password: None,
            })
            .map(drop),
        AKind::DefineRole(r, g) => kw
            .run(DefineRole { actor: actor(), tenant: tenant_(), role: ["ops", "reader"][*r].into(), grants: gs(g) })
            .map(drop),
        AKind::DeleteRole(r) => {
            kw.run(DeleteRole { actor: actor(), tenant: tenant_(), role: ["ops", "reader"][*r].into() }).map(drop)
        }
        AKind::CreateGroup(g, x) => kw
            .run(CreateGroup { actor: actor(), tenant: tenant_(), group: group(*g), roles: vec![], grants: gs(x) })
            .map(drop),
        AKind::DeleteGroup(g) => kw.run(DeleteGroup { actor: actor(), tenant: tenant_(), group: group(*g) }).map(drop),
        AKind::AddMember(g, t) => kw
            .run(AddGroupMember { actor: actor(), tenant: tenant_(), group: group(*g), principal: target(*t) })
            .map(drop),
        AKind::RemoveMember(g, t) => kw
            .run(RemoveGroupMember { actor: actor(), tenant: tenant_(), group: group(*g), principal: target(*t) })
            .map(drop),
        AKind::GrantGroup(g, x) => kw
            .run(GrantGroupPermissions { actor: actor(), tenant: tenant_(), group: group(*g), grants: gs(x) })
            .map(drop),
        AKind::SetRole(t, role) => {
            kw.run(SetRole { actor: actor(), tenant: tenant_(), principal: target(*t), role: role.clone() }).map(drop)
        }
        AKind::Grant(t, g) => kw
            .run(GrantPermissions { actor: actor(), tenant: tenant_(), principal: target(*t), grants: gs(g) })
            .map(drop),
        AKind::Revoke(t, g) => kw
            .run(RevokePermissions {
                actor: actor(),
                tenant: tenant_(),
                principal: target(*t),
                grants: gs(std::slice::from_ref(g)),
            })
            .map(drop),
        AKind::GrantAccess(t) => kw
            .run(GrantAccess { actor: actor(), tenant: tenant_(), principal: target(*t), role: None, grants: vec![] })
            .map(drop),
        AKind::RemoveAccess(t) => {
            kw.run(RemoveAccess { actor: actor(), tenant: tenant_(), principal: target(*t) }).map(drop)
        }
        AKind::Settings(k) => {
            let patch = [
                json!({"max_tokens_per_account": 1}),
                json!({"default_service_account_role": "viewer"}),
                json!({"default_token_ttl_days": 1, "max_token_ttl_days": 2}),
            ][*k]
                .clone();
            kw.run(UpdateTenantSettings { actor: actor(), tenant: tenant_(), settings: settings(patch) }).map(drop)
        }
        AKind::CreateToken(t) if owner_only_in_beta(*t) => return None,
        AKind::CreateToken(t) => match create_token(kw, actor(), &target(*t), None) {
            Ok(made) => {
                w.token_ids.push((target(*t), made.info.token_id));
                Ok(())
            }
            Err(e) => Err(e),
        },
        AKind::RevokeToken(i) | AKind::RotateToken(i) => {
            let (principal, token_id) = w.token_ids[i % w.token_ids.len()].clone();
            if actor_name == "bridge" && principal.ends_with("@beta.sa.keyward.local") {
                return None;
            }
            if matches!(op.kind, AKind::RevokeToken(_)) {
                kw.run(RevokeToken { actor: actor(), principal, token_id }).map(drop)
            } else {
                kw.run(RotateToken { actor: actor(), principal, token_id, grace_seconds: None }).map(drop)
            }
        }
        AKind::Disable(t) | AKind::Enable(t) | AKind::RevokeAccount(t) | AKind::Delete(t) if owner_only_in_beta(*t) => {
            return None
        }
        AKind::Disable(t) => kw.run(DisableAccount { actor: actor(), principal: target(*t) }).map(drop),
        AKind::Enable(t) => kw.run(EnableAccount { actor: actor(), principal: target(*t) }).map(drop),
        AKind::RevokeAccount(t) => kw.run(RevokeAccount { actor: actor(), principal: target(*t) }).map(drop),
        AKind::Delete(t) => kw.run(DeleteAccount { actor: actor(), principal: target(*t) }).map(drop),
    };
    Some(r)
}

/// What `beta` decides and shows, for its own accounts (first) and for `bridge` (second).
fn beta_view(w: &IWorld) -> (Vec<String>, Vec<String>) {
    let kw = &w.kw;
    let reqs: Vec<(&str, &str)> = REQ_PERMS
        .iter()
        .flat_map(|p| ["*", "models/llama", "models/gpt", "deployments/eu/x"].map(|r| (*p, r)))
        .collect();
    let probe = |principal: &str, token: Option<&str>| -> Vec<String> {
        let mut out = Vec::new();
        for (perm, res) in &reqs {
            out.push(decision_text(&authorize(kw, principal.into(), "beta", perm, res)));
            if let Some(token) = token {
                out.push(decision_text(&verify(kw, token, "beta", perm, res)));
            }
        }
        out.push(format!("{:?}", effective(kw, principal.into(), "beta")));
        let account =
            kw.run(GetAccount { actor: BETA_ROOT.into(), tenant: "beta".into(), principal: principal.into() });
        out.push(format!("{account:?}"));
        out
    };
    let mut own = Vec::new();
    for p in [BETA_ROOT.to_owned(), sa("sa-0", "beta"), sa("sa-1", "beta")] {
        own.extend(probe(&p, None));
        if p != BETA_ROOT {
            own.push(format!("{:?}", kw.run(ListTokens { actor: BETA_ROOT.into(), principal: p.clone() })));
        }
    }
    for (p, token, _) in &w.beta_tokens {
        for (perm, res) in &reqs {
            own.push(format!("{p}: {}", decision_text(&verify(kw, token, "beta", perm, res))));
        }
    }
    own.push(format!("{:?}", kw.run(GetTenant { actor: BETA_ROOT.into(), tenant: "beta".into() })));
    let listed = kw
        .run(ListAccounts {
            actor: BETA_ROOT.into(),
            tenant: "beta".into(),
            filter: Some("owned=true".into()),
            page_size: Some(1000),
            page_token: None,
        })
        .unwrap();
    own.push(format!("{:?}", listed.accounts));
    let bridge = probe(&sa("bridge", "acme"), Some(&w.bridge_token));
    (own, bridge)
}

fn r44_r33_tenant_isolation_no_operation_in_one_tenant_changes_another_body(
    spec: &IsolationSpec,
) -> Result<(), TestCaseError> {
    let mut w = build_isolation(spec);
    beta_view(&w); // stamps last use once, before the view that counts
    let (own_before, bridge_before) = beta_view(&w);
    let mut bridge_lifecycle = false;
    let bridge = sa("bridge", "acme");
    for op in &spec.ops {
        let Some(r) = run_in_acme(&mut w, op) else { continue };
        if r.is_ok() {
            bridge_lifecycle |= match &op.kind {
                AKind::Disable(t) | AKind::RevokeAccount(t) | AKind::Delete(t) => I_TARGETS[*t] == "bridge",
                AKind::RevokeToken(i) => w.token_ids[i % w.token_ids.len()].0 == bridge,
                _ => false,
            };
        }
    }
    let (own_after, bridge_after) = beta_view(&w);
    for (b, a) in own_before.iter().zip(&own_after) {
        prop_assert_eq!(b, a, "beta changed; ops {:?}", spec.ops);
    }
    prop_assert_eq!(own_before.len(), own_after.len());
    if !bridge_lifecycle {
        for (b, a) in bridge_before.iter().zip(&bridge_after) {
            prop_assert_eq!(b, a, "bridge's standing in beta changed; ops {:?}", spec.ops);
        }
    }
    // The control: `beta`'s own operation does change `bridge`'s standing there (its role
    // there always allows `models:read`).
    let status = w.kw.run(GetAccount { actor: BETA_ROOT.into(), tenant: "beta".into(), principal: bridge.clone() });
    if status.is_ok_and(|a| a.status == Status::Active) {
        prop_assert!(authorize(&w.kw, bridge.as_str().into(), "beta", "models:read", "*").allowed);
        w.kw.run(RemoveAccess { actor: BETA_ROOT.into(), tenant: "beta".into(), principal: bridge.clone() }).unwrap();
        prop_assert_eq!(authorize(&w.kw, bridge.as_str().into(), "beta", "models:read", "*").reason, "forbidden");
        prop_assert_ne!(beta_view(&w).1, bridge_after);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(96))]

    /// random admin operations in `acme` — accounts, same-named roles
    /// and groups, grants, `everyone`, tokens, settings, disable/enable/revoke/delete, access of
    /// `beta`'s accounts into `acme`, and attempts to reach into `beta` — by `acme`'s admin, one
    /// of its service accounts, or `bridge` (an `acme` account with access to `beta`) change no
    /// decision, record or token of `beta`'s own accounts. `bridge`'s standing in `beta`
    /// changes only through its owner's lifecycle operations — and, as the control, does
    /// change through `beta`'s own `remove_access`.
    #[test]
    fn r44_r33_tenant_isolation_no_operation_in_one_tenant_changes_another(spec in isolation_spec()) {
        r44_r33_tenant_isolation_no_operation_in_one_tenant_changes_another_body(&spec)?;
    }
}
