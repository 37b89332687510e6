//! `PostgresStore` on a real PostgreSQL server: run through `scripts/with-postgres.sh`, which
//! starts a private cluster and exports `KEYWARD_TEST_PG_URL`. The tests share its database
//! (API.md fixes the table's name), so each takes a lock and starts from no table at all.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use std::sync::{Mutex, MutexGuard};

use keyward_core::Store;
use keyward_sql::PostgresStore;

static SERIAL: Mutex<()> = Mutex::new(());

/// The test database, emptied of the Keyward table, and the lock that keeps the tests apart.
fn fresh_database() -> (String, MutexGuard<'static, ()>) {
    let guard = SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let url = std::env::var("KEYWARD_TEST_PG_URL").unwrap_or_else(|_| {
        panic!(
            "KEYWARD_TEST_PG_URL is not set: these tests need a real PostgreSQL server; run them as \
             `scripts/with-postgres.sh cargo test -p keyward-sql` (or `make sql-test`)"
        )
    });
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client.batch_execute("DROP TABLE IF EXISTS keyward_kv").unwrap();
    (url, guard)
}

#[test]
fn postgres_store_passes_check_store() {
    let (url, _serial) = fresh_database();
    keyward_sql::testing::check_store(|| PostgresStore::connect(&url).unwrap());
}

#[test]
fn postgres_store_runs_the_engine_end_to_end() {
    let (url, _serial) = fresh_database();
    support::engine_end_to_end(PostgresStore::connect(&url).unwrap());
}

#[test]
fn postgres_table_is_the_shared_one_with_bytewise_keys() {
    let (url, _serial) = fresh_database();
    let store = PostgresStore::connect(&url).unwrap();
    // Connecting again (another host) finds the table and keeps the data.
    assert_eq!(store.put("a", "{}", None), Ok(Some(1)));
    let again = PostgresStore::connect(&url).unwrap();
    assert_eq!(again.get("a").unwrap().map(|v| v.version), Some(1));
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let columns: Vec<(String, String, Option<String>, String)> = client
        .query(
            "SELECT column_name::text, data_type::text, collation_name::text, is_nullable::text \
             FROM information_schema.columns WHERE table_name = 'keyward_kv' ORDER BY ordinal_position",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let want = [("key", "text", Some("C"), "NO"), ("value", "text", None, "NO"), ("version", "bigint", None, "NO")]
        .map(|(n, t, c, null)| (n.to_owned(), t.to_owned(), c.map(str::to_owned), null.to_owned()));
    assert_eq!(columns, want);
}

#[test]
fn postgres_first_connections_at_once_all_succeed() {
    let (url, _serial) = fresh_database();
    let barrier = std::sync::Barrier::new(4);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                barrier.wait();
                PostgresStore::connect(&url).unwrap();
            });
        }
    });
}

#[test]
fn postgres_failures_name_the_call_and_never_the_value() {
    let (url, _serial) = fresh_database();
    let store = PostgresStore::connect(&url).unwrap();
    // PostgreSQL's text has no NUL: the server refuses the value.
    let failure = store.put("k", "secret-hash\0", None).unwrap_err();
    assert!(failure.0.starts_with("postgres put: "), "{failure}");
    assert!(!failure.0.contains("secret"), "a failure shows no value: {failure}");
    // A row that breaks a constraint: the server's DETAIL would quote it, the failure does not.
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client.batch_execute("ALTER TABLE keyward_kv ADD CONSTRAINT short CHECK (length(value) < 20)").unwrap();
    let failure = store.put("k", "secret-hash-secret-hash", None).unwrap_err();
    assert!(failure.0.contains("SQLSTATE 23514"), "{failure}");
    assert!(!failure.0.contains("secret"), "a failure shows no value: {failure}");
    let unreachable = PostgresStore::connect("postgresql://nobody@127.0.0.1:1/none").unwrap_err();
    assert!(unreachable.0.starts_with("postgres connect: "), "{unreachable}");
}

#[test]
fn postgres_store_connects_again_after_its_connection_is_killed() {
    let (url, _serial) = fresh_database();
    let store = PostgresStore::connect(&url).unwrap();
    assert_eq!(store.put("a", "{}", None), Ok(Some(1)));
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .unwrap();
    // Wait until the backend is gone.
    for _ in 0..100 {
        let others: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get(0);
        if others == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The call that meets the dead connection fails (it is not retried: a write might have
    // happened); the next one connects again.
    let failed = store.get("a").unwrap_err();
    assert!(failed.0.starts_with("postgres get: "), "{failed}");
    assert_eq!(store.get("a").map(|v| v.map(|v| v.version)), Ok(Some(1)));
    assert_eq!(store.put("a", "{}", Some(1)), Ok(Some(2)));
}
