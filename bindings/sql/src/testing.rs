//! The store conformance suite (API.md "Store adapters"), for whoever writes a store.
//!
//! ```no_run
//! // In an adapter's tests: a fresh, empty database; every call opens one more handle on it.
//! let dir = std::env::temp_dir().join("my-adapter-check.db");
//! let _ = std::fs::remove_file(&dir);
//! keyward_sql::testing::check_store(|| keyward_sql::SqliteStore::open(&dir).expect("opens"));
//! ```

use std::sync::Barrier;

use keyward_core::{Entry, Store, StoreFailure, Versioned};

/// Writer threads in the concurrency checks.
const WRITERS: usize = 4;
/// Increments each writer makes to the shared counter.
const INCREMENTS: u64 = 25;
/// Lost compare-and-sets one increment may retry before the suite calls it livelock.
const MAX_RETRIES: usize = 100_000;

/// Runs the store conformance suite and panics, with a message naming the check, on the first
/// failure.
///
/// `make_store` opens a handle on the store under test; every call must reach the same data,
/// which is empty when the suite starts (a fresh database, or a table just cleared). The
/// sequential checks use one handle; the concurrency checks open one per writer thread, so
/// that an adapter whose compare-and-set is not one atomic statement loses updates and fails.
/// For an in-memory store, return a reference to one store: `check_store(|| &store)`.
///
/// Checked: compare-and-set on new and existing keys, stale and missing versions, deletes
/// (right and wrong version, missing key), values kept byte for byte, `list` paging in
/// bytewise key order with non-ASCII keys, prefixes that are prefixes of others, `after` and
/// `limit`, `get_many` order, misses and repeats, and concurrent writers (threads each
/// incrementing one counter by compare-and-set retry loops, racing creations and deletes)
/// that lose no update.
pub fn check_store<S: Store + Send>(make_store: impl Fn() -> S) {
    let store = make_store();
    let everything = call("list(\"\", None, 1)", store.list("", None, 1));
    if !everything.is_empty() {
        fail("the store must be empty when check_store starts (a fresh database, or a cleared table)");
    }
    compare_and_set(&store);
    deletes(&store);
    values(&store);
    listing(&store);
    get_many(&store);
    concurrent_writers(&make_store);
}

#[allow(clippy::panic)] // The suite reports a failure by panicking, as a test does.
#[track_caller]
fn fail(message: &str) -> ! {
    panic!("store conformance: {message}")
}

#[track_caller]
fn call<T>(what: &str, result: Result<T, StoreFailure>) -> T {
    match result {
        Ok(value) => value,
        Err(failure) => fail(&format!("{what} failed: {failure}")),
    }
}

#[track_caller]
fn expect_eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) {
    if got != want {
        fail(&format!("{what}: got {got:?}, want {want:?}"));
    }
}

fn versioned(value: &str, version: u64) -> Option<Versioned> {
    Some(Versioned { value: value.to_owned(), version })
}

/// The value at `key`, for messages: `Versioned`'s `Debug` hides values.
fn shown(entry: &Option<Versioned>) -> Option<(String, u64)> {
    entry.as_ref().map(|v| (v.value.clone(), v.version))
}

#[track_caller]
fn expect_get(store: &impl Store, what: &str, key: &str, want: Option<Versioned>) {
    let got = call(&format!("get({key:?})"), store.get(key));
    expect_eq(what, shown(&got), shown(&want));
}

fn compare_and_set(store: &impl Store) {
    let key = "cas/a";
    expect_eq("put on a new key with expected None", call("put", store.put(key, "v1", None)), Some(1));
    expect_get(store, "get after creating a key", key, versioned("v1", 1));
    expect_eq("put with expected None on an existing key (conflict)", call("put", store.put(key, "x", None)), None);
    expect_eq("put with the current version", call("put", store.put(key, "v2", Some(1))), Some(2));
    expect_eq("put with a stale version (conflict)", call("put", store.put(key, "x", Some(1))), None);
    expect_eq("put with a future version (conflict)", call("put", store.put(key, "x", Some(7))), None);
    expect_eq("put with a huge version (conflict)", call("put", store.put(key, "x", Some(u64::MAX))), None);
    expect_get(store, "a lost compare-and-set changes nothing", key, versioned("v2", 2));
    expect_eq("put with a version on a missing key (conflict)", call("put", store.put("cas/none", "x", Some(1))), None);
    expect_get(store, "a lost compare-and-set creates nothing", "cas/none", None);
    expect_eq("a third write", call("put", store.put(key, "v3", Some(2))), Some(3));
    expect_get(store, "versions count writes", key, versioned("v3", 3));
    expect_get(store, "get on a missing key", "cas/missing", None);
    expect_eq("delete", call("delete", store.delete(key, 3)), true);
}

fn deletes(store: &impl Store) {
    let key = "del/a";
    expect_eq("put", call("put", store.put(key, "v1", None)), Some(1));
    expect_eq("put", call("put", store.put(key, "v2", Some(1))), Some(2));
    expect_eq("delete with a stale version (conflict)", call("delete", store.delete(key, 1)), false);
    expect_eq("delete with a future version (conflict)", call("delete", store.delete(key, 3)), false);
    expect_eq("delete with a huge version (conflict)", call("delete", store.delete(key, u64::MAX)), false);
    expect_get(store, "a lost delete keeps the key", key, versioned("v2", 2));
    expect_eq("delete with the current version", call("delete", store.delete(key, 2)), true);
    expect_get(store, "get after delete", key, None);
    expect_eq("delete of a missing key (conflict)", call("delete", store.delete(key, 2)), false);
    expect_eq("delete of a never-written key (conflict)", call("delete", store.delete("del/never", 1)), false);
    expect_eq("a deleted key is created anew at version 1", call("put", store.put(key, "v", None)), Some(1));
    expect_eq("delete", call("delete", store.delete(key, 1)), true);
}

fn values(store: &impl Store) {
    let big: String = (0..70_000u32).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let samples = [
        ("val/json", r#"{"schema":1,"hash":"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA","q":"'\"\\"}"#),
        ("val/unicode", "é ü 漢字 \u{10000} \u{10ffff} \t\n\r"),
        ("val/empty", ""),
        ("val/big", big.as_str()),
    ];
    for (key, value) in samples {
        expect_eq(&format!("put({key:?})"), call("put", store.put(key, value, None)), Some(1));
        let got = call("get", store.get(key));
        if got.as_ref().map(|v| v.value.as_str()) != Some(value) {
            fail(&format!("the value at {key:?} did not come back byte for byte"));
        }
    }
    for (key, _) in samples {
        expect_eq("delete", call("delete", store.delete(key, 1)), true);
    }
}

/// Keys in bytewise order: ASCII below and above `/`, two-, three- and four-byte UTF-8, and
/// prefixes that are prefixes of other keys.
const LIST_KEYS: [&str; 16] = [
    "l",
    "l/a",
    "l/a/\u{7f}",
    "l/a/1",
    "l/a/z",
    "l/a/~",
    "l/a/é",
    "l/a/\u{ffff}",
    "l/a/\u{10000}",
    "l/a/\u{10ffff}",
    "l/a/\u{10ffff}/x",
    "l/a0",
    "l/ab",
    "l/b",
    "l0",
    "k",
];

fn keys(entries: &[Entry]) -> Vec<&str> {
    entries.iter().map(|e| e.key.as_str()).collect()
}

fn listing(store: &impl Store) {
    // Written out of order, so that an insertion-ordered store fails.
    for key in LIST_KEYS.iter().rev() {
        expect_eq(&format!("put({key:?})"), call("put", store.put(key, &format!("value of {key}"), None)), Some(1));
    }
    expect_eq("put", call("put", store.put("l/a/z", "updated", Some(1))), Some(2));
    let mut sorted: Vec<&str> = LIST_KEYS.to_vec();
    sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let under = |prefix: &str| -> Vec<&str> { sorted.iter().copied().filter(|k| k.starts_with(prefix)).collect() };

    let all = call("list(\"\", None, 100)", store.list("", None, 100));
    expect_eq("list(\"\") returns every key in bytewise order", keys(&all), sorted.clone());
    for prefix in ["l/a/", "l/a", "l/", "l", "l/a/\u{10ffff}", "l/a/é", "l/b", "l/c", "m", "\u{10ffff}"] {
        let got = call(&format!("list({prefix:?})"), store.list(prefix, None, 100));
        expect_eq(&format!("list({prefix:?}, None, 100) in bytewise order"), keys(&got), under(prefix));
    }
    let got = call("list", store.list("l/a/", None, 100));
    let updated = got.iter().find(|e| e.key == "l/a/z").map(|e| (e.value.as_str(), e.version));
    expect_eq("list returns each entry's value and version", updated, Some(("updated", 2)));
    let first = got.iter().find(|e| e.key == "l/a/1").map(|e| (e.value.as_str(), e.version));
    expect_eq("list returns each entry's value and version", first, Some(("value of l/a/1", 1)));

    // Paging: pages of `limit`, each after the last key of the one before, until a short one.
    for limit in [1, 2, 3, 100] {
        let mut seen: Vec<String> = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..=LIST_KEYS.len() {
            let page = call("list", store.list("l/a/", after.as_deref(), limit));
            if page.len() > limit {
                fail(&format!("list returned {} entries for limit {limit}", page.len()));
            }
            seen.extend(page.iter().map(|e| e.key.clone()));
            after = page.last().map(|e| e.key.clone());
            if page.len() < limit {
                break;
            }
        }
        expect_eq(
            &format!("paging list(\"l/a/\") by {limit}"),
            seen.iter().map(String::as_str).collect(),
            under("l/a/"),
        );
    }
    let expect_list = |what: &str, prefix: &str, after: Option<&str>, limit: usize, want: Vec<&str>| {
        let got = call(what, store.list(prefix, after, limit));
        expect_eq(&format!("{what}: list({prefix:?}, {after:?}, {limit})"), keys(&got), want);
    };
    expect_list("`after` before the prefix", "l/a/", Some("a"), 100, under("l/a/"));
    expect_list("`after` equal to the prefix", "l/a/", Some("l/a/"), 100, under("l/a/"));
    expect_list("`after` between keys", "l/a/", Some("l/a/y"), 2, vec!["l/a/z", "l/a/~"]);
    expect_list(
        "`after` on a non-ASCII key",
        "l/a/",
        Some("l/a/é"),
        100,
        vec!["l/a/\u{ffff}", "l/a/\u{10000}", "l/a/\u{10ffff}", "l/a/\u{10ffff}/x"],
    );
    expect_list("`after` the last key", "l/a/", Some("l/a/\u{10ffff}/x"), 100, vec![]);
    expect_list("`after` beyond the prefix", "l/a/", Some("l/b"), 100, vec![]);
    expect_list("`limit` 1", "l/", None, 1, vec!["l/a"]);
    expect_list("`limit` 0", "l/", None, 0, vec![]);
    for key in LIST_KEYS {
        let version = if key == "l/a/z" { 2 } else { 1 };
        expect_eq("delete", call("delete", store.delete(key, version)), true);
    }
    expect_list("a cleared prefix", "l", None, 100, vec![]);
}

fn get_many(store: &impl Store) {
    expect_eq("put", call("put", store.put("gm/a", "A", None)), Some(1));
    expect_eq("put", call("put", store.put("gm/b", "B", None)), Some(1));
    expect_eq("put", call("put", store.put("gm/b", "B2", Some(1))), Some(2));
    expect_eq("put", call("put", store.put("gm/é", "E", None)), Some(1));
    let asked = ["gm/b", "gm/missing", "gm/a", "gm/é", "gm/a", "gm/zz"];
    let got = call("get_many", store.get_many(&asked));
    let want = [versioned("B2", 2), None, versioned("A", 1), versioned("E", 1), versioned("A", 1), None];
    expect_eq(
        "get_many answers each key in request order, misses as None, repeats repeated",
        got.iter().map(shown).collect::<Vec<_>>(),
        want.iter().map(shown).collect(),
    );
    expect_eq("get_many of no keys", call("get_many", store.get_many(&[])).len(), 0);
    let one = call("get_many", store.get_many(&["gm/a"]));
    expect_eq("get_many of one key", one.iter().map(shown).collect::<Vec<_>>(), vec![shown(&versioned("A", 1))]);
    let many: Vec<String> = (0..1200).map(|i| format!("gm/n{i}")).collect();
    let mut asked: Vec<&str> = many.iter().map(String::as_str).collect();
    asked.push("gm/a");
    let got = call("get_many of 1201 keys", store.get_many(&asked));
    expect_eq("get_many of 1201 keys answers each", got.len(), asked.len());
    expect_eq(
        "get_many of 1201 keys finds the one stored",
        shown(got.last().unwrap_or(&None)),
        shown(&versioned("A", 1)),
    );
    for (key, version) in [("gm/a", 1), ("gm/b", 2), ("gm/é", 1)] {
        expect_eq("delete", call("delete", store.delete(key, version)), true);
    }
}

/// One increment of the counter at `key` by a compare-and-set retry loop.
fn increment(store: &impl Store, key: &str) -> Result<(), String> {
    for _ in 0..MAX_RETRIES {
        let current = store.get(key).map_err(|e| format!("get failed: {e}"))?;
        let (next, expected) = match &current {
            None => (1, None),
            Some(v) => {
                (v.value.parse::<u64>().map_err(|_| "the counter is not a number".to_owned())? + 1, Some(v.version))
            }
        };
        match store.put(key, &next.to_string(), expected).map_err(|e| format!("put failed: {e}"))? {
            Some(_) => return Ok(()),
            None => continue,
        }
    }
    Err(format!("an increment lost {MAX_RETRIES} compare-and-sets in a row"))
}

fn concurrent_writers<S: Store + Send>(make_store: &impl Fn() -> S) {
    let stores: Vec<S> = (0..WRITERS).map(|_| make_store()).collect();
    let start = Barrier::new(WRITERS);
    let results: Vec<Result<(Option<u64>, bool), String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = stores
            .into_iter()
            .enumerate()
            .map(|(i, store)| {
                let start = &start;
                scope.spawn(move || -> Result<(Option<u64>, bool), String> {
                    let store = &store;
                    start.wait();
                    // Everyone creates one key at once: exactly one wins.
                    let created = store.put("cc/new", &i.to_string(), None);
                    let counted = (0..INCREMENTS).try_for_each(|_| increment(store, "cc/counter"));
                    // Every creation is done before anyone deletes (every thread gets here,
                    // failed or not, so that none waits forever).
                    start.wait();
                    // Everyone deletes one key at version 1 at once: exactly one wins.
                    let deleted = store.delete("cc/new", 1).map_err(|e| format!("delete failed: {e}"))?;
                    let created = created.map_err(|e| format!("put failed: {e}"))?;
                    counted?;
                    Ok((created, deleted))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("a writer thread panicked".to_owned()))).collect()
    });
    let mut created = 0;
    let mut deleted = 0;
    for result in results {
        match result {
            Ok((c, d)) => {
                created += usize::from(c == Some(1));
                deleted += usize::from(d);
            }
            Err(message) => fail(&format!("concurrent writers: {message}")),
        }
    }
    expect_eq("concurrent creations of one key: the number that won", created, 1);
    expect_eq("concurrent deletes of one key at one version: the number that won", deleted, 1);
    let store = make_store();
    let total = INCREMENTS * WRITERS as u64;
    expect_get(
        &store,
        &format!("{WRITERS} writers incrementing one counter {INCREMENTS} times each (a lost update if lower)"),
        "cc/counter",
        versioned(&total.to_string(), total),
    );
    expect_eq("delete", call("delete", store.delete("cc/counter", total)), true);
}
