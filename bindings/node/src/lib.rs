//! Keyward for Node: the native half of the npm package `@keyward/node` (napi-rs).
//!
//! Conversion only, and the same shape as the WebAssembly binding, so both npm packages share
//! one JavaScript driver (`js/driver.mjs`); what a step looks like is decided in
//! `keyward_core::host`. Values cross as JSON text: one `JSON.parse` on the JavaScript side
//! instead of walking objects through N-API. Results are tagged — `{done}`, `{need}`,
//! `{error}` — never exceptions.

#![deny(clippy::all)]

use keyward_core::host::{
    camel_keys, error_value, events_value, run_js_value, signatures_value, start_js, step_value, store_request_value,
};
use keyward_core::{Engine, Error, MemoryStore, Op, Options, StoreReply};
use napi_derive::napi;
use serde_json::Value;

fn text(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

fn parse(json: &str, field: &str) -> Result<Value, Error> {
    serde_json::from_str(json).map_err(|e| Error::InvalidArgument { field: field.to_owned(), message: e.to_string() })
}

fn args(args_json: &str) -> Result<Vec<Value>, Error> {
    match parse(args_json, "args")? {
        Value::Array(items) => Ok(items),
        _ => Err(Error::InvalidArgument { field: "args".into(), message: "expected a list".into() }),
    }
}

fn seed() -> keyward_core::Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| Error::Internal { message: format!("no random source: {e}") })?;
    Ok(seed)
}

/// The parameters of every operation, as JSON: `[{op, positional, required, keywords}]`.
#[napi]
pub fn signatures() -> String {
    text(&signatures_value())
}

/// The built-in in-memory store.
#[napi]
pub struct NativeMemoryStore {
    inner: MemoryStore,
}

impl Default for NativeMemoryStore {
    fn default() -> Self {
        NativeMemoryStore::new()
    }
}

#[napi]
impl NativeMemoryStore {
    /// An empty store.
    #[napi(constructor)]
    pub fn new() -> NativeMemoryStore {
        NativeMemoryStore { inner: MemoryStore::new() }
    }

    /// Runs one store request (JSON `{kind, ...}`) and returns its reply as JSON.
    #[napi]
    pub fn request(&self, request_json: String) -> String {
        match parse(&request_json, "request") {
            Ok(request) => text(&store_request_value(&self.inner, request)),
            Err(e) => text(&camel_keys(serde_json::json!({"kind": "failed", "message": e.to_string()}))),
        }
    }
}

/// One running operation, driven by the JavaScript driver.
#[napi]
pub struct NativeOp {
    op: Result<Op, Option<Error>>,
}

#[napi]
impl NativeOp {
    /// JSON `{need: [request]}`, `{done: answer}` or `{error: {code, message, ...}}`.
    #[napi]
    pub fn step(&mut self) -> String {
        match &mut self.op {
            Ok(op) => text(&step_value(op)),
            Err(pending) => {
                let e = pending.take().unwrap_or(Error::Internal { message: "operation already finished".into() });
                text(&error_value(&e))
            }
        }
    }

    /// The host's replies to the last batch (JSON list, in order).
    #[napi]
    pub fn provide(&mut self, replies_json: String) {
        let parsed = parse(&replies_json, "replies").and_then(|v| {
            serde_json::from_value::<Vec<StoreReply>>(v)
                .map_err(|e| Error::Internal { message: format!("bad store replies: {e}") })
        });
        match (&mut self.op, parsed) {
            (Ok(op), Ok(replies)) => op.provide(replies),
            (Ok(_), Err(e)) => self.op = Err(Some(e)),
            (Err(_), _) => {}
        }
    }

    /// Audit events produced so far, as JSON.
    #[napi]
    pub fn events(&mut self) -> String {
        match &mut self.op {
            Ok(op) => text(&events_value(op)),
            Err(_) => "[]".to_owned(),
        }
    }
}

/// An engine.
#[napi]
pub struct NativeEngine {
    engine: Engine,
    /// Whether the JavaScript engine has an audit callback: without one, decisions build no
    /// events.
    events: bool,
}

#[napi]
impl NativeEngine {
    /// A new engine; `pepper_json` is the pepper's bytes as a JSON list of numbers. Bad options
    /// throw an error whose message is the error's JSON.
    #[napi(constructor)]
    pub fn new(
        domain: String,
        token_prefix: String,
        pepper_json: Option<String>,
        max_staleness_ms: f64,
        events: bool,
    ) -> napi::Result<NativeEngine> {
        let pepper = match pepper_json.map(|p| serde_json::from_str::<Vec<u8>>(&p)) {
            None => None,
            Some(Ok(bytes)) => Some(bytes),
            Some(Err(e)) => {
                let e = Error::InvalidArgument { field: "pepper".into(), message: e.to_string() };
                return Err(napi::Error::from_reason(text(&error_value(&e))));
            }
        };
        keyward_core::host::max_staleness_ms(max_staleness_ms)
            .and_then(|max_staleness_ms| Engine::new(Options { domain, token_prefix, pepper, max_staleness_ms }))
            .map(|engine| NativeEngine { engine, events })
            .map_err(|e| napi::Error::from_reason(text(&error_value(&e))))
    }

    /// Starts an operation from the JavaScript argument list (JSON).
    #[napi]
    pub fn start(&self, op: String, args_json: String, now: f64) -> NativeOp {
        let started =
            args(&args_json).and_then(|args| start_js(&self.engine, &op, args, now as i64, seed, self.events));
        NativeOp { op: started.map_err(Some) }
    }

    /// Runs an operation against the built-in store in one crossing: JSON `{done}` or
    /// `{error}`, with `events`.
    #[napi]
    pub fn run_memory(&self, store: &NativeMemoryStore, op: String, args_json: String, now: f64) -> String {
        match args(&args_json) {
            Ok(args) => text(&run_js_value(&self.engine, &store.inner, &op, args, now as i64, seed, self.events)),
            Err(e) => text(&error_value(&e)),
        }
    }
}
