//! A small, real Keyward world, built once per process: two tenants, custom roles and a group,
//! service accounts, a user, tokens (one scoped, one rotated, one revoked), cross-tenant access
//! and the audit trail these left. Targets start from a copy of its store.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use keyward_core::{Call, Engine, Entry, Env, Options, Store, StoreFailure, Versioned};
use serde_json::{json, Value};

/// The clock of the world's last write; operations under fuzzing run a little later.
pub const T0: i64 = 1_700_000_000_000;

/// The service-account domain (default options).
pub const TENANTS: [&str; 2] = ["acme", "beta"];

/// A store whose contents are an ordinary map (any version, any value), cheap to copy; the
/// same protocol as `keyward_core::MemoryStore`.
#[derive(Clone, Default)]
pub struct FuzzStore {
    /// The documents by key.
    pub map: RefCell<BTreeMap<String, Versioned>>,
}

impl Store for FuzzStore {
    fn get(&self, key: &str) -> Result<Option<Versioned>, StoreFailure> {
        Ok(self.map.borrow().get(key).cloned())
    }

    fn put(&self, key: &str, value: &str, expected: Option<u64>) -> Result<Option<u64>, StoreFailure> {
        let mut map = self.map.borrow_mut();
        let current = map.get(key).map(|v| v.version);
        if current != expected {
            return Ok(None);
        }
        let version = current.map_or(1, |v| v.saturating_add(1));
        map.insert(key.to_owned(), Versioned { value: value.to_owned(), version });
        Ok(Some(version))
    }

    fn delete(&self, key: &str, expected: u64) -> Result<bool, StoreFailure> {
        let mut map = self.map.borrow_mut();
        match map.get(key) {
            Some(v) if v.version == expected => {
                map.remove(key);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<Entry>, StoreFailure> {
        use std::ops::Bound;
        let map = self.map.borrow();
        let start = match after {
            Some(a) if a >= prefix => Bound::Excluded(a.to_owned()),
            _ => Bound::Included(prefix.to_owned()),
        };
        Ok(map
            .range::<String, _>((start, Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| Entry { key: k.clone(), value: v.value.clone(), version: v.version })
            .collect())
    }
}

/// The world: its store, its live tokens, the keys the engine reads and a menu of operations.
pub struct World {
    /// The store's documents after setup.
    pub docs: BTreeMap<String, Versioned>,
    /// Tokens that verify (for the data-plane targets).
    pub live_tokens: Vec<String>,
    /// Every token the setup issued, revoked or rotated ones included.
    pub all_tokens: Vec<String>,
    /// The keys decisions and admin operations read: `t/`, `a/`, `m/`, `k/`, `q/`, and the
    /// newest audit events.
    pub keys: Vec<String>,
    /// Operations to run: the data plane and admin operations, none that hashes a password
    /// (Argon2id takes tens of milliseconds: a fuzzer could not run millions).
    pub calls: Vec<Call>,
    /// Service-account and user principals.
    pub principals: Vec<String>,
}

fn call(op: &str, args: Value) -> Call {
    match Call::from_json(json!({ "op": op, "args": args })) {
        Ok(call) => call,
        Err(e) => unreachable_setup(&format!("{op}: {e}")),
    }
}

#[allow(clippy::panic)] // the fixed setup failing is a bug in this crate, not a finding
fn unreachable_setup(what: &str) -> ! {
    panic!("fuzz world setup failed: {what}")
}

/// A fresh engine with default options, or a staleness window of `staleness_ms`.
pub fn engine(staleness_ms: u64) -> Engine {
    match Engine::new(Options { max_staleness_ms: staleness_ms, ..Options::default() }) {
        Ok(engine) => engine,
        Err(e) => unreachable_setup(&e.to_string()),
    }
}

/// The deterministic environment of the `n`th operation.
pub fn env(n: u64) -> Env {
    let mut seed = [0u8; 32];
    seed.iter_mut().enumerate().for_each(|(i, b)| *b = (n as u8).wrapping_mul(31).wrapping_add(i as u8));
    Env { now: T0 + 1_000 * n as i64, seed }
}

/// A text field of an answer, or "".
fn field(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn build() -> World {
    let store = FuzzStore::default();
    let engine = engine(0);
    let mut n = 0u64;
    let mut run = |op: &str, args: Value| -> Value {
        n += 1;
        let (answer, _) = engine.run(&store, call(op, args), env(n));
        match answer.map(serde_json::to_value) {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => unreachable_setup(&format!("{op}: {e}")),
            Err(e) => unreachable_setup(&format!("{op}: {e}")),
        }
    };
    let root = "root@acme.test";
    let broot = "root@beta.test";
    run("create_tenant", json!({"tenant": "acme", "admin": root, "settings": {"max_service_accounts": 10}}));
    run("create_tenant", json!({"tenant": "beta", "admin": broot}));
    run(
        "define_role",
        json!({"actor": root, "tenant": "acme", "role": "deployer",
        "grants": ["deploy:*", {"permission": "models:write", "resource": "models/prod-*"}]}),
    );
    run(
        "create_group",
        json!({"actor": root, "tenant": "acme", "group": "ops", "roles": ["deployer"],
        "grants": ["logs:read"]}),
    );
    let bot = field(
        run(
            "create_service_account",
            json!({"actor": root, "tenant": "acme", "name": "deploy-bot",
        "role": "viewer", "grants": [{"permission": "models:write", "resource": "models/gpt-*"}]}),
        )
        .get("principal"),
    );
    let ci = field(
        run("create_service_account", json!({"actor": root, "tenant": "acme", "name": "ci-bot"})).get("principal"),
    );
    let alice = field(
        run("create_user", json!({"actor": root, "tenant": "acme", "email": "alice@acme.test", "role": "contributor"}))
            .get("principal"),
    );
    run("add_group_member", json!({"actor": root, "tenant": "acme", "group": "ops", "principal": bot}));
    run("grant_access", json!({"actor": broot, "tenant": "beta", "principal": bot, "role": "viewer"}));
    let token = |v: Value| (field(v.get("token")), field(v.get("token_id")));
    let (t0, id0) = token(run("create_token", json!({"actor": root, "principal": bot, "name": "main"})));
    let (t1, _) = token(run(
        "create_token",
        json!({"actor": root, "principal": bot, "ttl_days": 30,
        "scopes": ["models:read", {"permission": "models:write", "resource": "models/gpt-*", "tenant": "acme"}]}),
    ));
    let (t2, id2) = token(run("create_token", json!({"actor": root, "principal": ci})));
    let (t3, _) =
        token(run("rotate_token", json!({"actor": root, "principal": ci, "token_id": id2, "grace_seconds": 3600})));
    let (t4, id4) = token(run("create_token", json!({"actor": root, "principal": alice})));
    let (t5, id5) = token(run("create_token", json!({"actor": root, "principal": ci, "name": "old"})));
    run("revoke_token", json!({"actor": root, "principal": ci, "token_id": id5}));
    run("verify", json!({"token": t0, "tenant": "acme", "permission": "models:read"}));

    let mut keys: Vec<String> = vec![
        "t/acme".into(),
        "t/beta".into(),
        "q/acme".into(),
        format!("a/{root}"),
        format!("a/{broot}"),
        format!("a/{bot}"),
        format!("a/{ci}"),
        format!("a/{alice}"),
        format!("m/acme/{bot}"),
        format!("m/beta/{bot}"),
        format!("m/acme/{ci}"),
        format!("m/acme/{root}"),
        format!("m/acme/{alice}"),
    ];
    let tokens = store.map.borrow().keys().filter(|k| k.starts_with("k/")).cloned().collect::<Vec<_>>();
    keys.extend(tokens);
    let events = store.map.borrow().keys().filter(|k| k.starts_with("e/acme/")).take(3).cloned().collect::<Vec<_>>();
    keys.extend(events);

    let grants = json!(["models:read", {"permission": "deploy:run", "resource": "envs/*"}]);
    let calls = vec![
        call("verify", json!({"token": t0, "tenant": "acme", "permission": "models:read"})),
        call(
            "verify",
            json!({"token": t1, "tenant": "acme", "permission": "models:write", "resource": "models/gpt-4"}),
        ),
        call("verify", json!({"token": t0, "tenant": "beta", "permission": "models:read", "channel": "ui"})),
        call("verify", json!({"token": t3, "tenant": "acme", "permission": "logs:read"})),
        call("verify", json!({"token": t2, "tenant": "acme", "permission": "models:read"})),
        call("authenticate", json!({"token": t4})),
        call("authenticate", json!({"token": t5})),
        call("authorize", json!({"principal": bot, "tenant": "acme", "permission": "deploy:run", "resource": "x"})),
        call("authorize", json!({"principal": alice, "tenant": "acme", "permission": "models:write"})),
        call("effective_permissions", json!({"principal": bot, "tenant": "acme"})),
        call("get_tenant", json!({"actor": root, "tenant": "acme"})),
        call("update_tenant_settings", json!({"actor": root, "tenant": "acme", "settings": {"seat_limit": 5}})),
        call("define_role", json!({"actor": root, "tenant": "acme", "role": "auditor", "grants": grants})),
        call("delete_role", json!({"actor": root, "tenant": "acme", "role": "deployer"})),
        call("create_group", json!({"actor": root, "tenant": "acme", "group": "sre", "roles": ["viewer"]})),
        call("delete_group", json!({"actor": root, "tenant": "acme", "group": "ops"})),
        call("add_group_member", json!({"actor": root, "tenant": "acme", "group": "ops", "principal": ci})),
        call("remove_group_member", json!({"actor": root, "tenant": "acme", "group": "ops", "principal": bot})),
        call("grant_group_permissions", json!({"actor": root, "tenant": "acme", "group": "ops", "grants": grants})),
        call(
            "revoke_group_permissions",
            json!({"actor": root, "tenant": "acme", "group": "ops", "grants": ["logs:read"]}),
        ),
        call("create_user", json!({"actor": root, "tenant": "acme", "email": "bob@acme.test"})),
        call("remove_user", json!({"actor": root, "tenant": "acme", "email": "alice@acme.test"})),
        call("sync_directory", json!({"actor": root, "tenant": "acme", "users": [{"email": "carol@acme.test"}]})),
        call("create_service_account", json!({"actor": root, "tenant": "acme", "name": "new-bot", "role": "viewer"})),
        call("get_account", json!({"actor": root, "tenant": "acme", "principal": bot})),
        call(
            "list_accounts",
            json!({"actor": root, "tenant": "acme", "filter": "service_account = true", "page_size": 2}),
        ),
        call("update_service_account", json!({"actor": root, "principal": bot, "description": "builds"})),
        call("set_role", json!({"actor": root, "tenant": "acme", "principal": bot, "role": "contributor"})),
        call("grant_permissions", json!({"actor": root, "tenant": "acme", "principal": ci, "grants": grants})),
        call(
            "revoke_permissions",
            json!({"actor": root, "tenant": "acme", "principal": bot, "grants": ["models:write"]}),
        ),
        call("grant_access", json!({"actor": broot, "tenant": "beta", "principal": ci, "role": "viewer"})),
        call("remove_access", json!({"actor": broot, "tenant": "beta", "principal": bot})),
        call("disable_account", json!({"actor": root, "principal": bot})),
        call("enable_account", json!({"actor": root, "principal": ci})),
        call("revoke_account", json!({"actor": root, "principal": ci})),
        call("delete_account", json!({"actor": root, "principal": bot})),
        call("create_token", json!({"actor": root, "principal": bot, "ttl_days": 3, "scopes": ["models:read"]})),
        call("list_tokens", json!({"actor": root, "principal": bot})),
        call("rename_token", json!({"actor": root, "principal": bot, "token_id": id0, "name": "renamed"})),
        call("revoke_token", json!({"actor": root, "principal": alice, "token_id": id4})),
        call("rotate_token", json!({"actor": root, "principal": bot, "token_id": id0, "grace_seconds": 60})),
        call("seat_usage", json!({"actor": root, "tenant": "acme"})),
        call("audit_log", json!({"actor": root, "tenant": "acme", "filter": "outcome = ok", "page_size": 3})),
        call("create_tenant", json!({"tenant": "gamma", "admin": "root@gamma.test"})),
        call("get_account", json!({"actor": alice, "tenant": "acme", "principal": ci})),
        call("list_accounts", json!({"actor": broot, "tenant": "beta"})),
    ];
    World {
        docs: store.map.into_inner(),
        live_tokens: vec![t0.clone(), t1.clone(), t3.clone(), t4.clone(), t2.clone()],
        all_tokens: vec![t0, t1, t2, t3, t4, t5],
        keys,
        calls,
        principals: vec![root.into(), broot.into(), bot, ci, alice],
    }
}

impl World {
    /// A fresh copy of the world's store.
    pub fn store(&self) -> FuzzStore {
        FuzzStore { map: RefCell::new(self.docs.clone()) }
    }
}

/// The largest char boundary of `s` at or before `i`.
pub fn floor_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The world, built on first use.
pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(build)
}
