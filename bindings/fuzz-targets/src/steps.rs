//! Target `steps`: operations driven as step machines (`Engine::start`, `Op::step`,
//! `Op::provide`) where the fuzzer writes the store's answers: failures, missing documents,
//! lost or lying compare-and-sets, versions 0 and `u64::MAX`, garbage documents, `list`
//! answers out of order, out of prefix, too long or with a key twice, replies of the wrong
//! kind, too few or too many replies, and a step before the replies. Every operation must end
//! with an answer or a typed error, in a bounded number of rounds, never a panic.

use keyward_core::{Entry, Error, Op, Step, StoreReply, StoreRequest, Versioned};

use crate::input::Input;
use crate::world::{engine, env, world, FuzzStore};

/// More rounds than any operation takes on any store: the engine retries a lost race a few
/// times and pages through listings, so reaching this means an operation loops.
const MAX_ROUNDS: usize = 10_000;

fn failed() -> StoreReply {
    StoreReply::Failed { message: "fuzz: the store is down".into() }
}

/// A reply of the wrong kind for `request`.
fn wrong_kind(request: &StoreRequest, input: &mut Input<'_>) -> StoreReply {
    let kinds = [
        StoreReply::Got { entry: None },
        StoreReply::Put { version: Some(1) },
        StoreReply::Deleted { ok: true },
        StoreReply::Listed { entries: Vec::new() },
    ];
    let own = match request {
        StoreRequest::Get { .. } => 0,
        StoreRequest::Put { .. } => 1,
        StoreRequest::Delete { .. } => 2,
        StoreRequest::List { .. } => 3,
    };
    let pick = (own + 1 + usize::from(input.byte()) % 3) % 4;
    kinds.into_iter().nth(pick).unwrap_or_else(failed)
}

/// "Nothing" of the right kind: missing, a lost compare-and-set, an empty page.
fn nothing(request: &StoreRequest) -> StoreReply {
    match request {
        StoreRequest::Get { .. } => StoreReply::Got { entry: None },
        StoreRequest::Put { .. } => StoreReply::Put { version: None },
        StoreRequest::Delete { .. } => StoreReply::Deleted { ok: false },
        StoreRequest::List { .. } => StoreReply::Listed { entries: Vec::new() },
    }
}

fn version(input: &mut Input<'_>) -> u64 {
    match input.byte() {
        255 => u64::MAX,
        254 => u64::MAX - 1,
        b => u64::from(b),
    }
}

/// The honest reply with its versions replaced.
fn tampered_version(honest: StoreReply, input: &mut Input<'_>) -> StoreReply {
    let v = version(input);
    match honest {
        StoreReply::Got { entry: Some(e) } => StoreReply::Got { entry: Some(Versioned { version: v, ..e }) },
        StoreReply::Put { version: Some(_) } => StoreReply::Put { version: Some(v) },
        StoreReply::Listed { mut entries } => {
            let n = entries.len().max(1);
            if let Some(e) = entries.get_mut(usize::from(input.byte()) % n) {
                e.version = v;
            }
            StoreReply::Listed { entries }
        }
        other => other,
    }
}

/// A garbage document where one was asked for.
fn garbage(request: &StoreRequest, honest: StoreReply, input: &mut Input<'_>) -> StoreReply {
    let value = input.text();
    let v = version(input).max(1);
    match (request, honest) {
        (StoreRequest::Get { .. }, _) => StoreReply::Got { entry: Some(Versioned { value, version: v }) },
        (StoreRequest::List { prefix, .. }, StoreReply::Listed { mut entries }) => {
            let slot = usize::from(input.byte()) % (entries.len() + 1);
            match entries.get_mut(slot) {
                Some(e) => e.value = value,
                None => entries.push(Entry { key: format!("{prefix}\u{10ffff}"), value, version: v }),
            }
            StoreReply::Listed { entries }
        }
        (_, honest) => honest,
    }
}

/// A `list` answer outside the protocol.
fn bad_list(request: &StoreRequest, honest: StoreReply, input: &mut Input<'_>) -> StoreReply {
    let (StoreRequest::List { prefix, limit, .. }, StoreReply::Listed { mut entries }) = (request, honest) else {
        return failed();
    };
    let first = entries.first().cloned().unwrap_or(Entry { key: prefix.clone(), value: "{}".into(), version: 1 });
    match input.byte() % 6 {
        0 => entries.reverse(),
        1 => entries.push(first),
        2 => entries.insert(
            0,
            Entry { key: format!("{}~", prefix.get(..prefix.len().saturating_sub(1)).unwrap_or("")), ..first },
        ),
        3 => {
            // One more than the limit (a copy of an entry, so it also repeats a key).
            let want = limit.saturating_add(1).min(4096);
            while entries.len() < want {
                let n = entries.len();
                entries.push(Entry { key: format!("{}{n:05}", first.key), ..first.clone() });
            }
        }
        4 => entries.insert(0, Entry { key: String::new(), ..first }),
        _ => {
            // Exactly `limit` plausible entries: the engine must page on (bounded by the input).
            let want = (*limit).min(600);
            while entries.len() < want {
                let n = entries.len();
                entries.push(Entry { key: format!("{}\u{ffff}{n:05}", first.key), ..first.clone() });
            }
        }
    }
    StoreReply::Listed { entries }
}

/// Answers one batch; `None` when the fuzzer chose to step again before providing.
fn answer(requests: &[StoreRequest], store: &FuzzStore, input: &mut Input<'_>) -> Option<Vec<StoreReply>> {
    let mut replies = Vec::with_capacity(requests.len() + 1);
    for request in requests {
        let choice = input.byte();
        match choice % 12 {
            1 => replies.push(failed()),
            2 => replies.push(wrong_kind(request, input)),
            3 => replies.push(nothing(request)),
            4 => replies.push(tampered_version(request.run_on(store), input)),
            5 => replies.push(garbage(request, request.run_on(store), input)),
            6 => replies.push(bad_list(request, request.run_on(store), input)),
            // Too few replies: this one left out.
            7 => {}
            // Too many: this one twice.
            8 => {
                let reply = request.run_on(store);
                replies.push(reply.clone());
                replies.push(reply);
            }
            // A lie: success reported, nothing written (or a stale read).
            9 => replies.push(match request {
                StoreRequest::Put { expected_version, .. } => {
                    StoreReply::Put { version: Some(expected_version.map_or(1, |v| v.saturating_add(1))) }
                }
                StoreRequest::Delete { .. } => StoreReply::Deleted { ok: true },
                _ => request.run_on(&world().store()),
            }),
            10 => return None,
            _ => replies.push(request.run_on(store)),
        }
    }
    Some(replies)
}

/// Drives one operation to its end; the answer is the engine's business, ending is ours.
fn drive(mut op: Op, store: &FuzzStore, input: &mut Input<'_>) {
    let mut rounds = 0usize;
    while let Step::Need(requests) = op.step() {
        rounds += 1;
        assert!(rounds <= MAX_ROUNDS, "an operation asked for more than {MAX_ROUNDS} rounds");
        match answer(&requests, store, input) {
            Some(replies) => op.provide(replies),
            None => {
                // Stepping again before providing is the host's mistake: an error.
                match op.step() {
                    Step::Done(Err(Error::Internal { .. })) => {}
                    other => crate::finding(&format!("step before provide answered {other:?}")),
                }
                return;
            }
        }
    }
    // A finished operation stays finished.
    match op.step() {
        Step::Done(Err(Error::Internal { .. })) => {}
        other => crate::finding(&format!("a step after the end answered {other:?}")),
    }
}

/// The first byte: bit 0, how many operations (1 or 2) run on one engine and one store;
/// bit 2, a staleness window; bit 3, no audit callback (`without_events`). Then, per
/// operation, its index, and per store request a choice (0 or the end of the input: honest).
pub fn steps(data: &[u8]) {
    let w = world();
    let mut input = Input::new(data);
    let head = input.byte();
    let engine = engine(if head & 4 == 4 { 60_000 } else { 0 });
    let store = w.store();
    for n in 0..=u64::from(head & 1) {
        let Some(call) = input.pick(&w.calls).cloned() else { return };
        let mut op = engine.start(call, env(100 + n));
        if head & 8 == 8 {
            op = op.without_events();
        }
        drive(op, &store, &mut input);
    }
}

/// Seeds: each operation answered honestly, and with each kind of hostile first reply.
pub fn seeds() -> Vec<Vec<u8>> {
    let w = world();
    let mut out = Vec::new();
    for i in 0..w.calls.len() {
        out.push(vec![0, i as u8]);
        out.push(vec![1, i as u8, (i % 11) as u8 + 1, 0, 3, 0, 0, 9]);
    }
    out
}
