//! `verify` (allowed, denied, bad checksum) and `authorize` on the built-in memory store with
//! 1 k, 100 k and 1 M tokens and 10 and 1,000 roles and groups, each call presenting the next
//! token of a round-robin over all of them; beside the floor (SHA-256 + one hash-map probe +
//! one set check) and the peers: jsonwebtoken HS256, cedar-policy, casbin (RBAC with domains).
//! `make bench` runs it (medians into BENCHMARKS.md); `make bench-smoke` runs one tiny
//! iteration of each.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion};
use keyward_bench::*;
use keyward_core::{Keyward, MemoryStore, Options};
use serde_json::json;

fn keyward(c: &mut Criterion) {
    let roles = role_sizes();
    for tokens in token_sizes() {
        let started = Instant::now();
        let kw = Keyward::new(Options::default(), MemoryStore::new(), Clock::default()).unwrap();
        let mut filled = fill(&kw, tokens, roles[0]);
        let setup_s = started.elapsed().as_secs_f64();
        interleave(&mut filled.tokens);
        let t = &filled.tokens;
        // Memory per stored token: bytes of keys and values, by kind of document.
        let by_prefix = bytes_by_prefix(kw.store());
        record(
            &format!("memory-{}", label(tokens)),
            &json!({
                "tokens": tokens,
                "accounts": filled.principals.len(),
                "setup_seconds": setup_s,
                "by_prefix": by_prefix.iter().map(|(p, n, b)| json!({"prefix": p, "keys": n, "bytes": b})).collect::<Vec<_>>(),
            }),
        );
        eprintln!("{} tokens: filled through the engine in {setup_s:.1} s", label(tokens));

        let first = &t[0];
        assert!(verify(&kw, &first.token, "models:execute", &first.model).allowed);
        assert!(!verify(&kw, &first.token, "models:write", &first.model).allowed);
        let bad: Vec<Presented> =
            t.iter().take(10_000).map(|p| Presented { token: bad_checksum(&p.token), ..p.clone() }).collect();
        assert_eq!(verify(&kw, &bad[0].token, "models:execute", &bad[0].model).reason, "invalid_credentials");

        let mut current = roles[0];
        for &r in &roles {
            if r > current {
                add_roles(&kw, current, r);
                current = r;
            }
            let param = format!("{}_tokens-{}_roles", label(tokens), label(r));
            let mut g = c.benchmark_group("keyward");
            let rr = RoundRobin::new(t);
            g.bench_function(BenchmarkId::new("verify_allowed", &param), |b| {
                b.iter(|| {
                    let p = rr.next();
                    let d = verify(&kw, &p.token, "models:execute", &p.model);
                    debug_assert!(d.allowed);
                    black_box(d)
                })
            });
            g.bench_function(BenchmarkId::new("verify_denied", &param), |b| {
                b.iter(|| {
                    let p = rr.next();
                    black_box(verify(&kw, &p.token, "models:write", &p.model))
                })
            });
            let rb = RoundRobin::new(&bad);
            g.bench_function(BenchmarkId::new("verify_bad_checksum", &param), |b| {
                b.iter(|| {
                    let p = rb.next();
                    black_box(verify(&kw, &p.token, "models:execute", &p.model))
                })
            });
            g.bench_function(BenchmarkId::new("authorize", &param), |b| {
                b.iter(|| {
                    let p = rr.next();
                    black_box(authorize(&kw, &p.principal, &p.model))
                })
            });
            g.finish();
        }

        let floor = Floor::new(t);
        let questions: Vec<(String, String)> =
            t.iter().map(|p| (p.token.clone(), format!("models:execute {}", p.model))).collect();
        assert!(floor.check(&questions[0].0, &questions[0].1));
        let rq = RoundRobin::new(&questions);
        let mut g = c.benchmark_group("floor");
        g.bench_function(BenchmarkId::new("sha256_map_set", format!("{}_tokens", label(tokens))), |b| {
            b.iter(|| {
                let (token, question) = rq.next();
                black_box(floor.check(token, question))
            })
        });
        g.finish();
    }
}

fn peers(c: &mut Criterion) {
    let principals = if smoke() { 20 } else { PEER_PRINCIPALS };

    // jsonwebtoken: HS256 signature and expiry checked, claims decoded; nothing decided.
    let tokens = jwt::tokens(principals);
    let key = jsonwebtoken::DecodingKey::from_secret(jwt::KEY);
    let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    assert!(jsonwebtoken::decode::<jwt::Claims>(&tokens[0], &key, &validation).is_ok());
    let rr = RoundRobin::new(&tokens);
    let mut g = c.benchmark_group("peers");
    g.bench_function(BenchmarkId::new("jsonwebtoken_hs256", format!("{}_tokens", label(principals))), |b| {
        b.iter(|| black_box(jsonwebtoken::decode::<jwt::Claims>(rr.next(), &key, &validation).unwrap()))
    });

    for r in role_sizes() {
        let param = format!("{}_roles", label(r));
        let cedar = cedar::build(r, principals);
        let allowed = |q| cedar.authorizer.is_authorized(q, &cedar.policies, &cedar.entities).decision();
        assert_eq!(allowed(&cedar.allowed[0]), cedar_policy::Decision::Allow);
        assert_eq!(allowed(&cedar.denied[0]), cedar_policy::Decision::Deny);
        let ra = RoundRobin::new(&cedar.allowed);
        g.bench_function(BenchmarkId::new("cedar_allowed", &param), |b| {
            b.iter(|| black_box(cedar.authorizer.is_authorized(ra.next(), &cedar.policies, &cedar.entities)))
        });
        let rd = RoundRobin::new(&cedar.denied);
        g.bench_function(BenchmarkId::new("cedar_denied", &param), |b| {
            b.iter(|| black_box(cedar.authorizer.is_authorized(rd.next(), &cedar.policies, &cedar.entities)))
        });

        use casbin::CoreApi;
        let e = casbin_peer::build(r, principals);
        let questions: Vec<(String, String)> =
            (0..principals).map(|a| (format!("bot-{a}"), model(a % USED_ROLES))).collect();
        let ask =
            |(sub, obj): &(String, String), act: &str| e.enforce((sub.as_str(), TENANT, obj.as_str(), act)).unwrap();
        assert!(ask(&questions[0], "models:execute"));
        assert!(!ask(&questions[0], "models:write"));
        let rq = RoundRobin::new(&questions);
        g.bench_function(BenchmarkId::new("casbin_allowed", &param), |b| {
            b.iter(|| black_box(ask(rq.next(), "models:execute")))
        });
        g.bench_function(BenchmarkId::new("casbin_denied", &param), |b| {
            b.iter(|| black_box(ask(rq.next(), "models:write")))
        });
    }
    g.finish();
}

fn main() {
    let mut c = criterion();
    keyward(&mut c);
    peers(&mut c);
    c.final_summary();
}
