//! The engine: options, the compiled-policy cache, and dispatch of a [`Call`] to its
//! operation.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::audit::AuditEvent;
use crate::authz::compiled::Cache;
use crate::call::{Answer, Call, Request};
use crate::docs::{AccountHead, TokenDoc};
use crate::error::{Error, Result};
use crate::op::{Env, Op};
use crate::parsed::ParsedDocs;
use crate::recent::RecentDocs;
pub use crate::recent::MAX_STALENESS_LIMIT_MS;
use crate::store::Store;

/// Engine options (API.md "Engine").
#[derive(Clone)]
pub struct Options {
    /// Domain of service-account principals: `<name>@<tenant>.sa.<domain>` (R-02).
    pub domain: String,
    /// Token prefix, `^[a-z]{2,8}$` (R-20).
    pub token_prefix: String,
    /// When set, token hashes are HMAC-SHA-256 under it (R-21).
    pub pepper: Option<Vec<u8>>,
    /// The staleness window of R-16, in ms (0, the default: every decision reads the store; at
    /// most [`MAX_STALENESS_LIMIT_MS`]). Within it `authenticate`, `verify` and `authorize`
    /// may answer from documents this engine read no longer ago, with no store access.
    pub max_staleness_ms: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options { domain: "keyward.local".into(), token_prefix: "kw".into(), pepper: None, max_staleness_ms: 0 }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("domain", &self.domain)
            .field("token_prefix", &self.token_prefix)
            .field("pepper", &self.pepper.as_ref().map(|_| "<redacted>"))
            .field("max_staleness_ms", &self.max_staleness_ms)
            .finish()
    }
}

/// What operations share: options, the compiled-policy cache and the staleness window.
pub(crate) struct Inner {
    pub options: Options,
    cache: Mutex<Cache>,
    recent: Mutex<RecentDocs>,
    tokens: Mutex<ParsedDocs<TokenDoc>>,
    accounts: Mutex<ParsedDocs<AccountHead>>,
}

/// The pepper is overwritten when the last engine sharing it is dropped (R-82).
impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(pepper) = self.options.pepper.as_mut() {
            zeroize::Zeroize::zeroize(pepper);
        }
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner").field("options", &self.options).finish_non_exhaustive()
    }
}

impl Inner {
    pub fn cache(&self) -> MutexGuard<'_, Cache> {
        // The cache is only ever replaced whole under the lock; a poisoned one is still valid.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The documents of the staleness window (R-16); empty while `max_staleness_ms` is 0.
    pub fn recent(&self) -> MutexGuard<'_, RecentDocs> {
        // Every change under the lock is one insert or one clear: a poisoned map is still whole.
        self.recent.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Token documents the data plane parsed.
    pub fn tokens(&self) -> MutexGuard<'_, ParsedDocs<TokenDoc>> {
        // One insert or one clear under the lock, as above.
        self.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Account heads the data plane parsed.
    pub fn accounts(&self) -> MutexGuard<'_, ParsedDocs<AccountHead>> {
        self.accounts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A Keyward engine. Cheap to clone; clones share the compiled-policy cache and the staleness
/// window. Holds no data of its own: every call reads and writes the host's store, except the
/// decisions a staleness window (R-16, [`Options::max_staleness_ms`]) answers from documents
/// read within it.
///
/// One engine serves one store: its cache of compiled policies is keyed by tenant and
/// document version, which two stores holding the same tenant could both have. Use one engine
/// per store.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

fn check_domain(domain: &str) -> Result<()> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if domain.len() <= 200 && domain.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(Error::invalid("domain", "must be a lower-case DNS name"))
    }
}

impl Engine {
    /// A new engine; checks the options.
    pub fn new(options: Options) -> Result<Engine> {
        check_domain(&options.domain)?;
        crate::tokens::format::check_prefix(&options.token_prefix)?;
        if options.max_staleness_ms > MAX_STALENESS_LIMIT_MS {
            return Err(Error::invalid(
                "max_staleness_ms",
                format!("must be an integer from 0 to {MAX_STALENESS_LIMIT_MS} (one day)"),
            ));
        }
        let (cache, recent, tokens, accounts) = Default::default();
        Ok(Engine { inner: Arc::new(Inner { options, cache, recent, tokens, accounts }) })
    }

    /// The options the engine was made with.
    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    /// Starts an operation; drive the returned [`Op`] to completion.
    pub fn start(&self, call: Call, env: Env) -> Op {
        call.start(Arc::clone(&self.inner), env)
    }

    /// Runs an operation to completion against a synchronous store (the sync driver). Returns
    /// the answer and the events for the host's audit callback (R-80).
    pub fn run<S: Store + ?Sized>(&self, store: &S, call: Call, env: Env) -> (Result<Answer>, Vec<AuditEvent>) {
        self.start(call, env).run_on(store)
    }
}

/// A host's environment for the synchronous API: where time and randomness come from.
pub trait Environment {
    /// Milliseconds since the epoch (R-93).
    fn now(&self) -> i64;
    /// 32 fresh bytes from a CSPRNG.
    fn seed(&self) -> [u8; 32];
}

type AuditCallback = Box<dyn Fn(&AuditEvent) + Send + Sync>;

/// The synchronous, typed API over a [`Store`]: an engine, its store, the host's environment
/// and an optional audit callback.
///
/// ```
/// use keyward_core::{Keyward, MemoryStore, Environment, CreateTenant};
/// struct Fixed;
/// impl Environment for Fixed {
///     fn now(&self) -> i64 { 1_700_000_000_000 }
///     fn seed(&self) -> [u8; 32] { [42; 32] } // tests only: use getrandom in real hosts
/// }
/// let kw = Keyward::new(Default::default(), MemoryStore::new(), Fixed).unwrap();
/// let tenant = kw.run(CreateTenant { tenant: "acme".into(), admin: "root@acme.test".into(),
///                                    name: None, settings: None }).unwrap();
/// assert_eq!(tenant.settings.default_token_ttl_days, 365);
/// ```
pub struct Keyward<S: Store, E: Environment> {
    engine: Engine,
    store: S,
    env: E,
    audit: Option<AuditCallback>,
}

impl<S: Store, E: Environment> Keyward<S, E> {
    /// A new engine over `store`, taking time and randomness from `env`.
    pub fn new(options: Options, store: S, env: E) -> Result<Keyward<S, E>> {
        Ok(Keyward { engine: Engine::new(options)?, store, env, audit: None })
    }

    /// Hands every event to `callback` (R-80). A callback cannot change an outcome.
    pub fn with_audit(mut self, callback: impl Fn(&AuditEvent) + Send + Sync + 'static) -> Self {
        self.audit = Some(Box::new(callback));
        self
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The environment.
    pub fn env(&self) -> &E {
        &self.env
    }

    /// Runs an operation given as data.
    pub fn call(&self, call: Call) -> Result<Answer> {
        // Decisions draw no random bytes and, without a callback, build no events.
        let op =
            crate::host::start_call(&self.engine, call, self.env.now(), || Ok(self.env.seed()), self.audit.is_some());
        let (answer, events) = match op {
            Ok(op) => op.run_on(&self.store),
            Err(e) => (Err(e), Vec::new()),
        };
        if let Some(callback) = &self.audit {
            for event in &events {
                // R-80: a failing callback changes no outcome, a panicking one included.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(event)));
            }
        }
        answer
    }

    /// Runs a typed operation.
    pub fn run<R: Request>(&self, request: R) -> Result<R::Output> {
        R::from_answer(self.call(request.into_call())?)
    }
}
