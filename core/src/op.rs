//! The step machine: every operation is an [`Op`] that asks the host for batches of store
//! calls and finishes with an answer (DESIGN.md, "No I/O").
//!
//! ```
//! use keyward_core::{Call, Engine, Env, MemoryStore, Step};
//! # fn main() -> Result<(), keyward_core::Error> {
//! let engine = Engine::new(Default::default())?;
//! let store = MemoryStore::new();
//! let call: Call = serde_json::from_value(serde_json::json!({
//!     "op": "create_tenant", "args": {"tenant": "acme", "admin": "root@acme.test"}
//! })).map_err(|e| keyward_core::Error::Internal { message: e.to_string() })?;
//! let mut op = engine.start(call, Env { now: 1_700_000_000_000, seed: [7; 32] });
//! let answer = loop {
//!     match op.step() {
//!         Step::Need(requests) => {
//!             let replies = requests.iter().map(|r| r.run_on(&store)).collect();
//!             op.provide(replies);
//!         }
//!         Step::Done(answer) => break answer?,
//!     }
//! };
//! assert_eq!(op.take_events().len(), 1); // tenant.create, for the host's audit callback
//! # let _ = answer; Ok(()) }
//! ```
//!
//! Admin operations are written as `async fn`s over [`Cx`]; the `Op` polls that future with a
//! no-op waker. A future only ever waits on the host's answer to the batch it last asked for, so
//! one poll per step is enough: there is no executor, no runtime and no thread. The hot path,
//! `authenticate`, `verify` and `authorize`, is a hand-written machine instead
//! (`dataplane::machine`) behind the same `Op`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::audit::AuditEvent;
use crate::call::Answer;
use crate::dataplane::machine::{DataPlane, Plane};
use crate::docs::decisions_read;
use crate::engine::Inner;
use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::store::{Entry, StoreReply, StoreRequest, Versioned};

/// Inputs every operation takes from the host: the time and fresh random bytes (R-93).
#[derive(Clone, Copy)]
pub struct Env {
    /// Milliseconds since the Unix epoch, from the host's clock.
    pub now: i64,
    /// 32 bytes from a CSPRNG (getrandom; `crypto.getRandomValues` in browsers). Every random
    /// value the operation needs (uids, token ids and secrets, salts) is derived from them.
    pub seed: [u8; 32],
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The seed determines the secrets an operation creates: never print it.
        f.debug_struct("Env").field("now", &self.now).finish_non_exhaustive()
    }
}

/// What an [`Op`] wants next.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per round; boxing the answer would cost more
pub enum Step {
    /// Run these store calls (in any order, or concurrently) and hand the replies, in the same
    /// order, to [`Op::provide`].
    Need(Vec<StoreRequest>),
    /// The operation finished.
    Done(Result<Answer>),
}

type OpFuture = Pin<Box<dyn Future<Output = Result<Answer>> + Send>>;

/// One running operation. Drive it with [`Op::step`] and [`Op::provide`].
pub struct Op {
    body: Body,
    awaiting_replies: bool,
}

/// How an operation runs: admin operations (and `effective_permissions`) as an `async fn`
/// over [`Cx`]; `authenticate`, `verify` and `authorize`, the hot path, as a hand-written
/// machine with no boxed future and no lock of its own (DESIGN.md).
#[allow(clippy::large_enum_variant)] // an `Op` is moved once, to its caller; boxing the machine would cost an allocation per decision
enum Body {
    Future { future: Option<OpFuture>, cx: Arc<Cx> },
    Plane(DataPlane),
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let done = match &self.body {
            Body::Future { future, .. } => future.is_none(),
            Body::Plane(machine) => machine.is_done(),
        };
        f.debug_struct("Op").field("done", &done).finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Exchange {
    requests: Option<Vec<StoreRequest>>,
    replies: Option<Vec<StoreReply>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing here runs user code while holding the lock, so poisoning cannot leave it torn.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Op {
    pub(crate) fn new<F, Fut>(engine: Arc<Inner>, env: Env, body: F) -> Op
    where
        F: FnOnce(Arc<Cx>) -> Fut,
        Fut: Future<Output = Result<Answer>> + Send + 'static,
    {
        let cx = Arc::new(Cx {
            engine,
            now: env.now,
            rng: Mutex::new(Rng::new(env.seed)),
            io: Mutex::default(),
            events: Mutex::default(),
            quiet: AtomicBool::new(false),
        });
        let future: OpFuture = Box::pin(body(Arc::clone(&cx)));
        Op { body: Body::Future { future: Some(future), cx }, awaiting_replies: false }
    }

    /// `authenticate`, `verify` or `authorize` as the data plane's step machine.
    pub(crate) fn plane(engine: Arc<Inner>, env: Env, plane: Plane) -> Op {
        Op { body: Body::Plane(DataPlane::new(engine, env, plane)), awaiting_replies: false }
    }

    /// Tells the operation that nobody will take its events (the host has no audit callback,
    /// R-80): decisions then build none. Events a mutation stores are written all the same.
    /// Call it before the first [`Op::step`].
    pub fn without_events(mut self) -> Op {
        match &mut self.body {
            Body::Future { cx, .. } => cx.quiet.store(true, Ordering::Relaxed),
            Body::Plane(machine) => machine.without_events(),
        }
        self
    }

    /// Advances the operation until it needs the store or is done.
    ///
    /// After `Step::Need`, call [`Op::provide`] before stepping again. After `Step::Done`,
    /// further steps answer an `internal` error.
    pub fn step(&mut self) -> Step {
        if self.awaiting_replies {
            return Step::Done(Err(Error::internal("step called before provide")));
        }
        let step = match &mut self.body {
            Body::Future { future, cx } => poll(future, cx),
            Body::Plane(machine) => machine.step(),
        };
        self.awaiting_replies = matches!(step, Step::Need(_));
        step
    }

    /// Hands the host's replies to the last batch, one per request, in request order.
    pub fn provide(&mut self, replies: Vec<StoreReply>) {
        self.awaiting_replies = false;
        match &mut self.body {
            Body::Future { cx, .. } => lock(&cx.io).replies = Some(replies),
            Body::Plane(machine) => machine.provide(replies),
        }
    }

    /// Runs the operation to completion against a synchronous store, each batch of reads in
    /// one [`crate::Store::get_many`] call; returns the answer and the events for the host's
    /// audit callback (R-80).
    pub fn run_on<S: crate::Store + ?Sized>(mut self, store: &S) -> (Result<Answer>, Vec<AuditEvent>) {
        let answer = loop {
            match self.step() {
                Step::Need(requests) => self.provide(StoreRequest::run_batch(&requests, store)),
                Step::Done(answer) => break answer,
            }
        };
        (answer, self.take_events())
    }

    /// Takes the audit events produced so far, for the host's audit callback (R-80). Stored
    /// events are already among the writes; these are the same events plus the data-plane
    /// decisions, which are never stored.
    pub fn take_events(&mut self) -> Vec<AuditEvent> {
        match &mut self.body {
            Body::Future { cx, .. } => std::mem::take(&mut *lock(&cx.events)),
            Body::Plane(machine) => machine.take_events(),
        }
    }
}

/// Polls an operation's future once: one poll per step is enough, since a future only ever
/// waits on the host's answer to the batch it last asked for.
fn poll(slot: &mut Option<OpFuture>, cx: &Cx) -> Step {
    let Some(future) = slot.as_mut() else {
        return Step::Done(Err(Error::internal("operation already finished")));
    };
    let mut context = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut context) {
        Poll::Ready(answer) => {
            *slot = None;
            Step::Done(answer)
        }
        Poll::Pending => match lock(&cx.io).requests.take() {
            Some(requests) => Step::Need(requests),
            None => {
                *slot = None;
                Step::Done(Err(Error::internal("operation stalled without a request")))
            }
        },
    }
}

/// The context an operation runs in: engine, time, randomness, and the store exchange.
pub(crate) struct Cx {
    pub engine: Arc<Inner>,
    pub now: i64,
    rng: Mutex<Rng>,
    io: Mutex<Exchange>,
    events: Mutex<Vec<AuditEvent>>,
    /// Set by [`Op::without_events`]: no one takes the events.
    quiet: AtomicBool,
}

/// A document read from the store, with the version to compare against when writing it back.
#[derive(Debug, Clone)]
pub(crate) struct Doc<T> {
    pub value: T,
    pub version: u64,
}

/// Waits for the replies to one batch.
struct Await<'a> {
    io: &'a Mutex<Exchange>,
    requests: Option<Vec<StoreRequest>>,
}

impl Future for Await<'_> {
    type Output = Vec<StoreReply>;
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        let mut io = lock(self.io);
        if let Some(requests) = self.requests.take() {
            io.requests = Some(requests);
            return Poll::Pending;
        }
        match io.replies.take() {
            Some(replies) => Poll::Ready(replies),
            None => Poll::Pending,
        }
    }
}

fn store_error(message: String) -> Error {
    Error::StoreError { message }
}

/// A version of 0 is outside the protocol: versions are positive integers (R-94).
fn bad_version(call: &str) -> Error {
    store_error(format!("the store's `{call}` answered version 0; versions are positive integers"))
}

fn mismatch() -> Error {
    Error::internal("the host answered a store request with the wrong kind of reply")
}

/// The host's replies to a batch of `expected` requests; another count is outside the protocol.
/// Shared by [`Cx`] and the data plane's machine, so both refuse the same answers alike.
pub(crate) fn replies_for(replies: Vec<StoreReply>, expected: usize) -> Result<Vec<StoreReply>> {
    if replies.len() != expected {
        return Err(Error::internal(format!("the host answered {} replies to a batch of {expected}", replies.len())));
    }
    Ok(replies)
}

/// The host's reply to one `get`: a version of 0 or another kind of reply is outside the
/// protocol (R-94). Shared by [`Cx::get_many`] and the data plane's machine.
pub(crate) fn got(reply: StoreReply) -> Result<Option<Versioned>> {
    match reply {
        StoreReply::Got { entry: Some(v) } if v.version == 0 => Err(bad_version("get")),
        StoreReply::Got { entry } => Ok(entry),
        StoreReply::Failed { message } => Err(store_error(message)),
        _ => Err(mismatch()),
    }
}

pub(crate) fn parse<T: DeserializeOwned>(key: &str, value: &str) -> Result<T> {
    serde_json::from_str(value).map_err(|e| Error::internal(format!("stored document `{key}` is unreadable: {e}")))
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::internal(format!("cannot encode document: {e}")))
}

/// A `list` answer outside the protocol (R-94) is the host store's fault: `store_error`. It
/// must hold at most `limit` entries, each under `prefix` and after `after`, in strictly
/// increasing key order (so no key twice).
fn check_list_answer(entries: &[Entry], prefix: &str, after: Option<&str>, limit: usize) -> Result<()> {
    let fault = |what: &str| Err(store_error(format!("the store's list answer {what}")));
    if entries.len() > limit {
        return fault(&format!("holds {} entries, more than the limit of {limit}", entries.len()));
    }
    if entries.iter().any(|e| !e.key.starts_with(prefix) || after.is_some_and(|a| e.key.as_str() <= a)) {
        return fault("holds keys outside the range asked for");
    }
    if entries.iter().any(|e| e.version == 0) {
        return Err(bad_version("list"));
    }
    if entries.windows(2).any(|w| matches!(w, [x, y] if x.key >= y.key)) {
        return fault("is not in strictly increasing key order");
    }
    Ok(())
}

impl Cx {
    /// Sends one batch to the host and waits for its replies. A batch that writes a key
    /// decisions read clears the staleness window when sent and when answered (R-16: writes
    /// through this engine take effect at once).
    pub async fn exchange(&self, requests: Vec<StoreRequest>) -> Result<Vec<StoreReply>> {
        let writes = self.window_ms() > 0 && requests.iter().filter_map(StoreRequest::written_key).any(decisions_read);
        if writes {
            self.engine.recent().forget_all();
        }
        let replies = self.exchange_quietly(requests).await;
        if writes {
            self.engine.recent().forget_all();
        }
        replies
    }

    /// The staleness window of R-16, in ms (0: none).
    fn window_ms(&self) -> u64 {
        crate::recent::window_ms(&self.engine)
    }

    /// [`Cx::exchange`] without touching the staleness window: for reads, which change nothing.
    /// (The data plane's last-use stamp goes through its own machine, `recent::Stamp`.)
    async fn exchange_quietly(&self, requests: Vec<StoreRequest>) -> Result<Vec<StoreReply>> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let expected = requests.len();
        replies_for(Await { io: &self.io, requests: Some(requests) }.await, expected)
    }

    /// Reads several keys in one round.
    pub async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Versioned>>> {
        let requests = keys.iter().map(|key| StoreRequest::Get { key: key.clone() }).collect();
        self.exchange_quietly(requests).await?.into_iter().map(got).collect()
    }

    /// Reads several typed documents in one round.
    pub async fn docs<T: DeserializeOwned>(&self, keys: &[String]) -> Result<Vec<Option<Doc<T>>>> {
        let raw = self.get_many(keys).await?;
        keys.iter()
            .zip(raw)
            .map(|(key, entry)| match entry {
                Some(v) => Ok(Some(Doc { value: parse(key, &v.value)?, version: v.version })),
                None => Ok(None),
            })
            .collect()
    }

    /// Reads one typed document.
    pub async fn doc<T: DeserializeOwned>(&self, key: &str) -> Result<Option<Doc<T>>> {
        Ok(self.docs(&[key.to_owned()]).await?.into_iter().next().flatten())
    }

    /// Compare-and-set write of one document; `Ok(None)` when the race was lost.
    pub async fn put<T: Serialize>(&self, key: &str, value: &T, expected: Option<u64>) -> Result<Option<u64>> {
        let request = StoreRequest::Put { key: key.to_owned(), value: to_json(value)?, expected_version: expected };
        match self.exchange(vec![request]).await?.into_iter().next() {
            Some(StoreReply::Put { version: Some(0) }) => Err(bad_version("put")),
            Some(StoreReply::Put { version }) => Ok(version),
            Some(StoreReply::Failed { message }) => Err(store_error(message)),
            _ => Err(mismatch()),
        }
    }

    /// Compare-and-set delete; `Ok(false)` when the race was lost.
    pub async fn delete(&self, key: &str, expected: u64) -> Result<bool> {
        let request = StoreRequest::Delete { key: key.to_owned(), expected_version: expected };
        match self.exchange(vec![request]).await?.into_iter().next() {
            Some(StoreReply::Deleted { ok }) => Ok(ok),
            Some(StoreReply::Failed { message }) => Err(store_error(message)),
            _ => Err(mismatch()),
        }
    }

    /// One page of a prefix listing.
    pub async fn list_page(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<Entry>> {
        let request = StoreRequest::List { prefix: prefix.to_owned(), after: after.map(str::to_owned), limit };
        match self.exchange(vec![request]).await?.into_iter().next() {
            Some(StoreReply::Listed { entries }) => {
                check_list_answer(&entries, prefix, after, limit)?;
                Ok(entries)
            }
            Some(StoreReply::Failed { message }) => Err(store_error(message)),
            _ => Err(mismatch()),
        }
    }

    /// Every entry under a prefix, paging through the store.
    pub async fn list_all(&self, prefix: &str) -> Result<Vec<Entry>> {
        const PAGE: usize = 500;
        let mut all: Vec<Entry> = Vec::new();
        loop {
            let after = all.last().map(|e| e.key.clone());
            let page = self.list_page(prefix, after.as_deref(), PAGE).await?;
            let last_page = page.len() < PAGE;
            all.extend(page);
            if last_page {
                return Ok(all);
            }
        }
    }

    /// Fills `out` with bytes derived from the operation's seed.
    pub fn random(&self, out: &mut [u8]) {
        lock(&self.rng).fill(out);
    }

    /// A fresh 128-bit id as 32 lower-case hex characters (R-01).
    pub fn new_uid(&self) -> String {
        let mut bytes = [0u8; 16];
        self.random(&mut bytes);
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether anyone takes this operation's events: the data plane builds none otherwise.
    pub fn wants_events(&self) -> bool {
        !self.quiet.load(Ordering::Relaxed)
    }

    /// Records an event for the host's audit callback (R-80), token-shaped text redacted and
    /// caller text clipped (R-81, R-82).
    pub fn emit(&self, event: AuditEvent) {
        if self.wants_events() {
            self.emit_sanitized(event.sanitized());
        }
    }

    /// Records an event that has been through [`AuditEvent::sanitized`] already.
    pub(crate) fn emit_sanitized(&self, event: AuditEvent) {
        if self.wants_events() {
            lock(&self.events).push(event);
        }
    }
}
