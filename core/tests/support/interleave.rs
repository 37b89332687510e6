//! Interleaving two calls at every write point.
//!
//! Two hosts (processes) share nothing but the store. [`InterleaveStore`] wraps a shared
//! [`MemoryStore`] and, just before the k-th write (`put` or `delete`) of the call driven
//! through it, runs a hook — typically a second call, driven to completion by another engine
//! instance over the same underlying store — and then performs the write. Whatever the first
//! call read before that point is then stale, as it would be under a real race.
//!
//! [`for_every_write_point`] checks an invariant at every such point, not one hand-picked
//! interleaving: it counts the writes of the first call run alone (n), then for k = 1..=n
//! rebuilds the world from `setup`, runs the first call with the second one slipped in before
//! its k-th write, and checks `invariant` on the resulting store.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use keyward_core::{Answer, Call, Entry, Env, Keyward, MemoryStore, Options, Result, Store, StoreFailure, Versioned};

use super::TestEnv;

/// A handle on one shared [`MemoryStore`]: every engine of a world writes through one of these.
#[derive(Clone, Default)]
pub struct SharedStore(pub Arc<MemoryStore>);

impl Store for SharedStore {
    fn get(&self, key: &str) -> std::result::Result<Option<Versioned>, StoreFailure> {
        self.0.get(key)
    }
    fn put(&self, key: &str, value: &str, expected: Option<u64>) -> std::result::Result<Option<u64>, StoreFailure> {
        self.0.put(key, value, expected)
    }
    fn delete(&self, key: &str, expected: u64) -> std::result::Result<bool, StoreFailure> {
        self.0.delete(key, expected)
    }
    fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> std::result::Result<Vec<Entry>, StoreFailure> {
        self.0.list(prefix, after, limit)
    }
}

/// A world: one engine over a fresh shared store, with a settable test clock.
pub type World = Keyward<SharedStore, TestEnv>;

/// A fresh, empty world.
pub fn world() -> World {
    Keyward::new(Options::default(), SharedStore::default(), TestEnv::new()).unwrap()
}

/// Another engine instance (its own compiled-policy cache, its own seeds) over the same store
/// and at the same time as `w`: a second host process.
pub fn other_host(w: &World) -> World {
    let env = TestEnv::with_seed_base(1 << 32);
    env.now.set(w.env().now.get());
    Keyward::new(w.engine().options().clone(), w.store().clone(), env).unwrap()
}

type Hook<'a> = Box<dyn FnOnce() + 'a>;

/// A store that runs a hook just before the `at`-th write (1-based) made through it, then
/// performs that write. Counts every write asked for, successful or not.
pub struct InterleaveStore<'a> {
    inner: SharedStore,
    writes: Cell<u32>,
    at: Option<u32>,
    hook: RefCell<Option<Hook<'a>>>,
}

impl<'a> InterleaveStore<'a> {
    /// Counts writes only (no hook).
    pub fn counting(inner: SharedStore) -> InterleaveStore<'a> {
        InterleaveStore { inner, writes: Cell::new(0), at: None, hook: RefCell::new(None) }
    }

    /// Runs `hook` before the `at`-th write.
    pub fn new(inner: SharedStore, at: u32, hook: impl FnOnce() + 'a) -> InterleaveStore<'a> {
        InterleaveStore { inner, writes: Cell::new(0), at: Some(at), hook: RefCell::new(Some(Box::new(hook))) }
    }

    /// Writes asked for so far.
    pub fn writes(&self) -> u32 {
        self.writes.get()
    }

    /// Whether the hook has run.
    pub fn fired(&self) -> bool {
        self.at.is_some() && self.hook.borrow().is_none()
    }

    fn before_write(&self) {
        let n = self.writes.get() + 1;
        self.writes.set(n);
        if Some(n) == self.at {
            let hook = self.hook.borrow_mut().take();
            if let Some(hook) = hook {
                hook();
            }
        }
    }
}

impl Store for InterleaveStore<'_> {
    fn get(&self, key: &str) -> std::result::Result<Option<Versioned>, StoreFailure> {
        self.inner.get(key)
    }
    fn put(&self, key: &str, value: &str, expected: Option<u64>) -> std::result::Result<Option<u64>, StoreFailure> {
        self.before_write();
        self.inner.put(key, value, expected)
    }
    fn delete(&self, key: &str, expected: u64) -> std::result::Result<bool, StoreFailure> {
        self.before_write();
        self.inner.delete(key, expected)
    }
    fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> std::result::Result<Vec<Entry>, StoreFailure> {
        self.inner.list(prefix, after, limit)
    }
}

/// Runs `call` on `w`'s engine through `store`, with the world's clock and seeds.
pub fn run_through(w: &World, store: &InterleaveStore<'_>, call: Call) -> Result<Answer> {
    let env = Env { now: w.env().now.get(), seed: keyward_core::Environment::seed(w.env()) };
    w.engine().run(store, call, env).0
}

/// What one interleaving did.
#[derive(Debug)]
pub struct Interleaving {
    /// The second call ran just before this write of the first (1-based).
    pub k: u32,
    /// Writes of the first call when run alone.
    pub writes_alone: u32,
    /// The first call's answer.
    pub first: Result<Answer>,
    /// The second call's answer (`None` if the first stopped before its k-th write).
    pub second: Option<Result<Answer>>,
}

impl Interleaving {
    /// How many of the two calls succeeded.
    pub fn successes(&self) -> usize {
        usize::from(self.first.is_ok()) + usize::from(self.second.as_ref().is_some_and(|r| r.is_ok()))
    }
}

/// For every write point k of `first_call` (counted on a run of it alone), rebuilds the world
/// with `setup`, runs `first_call` with `second_call` slipped in — run to completion by another
/// engine instance on the same store — just before its k-th write, and checks `invariant`.
/// Returns the number of write points checked (at least one).
pub fn for_every_write_point(
    setup: impl Fn(&World),
    first_call: impl Fn(&World) -> Call,
    second_call: impl Fn(&World) -> Call,
    invariant: impl Fn(&World, &Interleaving),
) -> u32 {
    let n = {
        let w = world();
        setup(&w);
        let store = InterleaveStore::counting(w.store().clone());
        let _ = run_through(&w, &store, first_call(&w));
        store.writes()
    };
    assert!(n > 0, "the first call writes nothing: there is no write point to interleave at");
    for k in 1..=n {
        let w = world();
        setup(&w);
        let other = other_host(&w);
        let second = second_call(&w);
        let answer = RefCell::new(None);
        let store = InterleaveStore::new(w.store().clone(), k, || {
            *answer.borrow_mut() = Some(other.call(second));
        });
        let first = run_through(&w, &store, first_call(&w));
        let fired = store.fired();
        drop(store);
        let second = answer.into_inner();
        assert_eq!(second.is_some(), fired);
        invariant(&w, &Interleaving { k, writes_alone: n, first, second });
    }
    n
}
