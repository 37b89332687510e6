//! Every crash point of every mutating step of every conformance scenario.
//!
//! For each scenario of `tests/conformance/` and each of its steps that writes, the step is
//! first run cleanly to learn its writes (n) and the state it leaves. Then, for every k in
//! 1..=n and each of three faults at the k-th write:
//!
//! - **crash**: the k-th write and everything after it never happen (the process died); the
//!   scenario goes on in a restarted process (fresh engines, caches gone);
//! - **refused**: the k-th write fails without being performed, later calls succeed,
//!
//! the scenario is replayed up to that step, the step is interrupted there, and then:
//!
//! 1. no credential is usable that should not be: every data-plane probe of the scenario
//!    (its `verify`, `authorize`, `authenticate*` steps) that is allowed after the
//!    interruption was allowed before the step, or is allowed after the clean step and the
//!    step's audit events are already stored (a grant takes effect only after its event); a
//!    credential the interrupted step issued is never usable (crash and refusal: the call did
//!    not return it);
//! 2. nothing acknowledged is lost: a probe the step leaves allowed is still allowed;
//! 3. running the step again completes it: it answers what the scenario expects, every audit
//!    event of the clean step is then stored, the interrupted step's credential is still not
//!    usable, and every later step of the scenario passes with all its expectations.
//!
//! A step is interrupted on a snapshot of the store taken just before it, by a runner in a new
//! process (fresh engines); scenarios with a staleness window, whose engines remember what they
//! saw, are replayed from their first step instead.
//!
//! The count of crash points is printed (`cargo test -p keyward-core --test crash_points --
//! --nocapture`) and recorded in RELIABILITY.md.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, missing_docs)]

mod support;

use std::collections::BTreeMap;

use keyward_core::{Engine, Entry, Env, MemoryStore, Options, Step, Store, StoreFailure, Versioned};
use serde_json::{json, Map, Value};
use support::scenario::{load_all, substitute, Order, Runner};
use support::FaultyStore;

/// How the k-th write goes wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    Crash,
    Refused,
}

const FAULTS: [Fault; 2] = [Fault::Crash, Fault::Refused];

/// The data-plane operations whose steps serve as probes: "is this credential usable, is this
/// right held".
const PROBES: [&str; 4] = ["verify", "authorize", "authenticate", "authenticate_password"];

fn steps(scenario: &Value) -> &[Value] {
    scenario["steps"].as_array().map(Vec::as_slice).unwrap_or_default()
}

fn name(scenario: &Value) -> &str {
    scenario["name"].as_str().unwrap_or("?")
}

/// A runner that has played the scenario's first `upto` steps.
fn replay(scenario: &Value, upto: usize) -> Runner<MemoryStore> {
    let mut runner = Runner::new(scenario, MemoryStore::new(), Order::InOrder).unwrap();
    for (i, step) in steps(scenario)[..upto].iter().enumerate() {
        runner.step(step, &format!("{}, step {}", name(scenario), i + 1)).unwrap();
    }
    runner
}

/// A store's documents seen through a probe: reads pass, writes (a `last_used` stamp) fail —
/// which never changes a decision and leaves the state looked at as it was.
struct ReadOnly<'a>(&'a MemoryStore);

impl Store for ReadOnly<'_> {
    fn get(&self, key: &str) -> Result<Option<Versioned>, StoreFailure> {
        self.0.get(key)
    }
    fn put(&self, _: &str, _: &str, _: Option<u64>) -> Result<Option<u64>, StoreFailure> {
        Err(StoreFailure("read only".into()))
    }
    fn delete(&self, _: &str, _: u64) -> Result<bool, StoreFailure> {
        Err(StoreFailure("read only".into()))
    }
    fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<Entry>, StoreFailure> {
        self.0.list(prefix, after, limit)
    }
}

type EventKey = (String, String, String, String);

/// The stored audit events of `store`, as (tenant, action, target, outcome) with a count each.
fn stored_events(store: &MemoryStore) -> BTreeMap<EventKey, usize> {
    let mut events = BTreeMap::new();
    for (_, event) in event_docs(store) {
        *events.entry(event).or_insert(0) += 1;
    }
    events
}

/// The events in `after` that are not in `before`.
fn new_events(before: &BTreeMap<EventKey, usize>, after: &BTreeMap<EventKey, usize>) -> BTreeMap<EventKey, usize> {
    after
        .iter()
        .filter_map(|(k, n)| {
            let d = n.saturating_sub(before.get(k).copied().unwrap_or(0));
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}

/// Whether every event of `wanted` is among `have`.
fn holds_events(have: &BTreeMap<EventKey, usize>, wanted: &BTreeMap<EventKey, usize>) -> bool {
    wanted.iter().all(|(k, n)| have.get(k).copied().unwrap_or(0) >= *n)
}

fn unresolved(v: &Value) -> bool {
    match v {
        Value::String(s) => s.starts_with('$') || s.contains("${"),
        Value::Array(a) => a.iter().any(unresolved),
        Value::Object(o) => o.values().any(unresolved),
        _ => false,
    }
}

/// The probes of a scenario: its data-plane steps.
fn probes(scenario: &Value) -> Vec<&Value> {
    steps(scenario).iter().filter(|s| PROBES.contains(&s["op"].as_str().unwrap_or_default())).collect()
}

/// For each probe, whether it succeeds (its credential is usable and, for a decision, the
/// request allowed) on `store` at `now`, asked by a fresh engine without a staleness window;
/// `None` where it names a value not saved yet.
fn usable(
    options: &Options,
    store: &MemoryStore,
    probes: &[&Value],
    vars: &Map<String, Value>,
    now: i64,
) -> Vec<Option<bool>> {
    let engine = Engine::new(Options { max_staleness_ms: 0, ..options.clone() }).unwrap();
    let view = ReadOnly(store);
    probes
        .iter()
        .map(|probe| {
            let args = substitute(probe.get("args").unwrap_or(&json!({})), vars);
            if unresolved(&args) {
                return None;
            }
            let call = keyward_core::Call::from_json(json!({"op": probe["op"], "args": args})).ok()?;
            let mut running = engine.start(call, Env { now, seed: [9; 32] });
            let answer = loop {
                match running.step() {
                    Step::Need(requests) => running.provide(requests.iter().map(|r| r.run_on(&view)).collect()),
                    Step::Done(answer) => break answer,
                }
            };
            Some(match answer {
                Ok(a) => serde_json::to_value(a).unwrap().get("allowed").and_then(Value::as_bool).unwrap_or(true),
                Err(_) => false,
            })
        })
        .collect()
}

/// The names under which a step saves a token it issues (`create_token`, `rotate_token`).
fn tokens_saved_by(step: &Value) -> Vec<String> {
    step.get("save")
        .and_then(Value::as_object)
        .map(|o| o.iter().filter(|(_, path)| *path == "token").map(|(name, _)| name.clone()).collect())
        .unwrap_or_default()
}

/// Whether a probe presents a token that `fresh` names.
fn presents(probe: &Value, fresh: &[String]) -> bool {
    probe["args"].get("token").is_some_and(|t| mentions_any(t, fresh))
}

fn mentions_any(v: &Value, names: &[String]) -> bool {
    match v {
        Value::String(s) => names.iter().any(|n| s == &format!("${n}") || s.contains(&format!("${{{n}}}"))),
        Value::Array(a) => a.iter().any(|x| mentions_any(x, names)),
        Value::Object(o) => o.values().any(|x| mentions_any(x, names)),
        _ => false,
    }
}

/// The faults a scenario injected into its store (`fail_store`, `lose_races`) that were
/// still pending at some point.
#[derive(Clone)]
struct Injected {
    fail_calls: u32,
    fail_message: String,
    lose_puts: u32,
}

impl Injected {
    fn of(store: &FaultyStore<MemoryStore>) -> Injected {
        Injected {
            fail_calls: store.fail_calls.get(),
            fail_message: store.fail_message.borrow().clone(),
            lose_puts: store.lose_puts.get(),
        }
    }

    fn arm(&self, store: &FaultyStore<MemoryStore>) {
        store.fail_calls.set(self.fail_calls);
        store.fail_message.borrow_mut().clone_from(&self.fail_message);
        store.lose_puts.set(self.lose_puts);
    }
}

/// What the clean run of one step left, and what its probes said before and after it.
struct Clean {
    writes: u32,
    /// The scenario's own injected faults pending before the step, and after it.
    injected: (Injected, Injected),
    /// The runner just before the step, over a snapshot of the store then.
    start: Runner<MemoryStore>,
    before: MemoryStore,
    /// Probes before the step (`false` for a credential the step issues).
    probes_before: Vec<bool>,
    /// Probes after the step; `None` where unresolved.
    probes_after: Vec<Option<bool>>,
    /// Probes naming a value the step saves (a credential it issues).
    issued_here: Vec<bool>,
    events: BTreeMap<EventKey, usize>,
    /// The store after the clean step.
    after: MemoryStore,
    /// The clean step's error code, if it failed.
    outcome: Option<String>,
    vars: Map<String, Value>,
    now: i64,
}

/// Tally of what was exercised.
#[derive(Default)]
struct Tally {
    scenarios: usize,
    mutating_steps: usize,
    points: BTreeMap<&'static str, usize>,
    probe_checks: usize,
    /// Steps run under injected faults of their own (after `fail_store`, `lose_races`),
    /// interrupted like every other.
    faulted_steps: usize,
    /// Crash points whose walk ended at a claim the interrupted call still held.
    lease_stops: usize,
    /// Crash points whose call absorbed the fault and answered.
    acknowledged: usize,
    /// Of those, data-plane calls whose last-use stamp was the write lost.
    lost_stamps: usize,
    /// Events a rerun wrote again (the interrupted run's copies taken out).
    repeated_events: usize,
}

fn fault_name(f: Fault) -> &'static str {
    match f {
        Fault::Crash => "crash",
        Fault::Refused => "refused",
    }
}

/// Checks one crash point; `Err` says what broke.
fn crash_point(
    scenario: &Value,
    at: usize,
    clean: &Clean,
    fault: Fault,
    k: u32,
    tally: &mut Tally,
) -> Result<(), String> {
    let all = steps(scenario);
    let step = &all[at];
    let probes = probes(scenario);
    let mut runner = if clean.start.options().max_staleness_ms == 0 {
        clean.start.fork(clean.before.clone())
    } else {
        replay(scenario, at)
    };
    clean.injected.0.arm(&runner.store);
    let countdown = Some(k - 1);
    match fault {
        Fault::Crash => runner.store.crash_after_writes.set(countdown),
        Fault::Refused => runner.store.refuse_after_writes.set(countdown),
    }
    // The call may absorb the fault (a clean-up whose failure changes nothing) and answer:
    // then it is acknowledged, and what it gave is the caller's.
    let mut acknowledged = false;
    if let Some(Ok(call)) = runner.call_of(step) {
        if let (Ok(answer), _) = runner.drive(call, step["via"] == "peer") {
            runner.save(step, &answer);
            acknowledged = true;
        }
    }
    runner.store.heal();
    // A crash ends the process: its caches go with it. (With a staleness window the scenario's
    // later steps rely on what the engine remembers: there the store crashed, not the engine.)
    if fault == Fault::Crash && runner.options().max_staleness_ms == 0 {
        runner.restart();
    }

    // 1 and 2: what is usable right after the interruption.
    let options = runner.options().clone();
    let events_before = stored_events(&clean.before);
    let events_now = stored_events(&runner.store.inner);
    let now = usable(&options, &runner.store.inner, &probes, &clean.vars, clean.now);
    for (i, probe) in probes.iter().enumerate() {
        let (Some(after), Some(now)) = (clean.probes_after[i], now[i]) else { continue };
        tally.probe_checks += 1;
        let (before, issued_here) = (clean.probes_before[i], clean.issued_here[i]);
        let what = format!("probe {}", probe["args"]);
        if now && issued_here && !acknowledged {
            return Err(format!("{what}: a credential whose creating call did not return is usable"));
        }
        if now && !before && !issued_here {
            if !after {
                return Err(format!(
                    "{what}: allowed after the interruption, allowed neither before nor after the step"
                ));
            }
            if !holds_events(&new_events(&events_before, &events_now), &clean.events) {
                return Err(format!("{what}: allowed after the interruption, but the step's event is not stored"));
            }
        }
        if before && after && !now {
            return Err(format!("{what}: allowed before and after the step, lost by the interruption"));
        }
    }

    // 3: the rerun completes the step, and the scenario goes on as written.
    if acknowledged {
        tally.acknowledged += 1;
        clean.injected.1.arm(&runner.store);
        if PROBES.contains(&step["op"].as_str().unwrap_or_default()) {
            // A data-plane call whose last-use stamp was lost: by design, the decision
            // stands and the stamp is gone, so later steps that read it cannot hold.
            tally.lost_stamps += 1;
            return Ok(());
        }
        let lease = lease_left(&runner.store.inner, &clean.after);
        return later_steps(scenario, at, runner, lease, tally);
    }
    let complete = same_documents(&runner.store.inner, &clean.after);
    let lease = lease_left(&runner.store.inner, &clean.after);
    let interrupted_events = event_docs(&runner.store.inner);
    clean.injected.0.arm(&runner.store);
    let mut rerun = runner.run_again(step).err();
    if matches!(rerun.as_deref(), Some("quota_exceeded" | "failed_precondition")) && rerun != clean.outcome && lease {
        // The interrupted call's claim on the last unit, or on the rotation of a token
        // holds until it is stale: a rerun after that completes the step. Later steps'
        // times would move, so the walk ends here.
        runner.now += keyward_core::tenancy::quota::STALE_MS + 1;
        clean.injected.0.arm(&runner.store);
        rerun = runner.run_again(step).err();
        if rerun != clean.outcome {
            return Err(format!("rerun once the claim is stale: {rerun:?}, the clean run: {:?}", clean.outcome));
        }
        tally.lease_stops += 1;
        return Ok(());
    }
    let duplicate =
        complete && matches!(rerun.as_deref(), Some("already_exists" | "not_found" | "failed_precondition"));
    if rerun != clean.outcome && !duplicate {
        return Err(format!("rerun answered {rerun:?}, the clean run {:?}", clean.outcome));
    }
    let events_rerun = new_events(&events_before, &stored_events(&runner.store.inner));
    if !holds_events(&events_rerun, &clean.events) {
        return Err(format!(
            "after the rerun the step's events are not all stored: wanted {:?}, have {events_rerun:?}",
            clean.events
        ));
    }
    // Later steps meet what is left of the scenario's faults, as in the clean run.
    clean.injected.1.arm(&runner.store);
    tally.repeated_events += drop_repeats(&runner.store.inner, &events_before_keys(&clean.before), &interrupted_events);
    let rerun = usable(&options, &runner.store.inner, &probes, &clean.vars, runner.now);
    if let Some(i) = (0..probes.len()).find(|&i| clean.issued_here[i] && rerun[i] == Some(true)) {
        return Err(format!(
            "probe {}: the interrupted call's credential is usable after the rerun",
            probes[i]["args"]
        ));
    }
    later_steps(scenario, at, runner, lease, tally)
}

/// Plays the steps after `at` with all their expectations. With `lease`, a `quota_exceeded`
/// where the scenario expects success ends the walk: a unit the interrupted call claimed is
/// still held, see above.
fn later_steps(
    scenario: &Value,
    at: usize,
    mut runner: Runner<MemoryStore>,
    lease: bool,
    tally: &mut Tally,
) -> Result<(), String> {
    for (j, later) in steps(scenario).iter().enumerate().skip(at + 1) {
        if let Err(e) = runner.step(later, &format!("{}, step {} (after the rerun)", name(scenario), j + 1)) {
            if lease && e.contains("unexpected error quota_exceeded") {
                tally.lease_stops += 1;
                return Ok(());
            }
            return Err(e);
        }
    }
    Ok(())
}

/// Every stored event: its key and (tenant, action, target, outcome), a token's id left out.
fn event_docs(store: &MemoryStore) -> Vec<(String, EventKey)> {
    store
        .list("e/", None, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|e| {
            let doc: Value = serde_json::from_str(&e.value).unwrap();
            let ev = doc.get("event").filter(|v| v.is_object()).unwrap_or(&doc);
            let text = |k: &str| ev[k].as_str().unwrap_or_default().to_owned();
            let target = text("target");
            let target = if target.starts_with("token:") { "token:".to_owned() } else { target };
            (e.key, (text("tenant"), text("action"), target, text("outcome")))
        })
        .collect()
}

fn events_before_keys(store: &MemoryStore) -> std::collections::BTreeSet<String> {
    event_docs(store).into_iter().map(|(k, _)| k).collect()
}

/// A rerun may repeat an event the interrupted run already stored (R-92 asks that none be
/// missing): the interrupted run's copy of each event the rerun wrote again is taken out, so
/// the scenario's later listings of the log hold. Returns how many.
fn drop_repeats(
    store: &MemoryStore,
    before: &std::collections::BTreeSet<String>,
    interrupted: &[(String, EventKey)],
) -> usize {
    let mut theirs: Vec<&(String, EventKey)> = interrupted.iter().filter(|(k, _)| !before.contains(k)).collect();
    let known: std::collections::BTreeSet<&String> = interrupted.iter().map(|(k, _)| k).collect();
    let mut dropped = 0;
    for (key, event) in event_docs(store) {
        if known.contains(&key) {
            continue;
        }
        if let Some(i) = theirs.iter().position(|(_, e)| *e == event) {
            let (old, _) = theirs.remove(i);
            let version = store.get(old).unwrap().expect("the interrupted run's event").version;
            assert!(store.delete(old, version).unwrap());
            dropped += 1;
        }
    }
    dropped
}

/// Whether two stores hold the same documents, claims on quota units (`q/`) aside.
fn same_documents(a: &MemoryStore, b: &MemoryStore) -> bool {
    let docs = |s: &MemoryStore| -> Vec<(String, String)> {
        s.list("", None, usize::MAX)
            .unwrap()
            .into_iter()
            .filter(|e| !e.key.starts_with("q/"))
            .map(|e| (e.key, e.value))
            .collect()
    };
    docs(a) == docs(b)
}

/// Whether the interrupted call left a claim on a quota unit or a pending token that the clean
/// run did not: a lease that holds until it is stale.
fn lease_left(interrupted: &MemoryStore, clean: &MemoryStore) -> bool {
    interrupted.list("", None, usize::MAX).unwrap().into_iter().any(|e| {
        (e.key.starts_with("q/") || e.key.starts_with("k/"))
            && clean.get(&e.key).unwrap().is_none_or(|c| c.value != e.value)
    })
}

/// Every crash point of the scenario files whose names `pick` accepts; panics listing the
/// broken ones, and prints the count.
fn every_crash_point(group: &str, pick: impl Fn(&str) -> bool) {
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    for (file, scenarios) in load_all().into_iter().filter(|(f, _)| pick(f)) {
        for scenario in &scenarios {
            tally.scenarios += 1;
            let probes = probes(scenario);
            // One clean walk through the scenario learns each step's writes and states.
            let mut walk = Runner::new(scenario, MemoryStore::new(), Order::InOrder).unwrap();
            for (at, step) in steps(scenario).iter().enumerate() {
                let is_call = matches!(walk.call_of(step), Some(Ok(_)));
                let injected_before = Injected::of(&walk.store);
                let faulted = injected_before.fail_calls > 0 || injected_before.lose_puts > 0;
                let before = walk.store.inner.clone();
                let start = walk.fork(MemoryStore::new());
                let writes_before = walk.store.writes.get();
                walk.step(step, &format!("{}, step {}", name(scenario), at + 1)).unwrap();
                let writes = walk.store.writes.get() - writes_before;
                if !is_call || writes == 0 {
                    continue;
                }
                if faulted {
                    // Interrupted under the scenario's own fault too: each run of the step (the
                    // interrupted one, the rerun) meets that fault as the clean run did.
                    tally.faulted_steps += 1;
                }
                let options = walk.options().clone();
                let fresh = tokens_saved_by(step);
                let issued_here: Vec<bool> = probes.iter().map(|p| presents(p, &fresh)).collect();
                let probes_before = usable(&options, &before, &probes, &start.vars, walk.now);
                let clean = Clean {
                    writes,
                    injected: (injected_before, Injected::of(&walk.store)),
                    probes_before: probes_before
                        .iter()
                        .zip(&issued_here)
                        .map(|(b, i)| !i && *b == Some(true))
                        .collect(),
                    probes_after: usable(&options, &walk.store.inner, &probes, &walk.vars, walk.now),
                    issued_here,
                    events: new_events(&stored_events(&before), &stored_events(&walk.store.inner)),
                    after: walk.store.inner.clone(),
                    outcome: match step.get("expect_error") {
                        Some(Value::String(code)) => Some(code.clone()),
                        Some(e) => e["code"].as_str().map(str::to_owned),
                        None => None,
                    },
                    start,
                    before,
                    vars: walk.vars.clone(),
                    now: walk.now,
                };
                tally.mutating_steps += 1;
                for fault in FAULTS {
                    for k in 1..=clean.writes {
                        *tally.points.entry(fault_name(fault)).or_insert(0) += 1;
                        if let Err(e) = crash_point(scenario, at, &clean, fault, k, &mut tally) {
                            failures.push(format!(
                                "{file}: {}, step {} ({}), {} at write {k} of {}: {e}",
                                name(scenario),
                                at + 1,
                                step["op"],
                                fault_name(fault),
                                clean.writes
                            ));
                        }
                    }
                }
            }
        }
    }
    let total: usize = tally.points.values().sum();
    println!(
        "crash points ({group}): {total} ({}) over {} mutating steps of {} scenarios; {} probe checks; \
         {} walks ended at a claim still held; {} calls absorbed the fault and answered ({} of them a \
         last-use stamp lost); \
         {} events written again by a rerun; {} of the steps under their scenario's own injected faults",
        tally.points.iter().map(|(f, n)| format!("{f} {n}")).collect::<Vec<_>>().join(", "),
        tally.mutating_steps,
        tally.scenarios,
        tally.probe_checks,
        tally.lease_stops,
        tally.acknowledged,
        tally.lost_stamps,
        tally.repeated_events,
        tally.faulted_steps
    );
    assert!(tally.mutating_steps > 50, "{group}: only {} mutating steps found", tally.mutating_steps);
    assert!(
        failures.is_empty(),
        "{group}: {} of {total} crash points broke R-92:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn r92_every_crash_point_of_the_account_and_token_scenarios() {
    every_crash_point("a_*", |f| f.starts_with("a_") || f.starts_with("tokens_"));
}

#[test]
fn r92_every_crash_point_of_the_permission_scenarios() {
    every_crash_point("b_*", |f| f.starts_with("b_"));
}

#[test]
fn r92_every_crash_point_of_the_audit_directory_and_storage_scenarios() {
    every_crash_point("c_*", |f| f.starts_with("c_"));
}

#[test]
fn r92_the_groups_cover_every_scenario_file() {
    let missed: Vec<String> = load_all()
        .into_iter()
        .map(|(f, _)| f)
        .filter(|f| !["a_", "tokens_", "b_", "c_"].iter().any(|p| f.starts_with(p)))
        .collect();
    assert!(missed.is_empty(), "scenario files no crash-point test covers: {missed:?}");
}
