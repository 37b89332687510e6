//! The secret scan: every scenario of `tests/conformance/` is replayed and everything it
//! shows — each event handed to the audit callback (as JSON and as Debug), each error (message,
//! data and Debug), each answer (a new token's own `token` field aside: the one place a secret
//! is shown) and its Debug text — is searched for every token and token secret issued and every
//! password given, and for their stored hashes; every stored document is searched for the
//! secrets. Zero hits. The counts are printed
//! (`cargo test -p keyward-core --test secret_scan -- --nocapture`) for RELIABILITY.md.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

mod support;

use keyward_core::tokens::format::hash_secret;
use keyward_core::{MemoryStore, Store};
use support::scenario::{load_all, Order, Runner, Transcript};

#[test]
fn r82_no_secret_password_or_hash_appears_in_any_event_error_answer_debug_print_or_stored_document() {
    let (mut scenarios, mut secrets, mut texts, mut documents) = (0, 0, 0, 0);
    // Positive control: the hashes searched for are the ones the engine stores.
    let mut stored_hashes = 0;
    let mut hits = Vec::new();
    for (file, list) in load_all() {
        for scenario in &list {
            scenarios += 1;
            let mut runner = Runner::new(scenario, MemoryStore::new(), Order::InOrder).unwrap();
            runner.transcript = Some(Transcript::default());
            for (i, step) in scenario["steps"].as_array().unwrap().iter().enumerate() {
                runner.step(step, &format!("{file}, step {}", i + 1)).unwrap();
            }
            let t = runner.transcript.take().unwrap();
            let pepper = runner.options().pepper.clone();
            let hashes: Vec<String> = t.secrets.iter().map(|s| hash_secret(s, pepper.as_deref())).collect();
            let stored: Vec<String> = runner
                .store
                .inner
                .list("", None, usize::MAX)
                .unwrap()
                .into_iter()
                .map(|e| format!("{} {}", e.key, e.value))
                .collect();
            secrets += t.secrets.len();
            texts += t.shown.len();
            documents += stored.len();
            for text in &t.shown {
                for needle in t.secrets.iter().chain(&hashes) {
                    if text.contains(needle.as_str()) {
                        hits.push(format!(
                            "{file}: {} shown in {}",
                            needle.get(..3).unwrap_or_default(),
                            &text[..text.len().min(200)]
                        ));
                    }
                }
            }
            for doc in &stored {
                stored_hashes += hashes.iter().filter(|h| doc.contains(h.as_str())).count();
                for needle in &t.secrets {
                    if doc.contains(needle.as_str()) {
                        hits.push(format!(
                            "{file}: {} stored in {}",
                            needle.get(..6).unwrap_or_default(),
                            &doc[..doc.len().min(200)]
                        ));
                    }
                }
            }
        }
    }
    println!(
        "secret scan: {scenarios} scenarios, {secrets} secrets and passwords (and their hashes) searched for in \
         {texts} events, errors, answers and Debug prints and {documents} stored documents: {} hits \
         ({stored_hashes} stored hashes recognised, the positive control)",
        hits.len()
    );
    assert!(secrets > 100 && texts > 1000, "the scan saw too little: {secrets} secrets, {texts} texts");
    assert!(stored_hashes > 100, "only {stored_hashes} stored hashes recognised: the scan would miss a leaked hash");
    assert!(hits.is_empty(), "{} hits:\n{}", hits.len(), hits.join("\n"));
}
