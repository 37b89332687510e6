//! Keyward in WebAssembly: the native half of the npm package `@keyward/wasm`.
//!
//! Conversion only. The engine's operations run in `keyward-core`; the JavaScript driver
//! (`js/driver.mjs`, shared with `@keyward/node`) turns this into the public `Engine` and
//! answers store requests, awaiting the host store's Promises between steps.
//!
//! Values cross as plain JavaScript objects (serde-wasm-bindgen, JSON-compatible: objects,
//! not `Map`s). Results are tagged objects — `{done}`, `{need}`, `{error}` — never exceptions,
//! so the driver alone decides what to throw.

#![forbid(unsafe_code)]

use keyward_core::host::{call_json_from_js, camel_keys, guarded, SIGNATURES};
use keyward_core::{Call, Engine, Env, Error, MemoryStore, Op, Options, Step, StoreReply, StoreRequest};
use serde::Serialize;
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

fn to_js(value: &Value) -> JsValue {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    value.serialize(&serializer).unwrap_or(JsValue::NULL)
}

fn from_js<T: serde::de::DeserializeOwned>(value: JsValue, field: &str) -> Result<T, Error> {
    serde_wasm_bindgen::from_value(value)
        .map_err(|e| Error::InvalidArgument { field: field.to_owned(), message: e.to_string() })
}

fn error_value(e: &Error) -> Value {
    json!({ "error": serde_json::to_value(e.to_data()).unwrap_or(Value::Null) })
}

fn seed() -> Result<[u8; 32], Error> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| Error::Internal { message: format!("no random source: {e}") })?;
    Ok(seed)
}

fn answer_value(answer: keyward_core::Answer) -> Value {
    json!({ "done": camel_keys(serde_json::to_value(answer).unwrap_or(Value::Null)) })
}

fn events_value(op: &mut Op) -> Value {
    camel_keys(serde_json::to_value(op.take_events()).unwrap_or(Value::Null))
}

/// The parameters of every operation: `[{op, positional, required, keywords}]`.
#[wasm_bindgen(js_name = signatures)]
pub fn signatures() -> JsValue {
    let list: Vec<Value> = SIGNATURES
        .iter()
        .map(|s| json!({"op": s.op, "positional": s.positional, "required": s.required, "keywords": s.keywords}))
        .collect();
    to_js(&Value::Array(list))
}

/// The built-in in-memory store.
#[wasm_bindgen]
pub struct NativeMemoryStore {
    inner: MemoryStore,
}

#[wasm_bindgen]
impl NativeMemoryStore {
    /// An empty store.
    #[wasm_bindgen(constructor)]
    pub fn new() -> NativeMemoryStore {
        NativeMemoryStore { inner: MemoryStore::new() }
    }

    /// Runs one store request (`{kind, ...}`) and returns its reply, so the built-in store can
    /// also serve as a host store (wrapped, for tests).
    pub fn request(&self, request: JsValue) -> JsValue {
        let reply = match from_js::<StoreRequest>(keyward_js_snake(request), "request") {
            Ok(r) => r.run_on(&self.inner),
            Err(e) => StoreReply::Failed { message: e.to_string() },
        };
        to_js(&camel_keys(serde_json::to_value(reply).unwrap_or(Value::Null)))
    }
}

impl Default for NativeMemoryStore {
    fn default() -> Self {
        NativeMemoryStore::new()
    }
}

fn keyward_js_snake(value: JsValue) -> JsValue {
    match serde_wasm_bindgen::from_value::<Value>(value.clone()) {
        Ok(v) => to_js(&keyward_core::host::snake_keys(v)),
        Err(_) => value,
    }
}

/// One running operation, driven by the JavaScript driver.
#[wasm_bindgen]
pub struct NativeOp {
    op: Option<Op>,
    pending_error: Option<Error>,
}

#[wasm_bindgen]
impl NativeOp {
    /// `{need: [request]}`, `{done: answer}` or `{error: {code, message, ...}}`.
    pub fn step(&mut self) -> JsValue {
        if let Some(e) = self.pending_error.take() {
            return to_js(&error_value(&e));
        }
        let Some(op) = self.op.as_mut() else {
            return to_js(&error_value(&Error::Internal { message: "operation already finished".into() }));
        };
        let stepped = guarded(|| {
            Ok(match op.step() {
                Step::Need(requests) => {
                    json!({ "need": camel_keys(serde_json::to_value(requests).unwrap_or(Value::Null)) })
                }
                Step::Done(Ok(answer)) => answer_value(answer),
                Step::Done(Err(e)) => error_value(&e),
            })
        });
        to_js(&stepped.unwrap_or_else(|e| error_value(&e)))
    }

    /// The host's replies to the last batch, in order.
    pub fn provide(&mut self, replies: JsValue) {
        let parsed = from_js::<Vec<StoreReply>>(replies, "replies");
        if let Some(op) = self.op.as_mut() {
            match parsed {
                Ok(replies) => op.provide(replies),
                Err(e) => {
                    self.op = None;
                    self.pending_error = Some(Error::Internal { message: format!("bad store replies: {e}") });
                }
            }
        }
    }

    /// Audit events produced so far.
    pub fn events(&mut self) -> JsValue {
        match self.op.as_mut() {
            Some(op) => to_js(&events_value(op)),
            None => to_js(&Value::Array(Vec::new())),
        }
    }
}

/// An engine.
#[wasm_bindgen]
pub struct NativeEngine {
    engine: Engine,
}

#[wasm_bindgen]
impl NativeEngine {
    /// A new engine; bad options answer `{error}` through `NativeEngine.check`.
    #[wasm_bindgen(constructor)]
    pub fn new(domain: String, token_prefix: String, pepper: Option<Vec<u8>>) -> Result<NativeEngine, JsValue> {
        Engine::new(Options { domain, token_prefix, pepper })
            .map(|engine| NativeEngine { engine })
            .map_err(|e| to_js(&error_value(&e)))
    }

    fn call(op: &str, args: JsValue) -> Result<Call, Error> {
        let args: Vec<Value> = from_js(args, "args")?;
        Call::from_json(call_json_from_js(op, args)?)
    }

    /// Starts an operation from the JavaScript argument list.
    pub fn start(&self, op: &str, args: JsValue, now: f64) -> NativeOp {
        let started = guarded(|| {
            let call = NativeEngine::call(op, args)?;
            Ok(self.engine.start(call, Env { now: now as i64, seed: seed()? }))
        });
        match started {
            Ok(op) => NativeOp { op: Some(op), pending_error: None },
            Err(e) => NativeOp { op: None, pending_error: Some(e) },
        }
    }

    /// Runs an operation against the built-in store in one crossing: `{done}` or `{error}`,
    /// with `events`.
    #[wasm_bindgen(js_name = runMemory)]
    pub fn run_memory(&self, store: &NativeMemoryStore, op: &str, args: JsValue, now: f64) -> JsValue {
        let mut events = Value::Array(Vec::new());
        let result = guarded(|| {
            let call = NativeEngine::call(op, args)?;
            let mut op = self.engine.start(call, Env { now: now as i64, seed: seed()? });
            let answer = loop {
                match op.step() {
                    Step::Need(requests) => op.provide(requests.iter().map(|r| r.run_on(&store.inner)).collect()),
                    Step::Done(answer) => break answer,
                }
            };
            events = events_value(&mut op);
            answer
        });
        let mut value = match result {
            Ok(answer) => answer_value(answer),
            Err(e) => error_value(&e),
        };
        if let Value::Object(map) = &mut value {
            map.insert("events".into(), events);
        }
        to_js(&value)
    }
}
