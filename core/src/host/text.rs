//! The JavaScript bindings' boundary, in JSON text: both the N-API and the WebAssembly
//! binding wrap these types, so the two npm packages cross the same way. Named arguments and
//! store replies are read straight from the text into their structs (`serde_json` honours
//! `deny_unknown_fields` at any depth, where reading a JavaScript object field by field would
//! not); steps, answers and events are written in camelCase in one pass ([`Camel`]). One
//! `JSON.stringify`/`JSON.parse` on the JavaScript side costs less than walking objects
//! property by property across the boundary.

use serde::Serialize;

use super::{run_named, start_named, step, store_request, Camel, Stepped};
use crate::{Engine, Error, MemoryStore, Op, Options, Result, StoreReply};

/// JSON text of a value, camelCase keys. A value that cannot be written is an `internal`
/// error the driver reports as such, never a bare `null` it would trip over (R-94).
pub fn to_text<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(&Camel(value)).unwrap_or_else(|_| {
        r#"{"error":{"code":"internal","message":"internal error: the engine could not write its answer"},"events":[]}"#
            .to_owned()
    })
}

fn reader(json: &str) -> serde_json::Deserializer<serde_json::de::StrRead<'_>> {
    serde_json::Deserializer::from_str(json)
}

/// An engine for a JavaScript driver.
#[derive(Debug)]
pub struct TextEngine {
    engine: Engine,
    /// Whether the JavaScript engine has an audit callback: without one, decisions build no
    /// events (R-80).
    events: bool,
}

impl TextEngine {
    /// A new engine; `pepper_json` is the pepper's bytes as a JSON list of numbers. A bad
    /// option is the error's JSON text, `{"error": {...}}`.
    pub fn new(
        domain: String,
        token_prefix: String,
        pepper_json: Option<&str>,
        max_staleness_ms: f64,
        events: bool,
    ) -> std::result::Result<TextEngine, String> {
        let built = (|| {
            let pepper = pepper_json
                .map(serde_json::from_str::<Vec<u8>>)
                .transpose()
                .map_err(|e| Error::invalid("pepper", e.to_string()))?;
            let max_staleness_ms = super::max_staleness_ms(max_staleness_ms)?;
            Engine::new(Options { domain, token_prefix, pepper, max_staleness_ms })
        })();
        built.map(|engine| TextEngine { engine, events }).map_err(|e| to_text(&Stepped::from(&e)))
    }

    /// Starts operation `op` from its named arguments (JSON text). `now` is the host clock's
    /// checked answer; `seed` draws the host's random bytes, for calls that use them.
    pub fn start(&self, op: &str, args_json: &str, now: f64, seed: impl FnOnce() -> Result<[u8; 32]>) -> TextOp {
        let started = start_named(&self.engine, op, &mut reader(args_json), now as i64, seed, self.events);
        TextOp { op: started.map_err(Some) }
    }

    /// Runs an operation against the built-in store in one crossing: `{done}` or `{error}`,
    /// with `events`.
    pub fn run_memory(
        &self,
        store: &MemoryStore,
        op: &str,
        args_json: &str,
        now: f64,
        seed: impl FnOnce() -> Result<[u8; 32]>,
    ) -> String {
        to_text(&run_named(&self.engine, store, op, &mut reader(args_json), now as i64, seed, self.events))
    }
}

/// One running operation for a JavaScript driver.
#[derive(Debug)]
pub struct TextOp {
    op: std::result::Result<Op, Option<Error>>,
}

impl TextOp {
    /// `{need: [request]}`, `{done: answer}` or `{error: {code, message, ...}}`.
    pub fn step(&mut self) -> String {
        match &mut self.op {
            Ok(op) => to_text(&step(op)),
            Err(pending) => {
                let e = pending.take().unwrap_or_else(|| Error::internal("operation already finished"));
                to_text(&Stepped::from(&e))
            }
        }
    }

    /// The host's replies to the last batch (a JSON list, in order). Replies that do not
    /// parse end the operation with `internal` at the next step.
    pub fn provide(&mut self, replies_json: &str) {
        let parsed = serde_json::from_str::<Vec<StoreReply>>(replies_json)
            .map_err(|e| Error::internal(format!("bad store replies: {e}")));
        match (&mut self.op, parsed) {
            (Ok(op), Ok(replies)) => op.provide(replies),
            (Ok(_), Err(e)) => self.op = Err(Some(e)),
            (Err(_), _) => {}
        }
    }

    /// The audit events produced so far (R-80).
    pub fn events(&mut self) -> String {
        match &mut self.op {
            Ok(op) => to_text(&op.take_events()),
            Err(_) => "[]".to_owned(),
        }
    }
}

/// Runs one store request (`{kind, ...}`, JSON text) on the built-in store and answers its
/// reply as JSON text.
pub fn store_request_text(store: &MemoryStore, request_json: &str) -> String {
    to_text(&store_request(store, &mut reader(request_json)))
}
