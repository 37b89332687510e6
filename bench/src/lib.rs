//! What the benchmarks share (issue 10): a tenant filled through Keyward's public API, the
//! questions asked of it, the same policy in each peer's terms, and a store that counts the
//! queries a call makes. `make bench` runs them and writes BENCHMARKS.md.
//!
//! The tenant `acme` holds `roles` custom roles and `roles` groups (besides the built-in ones).
//! Role `role-i` grants `models:execute` on `models/m<i>`; group `group-i` grants
//! `datasets:read` on `datasets/d<i>`. Service account `bot-a` holds role `role-(a mod 10)`
//! and is a member of group `group-(a mod 10)`; it has 50 tokens (the default
//! `max_tokens_per_account`). The allowed question for a token of `bot-a` is
//! `models:execute` on `models/m<a mod 10>`; the denied one `models:write` on the same model.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use keyward_core::*;
use sha2::{Digest, Sha256};

/// The tenant of every benchmark.
pub const TENANT: &str = "acme";
/// Its first admin.
pub const ROOT: &str = "root@acme.test";
/// Tokens per service account (the tenant default of `max_tokens_per_account`).
pub const TOKENS_PER_ACCOUNT: usize = 50;
/// Accounts use the first this many roles and groups, whatever the tenant holds.
pub const USED_ROLES: usize = 10;

/// A fixed clock (so tokens never expire mid-run and the staleness window never lapses) and
/// a counter for the seeds of ids and secrets.
#[derive(Default)]
pub struct Clock(Cell<u64>);

impl Environment for Clock {
    fn now(&self) -> i64 {
        1_700_000_000_000
    }
    fn seed(&self) -> [u8; 32] {
        let n = self.0.get() + 1;
        self.0.set(n);
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&n.to_le_bytes());
        // Different processes (and stores reused across runs) must not repeat ids.
        seed[8..16].copy_from_slice(&std::process::id().to_le_bytes().repeat(2));
        seed
    }
}

/// One token of the round-robin: the secret, its account and the resource its role covers.
#[derive(Clone)]
pub struct Presented {
    pub token: String,
    pub principal: String,
    pub account: usize,
    pub model: String,
}

/// What a filled tenant offers the benchmarks.
pub struct Filled {
    pub tokens: Vec<Presented>,
    pub principals: Vec<String>,
}

fn grant(permission: &str, resource: &str) -> Grant {
    serde_json::from_value(serde_json::json!({ "permission": permission, "resource": resource })).unwrap()
}

/// `role-i`'s resource.
pub fn model(i: usize) -> String {
    format!("models/m{i}")
}

/// `group-i`'s resource.
pub fn dataset(i: usize) -> String {
    format!("datasets/d{i}")
}

/// Defines roles and groups `from..to` in the tenant.
pub fn add_roles<S: Store, E: Environment>(kw: &Keyward<S, E>, from: usize, to: usize) {
    for i in from..to {
        kw.run(DefineRole {
            actor: ROOT.into(),
            tenant: TENANT.into(),
            role: format!("role-{i}"),
            grants: vec![grant("models:execute", &model(i))],
        })
        .unwrap();
        kw.run(CreateGroup {
            actor: ROOT.into(),
            tenant: TENANT.into(),
            group: format!("group-{i}"),
            roles: vec![],
            grants: vec![grant("datasets:read", &dataset(i))],
        })
        .unwrap();
    }
}

/// Creates the tenant with `roles` roles and groups and `tokens` tokens, all through the
/// engine. Group membership is one `add_group_member` per account.
pub fn fill<S: Store, E: Environment>(kw: &Keyward<S, E>, tokens: usize, roles: usize) -> Filled {
    kw.run(CreateTenant { tenant: TENANT.into(), admin: ROOT.into(), name: None, settings: None }).unwrap();
    add_roles(kw, 0, roles.max(USED_ROLES));
    let mut out = Filled { tokens: Vec::with_capacity(tokens), principals: Vec::new() };
    for a in 0..tokens.div_ceil(TOKENS_PER_ACCOUNT) {
        let k = a % USED_ROLES;
        let sa = kw
            .run(CreateServiceAccount {
                actor: ROOT.into(),
                tenant: TENANT.into(),
                name: format!("bot-{a}"),
                description: None,
                role: Some(format!("role-{k}")),
                grants: vec![],
                password: None,
            })
            .unwrap();
        kw.run(AddGroupMember {
            actor: ROOT.into(),
            tenant: TENANT.into(),
            group: format!("group-{k}"),
            principal: sa.principal.clone(),
        })
        .unwrap();
        for _ in 0..TOKENS_PER_ACCOUNT.min(tokens - a * TOKENS_PER_ACCOUNT) {
            let t = kw
                .run(CreateToken {
                    actor: ROOT.into(),
                    principal: sa.principal.clone(),
                    name: None,
                    ttl_days: None,
                    expires_at: None,
                    never_expires: false,
                    scopes: None,
                })
                .unwrap();
            out.tokens.push(Presented { token: t.token, principal: sa.principal.clone(), account: a, model: model(k) });
        }
        out.principals.push(sa.principal);
    }
    out
}

/// Spreads the presented tokens over the store: consecutive calls use tokens of different
/// accounts, as a busy service sees them.
pub fn interleave(tokens: &mut [Presented]) {
    // Secrets are random: in their order, neighbours belong to unrelated accounts.
    tokens.sort_by(|a, b| a.token.cmp(&b.token));
}

/// `verify` as the benchmarks ask it.
pub fn verify<S: Store, E: Environment>(kw: &Keyward<S, E>, token: &str, permission: &str, resource: &str) -> Decision {
    kw.run(Verify {
        token: token.into(),
        tenant: TENANT.into(),
        permission: permission.into(),
        resource: resource.into(),
        channel: Channel::Api,
    })
    .unwrap()
}

/// `authorize` by principal.
pub fn authorize<S: Store, E: Environment>(kw: &Keyward<S, E>, principal: &str, resource: &str) -> Decision {
    kw.run(Authorize {
        identity_or_principal: Subject::Principal(principal.into()),
        tenant: TENANT.into(),
        permission: "models:execute".into(),
        resource: resource.into(),
    })
    .unwrap()
}

/// The same token with its checksum broken (last character changed).
pub fn bad_checksum(token: &str) -> String {
    let mut bad = token.to_owned();
    let last = bad.pop().unwrap();
    bad.push(if last == '0' { '1' } else { '0' });
    bad
}

/// A round-robin cursor: a different item each call.
pub struct RoundRobin<'a, T> {
    items: &'a [T],
    next: Cell<usize>,
}

impl<'a, T> RoundRobin<'a, T> {
    pub fn new(items: &'a [T]) -> Self {
        assert!(!items.is_empty());
        RoundRobin { items, next: Cell::new(0) }
    }
    #[inline]
    #[allow(clippy::should_implement_trait)]
    pub fn next(&self) -> &'a T {
        let i = self.next.get();
        self.next.set(if i + 1 == self.items.len() { 0 } else { i + 1 });
        &self.items[i]
    }
}

// --- the floor -----------------------------------------------------------------------------

/// The floor: SHA-256 of the secret, one hash-map probe (digest → role), one set check.
pub struct Floor {
    by_hash: HashMap<[u8; 32], usize>,
    rights: Vec<HashSet<String>>,
}

impl Floor {
    pub fn new(tokens: &[Presented]) -> Floor {
        let by_hash = tokens.iter().map(|t| (sha256(&t.token), t.account % USED_ROLES)).collect();
        let rights = (0..USED_ROLES).map(|i| [format!("models:execute {}", model(i))].into_iter().collect()).collect();
        Floor { by_hash, rights }
    }

    /// Whether `token` may do `question` (`"<permission> <resource>"`).
    #[inline]
    pub fn check(&self, token: &str, question: &str) -> bool {
        match self.by_hash.get(&sha256(token)) {
            Some(&role) => self.rights[role].contains(question),
            None => false,
        }
    }
}

fn sha256(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

// --- peers -----------------------------------------------------------------------------------

/// The peers' principals: one per account, `roles` roles and groups, as in the tenant.
pub const PEER_PRINCIPALS: usize = 1000;

pub mod jwt {
    use serde::{Deserialize, Serialize};

    /// The claims of a token asked the same question: subject, tenant, scopes, expiry.
    #[derive(Serialize, Deserialize)]
    pub struct Claims {
        pub sub: String,
        pub tenant: String,
        pub scopes: Vec<String>,
        pub exp: u64,
    }

    pub const KEY: &[u8] = b"a-32-byte-secret-for-hs256-bench";

    /// `n` HS256 tokens, one per principal.
    pub fn tokens(n: usize) -> Vec<String> {
        let key = jsonwebtoken::EncodingKey::from_secret(KEY);
        (0..n)
            .map(|a| {
                let claims = Claims {
                    sub: format!("bot-{a}@acme.sa.keyward.local"),
                    tenant: super::TENANT.into(),
                    scopes: vec!["models:execute".into(), "models:read".into()],
                    exp: 4_000_000_000,
                };
                jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256), &claims, &key).unwrap()
            })
            .collect()
    }
}

pub mod cedar {
    use std::str::FromStr;

    use cedar_policy::{
        Authorizer, Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicySet, Request,
    };

    fn uid(kind: &str, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(EntityTypeName::from_str(kind).unwrap(), EntityId::new(id))
    }

    /// The tenant's policy in Cedar: each role and each group an entity the principals are
    /// `in`, one `permit` per role and per group.
    pub struct Cedar {
        pub authorizer: Authorizer,
        pub policies: PolicySet,
        pub entities: Entities,
        /// Allowed questions, one per principal.
        pub allowed: Vec<Request>,
        /// Denied questions, one per principal.
        pub denied: Vec<Request>,
    }

    pub fn build(roles: usize, principals: usize) -> Cedar {
        let mut text = String::new();
        for i in 0..roles {
            text.push_str(&format!(
                "permit(principal in Role::\"role-{i}\", action == Action::\"models:execute\", resource == Model::\"{}\");\n",
                super::model(i)
            ));
            text.push_str(&format!(
                "permit(principal in Group::\"group-{i}\", action == Action::\"datasets:read\", resource == Dataset::\"{}\");\n",
                super::dataset(i)
            ));
        }
        let policies = PolicySet::from_str(&text).unwrap();
        let mut entities = Vec::new();
        for i in 0..roles {
            entities.push(Entity::new_no_attrs(uid("Role", &format!("role-{i}")), Default::default()));
            entities.push(Entity::new_no_attrs(uid("Group", &format!("group-{i}")), Default::default()));
        }
        let mut allowed = Vec::new();
        let mut denied = Vec::new();
        for a in 0..principals {
            let k = a % super::USED_ROLES;
            let p = uid("User", &format!("bot-{a}"));
            let parents =
                [uid("Role", &format!("role-{k}")), uid("Group", &format!("group-{k}"))].into_iter().collect();
            entities.push(Entity::new_no_attrs(p.clone(), parents));
            let model = uid("Model", &super::model(k));
            let ask = |action: &str| {
                Request::new(p.clone(), uid("Action", action), model.clone(), Context::empty(), None).unwrap()
            };
            allowed.push(ask("models:execute"));
            denied.push(ask("models:write"));
        }
        let entities = Entities::from_entities(entities, None).unwrap();
        Cedar { authorizer: Authorizer::new(), policies, entities, allowed, denied }
    }
}

pub mod casbin_peer {
    use casbin::prelude::*;

    /// RBAC with domains: `g = _, _, _`, the tenant as the domain.
    pub const MODEL: &str = r#"
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && r.obj == p.obj && r.act == p.act
"#;

    pub fn build(roles: usize, principals: usize) -> Enforcer {
        futures_executor::block_on(async {
            let model = DefaultModel::from_str(MODEL).await.unwrap();
            let mut e = Enforcer::new(model, MemoryAdapter::default()).await.unwrap();
            let t = super::TENANT.to_owned();
            let mut p = Vec::new();
            for i in 0..roles {
                p.push(vec![format!("role-{i}"), t.clone(), super::model(i), "models:execute".into()]);
                p.push(vec![format!("group-{i}"), t.clone(), super::dataset(i), "datasets:read".into()]);
            }
            e.add_policies(p).await.unwrap();
            let mut g = Vec::new();
            for a in 0..principals {
                let k = a % super::USED_ROLES;
                g.push(vec![format!("bot-{a}"), format!("role-{k}"), t.clone()]);
                g.push(vec![format!("bot-{a}"), format!("group-{k}"), t.clone()]);
            }
            e.add_grouping_policies(g).await.unwrap();
            e
        })
    }
}

// --- counting store --------------------------------------------------------------------------

/// A store that counts the queries it is asked: `get_many` is one query, like `get`.
pub struct Counting<S> {
    pub inner: S,
    pub queries: AtomicU64,
}

impl<S: Store> Counting<S> {
    pub fn new(inner: S) -> Self {
        Counting { inner, queries: AtomicU64::new(0) }
    }
    pub fn queries(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }
    fn count(&self) {
        self.queries.fetch_add(1, Ordering::Relaxed);
    }
}

impl<S: Store> Store for Counting<S> {
    fn get(&self, key: &str) -> Result<Option<Versioned>, StoreFailure> {
        self.count();
        self.inner.get(key)
    }
    fn put(&self, key: &str, value: &str, expected: Option<u64>) -> Result<Option<u64>, StoreFailure> {
        self.count();
        self.inner.put(key, value, expected)
    }
    fn delete(&self, key: &str, expected: u64) -> Result<bool, StoreFailure> {
        self.count();
        self.inner.delete(key, expected)
    }
    fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<Entry>, StoreFailure> {
        self.count();
        self.inner.list(prefix, after, limit)
    }
    fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Versioned>>, StoreFailure> {
        self.count();
        self.inner.get_many(keys)
    }
}

/// Bytes held by a memory store, by key prefix (`k/`, `a/`, `m/`, `t/`, `e/`, ...): keys plus
/// values, not counting the map's own overhead.
pub fn bytes_by_prefix(store: &MemoryStore) -> Vec<(String, usize, usize)> {
    let mut by: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for key in store.keys() {
        let value = store.get(&key).unwrap().map_or(0, |v| v.value.len());
        let prefix = key.split('/').next().unwrap_or("").to_owned();
        let e = by.entry(prefix).or_default();
        e.0 += 1;
        e.1 += key.len() + value;
    }
    by.into_iter().map(|(p, (n, b))| (p, n, b)).collect()
}

/// Smoke mode (`cargo bench -- --test`, as `make bench-smoke` runs it): tiny stores.
pub fn smoke() -> bool {
    std::env::args().any(|a| a == "--test") || std::env::var_os("KEYWARD_BENCH_SMOKE").is_some()
}

/// Where the benchmarks leave what criterion does not record (setup times, memory, queries
/// per call): `KEYWARD_BENCH_OUT`, else a folder in the temp dir.
pub fn out_dir() -> std::path::PathBuf {
    let dir = std::env::var_os("KEYWARD_BENCH_OUT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("keyward-bench"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `value` as `<out_dir>/<name>.json`.
pub fn record(name: &str, value: &serde_json::Value) {
    std::fs::write(out_dir().join(format!("{name}.json")), serde_json::to_string_pretty(value).unwrap()).unwrap();
}

/// Criterion settings: `KEYWARD_BENCH_SECS` seconds of measurement per benchmark (default 2).
pub fn criterion() -> criterion::Criterion {
    let secs: f64 = std::env::var("KEYWARD_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(2.0);
    criterion::Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_secs_f64((secs / 2.0).max(0.1)))
        .measurement_time(std::time::Duration::from_secs_f64(secs))
        .configure_from_args()
}

/// Token counts to run: `KEYWARD_BENCH_TOKENS` (comma-separated, e.g. `1000,100000`), else
/// 1 k, 100 k and 1 M; 100 in smoke mode.
pub fn token_sizes() -> Vec<usize> {
    if smoke() {
        return vec![100];
    }
    match std::env::var("KEYWARD_BENCH_TOKENS") {
        Ok(list) => list.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
        Err(_) => vec![1_000, 100_000, 1_000_000],
    }
}

/// Roles-and-groups counts: 10 and 1,000 (10 and 20 in smoke mode).
pub fn role_sizes() -> Vec<usize> {
    if smoke() {
        vec![10, 20]
    } else {
        vec![10, 1_000]
    }
}

/// `1000` → `1k`, `1000000` → `1M`.
pub fn label(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}
