//! Shared by the store tests: an environment for the engine, a store wrapper that counts
//! calls, and the engine end to end on any store.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use keyward_core::{
    Channel, CreateServiceAccount, CreateTenant, CreateToken, Entry, Environment, Keyward, Options, Store,
    StoreFailure, Verify, Versioned,
};

/// The wall clock, and seeds that never repeat (a counter mixed with the process id and the
/// time), so that two processes on one database make different ids.
pub struct Env {
    counter: Cell<u64>,
}

impl Env {
    pub fn new() -> Env {
        Env { counter: Cell::new(0) }
    }
}

impl Environment for Env {
    fn now(&self) -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
    }
    fn seed(&self) -> [u8; 32] {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&n.to_le_bytes());
        seed[8..12].copy_from_slice(&std::process::id().to_le_bytes());
        seed[12..28].copy_from_slice(&nanos.to_le_bytes());
        seed
    }
}

/// A store that counts the calls made to the one it wraps, reads and writes apart. Each call
/// of `SqliteStore` and `PostgresStore` is one SQL statement (`get_many` of fewer than 500
/// keys included), so this counts queries.
pub struct Counting<S> {
    pub inner: S,
    reads: AtomicUsize,
    writes: AtomicUsize,
}

impl<S: Store> Counting<S> {
    pub fn new(inner: S) -> Counting<S> {
        Counting { inner, reads: AtomicUsize::new(0), writes: AtomicUsize::new(0) }
    }
    /// (reads, writes) since the last call.
    pub fn take(&self) -> (usize, usize) {
        (self.reads.swap(0, Ordering::SeqCst), self.writes.swap(0, Ordering::SeqCst))
    }
    fn read(&self) {
        self.reads.fetch_add(1, Ordering::SeqCst);
    }
    fn write(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }
}

impl<S: Store> Store for Counting<S> {
    fn get(&self, key: &str) -> Result<Option<Versioned>, StoreFailure> {
        self.read();
        self.inner.get(key)
    }
    fn put(&self, key: &str, value: &str, expected: Option<u64>) -> Result<Option<u64>, StoreFailure> {
        self.write();
        self.inner.put(key, value, expected)
    }
    fn delete(&self, key: &str, expected: u64) -> Result<bool, StoreFailure> {
        self.write();
        self.inner.delete(key, expected)
    }
    fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<Entry>, StoreFailure> {
        self.read();
        self.inner.list(prefix, after, limit)
    }
    fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Versioned>>, StoreFailure> {
        self.read();
        self.inner.get_many(keys)
    }
}

const ROOT: &str = "root@acme.test";

fn verify<S: Store>(kw: &Keyward<S, Env>, token: &str, permission: &str) -> bool {
    kw.run(Verify {
        token: token.into(),
        tenant: "acme".into(),
        permission: permission.into(),
        resource: "*".into(),
        channel: Channel::Api,
    })
    .expect("verify answers")
    .allowed
}

/// The engine on `store`: a tenant, a service account with a role, a token; the token is
/// allowed what the role grants and denied the rest, by this engine and by a second one on the
/// same store (another host); and each `verify` costs at most two store calls.
pub fn engine_end_to_end<S: Store>(store: S) {
    let store = Counting::new(store);
    let kw = Keyward::new(Options::default(), &store, Env::new()).unwrap();
    kw.run(CreateTenant { tenant: "acme".into(), admin: ROOT.into(), name: Some("Acme".into()), settings: None })
        .unwrap();
    let bot = kw
        .run(CreateServiceAccount {
            actor: ROOT.into(),
            tenant: "acme".into(),
            name: "support-bot".into(),
            description: None,
            role: Some("inference-user".into()),
            grants: vec![],
            password: None,
        })
        .unwrap();
    let token = kw
        .run(CreateToken {
            actor: ROOT.into(),
            principal: bot.principal.clone(),
            name: Some("prod".into()),
            ttl_days: Some(30),
            expires_at: None,
            never_expires: false,
            scopes: None,
        })
        .unwrap()
        .token;

    // The first use of a token records it (R-15, at most once a minute): two reads and that
    // one write. Every later `verify` in the minute: two reads, nothing else.
    store.take();
    assert!(verify(&kw, &token, "models:execute"), "the role's permission is allowed");
    let (reads, writes) = store.take();
    assert!((1..=2).contains(&reads) && writes <= 1, "the first verify cost {reads} reads and {writes} writes");
    assert!(verify(&kw, &token, "models:execute"), "the role's permission is allowed again");
    let (reads, writes) = store.take();
    assert!(
        (1..=2).contains(&reads) && writes == 0,
        "verify cost {reads} reads and {writes} writes, at most 2 queries"
    );
    assert!(!verify(&kw, &token, "models:write"), "a permission the role lacks is denied");
    assert!(!verify(&kw, "kw_not_a_token", "models:execute"), "a made-up token is denied");

    let other = Keyward::new(Options::default(), &store, Env::new()).unwrap();
    store.take();
    assert!(verify(&other, &token, "models:execute"), "a second host on the same store verifies the token");
    let (reads, writes) = store.take();
    assert!((1..=2).contains(&reads) && writes == 0, "a cold engine's verify cost {reads} reads and {writes} writes");
}
