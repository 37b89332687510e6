//! The store conformance suite and the engine on the core's built-in `MemoryStore`: the suite
//! holds the reference store to the same contract as the SQL ones.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

use keyward_core::MemoryStore;

#[test]
fn memory_store_passes_check_store() {
    let store = MemoryStore::new();
    keyward_sql::testing::check_store(|| &store);
}

#[test]
fn memory_store_runs_the_engine_end_to_end() {
    support::engine_end_to_end(MemoryStore::new());
}

#[test]
#[should_panic(expected = "store conformance: the store must be empty")]
fn check_store_refuses_a_store_that_is_not_empty() {
    use keyward_core::Store;
    let store = MemoryStore::new();
    store.put("x", "{}", None).unwrap();
    keyward_sql::testing::check_store(|| &store);
}
