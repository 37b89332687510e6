//! Benchmarks of the hot path: `verify` (allowed, denied, bad checksum) and `authorize`, on
//! stores holding 1 k and 100 k tokens. `make bench`; medians are recorded in BENCHMARKS.md.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::cell::Cell;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use keyward_core::*;

struct FixedClock(Cell<u64>);

impl Environment for FixedClock {
    fn now(&self) -> i64 {
        1_700_000_000_000
    }
    fn seed(&self) -> [u8; 32] {
        let n = self.0.get() + 1;
        self.0.set(n);
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&n.to_le_bytes());
        seed
    }
}

const ROOT: &str = "root@acme.test";

/// A tenant with `tokens` tokens spread over service accounts of 50 tokens each; returns the
/// engine, one token and its principal.
fn setup(tokens: usize) -> (Keyward<MemoryStore, FixedClock>, String, String) {
    let kw = Keyward::new(Options::default(), MemoryStore::new(), FixedClock(Cell::new(0))).unwrap();
    kw.run(CreateTenant { tenant: "acme".into(), admin: ROOT.into(), name: None, settings: None }).unwrap();
    let per_account = 50;
    let mut last = (String::new(), String::new());
    for a in 0..tokens.div_ceil(per_account) {
        let sa = kw
            .run(CreateServiceAccount {
                actor: ROOT.into(),
                tenant: "acme".into(),
                name: format!("bot-{a}"),
                description: None,
                role: Some("inference-user".into()),
                grants: vec![],
                password: None,
            })
            .unwrap();
        for _ in 0..per_account.min(tokens - a * per_account) {
            let t = kw
                .run(CreateToken {
                    actor: ROOT.into(),
                    principal: sa.principal.clone(),
                    name: None,
                    ttl_days: None,
                    expires_at: None,
                    never_expires: false,
                    scopes: None,
                })
                .unwrap();
            last = (t.token, sa.principal.clone());
        }
    }
    (kw, last.0, last.1)
}

fn verify(kw: &Keyward<MemoryStore, FixedClock>, token: &str, permission: &str) -> Decision {
    kw.run(Verify {
        token: token.into(),
        tenant: "acme".into(),
        permission: permission.to_owned(),
        resource: "*".into(),
        channel: Channel::Api,
    })
    .unwrap()
}

fn bench(c: &mut Criterion) {
    for (label, n) in [("1k", 1_000), ("100k", 100_000)] {
        let (kw, token, principal) = setup(n);
        assert!(verify(&kw, &token, "models:execute").allowed);
        assert!(!verify(&kw, &token, "models:write").allowed);
        let mut bad = token.clone();
        bad.pop();
        bad.push(if token.ends_with('0') { '1' } else { '0' });

        let mut group = c.benchmark_group("verify");
        group.bench_function(BenchmarkId::new("allowed", label), |b| {
            b.iter(|| black_box(verify(&kw, &token, "models:execute")))
        });
        group.bench_function(BenchmarkId::new("denied", label), |b| {
            b.iter(|| black_box(verify(&kw, &token, "models:write")))
        });
        group.bench_function(BenchmarkId::new("bad_checksum", label), |b| {
            b.iter(|| black_box(verify(&kw, &bad, "models:execute")))
        });
        group.finish();

        let mut group = c.benchmark_group("authorize");
        group.bench_function(BenchmarkId::new("allowed", label), |b| {
            b.iter(|| {
                black_box(
                    kw.run(Authorize {
                        identity_or_principal: Subject::Principal(principal.clone()),
                        tenant: "acme".into(),
                        permission: "models:execute".into(),
                        resource: "*".into(),
                    })
                    .unwrap(),
                )
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
