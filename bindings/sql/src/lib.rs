//! Keyward stores on SQL databases, for Rust hosts (API.md "Store adapters").
//!
//! One table serves every host, so that a database provisioned by one (the `keyward`
//! command) is read by the others (a Node backend, a Python job):
//!
//! ```sql
//! CREATE TABLE IF NOT EXISTS keyward_kv (
//!   key     TEXT PRIMARY KEY,      -- Postgres: TEXT COLLATE "C"
//!   value   TEXT NOT NULL,
//!   version BIGINT NOT NULL
//! );
//! ```
//!
//! - [`SqliteStore`]: one SQLite file (rusqlite, SQLite bundled), in WAL mode with a busy
//!   timeout, shared safely by several threads and processes.
//! - [`PostgresStore`]: one PostgreSQL database (the synchronous `postgres` client).
//!
//! Both create the table when it is missing. Keys compare bytewise (UTF-8) in both, as Rust's
//! `str` does. Each compare-and-set is one statement (`INSERT ... ON CONFLICT DO NOTHING` for
//! a new key, `UPDATE ... WHERE key = ? AND version = ?` otherwise), and
//! [`Store::get_many`](keyward_core::Store::get_many) reads a batch in one query, so the engine's
//! `verify` costs at most two queries. Database failures become
//! [`StoreFailure`](keyward_core::StoreFailure)s whose messages never contain a stored value
//! (values hold hashes of secrets, R-82).
//!
//! [`testing::check_store`] is the store conformance suite, for whoever writes an adapter.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod pg;
mod sqlite;
pub mod testing;

pub use pg::PostgresStore;
pub use sqlite::SqliteStore;

/// The table every host shares (API.md "Store adapters").
pub const TABLE: &str = "keyward_kv";

/// The smallest string greater than every string that starts with `prefix`, in bytewise
/// (UTF-8, code point) order; `None` when there is none (an empty prefix, or one made only of
/// `char::MAX`). The last character that can grow is replaced by its successor and what
/// follows it is dropped: UTF-8 orders as code points do, so `prefix <= key < bound` holds
/// exactly for the keys that start with `prefix`.
pub(crate) fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The bounds of a `list(prefix, after, limit)` range: the lower bound with whether it is
/// inclusive, and the upper bound (exclusive) if any.
pub(crate) struct Range {
    pub lower: String,
    pub inclusive: bool,
    pub upper: Option<String>,
}

impl Range {
    pub(crate) fn new(prefix: &str, after: Option<&str>) -> Range {
        let upper = prefix_upper_bound(prefix);
        match after {
            Some(after) if after >= prefix => Range { lower: after.to_owned(), inclusive: false, upper },
            _ => Range { lower: prefix.to_owned(), inclusive: true, upper },
        }
    }
}

/// A `list` limit as SQL's `LIMIT` takes it.
pub(crate) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// A stored version read back from a `BIGINT` column.
pub(crate) fn version_from_sql(version: i64) -> Result<u64, keyward_core::StoreFailure> {
    u64::try_from(version)
        .map_err(|_| keyward_core::StoreFailure(format!("{TABLE} holds a negative version ({version})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hosts share one store between threads (a server, the engine's callers).
    #[test]
    fn stores_are_send_and_sync() {
        fn shareable<T: Send + Sync + keyward_core::Store>() {}
        shareable::<SqliteStore>();
        shareable::<PostgresStore>();
    }

    #[test]
    fn upper_bound_is_bytewise_for_every_kind_of_prefix() {
        assert_eq!(prefix_upper_bound(""), None);
        assert_eq!(prefix_upper_bound("a/").as_deref(), Some("a0"));
        assert_eq!(prefix_upper_bound("a/é").as_deref(), Some("a/ê"));
        assert_eq!(prefix_upper_bound("a\u{d7ff}").as_deref(), Some("a\u{e000}"));
        assert_eq!(prefix_upper_bound("a\u{10ffff}").as_deref(), Some("b"));
        assert_eq!(prefix_upper_bound("\u{10ffff}\u{10ffff}"), None);
        for prefix in ["a/", "a/é", "a\u{d7ff}", "a\u{10ffff}", "\u{7f}", "z\u{ffff}"] {
            let bound = prefix_upper_bound(prefix).unwrap_or_default();
            for tail in ["", "\u{0}", "zzz", "\u{10ffff}\u{10ffff}", "é"] {
                let key = format!("{prefix}{tail}");
                assert!(key.as_bytes() < bound.as_bytes(), "{key:?} < {bound:?}");
            }
            assert!(prefix.as_bytes() < bound.as_bytes());
        }
    }
}
