//! Keyward for Node: the native half of the npm package `@keyward/node` (napi-rs).
//!
//! Attributes only: the boundary itself is `keyward_core::host::{TextEngine, TextOp}`, which
//! the WebAssembly binding wraps the same way, so both npm packages share one JavaScript driver
//! (`js/driver.mjs`). Values cross as JSON text; results are tagged — `{done}`, `{need}`,
//! `{error}` — never exceptions.

#![deny(clippy::all)]

use keyward_core::host::{store_request_text, TextEngine, TextOp};
use keyward_core::{Error, MemoryStore};
use napi_derive::napi;

fn seed() -> keyward_core::Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| Error::Internal { message: format!("no random source: {e}") })?;
    Ok(seed)
}

/// The built-in in-memory store.
#[napi]
#[derive(Default)]
pub struct NativeMemoryStore {
    inner: MemoryStore,
}

#[napi]
impl NativeMemoryStore {
    /// An empty store.
    #[napi(constructor)]
    pub fn new() -> NativeMemoryStore {
        NativeMemoryStore::default()
    }

    /// Runs one store request (JSON `{kind, ...}`) and returns its reply as JSON.
    #[napi]
    pub fn request(&self, request_json: String) -> String {
        store_request_text(&self.inner, &request_json)
    }
}

/// One running operation, driven by the JavaScript driver.
#[napi]
pub struct NativeOp(TextOp);

#[napi]
impl NativeOp {
    /// JSON `{need: [request]}`, `{done: answer}` or `{error: {code, message, ...}}`.
    #[napi]
    pub fn step(&mut self) -> String {
        self.0.step()
    }

    /// The host's replies to the last batch (JSON list, in order).
    #[napi]
    pub fn provide(&mut self, replies_json: String) {
        self.0.provide(&replies_json)
    }

    /// Audit events produced so far, as JSON.
    #[napi]
    pub fn events(&mut self) -> String {
        self.0.events()
    }
}

/// An engine.
#[napi]
pub struct NativeEngine(TextEngine);

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
        TextEngine::new(domain, token_prefix, pepper_json.as_deref(), max_staleness_ms, events)
            .map(NativeEngine)
            .map_err(napi::Error::from_reason)
    }

    /// Starts operation `op` from its named arguments (JSON text).
    #[napi]
    pub fn start(&self, op: String, args_json: String, now: f64) -> NativeOp {
        NativeOp(self.0.start(&op, &args_json, now, seed))
    }

    /// Runs an operation against the built-in store in one crossing: JSON `{done}` or
    /// `{error}`, with `events`.
    #[napi]
    pub fn run_memory(&self, store: &NativeMemoryStore, op: String, args_json: String, now: f64) -> String {
        self.0.run_memory(&store.inner, &op, &args_json, now, seed)
    }
}
