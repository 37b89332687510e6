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

/// Every rule id of SPEC.md (read from `../shared/SPEC.md`, beside the checkout) is cited by
/// at least one scenario.
#[test]
fn scenarios_cite_every_rule_of_the_spec() {
    let spec_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/SPEC.md");
    let spec = std::fs::read_to_string(&spec_path)
        .unwrap_or_else(|e| panic!("{} must sit beside the checkout: {e}", spec_path.display()));
    let rules: BTreeSet<String> = spec
        .match_indices("R-")
        .filter_map(|(i, _)| spec.get(i..i + 4))
        .filter(|r| r[2..].chars().all(|c| c.is_ascii_digit()))
        .map(str::to_owned)
        .collect();
    assert!(rules.len() >= 50, "SPEC.md lists {} rules: is it the right file?", rules.len());
    let cited: BTreeSet<String> = load_all()
        .iter()
        .flat_map(|(_, ss)| ss.iter().flat_map(|s| s["rules"].as_array().cloned().unwrap_or_default()))
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect();
    let missing: Vec<&String> = rules.difference(&cited).collect();
    assert!(missing.is_empty(), "rules of SPEC.md no scenario cites: {missing:?}");
    let unknown: Vec<&String> = cited.difference(&rules).collect();
    assert!(unknown.is_empty(), "scenarios cite rules SPEC.md does not have: {unknown:?}");
}
