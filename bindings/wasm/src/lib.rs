//! Keyward in WebAssembly: the native half of the npm package `@keyward/wasm`.
//!
//! Attributes only: the boundary itself is `keyward_core::host::{TextEngine, TextOp}`, which
//! the N-API binding wraps the same way, so both npm packages share one JavaScript driver
//! (`js/driver.mjs`). Values cross as JSON text — one `JSON.stringify`/`JSON.parse` in the
//! JavaScript engine instead of a property-by-property walk across the boundary, and `serde_json`
//! reads it straight into the operation's struct. Results are tagged — `{done}`, `{need}`,
//! `{error}` — never exceptions, so the driver alone decides what to throw.

#![forbid(unsafe_code)]

use keyward_core::host::{store_request_text, TextEngine, TextOp};
use keyward_core::{Error, MemoryStore};
use wasm_bindgen::prelude::*;

fn seed() -> keyward_core::Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| Error::Internal { message: format!("no random source: {e}") })?;
    Ok(seed)
}

/// The built-in in-memory store.
#[wasm_bindgen]
#[derive(Default)]
pub struct NativeMemoryStore {
    inner: MemoryStore,
}

#[wasm_bindgen]
impl NativeMemoryStore {
    /// An empty store.
    #[wasm_bindgen(constructor)]
    pub fn new() -> NativeMemoryStore {
        NativeMemoryStore::default()
    }

    /// Runs one store request (JSON `{kind, ...}`) and returns its reply as JSON, so the
    /// built-in store can also serve through the store protocol.
    pub fn request(&self, request_json: &str) -> String {
        store_request_text(&self.inner, request_json)
    }
}

/// One running operation, driven by the JavaScript driver.
#[wasm_bindgen]
pub struct NativeOp(TextOp);

#[wasm_bindgen]
impl NativeOp {
    /// JSON `{need: [request]}`, `{done: answer}` or `{error: {code, message, ...}}`.
    pub fn step(&mut self) -> String {
        self.0.step()
    }

    /// The host's replies to the last batch (JSON list, in order).
    pub fn provide(&mut self, replies_json: &str) {
        self.0.provide(replies_json)
    }

    /// Audit events produced so far, as JSON.
    pub fn events(&mut self) -> String {
        self.0.events()
    }
}

/// An engine.
#[wasm_bindgen]
pub struct NativeEngine(TextEngine);

#[wasm_bindgen]
impl NativeEngine {
    /// A new engine; `pepper_json` is the pepper's bytes as a JSON list of numbers. Bad options
    /// throw the error's JSON text.
    #[wasm_bindgen(constructor)]
    pub fn new(
        domain: String,
        token_prefix: String,
        pepper_json: Option<String>,
        max_staleness_ms: f64,
        events: bool,
    ) -> Result<NativeEngine, JsValue> {
        TextEngine::new(domain, token_prefix, pepper_json.as_deref(), max_staleness_ms, events)
            .map(NativeEngine)
            .map_err(|e| JsValue::from_str(&e))
    }

    /// Starts operation `op` from its named arguments (JSON text).
    pub fn start(&self, op: &str, args_json: &str, now: f64) -> NativeOp {
        NativeOp(self.0.start(op, args_json, now, seed))
    }

    /// Runs an operation against the built-in store in one crossing: JSON `{done}` or
    /// `{error}`, with `events`.
    #[wasm_bindgen(js_name = runMemory)]
    pub fn run_memory(&self, store: &NativeMemoryStore, op: &str, args_json: &str, now: f64) -> String {
        self.0.run_memory(&store.inner, op, args_json, now, seed)
    }
}
