//! Keyward for Node: the native half of the npm package `@keyward/node` (napi-rs).
//!
//! Conversion only, and the same shape as the WebAssembly binding, so both npm packages share
//! one JavaScript driver (`js/driver.mjs`). Values cross as JSON text: one `JSON.parse` on the
//! JavaScript side instead of walking objects through N-API, and the same strings either way.
//! Results are tagged — `{done}`, `{need}`, `{error}` — never exceptions.

#![deny(clippy::all)]

use keyward_core::host::{call_json_from_js, camel_keys, guarded, snake_keys, SIGNATURES};
use keyward_core::{Call, Engine, Env, Error, MemoryStore, Op, Options, Step, StoreReply, StoreRequest};
use napi_derive::napi;
use serde_json::{json, Value};

fn text(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

fn parse(json: &str, field: &str) -> Result<Value, Error> {
    serde_json::from_str(json).map_err(|e| Error::InvalidArgument { field: field.to_owned(), message: e.to_string() })
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

fn call(op: &str, args_json: &str) -> Result<Call, Error> {
    let args = match parse(args_json, "args")? {
        Value::Array(items) => items,
        _ => return Err(Error::InvalidArgument { field: "args".into(), message: "expected a list".into() }),
    };
    Call::from_json(call_json_from_js(op, args)?)
}

/// The parameters of every operation, as JSON: `[{op, positional, required, keywords}]`.
#[napi]
pub fn signatures() -> String {
    let list: Vec<Value> = SIGNATURES
        .iter()
        .map(|s| json!({"op": s.op, "positional": s.positional, "required": s.required, "keywords": s.keywords}))
        .collect();
    text(&Value::Array(list))
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
        let reply = parse(&request_json, "request")
            .and_then(|v| {
                serde_json::from_value::<StoreRequest>(snake_keys(v))
                    .map_err(|e| Error::InvalidArgument { field: "request".into(), message: e.to_string() })
            })
            .map(|r| r.run_on(&self.inner))
            .unwrap_or_else(|e| StoreReply::Failed { message: e.to_string() });
        text(&camel_keys(serde_json::to_value(reply).unwrap_or(Value::Null)))
    }
}

/// One running operation, driven by the JavaScript driver.
#[napi]
pub struct NativeOp {
    op: Option<Op>,
    pending_error: Option<Error>,
}

#[napi]
impl NativeOp {
    /// JSON `{need: [request]}`, `{done: answer}` or `{error: {code, message, ...}}`.
    #[napi]
    pub fn step(&mut self) -> String {
        if let Some(e) = self.pending_error.take() {
            return text(&error_value(&e));
        }
        let Some(op) = self.op.as_mut() else {
            return text(&error_value(&Error::Internal { message: "operation already finished".into() }));
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
        text(&stepped.unwrap_or_else(|e| error_value(&e)))
    }

    /// The host's replies to the last batch (JSON list, in order).
    #[napi]
    pub fn provide(&mut self, replies_json: String) {
        let parsed = parse(&replies_json, "replies").and_then(|v| {
            serde_json::from_value::<Vec<StoreReply>>(v)
                .map_err(|e| Error::Internal { message: format!("bad store replies: {e}") })
        });
        match (self.op.as_mut(), parsed) {
            (Some(op), Ok(replies)) => op.provide(replies),
            (Some(_), Err(e)) => {
                self.op = None;
                self.pending_error = Some(e);
            }
            (None, _) => {}
        }
    }

    /// Audit events produced so far, as JSON.
    #[napi]
    pub fn events(&mut self) -> String {
        match self.op.as_mut() {
            Some(op) => text(&events_value(op)),
            None => "[]".to_owned(),
        }
    }
}

/// An engine.
#[napi]
pub struct NativeEngine {
    engine: Engine,
}

#[napi]
impl NativeEngine {
    /// A new engine; bad options throw an error whose message is the error's JSON.
    #[napi(constructor)]
    /// `pepper_json` is the pepper's bytes as a JSON list of numbers.
    pub fn new(domain: String, token_prefix: String, pepper_json: Option<String>) -> napi::Result<NativeEngine> {
        let pepper = match pepper_json.map(|p| serde_json::from_str::<Vec<u8>>(&p)) {
            None => None,
            Some(Ok(bytes)) => Some(bytes),
            Some(Err(e)) => {
                let e = Error::InvalidArgument { field: "pepper".into(), message: e.to_string() };
                return Err(napi::Error::from_reason(text(&error_value(&e))));
            }
        };
        Engine::new(Options { domain, token_prefix, pepper })
            .map(|engine| NativeEngine { engine })
            .map_err(|e| napi::Error::from_reason(text(&error_value(&e))))
    }

    /// Starts an operation from the JavaScript argument list (JSON).
    #[napi]
    pub fn start(&self, op: String, args_json: String, now: f64) -> NativeOp {
        let started = guarded(|| {
            let call = call(&op, &args_json)?;
            Ok(self.engine.start(call, Env { now: now as i64, seed: seed()? }))
        });
        match started {
            Ok(op) => NativeOp { op: Some(op), pending_error: None },
            Err(e) => NativeOp { op: None, pending_error: Some(e) },
        }
    }

    /// Runs an operation against the built-in store in one crossing: JSON `{done}` or
    /// `{error}`, with `events`.
    #[napi]
    pub fn run_memory(&self, store: &NativeMemoryStore, op: String, args_json: String, now: f64) -> String {
        let mut events = Value::Array(Vec::new());
        let result = guarded(|| {
            let call = call(&op, &args_json)?;
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
        text(&value)
    }
}
