//! What every binding needs to present the same surface (API.md "Conventions across hosts"),
//! kept here so that bindings stay conversion-only: starting a call from its named arguments
//! in any serde format, stepping it, and the shapes a step answers with. JavaScript's camelCase
//! is [`Camel`], applied while serialising.

mod camel;
mod text;

pub use camel::{camel, Camel};
use serde::{Deserialize, Serialize};
pub use text::{store_request_text, to_text, TextEngine, TextOp};

use crate::{
    Answer, AuditEvent, Call, Engine, Env, Error, ErrorData, Op, Result, Step, Store, StoreReply, StoreRequest,
};

/// An operation name that no operation has, with which a host's tests make the boundary panic
/// inside its guard: the proof, in every host, that a real panic becomes `internal` and the
/// engine stays usable. The engine never sees it; it reaches nothing but the panic.
pub const PANIC_PROBE: &str = "__keyward_panic_probe";

/// Panics when `op` is [`PANIC_PROBE`]; a binding calls it inside its guard, where the
/// operation name arrives.
#[allow(clippy::panic)] // the probe's whole purpose
pub fn panic_probe(op: &str) {
    if op == PANIC_PROBE {
        panic!("panic probe: a host test asked the boundary to panic");
    }
}

/// Runs `f`, turning a panic into an `internal` error, so that a panic never crosses into a
/// host. The engine stays usable: its shared state (caches, the staleness window) is
/// changed one whole insert or clear at a time under locks that tolerate poisoning.
pub fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".to_owned());
            Err(Error::internal(format!("the engine panicked: {message}")))
        }
    }
}

/// The `max_staleness_ms` option as a JavaScript number: a whole number of ms from 0 to
/// [`crate::engine::MAX_STALENESS_LIMIT_MS`]; anything else is `invalid_argument`.
pub fn max_staleness_ms(value: f64) -> Result<u64> {
    let limit = crate::engine::MAX_STALENESS_LIMIT_MS;
    if value.is_finite() && value.fract() == 0.0 && (0.0..=limit as f64).contains(&value) {
        Ok(value as u64)
    } else {
        Err(Error::invalid("max_staleness_ms", format!("must be an integer from 0 to {limit} (one day)")))
    }
}

/// Starts a call as a host does: random bytes drawn only for a call that uses them
/// ([`crate::Call::draws_randomness`]), and no events built when `events` is false (the host
/// has no audit callback, R-80).
pub fn start_call(
    engine: &Engine,
    call: Call,
    now: i64,
    seed: impl FnOnce() -> Result<[u8; 32]>,
    events: bool,
) -> Result<Op> {
    let seed = if call.draws_randomness() { seed()? } else { [0; 32] };
    let op = engine.start(call, Env { now, seed });
    Ok(if events { op } else { op.without_events() })
}

/// Starts operation `op` from its named arguments, read straight from the host's format (JSON
/// text, a JavaScript value) into the operation's struct ([`Call::from_named`]). Panics become
/// `internal`.
pub fn start_named<'de, D: serde::Deserializer<'de>>(
    engine: &Engine,
    op: &str,
    args: D,
    now: i64,
    seed: impl FnOnce() -> Result<[u8; 32]>,
    events: bool,
) -> Result<Op> {
    guarded(|| {
        panic_probe(op);
        start_call(engine, Call::from_named(op, args)?, now, seed, events)
    })
}

/// A step as a binding hands it over, serialised (with [`Camel`] for JavaScript) as
/// `{"need": [request]}`, `{"done": answer}` or `{"error": {code, message, field?, ...}}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stepped {
    /// Run these store calls and provide the replies.
    Need(Vec<StoreRequest>),
    /// The answer (`null` for removals).
    Done(Answer),
    /// The operation failed.
    Error(ErrorData),
}

impl From<&Error> for Stepped {
    fn from(e: &Error) -> Stepped {
        Stepped::Error(e.to_data())
    }
}

impl From<Result<Answer>> for Stepped {
    fn from(result: Result<Answer>) -> Stepped {
        match result {
            Ok(answer) => Stepped::Done(answer),
            Err(e) => Stepped::from(&e),
        }
    }
}

/// Advances an operation one step; a panic becomes `internal`.
pub fn step(op: &mut Op) -> Stepped {
    let stepped = guarded(|| {
        Ok(match op.step() {
            Step::Need(requests) => Stepped::Need(requests),
            Step::Done(answer) => Stepped::from(answer),
        })
    });
    stepped.unwrap_or_else(|e| Stepped::from(&e))
}

/// A call run to completion in one crossing: its outcome and its events, serialised as
/// `{"done": answer, "events": [...]}` or `{"error": ..., "events": [...]}`.
#[derive(Debug, Serialize)]
pub struct Ran {
    /// `done` or `error`.
    #[serde(flatten)]
    pub outcome: Stepped,
    /// The events for the host's audit callback.
    pub events: Vec<AuditEvent>,
}

/// Runs a call given by its named arguments to completion on a synchronous store (the
/// built-in store's single crossing).
pub fn run_named<'de, D: serde::Deserializer<'de>, S: Store + ?Sized>(
    engine: &Engine,
    store: &S,
    op: &str,
    args: D,
    now: i64,
    seed: impl FnOnce() -> Result<[u8; 32]>,
    events: bool,
) -> Ran {
    let mut produced = Vec::new();
    let result = guarded(|| {
        panic_probe(op);
        let (answer, events) = start_call(engine, Call::from_named(op, args)?, now, seed, events)?.run_on(store);
        produced = events;
        answer
    });
    Ran { outcome: Stepped::from(result), events: produced }
}

/// Runs one store request, read from the host's format (`{kind, ...}`; JavaScript's
/// `expectedVersion` is accepted), on a synchronous store: the built-in store through the
/// store protocol. A malformed request is a `failed` reply.
pub fn store_request<'de, D: serde::Deserializer<'de>, S: Store + ?Sized>(store: &S, request: D) -> StoreReply {
    match StoreRequest::deserialize(request) {
        Ok(request) => request.run_on(store),
        Err(e) => StoreReply::Failed { message: format!("bad store request: {e}") },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn js<T: Serialize>(value: &T) -> Value {
        serde_json::to_value(Camel(value)).unwrap_or(Value::Null)
    }

    #[test]
    fn r90_the_built_in_store_answers_the_store_protocol_as_javascript_sends_it() {
        let store = crate::MemoryStore::new();
        let put = json!({"kind": "put", "key": "k", "value": "{}", "expectedVersion": null});
        assert_eq!(js(&store_request(&store, put.clone())), json!({"kind": "put", "version": 1}));
        assert_eq!(js(&store_request(&store, put)), json!({"kind": "put", "version": null}), "compare-and-set");
        let got = js(&store_request(&store, json!({"kind": "get", "key": "k"})));
        assert_eq!(got["entry"]["version"], 1);
        assert_eq!(js(&store_request(&store, json!({"kind": "nope"})))["kind"], "failed");
    }

    #[test]
    fn r94_a_panic_at_the_boundary_is_internal_and_the_engine_goes_on() {
        let engine = Engine::new(Default::default()).unwrap_or_else(|e| panic!("{e}"));
        let store = crate::MemoryStore::new();
        let ran = js(&run_named(&engine, &store, PANIC_PROBE, json!({}), 1, || Ok([1; 32]), false));
        assert_eq!(ran["error"]["code"], "internal", "{ran}");
        let started = start_named(&engine, PANIC_PROBE, json!({}), 1, || Ok([1; 32]), false);
        assert!(matches!(started, Err(Error::Internal { .. })));
        // Positive control: the same engine and store serve the next call.
        let args = json!({"tenant": "acme", "admin": "root@acme.test"});
        let ran = js(&run_named(&engine, &store, "create_tenant", args, 1, || Ok([1; 32]), false));
        assert_eq!(ran["done"]["tenant"], "acme", "{ran}");
    }

    #[test]
    fn named_arguments_start_a_call_and_steps_serialise_as_javascript_reads_them() {
        let engine = Engine::new(Default::default()).unwrap_or_else(|e| panic!("{e}"));
        let store = crate::MemoryStore::new();
        let args = json!({"tenant": "acme", "admin": "root@acme.test", "settings": {"maxTokenTtlDays": 30}});
        let ran = run_named(&engine, &store, "create_tenant", args, 1, || Ok([1; 32]), true);
        let ran = js(&ran);
        assert_eq!(ran["done"]["settings"]["maxTokenTtlDays"], 30, "{ran}");
        assert_eq!(ran["events"][0]["action"], "tenant.create");
        let bad = js(&run_named(&engine, &store, "get_tenant", json!({"tenant": "acme"}), 1, || Ok([1; 32]), false));
        assert_eq!(bad["error"]["field"], "actor", "{bad}");
        let unknown = js(&run_named(&engine, &store, "nope", json!({}), 1, || Ok([1; 32]), false));
        assert_eq!(unknown["error"]["field"], "op");
        let mut op = start_named(
            &engine,
            "get_tenant",
            json!({"actor": "root@acme.test", "tenant": "acme"}),
            1,
            || Ok([1; 32]),
            false,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let need = js(&step(&mut op));
        assert_eq!(need["need"][0]["kind"], "get", "{need}");
    }
}
