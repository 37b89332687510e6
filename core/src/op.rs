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
//! Operations are written as `async fn`s over [`Cx`]; the `Op` polls that future with a no-op
//! waker. A future only ever waits on the host's answer to the batch it last asked for, so one
//! poll per step is enough: there is no executor, no runtime and no thread.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::audit::AuditEvent;
use crate::call::Answer;
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
    future: Option<OpFuture>,
    cx: Arc<Cx>,
    awaiting_replies: bool,
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Op").field("done", &self.future.is_none()).finish_non_exhaustive()
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
        Op { future: Some(Box::pin(body(Arc::clone(&cx)))), cx, awaiting_replies: false }
    }

    /// Tells the operation that nobody will take its events (the host has no audit callback,
    /// R-80): decisions then build none. Events a mutation stores are written all the same.
    /// Call it before the first [`Op::step`].
    pub fn without_events(self) -> Op {
        self.cx.quiet.store(true, Ordering::Relaxed);
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
        let Some(future) = self.future.as_mut() else {
            return Step::Done(Err(Error::internal("operation already finished")));
        };
        let mut context = Context::from_waker(Waker::noop());
        match future.as_mut().poll(&mut context) {
            Poll::Ready(answer) => {
                self.future = None;
                Step::Done(answer)
            }
            Poll::Pending => match lock(&self.cx.io).requests.take() {
                Some(requests) => {
                    self.awaiting_replies = true;
                    Step::Need(requests)
                }
                None => {
                    self.future = None;
                    Step::Done(Err(Error::internal("operation stalled without a request")))
                }
            },
        }
    }

    /// Hands the host's replies to the last batch, one per request, in request order.
    pub fn provide(&mut self, replies: Vec<StoreReply>) {
        self.awaiting_replies = false;
        lock(&self.cx.io).replies = Some(replies);
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
        std::mem::take(&mut *lock(&self.cx.events))
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
        self.engine.options.max_staleness_ms
    }

    /// [`Cx::exchange`] without touching the staleness window: for reads, and for the last-use
    /// stamp, which changes nothing a decision depends on.
    async fn exchange_quietly(&self, requests: Vec<StoreRequest>) -> Result<Vec<StoreReply>> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let expected = requests.len();
        let replies = Await { io: &self.io, requests: Some(requests) }.await;
        if replies.len() != expected {
            return Err(Error::internal(format!(
                "the host answered {} replies to a batch of {expected}",
                replies.len()
            )));
        }
        Ok(replies)
    }

    /// Reads several keys in one round, or none when the staleness window (R-16) holds every
    /// one of them: for `authenticate`, `verify` and `authorize` only. A round whose first key
    /// is missing is not kept: anyone can send token ids that exist nowhere, and such answers
    /// must not crowd out the documents decisions need.
    pub async fn get_many_recent(&self, keys: &[String]) -> Result<Vec<Option<Versioned>>> {
        let window = self.window_ms();
        if window == 0 {
            return self.get_many(keys).await;
        }
        let sent_in = {
            let recent = self.engine.recent();
            if let Some(answers) = recent.lookup(keys, self.now, window) {
                return Ok(answers);
            }
            recent.epoch()
        };
        let answers = self.get_many(keys).await?;
        if answers.first().is_some_and(Option::is_some) {
            self.engine.recent().keep(sent_in, keys, &answers, self.now, window);
        }
        Ok(answers)
    }

    /// The throttled last-use stamp (R-15): a compare-and-set the window follows rather than
    /// forgets, since it changes nothing a decision depends on. Whether it landed matters to
    /// nobody; a lost or failed one drops the token from the window, so the next use reads it
    /// afresh, and so does one answered after a write or a newer read of the token.
    pub async fn stamp(&self, key: String, value: String, expected: u64) {
        let request = StoreRequest::Put { key: key.clone(), value: value.clone(), expected_version: Some(expected) };
        let sent_in = self.engine.recent().epoch();
        let reply = self.exchange_quietly(vec![request]).await;
        if self.window_ms() == 0 {
            return;
        }
        match reply.ok().and_then(|r| r.into_iter().next()) {
            Some(StoreReply::Put { version: Some(version) }) if version > 0 => {
                self.engine.recent().stamped(sent_in, &key, expected, Versioned { value, version })
            }
            _ => self.engine.recent().forget(&key),
        }
    }

    /// Reads several keys in one round.
    pub async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Versioned>>> {
        let requests = keys.iter().map(|key| StoreRequest::Get { key: key.clone() }).collect();
        self.exchange_quietly(requests)
            .await?
            .into_iter()
            .map(|reply| match reply {
                StoreReply::Got { entry: Some(v) } if v.version == 0 => Err(bad_version("get")),
                StoreReply::Got { entry } => Ok(entry),
                StoreReply::Failed { message } => Err(store_error(message)),
                _ => Err(mismatch()),
            })
            .collect()
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
