//! Keyward in WebAssembly: the native half of the npm package `@keyward/wasm`.
//!
//! Conversion only, and the same shape as the Node binding, so both npm packages share one
//! JavaScript driver (`js/driver.mjs`); what a step looks like is decided in
//! `keyward_core::host`. Values cross as plain JavaScript objects (serde-wasm-bindgen,
//! JSON-compatible: objects, not `Map`s). Results are tagged — `{done}`, `{need}`, `{error}` —
//! never exceptions, so the driver alone decides what to throw.

#![forbid(unsafe_code)]

use keyward_core::host::{
    error_value, events_value, run_js_value, signatures_value, start_js, step_value, store_request_value,
};
use keyward_core::{Engine, Error, MemoryStore, Op, Options, StoreReply};
use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::prelude::*;

fn to_js(value: &Value) -> JsValue {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    value.serialize(&serializer).unwrap_or(JsValue::NULL)
}

fn from_js<T: serde::de::DeserializeOwned>(value: JsValue, field: &str) -> Result<T, Error> {
    serde_wasm_bindgen::from_value(value)
        .map_err(|e| Error::InvalidArgument { field: field.to_owned(), message: e.to_string() })
}

fn seed() -> keyward_core::Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| Error::Internal { message: format!("no random source: {e}") })?;
    Ok(seed)
}

/// The parameters of every operation: `[{op, positional, required, keywords}]`.
#[wasm_bindgen(js_name = signatures)]
pub fn signatures() -> JsValue {
    to_js(&signatures_value())
}

/// The built-in in-memory store.
#[wasm_bindgen]
pub struct NativeMemoryStore {
    inner: MemoryStore,
}

impl Default for NativeMemoryStore {
    fn default() -> Self {
        NativeMemoryStore::new()
    }
}

#[wasm_bindgen]
impl NativeMemoryStore {
    /// An empty store.
    #[wasm_bindgen(constructor)]
    pub fn new() -> NativeMemoryStore {
        NativeMemoryStore { inner: MemoryStore::new() }
    }

    /// Runs one store request (`{kind, ...}`) and returns its reply, so the built-in store can
    /// also serve through the store protocol.
    pub fn request(&self, request: JsValue) -> JsValue {
        match from_js::<Value>(request, "request") {
            Ok(request) => to_js(&store_request_value(&self.inner, request)),
            Err(e) => to_js(&serde_json::json!({"kind": "failed", "message": e.to_string()})),
        }
    }
}

/// One running operation, driven by the JavaScript driver.
#[wasm_bindgen]
pub struct NativeOp {
    op: Result<Op, Option<Error>>,
}

#[wasm_bindgen]
impl NativeOp {
    /// `{need: [request]}`, `{done: answer}` or `{error: {code, message, ...}}`.
    pub fn step(&mut self) -> JsValue {
        match &mut self.op {
            Ok(op) => to_js(&step_value(op)),
            Err(pending) => {
                let e = pending.take().unwrap_or(Error::Internal { message: "operation already finished".into() });
                to_js(&error_value(&e))
            }
        }
    }

    /// The host's replies to the last batch, in order.
    pub fn provide(&mut self, replies: JsValue) {
        let parsed = from_js::<Vec<StoreReply>>(replies, "replies");
        match (&mut self.op, parsed) {
            (Ok(op), Ok(replies)) => op.provide(replies),
            (Ok(_), Err(e)) => self.op = Err(Some(Error::Internal { message: format!("bad store replies: {e}") })),
            (Err(_), _) => {}
        }
    }

    /// Audit events produced so far.
    pub fn events(&mut self) -> JsValue {
        match &mut self.op {
            Ok(op) => to_js(&events_value(op)),
            Err(_) => to_js(&Value::Array(Vec::new())),
        }
    }
}

/// An engine.
#[wasm_bindgen]
pub struct NativeEngine {
    engine: Engine,
    /// Whether the JavaScript engine has an audit callback: without one, decisions build no
    /// events.
    events: bool,
}

#[wasm_bindgen]
impl NativeEngine {
    /// A new engine; bad options throw `{error}`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        domain: String,
        token_prefix: String,
        pepper: Option<Vec<u8>>,
        max_staleness_ms: f64,
        events: bool,
    ) -> Result<NativeEngine, JsValue> {
        keyward_core::host::max_staleness_ms(max_staleness_ms)
            .and_then(|max_staleness_ms| Engine::new(Options { domain, token_prefix, pepper, max_staleness_ms }))
            .map(|engine| NativeEngine { engine, events })
            .map_err(|e| to_js(&error_value(&e)))
    }

    /// Starts an operation from the JavaScript argument list.
    pub fn start(&self, op: &str, args: JsValue, now: f64) -> NativeOp {
        let started = from_js::<Vec<Value>>(args, "args")
            .and_then(|args| start_js(&self.engine, op, args, now as i64, seed, self.events));
        NativeOp { op: started.map_err(Some) }
    }

    /// Runs an operation against the built-in store in one crossing: `{done}` or `{error}`,
    /// with `events`.
    #[wasm_bindgen(js_name = runMemory)]
    pub fn run_memory(&self, store: &NativeMemoryStore, op: &str, args: JsValue, now: f64) -> JsValue {
        match from_js::<Vec<Value>>(args, "args") {
            Ok(args) => to_js(&run_js_value(&self.engine, &store.inner, op, args, now as i64, seed, self.events)),
            Err(e) => to_js(&error_value(&e)),
        }
    }
}
