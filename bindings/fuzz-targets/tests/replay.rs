//! Replays every committed corpus file, and the seeds, through its fuzz target on stable Rust
//! (issue 11): what the fuzzer once found interesting keeps passing. A target's assertions are
//! the properties: a panic here is a regression.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target)
}

/// Runs each corpus file and each seed of `target`; answers how many corpus files ran.
fn replay(target: &str) -> usize {
    let run = keyward_fuzz_targets::TARGETS.iter().find(|(name, _)| *name == target).expect("a known target").1;
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus(target))
        .map(|dir| dir.map(|e| e.expect("dir entry").path()).collect())
        .unwrap_or_default();
    files.sort();
    for file in &files {
        let data = std::fs::read(file).expect("readable corpus file");
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "{target}: {} panics", file.display());
    }
    for seed in keyward_fuzz_targets::seeds(target) {
        run(&seed);
    }
    files.len()
}

#[test]
fn r20_r14_r12_r82_token_corpus_replays() {
    assert!(replay("token") > 0, "the token corpus is committed");
}

#[test]
fn r70_filter_corpus_replays() {
    assert!(replay("filter") > 0, "the filter corpus is committed");
}

#[test]
fn r94_documents_corpus_replays() {
    assert!(replay("documents") > 0, "the documents corpus is committed");
}

#[test]
fn r94_r90_steps_corpus_replays() {
    assert!(replay("steps") > 0, "the steps corpus is committed");
}

/// Writes the seeds to `fuzz/corpus/<target>/seed-<n>`: `KW_WRITE_SEEDS=1 cargo test -p
/// keyward-fuzz-targets -- --ignored write_seeds`, then `cargo fuzz cmin`.
#[test]
#[ignore]
fn write_seeds() {
    assert_eq!(std::env::var("KW_WRITE_SEEDS").as_deref(), Ok("1"), "set KW_WRITE_SEEDS=1 to write");
    for (target, _) in keyward_fuzz_targets::TARGETS {
        let dir = corpus(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (n, seed) in keyward_fuzz_targets::seeds(target).iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{n:03}")), seed).unwrap();
        }
    }
}
