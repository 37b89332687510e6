//! Many threads, one store, and a model written apart from the engine.
//!
//! Each run builds one [`MemoryStore`] (shared by `Arc`), sets up two tenants near their caps,
//! then starts [`THREADS`] threads. Each thread is a host of its own — its own [`Keyward`], its
//! own seeds — and runs a random program (seeded: the seed is in every failure message) of
//! admin operations on the same accounts, groups, tokens and settings, recording for each
//! operation whether it was acknowledged (`Ok`), its error code otherwise, and how many
//! compare-and-sets it lost. The store wrapper yields the thread at random before store calls,
//! so the programs interleave inside operations, not only between them.
//!
//! Afterwards the final state, read through the engine, is checked against a model that knows
//! nothing of the engine's code:
//!
//! - per register (an account's role in a tenant, its status, one direct grant, one group
//!   membership, a token's revoked and rotated flags, a setting, access to a tenant) the final
//!   value is the value written by the last acknowledged write of *some* thread (or the initial
//!   value when no thread had one acknowledged): that is what any sequential order of the
//!   acknowledged operations, consistent with each thread's program order, leaves behind.
//!   A write answered `conflict` may still have taken effect only where R-92 lets it: a
//!   mutation that takes something away acts first and writes its event after, so a lost race
//!   on the event leaves it done. Such writes are allowed, counted and reported; one answered
//!   with any other error, or a granting one answered `conflict`, is a failure.
//! - every acknowledged creation (service account, user, access, token, rotation) exists, and
//!   nothing exists that no call created; every acknowledged token's secret authenticates
//!   exactly when the model says it is live and its account active;
//! - caps hold: owned service accounts <= `max_service_accounts`, live tokens per account <=
//!   `max_tokens_per_account`, active users with access <= `seat_limit` in each tenant; a token
//!   is rotated by at most one acknowledged call;
//! - `conflict` is answered only after the bounded retries: every such answer lost at
//!   least [`RETRY_BOUND`] compare-and-sets in that call.
//!
//! `RACE_RUNS` (default 60) sets the number of runs; `RACE_SEED` the first seed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

mod support;

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Barrier, Mutex};

use keyward_core::*;
use serde_json::{json, Value};
use support::interleave::SharedStore;
use support::{TestEnv, ROOT, T0};

/// Hosts (threads) per run.
const THREADS: usize = 8;
/// Operations per thread and run.
const OPS: usize = 50;
/// The engine's bound on lost compare-and-sets before `conflict` (`MAX_ATTEMPTS` in
/// core/src/authz/admin.rs, private to the crate); R-91 asks for at least 3.
const RETRY_BOUND: u32 = 5;
/// R-91's floor on retries, which the engine's bound keeps.
const SPEC_MIN_RETRIES: u32 = 3;
const _: () = assert!(RETRY_BOUND >= SPEC_MIN_RETRIES);

/// The clock of the final reads: after every call of every thread.
const END: i64 = T0 + OPS as i64 + 1;

const SA_CAP: u64 = 5;
const TOKEN_CAP: u64 = 3;
const ACME_SEATS: u64 = 4;
const BETA_SEATS: u64 = 3;

const SETUP_BOTS: [&str; 3] = ["bot0", "bot1", "bot2"];
const POOL_BOTS: [&str; 5] = ["bot3", "bot4", "bot5", "bot6", "bot7"];
const SETUP_USERS: [&str; 2] = ["u0", "u1"];
const POOL_USERS: [&str; 3] = ["u2", "u3", "u4"];
const GROUPS: [&str; 2] = ["g0", "g1"];
const GRANTS: [&str; 3] = ["models:read", "models:write", "data:read"];
const ROLES: [Option<&str>; 4] = [None, Some("viewer"), Some("contributor"), Some("admin")];

fn bot(name: &str) -> String {
    format!("{name}@acme.sa.keyward.local")
}

fn user(name: &str) -> String {
    format!("{name}@acme.test")
}

/// Accounts whose role, grants and groups are raced on in `acme`.
fn acme_targets() -> Vec<String> {
    vec![bot("bot0"), bot("bot1"), user("u0")]
}

/// Accounts whose role is raced on in `beta` (they have access there from the setup).
fn beta_targets() -> Vec<String> {
    vec![bot("bot0"), user("u0")]
}

/// Accounts whose status is raced on: every bot of the setup, every user.
fn status_targets() -> Vec<String> {
    SETUP_BOTS.iter().map(|b| bot(b)).chain(SETUP_USERS.iter().chain(POOL_USERS.iter()).map(|u| user(u))).collect()
}

// -- A seeded generator, written here so a run is reproduced from its seed ----------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // SplitMix64.
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())].clone()
    }
}

// -- The store each host sees: the shared one, with lost compare-and-sets counted --------------

/// One host's handle on the shared store: counts the compare-and-sets its calls lose and
/// yields the thread at random before a store call, so that calls interleave inside.
struct Racing {
    inner: Arc<MemoryStore>,
    lost: Cell<u32>,
    rng: Cell<u64>,
}

impl Racing {
    fn churn(&self) {
        let mut rng = Rng(self.rng.get());
        if rng.next() % 3 == 0 {
            std::thread::yield_now();
        }
        self.rng.set(rng.0);
    }
}

impl Store for Racing {
    fn get(&self, key: &str) -> Result<Option<Versioned>, StoreFailure> {
        self.churn();
        self.inner.get(key)
    }
    fn put(&self, key: &str, value: &str, expected: Option<u64>) -> Result<Option<u64>, StoreFailure> {
        self.churn();
        let r = self.inner.put(key, value, expected);
        if matches!(r, Ok(None)) {
            self.lost.set(self.lost.get() + 1);
        }
        r
    }
    fn delete(&self, key: &str, expected: u64) -> Result<bool, StoreFailure> {
        self.churn();
        let r = self.inner.delete(key, expected);
        if matches!(r, Ok(false)) {
            self.lost.set(self.lost.get() + 1);
        }
        r
    }
    fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<Entry>, StoreFailure> {
        self.churn();
        self.inner.list(prefix, after, limit)
    }
}

// -- What the threads do -------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Act {
    SetRole { tenant: &'static str, principal: String, role: Option<&'static str> },
    Grant { principal: String, grant: &'static str },
    Revoke { principal: String, grant: &'static str },
    AddMember { group: &'static str, principal: String },
    RemoveMember { group: &'static str, principal: String },
    Disable { principal: String },
    Enable { principal: String },
    CreateToken { principal: String },
    RevokeToken { principal: String, token_id: String },
    RotateToken { principal: String, token_id: String },
    CreateServiceAccount { name: &'static str },
    CreateUser { name: &'static str },
    GrantAccessBeta { principal: String },
    Settings { key: &'static str, value: Value },
}

impl Act {
    fn call(&self) -> Call {
        let grants = |g: &str| vec![serde_json::from_value(json!(g)).unwrap()];
        match self.clone() {
            Act::SetRole { tenant, principal, role } => {
                SetRole { actor: ROOT.into(), tenant: tenant.into(), principal, role: role.map(str::to_owned) }
                    .into_call()
            }
            Act::Grant { principal, grant } => {
                GrantPermissions { actor: ROOT.into(), tenant: "acme".into(), principal, grants: grants(grant) }
                    .into_call()
            }
            Act::Revoke { principal, grant } => {
                RevokePermissions { actor: ROOT.into(), tenant: "acme".into(), principal, grants: grants(grant) }
                    .into_call()
            }
            Act::AddMember { group, principal } => {
                AddGroupMember { actor: ROOT.into(), tenant: "acme".into(), group: group.into(), principal }.into_call()
            }
            Act::RemoveMember { group, principal } => {
                RemoveGroupMember { actor: ROOT.into(), tenant: "acme".into(), group: group.into(), principal }
                    .into_call()
            }
            Act::Disable { principal } => DisableAccount { actor: ROOT.into(), principal }.into_call(),
            Act::Enable { principal } => EnableAccount { actor: ROOT.into(), principal }.into_call(),
            Act::CreateToken { principal } => support::token_request(&principal).into_call(),
            Act::RevokeToken { principal, token_id } => {
                RevokeToken { actor: ROOT.into(), principal, token_id }.into_call()
            }
            Act::RotateToken { principal, token_id } => {
                RotateToken { actor: ROOT.into(), principal, token_id, grace_seconds: Some(0) }.into_call()
            }
            Act::CreateServiceAccount { name } => support::service_account_request(name, None).into_call(),
            Act::CreateUser { name } => CreateUser {
                actor: ROOT.into(),
                tenant: "acme".into(),
                email: user(name),
                name: None,
                role: None,
                mfa: false,
            }
            .into_call(),
            Act::GrantAccessBeta { principal } => {
                GrantAccess { actor: ROOT.into(), tenant: "beta".into(), principal, role: None, grants: vec![] }
                    .into_call()
            }
            Act::Settings { key, value } => {
                let settings = serde_json::from_value(json!({ key: value })).unwrap();
                UpdateTenantSettings { actor: ROOT.into(), tenant: "acme".into(), settings }.into_call()
            }
        }
    }

    /// Whether the operation takes something away, so may act before its event: then
    /// a `conflict` on the event may leave it done.
    fn takes_away(&self) -> bool {
        matches!(self, Act::Revoke { .. } | Act::RemoveMember { .. } | Act::Disable { .. } | Act::RevokeToken { .. })
    }
}

/// A register of the model.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Reg {
    Role(&'static str, String),
    Status(String),
    Grant(String, &'static str),
    Member(&'static str, String),
    Revoked(String),
    Rotated(String),
    Setting(&'static str),
    BetaAccess(String),
}

/// The register writes an operation makes when it takes effect (values as text).
fn writes(act: &Act) -> Vec<(Reg, String)> {
    let yes = || "true".to_owned();
    let no = || "false".to_owned();
    match act {
        Act::SetRole { tenant, principal, role } => {
            vec![(Reg::Role(tenant, principal.clone()), role.unwrap_or("-").to_owned())]
        }
        Act::Grant { principal, grant } => vec![(Reg::Grant(principal.clone(), grant), yes())],
        Act::Revoke { principal, grant } => vec![(Reg::Grant(principal.clone(), grant), no())],
        Act::AddMember { group, principal } => vec![(Reg::Member(group, principal.clone()), yes())],
        Act::RemoveMember { group, principal } => vec![(Reg::Member(group, principal.clone()), no())],
        Act::Disable { principal } => vec![(Reg::Status(principal.clone()), "disabled".into())],
        Act::Enable { principal } => vec![(Reg::Status(principal.clone()), "active".into())],
        Act::CreateUser { name } => vec![(Reg::Status(user(name)), "active".into())],
        Act::RevokeToken { token_id, .. } => vec![(Reg::Revoked(token_id.clone()), yes())],
        Act::RotateToken { token_id, .. } => vec![(Reg::Rotated(token_id.clone()), yes())],
        Act::GrantAccessBeta { principal } => vec![(Reg::BetaAccess(principal.clone()), yes())],
        Act::Settings { key, value } => vec![(Reg::Setting(key), value.to_string())],
        Act::CreateToken { .. } | Act::CreateServiceAccount { .. } => vec![],
    }
}

/// One operation as run: the answer's gist and the compare-and-sets it lost.
#[derive(Debug)]
struct Done {
    act: Act,
    /// `Ok` with (principal, token id, secret) for a token creation or rotation; the error code
    /// otherwise.
    result: Result<Option<(String, String, String)>, &'static str>,
    lost: u32,
}

impl Done {
    fn acked(&self) -> bool {
        self.result.is_ok()
    }
    /// Not acknowledged, yet allowed to have taken effect (see the module docs).
    fn maybe(&self) -> bool {
        self.result == Err("conflict") && self.act.takes_away()
    }
}

/// Tokens any thread may pick as targets: (principal, token id).
type Known = Mutex<Vec<(String, String)>>;

fn program_step(rng: &mut Rng, known: &Known) -> Act {
    match rng.below(20) {
        0 | 1 => Act::SetRole {
            tenant: if rng.below(3) == 0 { "beta" } else { "acme" },
            principal: String::new(),
            role: rng.pick(&ROLES),
        },
        2 | 3 => Act::Grant { principal: rng.pick(&acme_targets()), grant: rng.pick(&GRANTS) },
        4 => Act::Revoke { principal: rng.pick(&acme_targets()), grant: rng.pick(&GRANTS) },
        5 | 6 => Act::AddMember { group: rng.pick(&GROUPS), principal: rng.pick(&acme_targets()) },
        7 => Act::RemoveMember { group: rng.pick(&GROUPS), principal: rng.pick(&acme_targets()) },
        8 => Act::Disable { principal: rng.pick(&status_targets()) },
        9 | 10 => Act::Enable { principal: rng.pick(&status_targets()) },
        11 | 12 => Act::CreateToken { principal: bot(rng.pick(&SETUP_BOTS)) },
        13 | 14 => {
            let (principal, token_id) = rng.pick(&known.lock().unwrap());
            if rng.below(2) == 0 {
                Act::RevokeToken { principal, token_id }
            } else {
                Act::RotateToken { principal, token_id }
            }
        }
        15 => Act::CreateServiceAccount { name: rng.pick(&POOL_BOTS) },
        16 => Act::CreateUser { name: rng.pick(&POOL_USERS) },
        17 => Act::GrantAccessBeta { principal: user(rng.pick(&POOL_USERS)) },
        _ => {
            if rng.below(2) == 0 {
                Act::Settings { key: "default_token_ttl_days", value: json!(rng.pick(&[30, 90, 365])) }
            } else {
                Act::Settings {
                    key: "default_service_account_role",
                    value: rng.pick(&[Value::Null, json!("viewer"), json!("user")]),
                }
            }
        }
    }
    .with_target(rng)
}

impl Act {
    /// Fills in a role's target, which depends on the tenant drawn.
    fn with_target(self, rng: &mut Rng) -> Act {
        match self {
            Act::SetRole { tenant, role, .. } => {
                let principal = if tenant == "beta" { rng.pick(&beta_targets()) } else { rng.pick(&acme_targets()) };
                Act::SetRole { tenant, principal, role }
            }
            other => other,
        }
    }
}

fn run_thread(store: Arc<MemoryStore>, seed: u64, thread: usize, known: &Known, start: &Barrier) -> Vec<Done> {
    let racing = Racing { inner: store, lost: Cell::new(0), rng: Cell::new(seed ^ 0xA5A5) };
    let env = TestEnv::with_seed_base(((thread as u64) + 1) << 48);
    let kw = Keyward::new(Options::default(), racing, env).unwrap();
    let mut rng = Rng(seed);
    start.wait();
    let mut done = Vec::with_capacity(OPS);
    for step in 0..OPS {
        // Host clocks move a millisecond per call, roughly together.
        kw.env().now.set(T0 + 1 + step as i64);
        let act = program_step(&mut rng, known);
        kw.store().lost.set(0);
        let answer = kw.call(act.call());
        let lost = kw.store().lost.get();
        let result = match answer {
            Ok(Answer::TokenCreated(t)) => {
                let principal = match &act {
                    Act::CreateToken { principal } | Act::RotateToken { principal, .. } => principal.clone(),
                    other => panic!("seed {seed}: {other:?} answered a token"),
                };
                known.lock().unwrap().push((principal.clone(), t.info.token_id.clone()));
                Ok(Some((principal, t.info.token_id, t.token)))
            }
            Ok(_) => Ok(None),
            Err(e) => Err(e.code()),
        };
        done.push(Done { act, result, lost });
    }
    done
}

// -- Setup and final reads -----------------------------------------------------------------------

type Reader = Keyward<SharedStore, TestEnv>;

struct Setup {
    /// (principal, token id, secret) of the setup's tokens.
    tokens: Vec<(String, String, String)>,
    settings: Value,
}

fn setup(kw: &Reader) -> Setup {
    let settings =
        json!({"max_service_accounts": SA_CAP, "max_tokens_per_account": TOKEN_CAP, "seat_limit": ACME_SEATS});
    let settings = serde_json::from_value(settings).unwrap();
    kw.run(CreateTenant { tenant: "acme".into(), admin: ROOT.into(), name: None, settings: Some(settings) }).unwrap();
    for g in GROUPS {
        let grants = vec![serde_json::from_value(json!("data:write")).unwrap()];
        kw.run(CreateGroup { actor: ROOT.into(), tenant: "acme".into(), group: g.into(), roles: vec![], grants })
            .unwrap();
    }
    let mut tokens = Vec::new();
    for b in SETUP_BOTS {
        kw.run(support::service_account_request(b, None)).unwrap();
        let t = kw.run(support::token_request(&bot(b))).unwrap();
        tokens.push((bot(b), t.info.token_id, t.token));
    }
    for u in SETUP_USERS {
        let email = user(u);
        kw.run(CreateUser { actor: ROOT.into(), tenant: "acme".into(), email, name: None, role: None, mfa: false })
            .unwrap();
    }
    // `beta`: ROOT is its admin (and takes a seat there); bot0 and u0 have access.
    let settings = serde_json::from_value(json!({ "seat_limit": BETA_SEATS })).unwrap();
    kw.run(CreateTenant { tenant: "beta".into(), admin: ROOT.into(), name: None, settings: Some(settings) }).unwrap();
    for p in beta_targets() {
        kw.run(GrantAccess { actor: ROOT.into(), tenant: "beta".into(), principal: p, role: None, grants: vec![] })
            .unwrap();
    }
    let settings =
        serde_json::to_value(kw.run(GetTenant { actor: ROOT.into(), tenant: "acme".into() }).unwrap().settings)
            .unwrap();
    Setup { tokens, settings }
}

fn initial(reg: &Reg, s: &Setup) -> String {
    match reg {
        Reg::Role(..) => "-".into(),
        Reg::Status(p) if POOL_USERS.iter().any(|u| user(u) == *p) => "absent".into(),
        Reg::Status(_) => "active".into(),
        Reg::Grant(..) | Reg::Member(..) | Reg::Revoked(_) | Reg::Rotated(_) | Reg::BetaAccess(_) => "false".into(),
        Reg::Setting(k) => s.settings[*k].to_string(),
    }
}

/// The final state, read through the engine.
struct Final<'a> {
    seed: u64,
    kw: &'a Reader,
    tokens: BTreeMap<String, Vec<TokenInfo>>,
    settings: Value,
}

impl Final<'_> {
    fn account(&self, tenant: &str, principal: &str) -> Option<Account> {
        match self.kw.run(GetAccount { actor: ROOT.into(), tenant: tenant.into(), principal: principal.into() }) {
            Ok(a) => Some(a),
            Err(e) if e.code() == "not_found" => None,
            Err(e) => panic!("get_account {tenant} {principal}: {e}"),
        }
    }
    fn token(&self, id: &str) -> &TokenInfo {
        let found = self.tokens.values().flatten().find(|t| t.token_id == id);
        found.unwrap_or_else(|| panic!("seed {}: token {id}, acknowledged, is not listed", self.seed))
    }
    fn has_access(&self, tenant: &str, principal: &str) -> Account {
        let found = self.account(tenant, principal);
        found.unwrap_or_else(|| panic!("seed {}: {principal} lost its access to {tenant}", self.seed))
    }
    fn read(&self, reg: &Reg) -> String {
        let b = |x: bool| x.to_string();
        match reg {
            Reg::Role(t, p) => self.has_access(t, p).roles.first().cloned().unwrap_or_else(|| "-".into()),
            Reg::Status(p) => self.account("acme", p).map_or("absent".into(), |a| a.status.as_str().to_owned()),
            Reg::Grant(p, g) => b(self.has_access("acme", p).grants.iter().any(|x| x.to_string() == *g)),
            Reg::Member(g, p) => b(self.has_access("acme", p).groups.iter().any(|x| x == g)),
            Reg::Revoked(id) => b(self.token(id).revoked_at.is_some()),
            // Rotations here give no grace: the old token expires at once.
            Reg::Rotated(id) => b(self.token(id).expires_at.is_some_and(|at| at <= END)),
            Reg::Setting(k) => self.settings[*k].to_string(),
            Reg::BetaAccess(p) => b(self.account("beta", p).is_some()),
        }
    }
    fn live(t: &TokenInfo) -> bool {
        t.revoked_at.is_none() && t.expires_at.is_none_or(|at| at > END)
    }
}

fn list_all(kw: &Reader, tenant: &str, filter: Option<&str>) -> Vec<Account> {
    let mut out = Vec::new();
    let mut page_token = None;
    loop {
        let page = kw
            .run(ListAccounts {
                actor: ROOT.into(),
                tenant: tenant.into(),
                filter: filter.map(str::to_owned),
                page_size: Some(100),
                page_token,
            })
            .unwrap();
        out.extend(page.accounts);
        match page.next_page_token {
            Some(t) => page_token = Some(t),
            None => return out,
        }
    }
}

// -- The model check -----------------------------------------------------------------------------

#[derive(Default, Debug)]
struct Tally {
    runs: u64,
    ops: u64,
    acked: u64,
    conflicts: u64,
    lost_cas: u64,
    quota_exceeded: u64,
    /// Registers whose final value only a take-away call answered `conflict` explains.
    done_despite_conflict: u64,
    registers: u64,
    by_kind: BTreeMap<&'static str, (u64, u64)>,
}

fn kind(act: &Act) -> &'static str {
    match act {
        Act::SetRole { .. } => "set_role",
        Act::Grant { .. } => "grant_permissions",
        Act::Revoke { .. } => "revoke_permissions",
        Act::AddMember { .. } => "add_group_member",
        Act::RemoveMember { .. } => "remove_group_member",
        Act::Disable { .. } => "disable_account",
        Act::Enable { .. } => "enable_account",
        Act::CreateToken { .. } => "create_token",
        Act::RevokeToken { .. } => "revoke_token",
        Act::RotateToken { .. } => "rotate_token",
        Act::CreateServiceAccount { .. } => "create_service_account",
        Act::CreateUser { .. } => "create_user",
        Act::GrantAccessBeta { .. } => "grant_access",
        Act::Settings { .. } => "update_tenant_settings",
    }
}

fn check(seed: u64, kw: &Reader, s: &Setup, threads: &[Vec<Done>], tally: &mut Tally) {
    let all = || threads.iter().flatten();
    // `conflict` only after the bounded retries.
    for d in all() {
        tally.ops += 1;
        let e = tally.by_kind.entry(kind(&d.act)).or_default();
        e.0 += 1;
        tally.lost_cas += u64::from(d.lost);
        match d.result {
            Ok(_) => {
                tally.acked += 1;
                e.1 += 1;
            }
            Err("conflict") => {
                tally.conflicts += 1;
                assert!(
                    d.lost >= RETRY_BOUND,
                    "seed {seed}: {d:?} answered conflict after {} lost compare-and-sets (R-91)",
                    d.lost
                );
            }
            Err("quota_exceeded") => tally.quota_exceeded += 1,
            Err(_) => {}
        }
    }

    // Final reads.
    let mut tokens = BTreeMap::new();
    for b in SETUP_BOTS {
        tokens.insert(bot(b), kw.run(ListTokens { actor: ROOT.into(), principal: bot(b) }).unwrap());
    }
    let settings =
        serde_json::to_value(kw.run(GetTenant { actor: ROOT.into(), tenant: "acme".into() }).unwrap().settings)
            .unwrap();
    let fin = Final { seed, kw, tokens, settings };

    // Registers: the final value is some thread's last acknowledged write.
    let regs: BTreeSet<Reg> = all().flat_map(|d| writes(&d.act)).map(|(r, _)| r).collect();
    for reg in &regs {
        let (mut acked, mut maybe) = (BTreeSet::new(), BTreeSet::new());
        for thread in threads {
            let (mut last, mut after) = (None, Vec::new());
            for d in thread {
                for (r, v) in writes(&d.act) {
                    if r != *reg {
                        continue;
                    }
                    if d.acked() {
                        last = Some(v);
                        after.clear();
                    } else if d.maybe() {
                        after.push(v);
                    }
                }
            }
            acked.extend(last);
            maybe.extend(after);
        }
        if acked.is_empty() {
            acked.insert(initial(reg, s));
        }
        let value = fin.read(reg);
        tally.registers += 1;
        if acked.contains(&value) {
            continue;
        }
        assert!(
            maybe.contains(&value),
            "seed {seed}: {reg:?} is {value}, which no sequential order of the acknowledged calls leaves \
             (last acknowledged writes per thread: {acked:?}); history: {:#?}",
            history(threads, reg)
        );
        tally.done_despite_conflict += 1;
    }

    // Tokens: every acknowledged one kept, nothing else; caps; one rotation per token.
    let created: Vec<&(String, String, String)> = all().filter_map(|d| d.result.as_ref().ok()?.as_ref()).collect();
    let mut rotations: BTreeMap<&str, u32> = BTreeMap::new();
    for d in all().filter(|d| d.acked()) {
        if let Act::RotateToken { token_id, .. } = &d.act {
            *rotations.entry(token_id).or_default() += 1;
        }
    }
    assert!(rotations.values().all(|n| *n == 1), "seed {seed}: a token rotated twice (R-25): {rotations:?}");
    for (principal, listed) in &fin.tokens {
        let expected: BTreeSet<&str> = s
            .tokens
            .iter()
            .chain(created.iter().copied())
            .filter(|(p, ..)| p == principal)
            .map(|(_, id, _)| id.as_str())
            .collect();
        let got: BTreeSet<&str> = listed.iter().map(|t| t.token_id.as_str()).collect();
        assert_eq!(got, expected, "seed {seed}: tokens of {principal}: listed vs acknowledged creations");
        let live = listed.iter().filter(|t| Final::live(t)).count() as u64;
        assert!(live <= TOKEN_CAP, "seed {seed}: {principal} holds {live} live tokens, cap {TOKEN_CAP} (R-23, R-62)");
    }
    for (principal, id, secret) in s.tokens.iter().chain(created.iter().copied()) {
        let info = fin.token(id);
        let active = fin.has_access("acme", principal).status == Status::Active;
        let expect = Final::live(info) && active;
        let got = kw.run(Authenticate { token: secret.as_str().into(), channel: Channel::Api });
        assert_eq!(got.is_ok(), expect, "seed {seed}: token {id} of {principal}: {got:?} ({info:?}, active: {active})");
    }

    // Service accounts: every acknowledged creation exists, nothing else, within the cap.
    let owned: BTreeSet<String> =
        list_all(kw, "acme", Some("service_account=true AND owned=true")).into_iter().map(|a| a.principal).collect();
    let made: BTreeSet<String> = all()
        .filter(|d| d.acked())
        .filter_map(|d| match d.act {
            Act::CreateServiceAccount { name } => Some(bot(name)),
            _ => None,
        })
        .chain(SETUP_BOTS.iter().map(|b| bot(b)))
        .collect();
    assert_eq!(owned, made, "seed {seed}: owned service accounts vs acknowledged creations");
    assert!(owned.len() as u64 <= SA_CAP, "seed {seed}: {} service accounts, cap {SA_CAP} (R-62)", owned.len());

    // Seats: active users with access, counted from the accounts and by seat_usage.
    for (tenant, cap) in [("acme", ACME_SEATS), ("beta", BETA_SEATS)] {
        let active = list_all(kw, tenant, None)
            .iter()
            .filter(|a| a.kind == AccountKind::User && a.status == Status::Active)
            .count() as u64;
        let usage = kw.run(SeatUsage { actor: ROOT.into(), tenant: tenant.into() }).unwrap();
        assert_eq!(usage.seats_used, active, "seed {seed}: seat_usage of {tenant} (R-63)");
        assert!(active <= cap, "seed {seed}: {active} active users in {tenant}, seat_limit {cap} (R-62)");
    }
    // Users: every acknowledged creation exists (its status register says so above); no user
    // that nobody created.
    let users: BTreeSet<String> = list_all(kw, "acme", Some("service_account=false"))
        .into_iter()
        .filter(|a| a.owned)
        .map(|a| a.principal)
        .collect();
    for u in &users {
        let created = *u == ROOT
            || SETUP_USERS.iter().any(|x| user(x) == *u)
            || all().any(|d| d.acked() && matches!(d.act, Act::CreateUser { name } if user(name) == *u));
        assert!(created, "seed {seed}: user {u} exists but no acknowledged call created it");
    }
    tally.runs += 1;
}

fn history<'a>(threads: &'a [Vec<Done>], reg: &Reg) -> Vec<(usize, &'a Done)> {
    threads
        .iter()
        .enumerate()
        .flat_map(|(i, t)| t.iter().map(move |d| (i, d)))
        .filter(|(_, d)| writes(&d.act).iter().any(|(r, _)| r == reg))
        .collect()
}

fn one_run(seed: u64, tally: &mut Tally) {
    let store = Arc::new(MemoryStore::new());
    let kw: Reader = Keyward::new(Options::default(), SharedStore(Arc::clone(&store)), TestEnv::new()).unwrap();
    let s = setup(&kw);
    let known: Known = Mutex::new(s.tokens.iter().map(|(p, id, _)| (p.clone(), id.clone())).collect());
    let start = Barrier::new(THREADS);
    let threads: Vec<Vec<Done>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|i| {
                let (store, known, start) = (Arc::clone(&store), &known, &start);
                let seed = seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
                scope.spawn(move || run_thread(store, seed, i, known, start))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    kw.env().now.set(END);
    check(seed, &kw, &s, &threads, tally);
}

#[test]
fn r91_r62_r23_r25_many_hosts_racing_on_one_store_match_a_sequential_model() {
    let runs: u64 = std::env::var("RACE_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
    let first: u64 = std::env::var("RACE_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let mut tally = Tally::default();
    for seed in first..first + runs {
        one_run(seed, &mut tally);
    }
    eprintln!("concurrency: {tally:#?}");
    assert_eq!(tally.runs, runs);
    assert_eq!(tally.ops, runs * (THREADS * OPS) as u64);
    // The runs raced: some calls were acknowledged, some lost compare-and-sets, some hit a cap.
    assert!(tally.acked > 0 && tally.lost_cas > 0 && tally.quota_exceeded > 0, "{tally:?}");
}

/// Status events of `principal` in `acme`'s log, oldest first.
fn status_events(kw: &Reader, principal: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut page_token = None;
    loop {
        let page = kw
            .run(AuditLog { actor: ROOT.into(), tenant: "acme".into(), filter: None, page_size: Some(100), page_token })
            .unwrap();
        out.extend(
            page.events
                .into_iter()
                .filter(|e| e.target == principal && e.outcome == "ok" && e.action.starts_with("service_account.")),
        );
        match page.next_page_token {
            Some(t) => page_token = Some(t),
            None => break,
        }
    }
    out.reverse();
    out.into_iter().map(|e| e.action).collect()
}

/// Two hosts whose clocks read the same millisecond disable, enable and disable one account:
/// three mutations, so three events. The third disable used to find the first
/// one's event (same action, target and millisecond) and take it for its own.
#[test]
fn r80_r92_status_changes_within_one_millisecond_each_write_their_event() {
    let store = Arc::new(MemoryStore::new());
    let a: Reader = Keyward::new(Options::default(), SharedStore(Arc::clone(&store)), TestEnv::new()).unwrap();
    let b: Reader =
        Keyward::new(Options::default(), SharedStore(Arc::clone(&store)), TestEnv::with_seed_base(1 << 48)).unwrap();
    a.run(CreateTenant { tenant: "acme".into(), admin: ROOT.into(), name: None, settings: None }).unwrap();
    a.run(support::service_account_request("bot0", None)).unwrap();
    let p = bot("bot0");
    a.run(DisableAccount { actor: ROOT.into(), principal: p.clone() }).unwrap();
    b.run(EnableAccount { actor: ROOT.into(), principal: p.clone() }).unwrap();
    let last = a.run(DisableAccount { actor: ROOT.into(), principal: p.clone() }).unwrap();
    assert_eq!(last.status, Status::Disabled);
    assert_eq!(
        status_events(&a, &p),
        ["service_account.create", "service_account.disable", "service_account.enable", "service_account.disable"],
        "the log tells the account's story: its last event is the disable that holds"
    );
}

/// A disable slipped in at every write point of another disable of the same account: one
/// change, so one event, whichever call writes it (R-92: never a second one). When the second
/// disable runs between the first one's status write and its event, it finds the change made
/// and the event missing, and writes it; the first then appends its own, finds the older copy
/// and takes its own back (`append_once`).
#[test]
fn r92_two_disables_racing_write_one_event() {
    use support::interleave::for_every_write_point;
    let p = bot("bot0");
    for_every_write_point(
        |w| {
            w.run(CreateTenant { tenant: "acme".into(), admin: ROOT.into(), name: None, settings: None }).unwrap();
            w.run(support::service_account_request("bot0", None)).unwrap();
        },
        |_| DisableAccount { actor: ROOT.into(), principal: bot("bot0") }.into_call(),
        |_| DisableAccount { actor: ROOT.into(), principal: bot("bot0") }.into_call(),
        |w, i| {
            assert_eq!(i.successes(), 2, "k={}: {i:?}", i.k);
            let reader: Reader = Keyward::new(Options::default(), w.store().clone(), TestEnv::new()).unwrap();
            assert_eq!(
                status_events(&reader, &p),
                ["service_account.create", "service_account.disable"],
                "k={}: one change, one event",
                i.k
            );
        },
    );
}
