//! `SqliteStore` on real files: the store conformance suite, several processes on one file,
//! the engine end to end, and failures that never show a value.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use keyward_core::Store;
use keyward_sql::SqliteStore;

#[test]
fn sqlite_store_passes_check_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyward.db");
    keyward_sql::testing::check_store(|| SqliteStore::open(&path).unwrap());
}

#[test]
fn sqlite_store_runs_the_engine_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    support::engine_end_to_end(SqliteStore::open(dir.path().join("keyward.db")).unwrap());
}

#[test]
fn sqlite_store_uses_wal_and_the_shared_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyward.db");
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.put("a", "{}", None), Ok(Some(1)));
    // Another client (another host) sees the API.md table as it is.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let row: (String, String, i64) = conn
        .query_row("SELECT key, value, version FROM keyward_kv", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    assert_eq!(row, ("a".to_owned(), "{}".to_owned(), 1));
    // Opening again keeps the data.
    drop(store);
    let again = SqliteStore::open(&path).unwrap();
    assert_eq!(again.get("a").unwrap().map(|v| v.version), Some(1));
}

#[test]
fn sqlite_failures_name_the_call_and_never_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyward.db");
    let store = SqliteStore::open(&path).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("DROP TABLE keyward_kv", []).unwrap();
    let secret = "$argon2id$v=19$secret-hash";
    for failure in [
        store.put("k", secret, None).unwrap_err(),
        store.put("k", secret, Some(1)).unwrap_err(),
        store.get("k").unwrap_err(),
        store.list("", None, 10).unwrap_err(),
        store.get_many(&["k", "l"]).unwrap_err(),
        store.delete("k", 1).unwrap_err(),
    ] {
        assert!(failure.0.starts_with("sqlite "), "{failure}");
        assert!(failure.0.contains("keyward_kv"), "SQLite names the missing table: {failure}");
        assert!(!failure.0.contains("secret"), "a failure shows no value: {failure}");
    }
    assert!(SqliteStore::open(dir.path().join("no/such/dir/x.db")).unwrap_err().0.starts_with("sqlite open: "));
}

/// A new file opened by several connections at the same moment: each waits for the others to
/// switch it to WAL and create the table, none fails with "database is locked".
#[test]
fn sqlite_fresh_file_opened_by_many_at_once() {
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fresh.db");
        let barrier = std::sync::Barrier::new(8);
        std::thread::scope(|scope| {
            for i in 0..8 {
                let (path, barrier) = (&path, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    let store = SqliteStore::open(path).unwrap_or_else(|e| panic!("round {round}: {e}"));
                    assert_eq!(store.put(&format!("k{i}"), "{}", None), Ok(Some(1)));
                });
            }
        });
        assert_eq!(SqliteStore::open(&path).unwrap().list("k", None, 100).unwrap().len(), 8);
    }
}

const CHILD_DB: &str = "KEYWARD_SQL_CHILD_DB";
const CHILD_START: &str = "KEYWARD_SQL_CHILD_START";
const CHILD_INCREMENTS: u64 = 150;
const CHILDREN: usize = 2;

/// Two processes at once, each with its own connection and several threads, incrementing
/// one counter on one SQLite file by compare-and-set: no update is lost.
#[test]
fn sqlite_two_processes_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let exe = std::env::current_exe().unwrap();
    // Both start writing at the same moment, well after both have started.
    let start_at = (now_ms() + 500).to_string();
    let children: Vec<_> = (0..CHILDREN)
        .map(|_| {
            Command::new(&exe)
                .args(["--exact", "sqlite_child_process_increments", "--include-ignored", "--test-threads=1"])
                .env(CHILD_DB, &path)
                .env(CHILD_START, &start_at)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a writer process failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let store = SqliteStore::open(&path).unwrap();
    let total = CHILD_INCREMENTS * CHILDREN as u64;
    let counter = store.get("counter").unwrap().unwrap();
    assert_eq!((counter.value, counter.version), (total.to_string(), total), "updates lost between processes");
}

/// The writer process of `sqlite_two_processes_lose_no_update` (it runs only there).
#[test]
#[ignore = "a child process of sqlite_two_processes_lose_no_update"]
fn sqlite_child_process_increments() {
    let path = std::env::var_os(CHILD_DB).expect("run by sqlite_two_processes_lose_no_update");
    let start_at: u128 = std::env::var(CHILD_START).unwrap().parse().unwrap();
    std::thread::sleep(Duration::from_millis(start_at.saturating_sub(now_ms()) as u64));
    std::thread::scope(|scope| {
        for _ in 0..3 {
            let store = SqliteStore::open(&path).unwrap();
            scope.spawn(move || {
                for _ in 0..CHILD_INCREMENTS / 3 {
                    loop {
                        let current = store.get("counter").unwrap();
                        let next = current.as_ref().map_or(1, |v| v.value.parse::<u64>().unwrap() + 1);
                        if store.put("counter", &next.to_string(), current.map(|v| v.version)).unwrap().is_some() {
                            break;
                        }
                    }
                }
            });
        }
    });
}

fn now_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()
}
