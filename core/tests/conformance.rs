//! Replays every scenario of `tests/conformance/` with the built-in `MemoryStore` and with a
//! second store that answers differently (hash map, odd versions, shuffled batches).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

mod support;

use std::collections::BTreeSet;

use keyward_core::MemoryStore;
use support::scenario::{load_all, run, Order};
use support::OddStore;

fn replay(label: &str, mut each: impl FnMut(&serde_json::Value) -> Result<(), String>) {
    let mut failures = Vec::new();
    let mut count = 0;
    for (file, scenarios) in load_all() {
        for s in &scenarios {
            count += 1;
            if let Err(e) = each(s) {
                failures.push(format!("{file}: {e}"));
            }
        }
    }
    assert!(count > 0, "no scenarios found");
    assert!(failures.is_empty(), "{label}: {} of {count} scenarios failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_scenario_passes_on_the_memory_store() {
    replay("memory store", |s| run(s, MemoryStore::new(), Order::InOrder));
}

#[test]
fn every_scenario_passes_on_a_store_that_answers_differently() {
    replay("odd store, shuffled batches", |s| run(s, OddStore::default(), Order::Shuffled));
}

#[test]
fn every_scenario_names_its_rules_and_the_files_are_enough() {
    let all = load_all();
    assert!(all.len() >= 30, "at least 30 scenario files, found {}", all.len());
    for (file, scenarios) in &all {
        for s in scenarios {
            let rules = s["rules"].as_array().unwrap_or_else(|| panic!("{file}: scenario without rules"));
            assert!(!rules.is_empty(), "{file}: {} lists no rule", s["name"]);
            for r in rules {
                let r = r.as_str().unwrap_or_default();
                assert!(r.len() == 4 && r.starts_with("R-"), "{file}: bad rule id {r}");
            }
        }
    }
}

/// The rules of SPEC.md sections covered by the scenarios so far (§1–§6, §10–§12).
#[test]
fn scenarios_cite_every_rule_of_the_core_sections() {
    let cited: BTreeSet<String> = load_all()
        .iter()
        .flat_map(|(_, ss)| ss.iter().flat_map(|s| s["rules"].as_array().cloned().unwrap_or_default()))
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect();
    let required = [
        "R-01", "R-02", "R-03", "R-04", "R-05", "R-06", "R-10", "R-11", "R-12", "R-13", "R-14", "R-15", "R-20", "R-21",
        "R-22", "R-23", "R-24", "R-25", "R-26", "R-27", "R-30", "R-31", "R-32", "R-33", "R-34", "R-40", "R-41", "R-42",
        "R-43", "R-44", "R-45", "R-46", "R-47", "R-48", "R-53", "R-80", "R-81", "R-82", "R-90", "R-91", "R-92", "R-93",
        "R-94",
    ];
    let missing: Vec<&str> = required.iter().copied().filter(|r| !cited.contains(*r)).collect();
    assert!(missing.is_empty(), "rules no scenario cites: {missing:?}");
}
