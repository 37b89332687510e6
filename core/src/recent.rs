//! The staleness window: documents the data plane read at most `max_staleness_ms`
//! earlier, by the host's clock, answer `authenticate`, `verify` and `authorize` again with no
//! store access.
//!
//! Two rules keep it honest:
//!
//! - **Writes through this engine take effect at once.** Every batch holding a write clears the
//!   whole window when it is sent and again when its replies arrive, and bumps an epoch.
//! - **A read that raced a write is never kept.** A read round remembers the epoch it was sent
//!   in and keeps its answers only if no write was sent or answered meanwhile, so a document read
//!   just before a revocation cannot come back after it.
//!
//! Writes made through another engine (another process, another edge location) are seen once
//! the entries expire: within the window, as R-16 allows. Admin operations never read through
//! the window.

use std::collections::HashMap;

use crate::engine::Inner;
use crate::error::Result;
use crate::store::{StoreReply, StoreRequest, Versioned};

/// Upper bound of the option, so a typo cannot turn the window into a permanent cache.
pub const MAX_STALENESS_LIMIT_MS: u64 = 24 * 60 * 60 * 1000;

/// Beyond this many keys the window drops what has expired, and if that leaves it more than
/// half full, starts afresh: memory stays bounded whatever the traffic, and the sweep, linear in
/// the keys held, runs at most once per `CAPACITY / 2` keys kept.
const CAPACITY: usize = 100_000;

struct Recent {
    value: Option<Versioned>,
    read_at: i64,
}

/// The documents read within the window, by key.
#[derive(Default)]
pub(crate) struct RecentDocs {
    epoch: u64,
    entries: HashMap<String, Recent>,
}

impl RecentDocs {
    /// The answers for every key when all of them were read within `window_ms` of `now`;
    /// `None` as soon as one is missing or older (the round then goes to the store whole).
    pub fn lookup(&self, keys: &[String], now: i64, window_ms: u64) -> Option<Vec<Option<Versioned>>> {
        let fresh = |r: &Recent| now >= r.read_at && now.abs_diff(r.read_at) <= window_ms;
        keys.iter().map(|k| self.entries.get(k).filter(|r| fresh(r)).map(|r| r.value.clone())).collect()
    }

    /// The epoch a read round is sent in, for [`RecentDocs::keep`].
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Keeps a read round's answers, read at `now`, unless a write was sent or answered since
    /// the round was sent at `sent_in`.
    pub fn keep(&mut self, sent_in: u64, keys: &[String], answers: &[Option<Versioned>], now: i64, window_ms: u64) {
        if sent_in != self.epoch {
            return;
        }
        if self.entries.len() + keys.len() > CAPACITY {
            self.entries.retain(|_, r| now >= r.read_at && now.abs_diff(r.read_at) <= window_ms);
            if self.entries.len() + keys.len() > CAPACITY / 2 {
                self.entries.clear();
            }
        }
        for (key, value) in keys.iter().zip(answers) {
            self.entries.insert(key.clone(), Recent { value: value.clone(), read_at: now });
        }
    }

    /// A write through this engine: nothing read before it answers again.
    pub fn forget_all(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        self.entries.clear();
    }

    /// The engine's own last-use stamp, sent in epoch `sent_in` over version `over`,
    /// landed: the token's entry follows it, keeping its read time, so the window neither forgets
    /// the token nor stamps it again within the minute. If a write was sent or answered since,
    /// or the entry now holds another version (a newer read), the entry is dropped instead: the
    /// stamp's copy may be older than what the window holds.
    pub fn stamped(&mut self, sent_in: u64, key: &str, over: u64, value: Versioned) {
        let current = self.entries.get(key).and_then(|r| r.value.as_ref()).map(|v| v.version);
        if sent_in == self.epoch && current == Some(over) {
            if let Some(r) = self.entries.get_mut(key) {
                r.value = Some(value);
            }
        } else {
            self.entries.remove(key);
        }
    }

    /// Drops one key, whose entry may be behind the store.
    pub fn forget(&mut self, key: &str) {
        self.entries.remove(key);
    }
}

/// The staleness window of R-16 an engine runs with, in ms (0: none).
pub(crate) fn window_ms(engine: &Inner) -> u64 {
    engine.options.max_staleness_ms
}

/// Where a decision's read round (`authenticate`, `verify`, `authorize`) is answered from.
pub(crate) enum Round {
    /// The window held every key: these answers, with no store access.
    Answered(Vec<Option<Versioned>>),
    /// The round goes to the store; its answers are kept (by [`read`]) only if no write was
    /// sent or answered since this epoch. `None`: there is no window, nothing is kept.
    Send(Option<u64>),
}

/// Starts a decision's read round of `keys` at `now`: answered by the window when it holds
/// every key, else sent to the store.
pub(crate) fn lookup(engine: &Inner, keys: &[String], now: i64) -> Round {
    let window = window_ms(engine);
    if window == 0 {
        return Round::Send(None);
    }
    let recent = engine.recent();
    match recent.lookup(keys, now, window) {
        Some(answers) => Round::Answered(answers),
        None => Round::Send(Some(recent.epoch())),
    }
}

/// The store answered a round [`lookup`] sent in `sent_in`. A round whose first key is missing
/// is not kept: anyone can send token ids that exist nowhere, and such answers must not crowd
/// out the documents decisions need.
pub(crate) fn read(engine: &Inner, sent_in: Option<u64>, keys: &[String], answers: &[Option<Versioned>], now: i64) {
    if let Some(sent_in) = sent_in {
        if answers.first().is_some_and(Option::is_some) {
            engine.recent().keep(sent_in, keys, answers, now, window_ms(engine));
        }
    }
}

/// The throttled last-use stamp in flight: a compare-and-set the window follows rather
/// than forgets, since it changes nothing a decision depends on. Whether it landed matters to
/// nobody; a lost or failed one drops the token from the window, so the next use reads it
/// afresh, and so does one answered after a write or a newer read of the token.
pub(crate) struct Stamp {
    /// What the window needs once the stamp is answered; `None` without a window, where the
    /// stamp's answer changes nothing (and its key and text are not copied).
    followed: Option<Followed>,
}

struct Followed {
    key: String,
    value: String,
    expected: u64,
    sent_in: u64,
}

impl Stamp {
    /// The stamp of `value` at `key` over version `expected`, and its request for the host.
    pub fn send(engine: &Inner, key: String, value: String, expected: u64) -> (Stamp, StoreRequest) {
        if window_ms(engine) == 0 {
            let request = StoreRequest::Put { key, value, expected_version: Some(expected) };
            return (Stamp { followed: None }, request);
        }
        let request = StoreRequest::Put { key: key.clone(), value: value.clone(), expected_version: Some(expected) };
        let sent_in = engine.recent().epoch();
        (Stamp { followed: Some(Followed { key, value, expected, sent_in }) }, request)
    }

    /// The host answered the stamp (`replies` already checked for their count): the window
    /// follows a landed stamp and forgets the token otherwise. Never an error.
    pub fn answered(self, engine: &Inner, replies: Result<Vec<StoreReply>>) {
        let Some(Followed { key, value, expected, sent_in }) = self.followed else {
            return;
        };
        match replies.ok().and_then(|r| r.into_iter().next()) {
            Some(StoreReply::Put { version: Some(version) }) if version > 0 => {
                engine.recent().stamped(sent_in, &key, expected, Versioned { value, version })
            }
            _ => engine.recent().forget(&key),
        }
    }
}
