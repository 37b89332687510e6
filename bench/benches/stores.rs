//! `verify` on keyward-sql's stores: a SQLite file and the real PostgreSQL server
//! (`KEYWARD_TEST_PG_URL`, set by `scripts/with-postgres.sh`), with no staleness window and
//! with a 60 s one, round-robin over 1 k tokens. Besides criterion's times, it records
//! the store queries each call makes (`get_many` counts as one query).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion};
use keyward_bench::*;
use keyward_core::{Keyward, Options, Store};
use keyward_sql::{PostgresStore, SqliteStore};
use serde_json::json;

const WINDOWS: [u64; 2] = [0, 60_000];

fn bench_store<S: Store>(c: &mut Criterion, kind: &str, store: Counting<S>) {
    let tokens = if smoke() { 20 } else { 1_000 };
    let fill_with = Keyward::new(Options::default(), &store, Clock::default()).unwrap();
    let mut filled = fill(&fill_with, tokens, USED_ROLES);
    interleave(&mut filled.tokens);
    let t = &filled.tokens;
    for window in WINDOWS {
        let options = Options { max_staleness_ms: window, ..Options::default() };
        let kw = Keyward::new(options, &store, Clock::default()).unwrap();
        // One pass first: the first use of each token records it, once a minute.
        for p in t {
            assert!(verify(&kw, &p.token, "models:execute", &p.model).allowed);
        }
        let rr = RoundRobin::new(t);
        let param = format!("{kind}-staleness_{window}ms");
        let mut g = c.benchmark_group("stores");
        g.bench_function(BenchmarkId::new("verify_allowed", &param), |b| {
            b.iter(|| {
                let p = rr.next();
                black_box(verify(&kw, &p.token, "models:execute", &p.model))
            })
        });
        g.finish();
        // Queries per call in the steady state: two more passes, counted.
        let before = store.queries();
        let calls = 2 * t.len();
        for _ in 0..calls {
            let p = rr.next();
            black_box(verify(&kw, &p.token, "models:execute", &p.model));
        }
        let per_call = (store.queries() - before) as f64 / calls as f64;
        record(
            &format!("queries-{param}"),
            &json!({ "store": kind, "max_staleness_ms": window, "tokens": tokens, "calls": calls, "queries_per_call": per_call }),
        );
        eprintln!("{param}: {per_call:.3} store queries per verify");
    }
}

fn main() {
    let mut c = criterion();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(dir.path().join("bench.db")).unwrap();
    bench_store(&mut c, "sqlite", Counting::new(sqlite));
    match std::env::var("KEYWARD_TEST_PG_URL") {
        Ok(url) => bench_store(&mut c, "postgres", Counting::new(PostgresStore::connect(&url).unwrap())),
        Err(_) if smoke() => {
            eprintln!("KEYWARD_TEST_PG_URL is unset: PostgreSQL skipped (smoke mode; scripts/with-postgres.sh sets it)")
        }
        Err(_) => panic!("KEYWARD_TEST_PG_URL is unset: run through scripts/with-postgres.sh"),
    }
    c.final_summary();
}
