//! Shared test support: a deterministic environment, a second store implementation, the
//! conformance scenario runner, and the interleaving harness for races.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

pub mod interleave;
pub mod scenario;

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Mutex;

use keyward_core::{Entry, Environment, Store, StoreFailure, Versioned};

/// The first admin of the tenant `acme` that tests create.
pub const ROOT: &str = "root@acme.test";

/// A `create_token` by `ROOT` with every option at its default.
pub fn token_request(principal: &str) -> keyward_core::CreateToken {
    keyward_core::CreateToken {
        actor: ROOT.into(),
        principal: principal.into(),
        name: None,
        ttl_days: None,
        expires_at: None,
        never_expires: false,
        scopes: None,
    }
}

/// `verify` of `token` asking `models:read` on anything in `acme`, on channel `api`.
pub fn verify_request(token: &str) -> keyward_core::Verify {
    keyward_core::Verify {
        token: token.into(),
        tenant: "acme".into(),
        permission: "models:read".into(),
        resource: "*".into(),
        channel: keyward_core::Channel::Api,
    }
}

/// The reason `verify` gives for `token` asking `models:read` in `acme`: `"allowed"` or the
/// code that denied it.
pub fn verify_reason<S: Store, E: Environment>(kw: &keyward_core::Keyward<S, E>, token: &str) -> String {
    kw.run(verify_request(token)).unwrap().reason
}

/// A store that counts every call made to it (`get_many` is one call).
#[derive(Default)]
pub struct Counting<S> {
    pub inner: S,
    calls: std::sync::atomic::AtomicUsize,
}

impl<S> Counting<S> {
    /// Calls made so far.
    pub fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }
    fn count(&self) {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
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

/// A `create_service_account` in `acme` by `ROOT`, with a role or none.
pub fn service_account_request(name: &str, role: Option<&str>) -> keyward_core::CreateServiceAccount {
    keyward_core::CreateServiceAccount {
        actor: ROOT.into(),
        tenant: "acme".into(),
        name: name.into(),
        description: None,
        role: role.map(str::to_owned),
        grants: vec![],
        password: None,
    }
}

/// Time starts at 2023-11-14T22:13:20Z and moves only when a test says so.
pub const T0: i64 = 1_700_000_000_000;

/// A settable clock and a seed that changes on every call.
pub struct TestEnv {
    pub now: Cell<i64>,
    counter: Cell<u64>,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        TestEnv { now: Cell::new(T0), counter: Cell::new(0) }
    }
    /// A clock at `T0` whose seeds start after `base`: a second host whose random values never
    /// repeat those of a `TestEnv::new()`.
    pub fn with_seed_base(base: u64) -> TestEnv {
        TestEnv { now: Cell::new(T0), counter: Cell::new(base) }
    }
    pub fn advance(&self, ms: i64) {
        self.now.set(self.now.get() + ms);
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        TestEnv::new()
    }
}

impl Environment for TestEnv {
    fn now(&self) -> i64 {
        self.now.get()
    }
    fn seed(&self) -> [u8; 32] {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&n.to_le_bytes());
        seed
    }
}

/// A second store that answers the same protocol differently from `MemoryStore`: a hash map
/// (so `list` must sort), versions that start at 1000 and step by 7, so nothing may assume
/// versions start at 1 or count by one.
#[derive(Default)]
pub struct OddStore {
    map: Mutex<HashMap<String, Versioned>>,
}

impl Store for OddStore {
    fn get(&self, key: &str) -> Result<Option<Versioned>, StoreFailure> {
        Ok(self.map.lock().unwrap().get(key).cloned())
    }
    fn put(&self, key: &str, value: &str, expected: Option<u64>) -> Result<Option<u64>, StoreFailure> {
        let mut map = self.map.lock().unwrap();
        let current = map.get(key).map(|v| v.version);
        if current != expected {
            return Ok(None);
        }
        let version = current.map_or(1000, |v| v + 7);
        map.insert(key.to_owned(), Versioned { value: value.to_owned(), version });
        Ok(Some(version))
    }
    fn delete(&self, key: &str, expected: u64) -> Result<bool, StoreFailure> {
        let mut map = self.map.lock().unwrap();
        if map.get(key).map(|v| v.version) == Some(expected) {
            map.remove(key);
            return Ok(true);
        }
        Ok(false)
    }
    fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<Entry>, StoreFailure> {
        let map = self.map.lock().unwrap();
        let mut keys: Vec<&String> =
            map.keys().filter(|k| k.starts_with(prefix) && after.is_none_or(|a| k.as_str() > a)).collect();
        keys.sort();
        Ok(keys
            .into_iter()
            .take(limit)
            .map(|k| Entry { key: k.clone(), value: map[k].value.clone(), version: map[k].version })
            .collect())
    }
}

/// Wraps a store to inject host failures and lost races on demand.
pub struct FaultyStore<S> {
    pub inner: S,
    /// The next this-many calls fail with `fail_message`.
    pub fail_calls: Cell<u32>,
    pub fail_message: std::cell::RefCell<String>,
    /// The next this-many `put`s lose their compare-and-set without writing.
    pub lose_puts: Cell<u32>,
    /// After this many more successful writes, every call fails (a crash), if set.
    pub crash_after_writes: Cell<Option<u32>>,
    /// After this many more successful writes, the next write is refused with a failure
    /// (not performed); later calls succeed again.
    pub refuse_after_writes: Cell<Option<u32>>,
    /// After this many more successful writes, the next write is performed but answered with a
    /// failure (its acknowledgement is lost); later calls succeed again.
    pub lose_ack_after_writes: Cell<Option<u32>>,
    /// Successful writes (puts and deletes) so far.
    pub writes: Cell<u32>,
}

impl<S> FaultyStore<S> {
    pub fn new(inner: S) -> FaultyStore<S> {
        FaultyStore {
            inner,
            fail_calls: Cell::new(0),
            fail_message: std::cell::RefCell::new(String::new()),
            lose_puts: Cell::new(0),
            crash_after_writes: Cell::new(None),
            refuse_after_writes: Cell::new(None),
            lose_ack_after_writes: Cell::new(None),
            writes: Cell::new(0),
        }
    }

    /// Clears every injected fault.
    pub fn heal(&self) {
        self.fail_calls.set(0);
        self.lose_puts.set(0);
        self.crash_after_writes.set(None);
        self.refuse_after_writes.set(None);
        self.lose_ack_after_writes.set(None);
    }

    /// Before a write: a refusal, if one is due now.
    fn gate_write(&self) -> Result<(), StoreFailure> {
        self.gate()?;
        if self.refuse_after_writes.get() == Some(0) {
            self.refuse_after_writes.set(None);
            return Err(StoreFailure("write refused".into()));
        }
        Ok(())
    }

    fn gate(&self) -> Result<(), StoreFailure> {
        if self.crash_after_writes.get() == Some(0) {
            return Err(StoreFailure("crashed".into()));
        }
        let n = self.fail_calls.get();
        if n > 0 {
            self.fail_calls.set(n - 1);
            return Err(StoreFailure(self.fail_message.borrow().clone()));
        }
        Ok(())
    }

    /// After a successful write: counts it down; `Err` when its acknowledgement is to be lost.
    fn wrote(&self) -> Result<(), StoreFailure> {
        self.writes.set(self.writes.get() + 1);
        for countdown in [&self.crash_after_writes, &self.refuse_after_writes] {
            if let Some(n) = countdown.get() {
                countdown.set(Some(n.saturating_sub(1)));
            }
        }
        match self.lose_ack_after_writes.get() {
            Some(0) => {
                self.lose_ack_after_writes.set(None);
                Err(StoreFailure("connection lost".into()))
            }
            Some(n) => {
                self.lose_ack_after_writes.set(Some(n - 1));
                Ok(())
            }
            None => Ok(()),
        }
    }
}

impl<S: Store> Store for FaultyStore<S> {
    fn get(&self, key: &str) -> Result<Option<Versioned>, StoreFailure> {
        self.gate()?;
        self.inner.get(key)
    }
    fn put(&self, key: &str, value: &str, expected: Option<u64>) -> Result<Option<u64>, StoreFailure> {
        self.gate_write()?;
        let lose = self.lose_puts.get();
        if lose > 0 {
            self.lose_puts.set(lose - 1);
            return Ok(None);
        }
        let r = self.inner.put(key, value, expected)?;
        if r.is_some() {
            self.wrote()?;
        }
        Ok(r)
    }
    fn delete(&self, key: &str, expected: u64) -> Result<bool, StoreFailure> {
        self.gate_write()?;
        let r = self.inner.delete(key, expected)?;
        if r {
            self.wrote()?;
        }
        Ok(r)
    }
    fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<Entry>, StoreFailure> {
        self.gate()?;
        self.inner.list(prefix, after, limit)
    }
}
