//! The host's key-value store and the key layout Keyward keeps in it.
//!
//! # Protocol
//!
//! Four calls, the same in every host: `get`, `put` (compare-and-set on an integer version;
//! `expected_version: None` means "must not exist"), `delete` (compare-and-set) and `list`
//! (by prefix, keys strictly after `after`, in key order, at most `limit`; a page shorter
//! than `limit` is the last one). Values are UTF-8 JSON documents with a `schema` field.
//!
//! # Key layout
//!
//! | key | document |
//! |---|---|
//! | `t/<tenant>` | tenant: name, settings, custom roles and groups (one document, so a tenant's policy is compiled and cached by one version) |
//! | `a/<principal>` | account: `uid`, kind, owner tenant, status, the tenants it has access to, its token ids |
//! | `m/<tenant>/<principal>` | membership: the account's access to one tenant (`uid`, direct role, direct grants, groups) |
//! | `k/<token_id>` | token: `uid` and principal it belongs to, hash of the secret, lifetime, scopes; `pending` while its creation is under way (not usable, not listed), `rotation` (a claim) and `rotated_to` (its successor) for rotation |
//! | `q/<tenant>` | claims on the tenant's capped units (`max_service_accounts`, `seat_limit`) in flight, written by compare-and-set before a unit is taken (R-62, `tenancy::quota`) |
//! | `e/<tenant>/<inverted time>.<inverted sequence>` | audit event (newest first in key order; the sequence orders one millisecond's events) |
//!
//! Invariants (DESIGN.md): `verify` reads `k/<id>`, then `a/<principal>`, `t/<tenant>` and
//! `m/<tenant>/<principal>` in one batch, and allows only if every record agrees (token not
//! revoked, account `uid` equal to the token's, account active, membership `uid` equal). So one
//! write revokes, disables or deletes, and a half-done multi-key write never lets a credential
//! verify that should not. Multi-key operations write the record that grants last and the
//! record that removes first.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// A stored value with its version. `Debug` shows the value's length only: documents hold
/// hashes of secrets.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versioned {
    /// The JSON document.
    pub value: String,
    /// Its version, bumped by every successful write.
    pub version: u64,
}

/// One row of a `list` answer. `Debug` shows the value's length only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The key.
    pub key: String,
    /// The JSON document.
    pub value: String,
    /// Its version.
    pub version: u64,
}

impl std::fmt::Debug for Versioned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Versioned").field("value_len", &self.value.len()).field("version", &self.version).finish()
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &self.key)
            .field("value_len", &self.value.len())
            .field("version", &self.version)
            .finish()
    }
}

impl std::fmt::Debug for StoreRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreRequest::Get { key } => f.debug_struct("Get").field("key", key).finish(),
            StoreRequest::Put { key, value, expected_version } => f
                .debug_struct("Put")
                .field("key", key)
                .field("value_len", &value.len())
                .field("expected_version", expected_version)
                .finish(),
            StoreRequest::Delete { key, expected_version } => {
                f.debug_struct("Delete").field("key", key).field("expected_version", expected_version).finish()
            }
            StoreRequest::List { prefix, after, limit } => {
                f.debug_struct("List").field("prefix", prefix).field("after", after).field("limit", limit).finish()
            }
        }
    }
}

/// The failure of a host store call; its message is surfaced as `store_error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFailure(pub String);

impl std::fmt::Display for StoreFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreFailure {}

/// A synchronous store, as the Rust and Python hosts supply it.
///
/// Calls take `&self` so one store may be shared by several engines; implementations use
/// interior mutability.
pub trait Store {
    /// The value and version at `key`, if any.
    fn get(&self, key: &str) -> Result<Option<Versioned>, StoreFailure>;
    /// Writes `value` if the current version is `expected_version` (`None`: the key must not
    /// exist). Returns the new version, or `None` when the comparison failed.
    fn put(&self, key: &str, value: &str, expected_version: Option<u64>) -> Result<Option<u64>, StoreFailure>;
    /// Deletes `key` if its version is `expected_version`; `false` when the comparison failed
    /// (including when the key does not exist).
    fn delete(&self, key: &str, expected_version: u64) -> Result<bool, StoreFailure>;
    /// Up to `limit` entries whose key starts with `prefix` and sorts after `after`, in key order.
    fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<Entry>, StoreFailure>;
    /// One answer per key, in order: a store that can read a batch at once (one SQL query, one
    /// network round trip) overrides this; the default asks `get` for each key.
    fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Versioned>>, StoreFailure> {
        keys.iter().map(|key| self.get(key)).collect()
    }
}

impl<S: Store + ?Sized> Store for &S {
    fn get(&self, key: &str) -> Result<Option<Versioned>, StoreFailure> {
        (**self).get(key)
    }
    fn put(&self, key: &str, value: &str, expected: Option<u64>) -> Result<Option<u64>, StoreFailure> {
        (**self).put(key, value, expected)
    }
    fn delete(&self, key: &str, expected: u64) -> Result<bool, StoreFailure> {
        (**self).delete(key, expected)
    }
    fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<Entry>, StoreFailure> {
        (**self).list(prefix, after, limit)
    }
    fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Versioned>>, StoreFailure> {
        (**self).get_many(keys)
    }
}

/// One store call asked for by an [`crate::Op`]. `Debug` shows a written value's length only
///
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StoreRequest {
    /// `get(key)`.
    Get {
        /// Key to read.
        key: String,
    },
    /// `put(key, value, expected_version)`.
    Put {
        /// Key to write.
        key: String,
        /// JSON document.
        value: String,
        /// Version it must have now (`None`: must not exist).
        #[serde(alias = "expectedVersion")]
        expected_version: Option<u64>,
    },
    /// `delete(key, expected_version)`.
    Delete {
        /// Key to delete.
        key: String,
        /// Version it must have now.
        #[serde(alias = "expectedVersion")]
        expected_version: u64,
    },
    /// `list(prefix, after, limit)`.
    List {
        /// Key prefix.
        prefix: String,
        /// Exclusive lower bound.
        after: Option<String>,
        /// Page size.
        limit: usize,
    },
}

/// The host's answer to one [`StoreRequest`], in the same position of the batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StoreReply {
    /// Answer to `get`.
    Got {
        /// The value, if the key exists.
        entry: Option<Versioned>,
    },
    /// Answer to `put`.
    Put {
        /// The new version, `None` on a lost compare-and-set.
        version: Option<u64>,
    },
    /// Answer to `delete`.
    Deleted {
        /// `false` on a lost compare-and-set.
        ok: bool,
    },
    /// Answer to `list`.
    Listed {
        /// The entries, in key order.
        entries: Vec<Entry>,
    },
    /// The host callback failed with this message.
    Failed {
        /// The host's message.
        message: String,
    },
}

impl StoreRequest {
    /// The key the request changes (`put` or `delete`); `None` for reads.
    pub fn written_key(&self) -> Option<&str> {
        match self {
            StoreRequest::Put { key, .. } | StoreRequest::Delete { key, .. } => Some(key),
            StoreRequest::Get { .. } | StoreRequest::List { .. } => None,
        }
    }

    /// Runs one batch against a synchronous store: a batch of several reads is one
    /// [`Store::get_many`] call, anything else one call per request.
    pub fn run_batch<S: Store + ?Sized>(requests: &[StoreRequest], store: &S) -> Vec<StoreReply> {
        let keys: Option<Vec<&str>> = requests
            .iter()
            .map(|r| match r {
                StoreRequest::Get { key } => Some(key.as_str()),
                _ => None,
            })
            .collect();
        match keys {
            Some(keys) if keys.len() > 1 => match store.get_many(&keys) {
                Ok(entries) if entries.len() == keys.len() => {
                    entries.into_iter().map(|entry| StoreReply::Got { entry }).collect()
                }
                Ok(entries) => {
                    let message = format!("get_many answered {} entries for {} keys", entries.len(), keys.len());
                    keys.iter().map(|_| StoreReply::Failed { message: message.clone() }).collect()
                }
                Err(failure) => keys.iter().map(|_| StoreReply::Failed { message: failure.0.clone() }).collect(),
            },
            _ => requests.iter().map(|r| r.run_on(store)).collect(),
        }
    }

    /// Runs this request against a synchronous store.
    pub fn run_on<S: Store + ?Sized>(&self, store: &S) -> StoreReply {
        let result = match self {
            StoreRequest::Get { key } => store.get(key).map(|entry| StoreReply::Got { entry }),
            StoreRequest::Put { key, value, expected_version } => {
                store.put(key, value, *expected_version).map(|version| StoreReply::Put { version })
            }
            StoreRequest::Delete { key, expected_version } => {
                store.delete(key, *expected_version).map(|ok| StoreReply::Deleted { ok })
            }
            StoreRequest::List { prefix, after, limit } => {
                store.list(prefix, after.as_deref(), *limit).map(|entries| StoreReply::Listed { entries })
            }
        };
        result.unwrap_or_else(|failure| StoreReply::Failed { message: failure.0 })
    }
}

/// The built-in in-memory store: a sorted map behind a mutex. Shareable between engines.
/// `Debug` shows the number of keys only.
#[derive(Default)]
pub struct MemoryStore {
    map: Mutex<BTreeMap<String, Versioned>>,
}

/// A snapshot: every document with its version, as a new independent store.
impl Clone for MemoryStore {
    fn clone(&self) -> MemoryStore {
        MemoryStore { map: Mutex::new(self.with(|map| map.clone())) }
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").field("keys", &self.len()).finish()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<String, Versioned>) -> T) -> T {
        // A poisoned lock only means another thread panicked mid-call; every write below is a
        // single map operation, so the map is still consistent.
        let mut guard = self.map.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }

    /// Number of keys held (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.with(|map| map.len())
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All keys, in order (for tests and diagnostics).
    pub fn keys(&self) -> Vec<String> {
        self.with(|map| map.keys().cloned().collect())
    }
}

impl Store for MemoryStore {
    fn get(&self, key: &str) -> Result<Option<Versioned>, StoreFailure> {
        Ok(self.with(|map| map.get(key).cloned()))
    }

    fn put(&self, key: &str, value: &str, expected: Option<u64>) -> Result<Option<u64>, StoreFailure> {
        Ok(self.with(|map| {
            let current = map.get(key).map(|v| v.version);
            if current != expected {
                return None;
            }
            let version = current.map_or(1, |v| v + 1);
            map.insert(key.to_owned(), Versioned { value: value.to_owned(), version });
            Some(version)
        }))
    }

    fn delete(&self, key: &str, expected: u64) -> Result<bool, StoreFailure> {
        Ok(self.with(|map| match map.get(key) {
            Some(v) if v.version == expected => {
                map.remove(key);
                true
            }
            _ => false,
        }))
    }

    fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<Entry>, StoreFailure> {
        use std::ops::Bound;
        Ok(self.with(|map| {
            let start = match after {
                Some(a) if a >= prefix => Bound::Excluded(a.to_owned()),
                _ => Bound::Included(prefix.to_owned()),
            };
            map.range((start, Bound::Unbounded))
                .take_while(|(k, _)| k.starts_with(prefix))
                .take(limit)
                .map(|(k, v)| Entry { key: k.clone(), value: v.value.clone(), version: v.version })
                .collect()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r90_put_is_compare_and_set() {
        let s = MemoryStore::new();
        assert_eq!(s.put("a", "1", None), Ok(Some(1)));
        assert_eq!(s.put("a", "2", None), Ok(None), "must-not-exist put on an existing key");
        assert_eq!(s.put("a", "2", Some(7)), Ok(None), "stale version");
        assert_eq!(s.put("a", "2", Some(1)), Ok(Some(2)));
        assert_eq!(s.get("a"), Ok(Some(Versioned { value: "2".into(), version: 2 })));
        assert_eq!(s.delete("a", 1), Ok(false));
        assert_eq!(s.delete("a", 2), Ok(true));
        assert_eq!(s.get("a"), Ok(None));
        assert_eq!(s.delete("a", 2), Ok(false));
    }

    #[test]
    fn r90_list_pages_by_prefix_in_key_order() {
        let s = MemoryStore::new();
        for k in ["m/b/2", "m/a/3", "m/a/1", "m/a/2", "m/aa/1"] {
            assert_eq!(s.put(k, "{}", None), Ok(Some(1)));
        }
        let keys = |v: Vec<Entry>| v.into_iter().map(|e| e.key).collect::<Vec<_>>();
        assert_eq!(keys(s.list("m/a/", None, 10).unwrap_or_default()), ["m/a/1", "m/a/2", "m/a/3"]);
        assert_eq!(keys(s.list("m/a/", Some("m/a/1"), 1).unwrap_or_default()), ["m/a/2"]);
        assert_eq!(keys(s.list("m/a/", Some("m/a/3"), 5).unwrap_or_default()), Vec::<String>::new());
    }
}
