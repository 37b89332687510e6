//! Target `documents`: stored documents that are corrupt, truncated, of the wrong schema, of
//! version 0 or `u64::MAX`, huge, deeply nested, or missing, under the keys the engine reads
//! (`t/`, `a/`, `m/`, `k/`, `q/`, `e/`), then data-plane and admin operations on that store:
//! each must answer a decision, an answer or a typed error, never panic.

use keyward_core::Versioned;
use serde_json::Value;

use crate::input::Input;
use crate::world::{engine, env, floor_boundary, world, FuzzStore};

/// Largest document a transformation builds (the fuzzer's input is at most a few KiB).
const HUGE: usize = 1 << 16;

/// Applies one change, read from `input`, to `store`.
fn change(store: &FuzzStore, input: &mut Input<'_>) {
    let w = world();
    let Some(key) = input.pick(&w.keys) else { return };
    let transform = input.byte();
    let version = match input.byte() {
        255 => u64::MAX,
        254 => u64::MAX - 1,
        253 => store.map.borrow().get(key).map_or(1, |v| v.version),
        b => u64::from(b),
    };
    let original = store.map.borrow().get(key).map(|v| v.value.clone()).unwrap_or_default();
    let text = input.text();
    let value = match transform % 7 {
        // Removed: a record that is missing where others point to it.
        1 => {
            store.map.borrow_mut().remove(key);
            return;
        }
        // Huge: the text repeated.
        2 => {
            let times = usize::from(input.byte()) * 64 + 1;
            let mut v = text.repeat(times.min(HUGE / text.len().max(1)));
            if v.len() > HUGE {
                v.truncate(floor_boundary(&v, HUGE));
            }
            v
        }
        // Deep: the text inside many arrays.
        3 => {
            let depth = usize::from(input.u16() % 4096);
            format!("{}{text}{}", "[".repeat(depth), "]".repeat(depth))
        }
        // Spliced: the real document with a range replaced by the text (truncated when the
        // text is empty).
        4 => {
            let at = floor_boundary(&original, usize::from(input.u16()) % (original.len() + 1));
            let end = floor_boundary(&original, at.saturating_add(usize::from(input.byte())).min(original.len()));
            format!("{}{text}{}", original.get(..at).unwrap_or_default(), original.get(end..).unwrap_or_default())
        }
        // Wrong schema: one field of the real document replaced by the text's JSON value
        // (or the text as a string), or removed.
        5 => {
            let which = usize::from(input.byte());
            match serde_json::from_str::<Value>(&original) {
                Ok(Value::Object(mut doc)) => {
                    let field = doc.keys().nth(which % doc.len().max(1)).cloned().unwrap_or_default();
                    if text.is_empty() {
                        doc.remove(&field);
                    } else {
                        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
                        doc.insert(field, v);
                    }
                    Value::Object(doc).to_string()
                }
                _ => text,
            }
        }
        // Many copies: the real document under keys that sort right after it (long listings).
        6 => {
            let copies = usize::from(input.byte() % 151) * 4;
            let mut map = store.map.borrow_mut();
            for i in 0..copies {
                map.insert(format!("{key}-{i:04}"), Versioned { value: original.clone(), version: version.max(1) });
            }
            return;
        }
        // Raw: the text itself.
        _ => text,
    };
    store.map.borrow_mut().insert(key.clone(), Versioned { value, version });
}

/// The first byte chooses an operation, the second a second one (run after it on the same
/// engine, bit 0 of the third byte set) and a staleness window (bit 1); then changes to the
/// store follow until the input ends: a key, a transformation, a version, a text.
pub fn documents(data: &[u8]) {
    let w = world();
    let mut input = Input::new(data);
    let first = input.pick(&w.calls).cloned();
    let second = input.pick(&w.calls).cloned();
    let flags = input.byte();
    let store = w.store();
    for _ in 0..16 {
        if input.is_empty() {
            break;
        }
        change(&store, &mut input);
    }
    let engine = engine(if flags & 2 == 2 { 60_000 } else { 0 });
    let calls = if flags & 1 == 1 { vec![first, second] } else { vec![first] };
    for (n, call) in calls.into_iter().flatten().enumerate() {
        // Any answer or error will do: a panic, an overflow or a hang is the finding.
        let _ = engine.run(&store, call, env(100 + n as u64));
    }
}

/// Seeds: each operation on the unchanged store, and each key's real document as raw text.
pub fn seeds() -> Vec<Vec<u8>> {
    let w = world();
    let mut out: Vec<Vec<u8>> = (0..w.calls.len()).map(|i| vec![i as u8, 0, 0]).collect();
    for (k, key) in w.keys.iter().enumerate() {
        let doc = w.docs.get(key).map(|v| v.value.clone()).unwrap_or_default();
        let len = (doc.len() as u16).to_be_bytes();
        let op = (k * 7 % w.calls.len()) as u8;
        out.push([&[op, 0, 0, k as u8, 0, 253, len[0], len[1]], doc.as_bytes()].concat());
        out.push(vec![op, 0, 1, k as u8, 5, 253, 0, 2, b'4', b'2', (k * 3) as u8]);
    }
    out
}
