//! The Rust conformance runner: replays `tests/conformance/*.json` (DESIGN.md format).
//!
//! A file holds one scenario `{"name", "rules", "engine"?, "steps"}` or a list of them. A step
//! is `{"op", "args", "expect"?, "expect_error"?, "expect_events"?, "save"?}`:
//! - `op` is an operation of API.md, or a host step: `advance_clock {ms}`, `fail_store
//!   {calls, message}` (the next store calls fail, R-94), `lose_races {puts}` (the next puts
//!   lose their compare-and-set, R-91);
//! - `"$name"` in args is replaced by a saved value (whole strings), `"${name}"` inside strings;
//! - `expect` matches the answer: objects by the keys given, arrays element by element with
//!   equal length, `"$any"` anything, `"$set"` anything but null, `"$absent"` a key that
//!   must not be there;
//! - `expect_error` is a code, or `{code, field?, position?, rules?}`;
//! - `expect_events` matches the events handed to the audit callback by this step, in order;
//! - `save` maps names to dotted paths in the answer (`""` is the whole answer);
//! - `"via": "peer"` runs the step on a second engine over the same store, with the same
//!   options but no staleness window: another process writing.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use keyward_core::{AuditEvent, Call, Engine, Env, Options, Step, Store};

use super::{FaultyStore, T0};

/// How the runner answers batches.
#[derive(Clone, Copy, Debug)]
pub enum Order {
    /// In request order.
    InOrder,
    /// In a shuffled order (answers still returned in request order).
    Shuffled,
}

pub fn scenario_dir() -> PathBuf {
    // The repository's, from whichever crate's tests include this module.
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir.ancestors().map(|d| d.join("tests/conformance")).find(|d| d.is_dir()).expect("tests/conformance exists")
}

/// Every scenario file, sorted, with its scenarios.
pub fn load_all() -> Vec<(String, Vec<Value>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenario_dir())
        .expect("tests/conformance exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable scenario");
            let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let list = match v {
                Value::Array(list) => list,
                one => vec![one],
            };
            (p.file_name().unwrap().to_string_lossy().into_owned(), list)
        })
        .collect()
}

/// What a scenario showed, kept for the secret scan.
#[derive(Default)]
pub struct Transcript {
    /// Every token secret issued (whole tokens and their secret parts) and password given.
    pub secrets: std::collections::BTreeSet<String>,
    /// Every event, error (message, data and Debug) and answer (a new token's own field left
    /// out: the one place a secret is shown), and the Debug text of each answer.
    pub shown: Vec<String>,
}

impl Transcript {
    /// Adds a password or secret to search for, unless it is short or a plain word.
    pub fn secret(&mut self, text: &str) {
        // Short passwords ("x") and plain short words ("password") would match the words of
        // ordinary messages ("weak password").
        let word = text.len() <= 8 && text.bytes().all(|b| b.is_ascii_lowercase());
        if text.len() >= 8 && !word {
            self.secrets.insert(text.to_owned());
        }
    }
}

/// One scenario being replayed: its engines, store, clock and saved values.
pub struct Runner<S: Store> {
    options: Options,
    pub engine: Engine,
    /// Another engine over the same store, without a staleness window: another process.
    pub peer: Engine,
    pub store: FaultyStore<S>,
    pub now: i64,
    seq: u64,
    order: Order,
    pub vars: Map<String, Value>,
    /// When set, everything shown is kept here.
    pub transcript: Option<Transcript>,
}

/// `v` with saved values put in for `"$name"` and `"${name}"` (see the module docs).
pub fn substitute(v: &Value, vars: &Map<String, Value>) -> Value {
    match v {
        Value::String(s) => {
            if let Some(name) = s.strip_prefix('$').filter(|n| vars.contains_key(*n)) {
                return vars[name].clone();
            }
            let mut out = s.clone();
            for (k, val) in vars {
                let pat = format!("${{{k}}}");
                if out.contains(&pat) {
                    let text = match val {
                        Value::String(t) => t.clone(),
                        other => other.to_string(),
                    };
                    out = out.replace(&pat, &text);
                }
            }
            Value::String(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, vars)).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (k.clone(), substitute(x, vars))).collect()),
        other => other.clone(),
    }
}

/// Whether `actual` matches `expected` (see module docs); on failure, says where.
pub fn matches(expected: &Value, actual: &Value, path: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::String(s), _) if s == "$any" => Ok(()),
        (Value::String(s), a) if s == "$set" => {
            if a.is_null() {
                Err(format!("{path}: expected a value, got null"))
            } else {
                Ok(())
            }
        }
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                if ev == "$absent" {
                    if a.contains_key(k) {
                        return Err(format!("{path}.{k}: expected no such key"));
                    }
                    continue;
                }
                let av = a.get(k).ok_or_else(|| format!("{path}.{k}: missing in {}", Value::Object(a.clone())))?;
                matches(ev, av, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Err(format!(
                    "{path}: expected {} items, got {}: {}",
                    e.len(),
                    a.len(),
                    Value::Array(a.clone())
                ));
            }
            e.iter().zip(a).enumerate().try_for_each(|(i, (ev, av))| matches(ev, av, &format!("{path}[{i}]")))
        }
        (e, a) if e == a => Ok(()),
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => Ok(()),
        (e, a) => Err(format!("{path}: expected {e}, got {a}")),
    }
}

/// The value at a dotted path of `v` (`""` is `v` itself; numbers index arrays).
pub fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return Some(v);
    }
    path.split('.').try_fold(v, |cur, seg| match seg.parse::<usize>() {
        Ok(i) => cur.get(i),
        Err(_) => cur.get(seg),
    })
}

impl<S: Store> Runner<S> {
    /// A runner for `scenario` over `store`, before its first step.
    pub fn new(scenario: &Value, store: S, order: Order) -> Result<Runner<S>, String> {
        let name = scenario["name"].as_str().unwrap_or("?");
        let options = options(scenario.get("engine"));
        let peer = Engine::new(Options { max_staleness_ms: 0, ..options.clone() })
            .map_err(|e| format!("{name}: peer: {e}"))?;
        let engine = Engine::new(options.clone()).map_err(|e| format!("{name}: engine: {e}"))?;
        Ok(Runner {
            options,
            engine,
            peer,
            store: FaultyStore::new(store),
            now: T0,
            seq: 0,
            order,
            vars: Map::new(),
            transcript: None,
        })
    }

    /// The same point of the scenario (saved values, clock, seeds) over `store`, in a new
    /// process: fresh engines, nothing cached.
    pub fn fork<T: Store>(&self, store: T) -> Runner<T> {
        let options = self.options.clone();
        Runner {
            engine: Engine::new(options.clone()).expect("options were accepted once"),
            peer: Engine::new(Options { max_staleness_ms: 0, ..options.clone() }).expect("peer options"),
            options,
            store: FaultyStore::new(store),
            now: self.now,
            seq: self.seq,
            order: self.order,
            vars: self.vars.clone(),
            transcript: None,
        }
    }

    /// The engine options of the scenario.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// New engines in place of the old: the process restarted, its caches are gone.
    pub fn restart(&mut self) {
        self.engine = Engine::new(self.options.clone()).expect("options were accepted once");
        self.peer = Engine::new(Options { max_staleness_ms: 0, ..self.options.clone() }).expect("peer options");
    }

    /// The call of a step, with saved values substituted; `None` for a host step (clock, faults).
    pub fn call_of(&self, step: &Value) -> Option<Result<Call, keyward_core::Error>> {
        let op = step["op"].as_str()?;
        if matches!(op, "advance_clock" | "fail_store" | "lose_races") {
            return None;
        }
        let args = substitute(step.get("args").unwrap_or(&json!({})), &self.vars);
        Some(Call::from_json(json!({"op": op, "args": args})))
    }

    fn env(&mut self) -> Env {
        self.seq += 1;
        let mut seed = [7u8; 32];
        seed[..8].copy_from_slice(&self.seq.to_le_bytes());
        Env { now: self.now, seed }
    }

    /// Runs `call` to its end on the scenario's engine (or its peer), answering every store
    /// request from the runner's store.
    pub fn drive(&mut self, call: Call, via_peer: bool) -> (Result<Value, keyward_core::Error>, Vec<AuditEvent>) {
        let env = self.env();
        let engine = if via_peer { &self.peer } else { &self.engine };
        let mut op = engine.start(call, env);
        let mut round = 0u64;
        let answer = loop {
            match op.step() {
                Step::Need(requests) => {
                    round += 1;
                    let mut order: Vec<usize> = (0..requests.len()).collect();
                    if let Order::Shuffled = self.order {
                        // A fixed permutation that differs by round: reverse, then rotate.
                        order.reverse();
                        let n = order.len();
                        order.rotate_left((round as usize + self.seq as usize) % n.max(1));
                    }
                    let mut replies = vec![None; requests.len()];
                    for i in order {
                        replies[i] = Some(requests[i].run_on(&self.store));
                    }
                    op.provide(replies.into_iter().map(|r| r.expect("every request answered")).collect());
                }
                Step::Done(answer) => break answer,
            }
        };
        let events = op.take_events();
        if let Some(t) = &mut self.transcript {
            t.shown.push(format!("{answer:?}"));
            for e in &events {
                t.shown.push(format!("{e:?}"));
                t.shown.push(serde_json::to_string(e).expect("events serialise"));
            }
        }
        (answer.map(|a| serde_json::to_value(a).expect("answers serialise")), events)
    }

    /// Runs a step's call once more, saving what the step saves when it succeeds; answers the
    /// error code when it fails. Nothing is checked against the step's expectations.
    pub fn run_again(&mut self, step: &Value) -> Result<(), String> {
        let Some(Ok(call)) = self.call_of(step) else { return Ok(()) };
        let (answer, _) = self.drive(call, step["via"] == "peer");
        let v = answer.map_err(|e| e.code().to_owned())?;
        self.save(step, &v);
        Ok(())
    }

    /// Saves what `step` saves from its answer `v`.
    pub fn save(&mut self, step: &Value, v: &Value) {
        if let Some(Value::Object(save)) = step.get("save") {
            for (name, path) in save {
                if let Some(value) = lookup(v, path.as_str().unwrap_or_default()) {
                    self.vars.insert(name.clone(), value.clone());
                }
            }
        }
    }

    /// Runs one step and checks what it expects.
    pub fn step(&mut self, step: &Value, at: &str) -> Result<(), String> {
        self.step_checking(step, at, true)
    }

    /// Runs one step and checks what it expects, its events only if `check_events` says so.
    pub fn step_checking(&mut self, step: &Value, at: &str, check_events: bool) -> Result<(), String> {
        let op = step["op"].as_str().ok_or_else(|| format!("{at}: no op"))?;
        let args = substitute(step.get("args").unwrap_or(&json!({})), &self.vars);
        match op {
            "advance_clock" => {
                self.now += args["ms"].as_i64().ok_or("advance_clock needs ms")?;
                return Ok(());
            }
            "fail_store" => {
                self.store.fail_calls.set(args["calls"].as_u64().unwrap_or(1) as u32);
                *self.store.fail_message.borrow_mut() = args["message"].as_str().unwrap_or("store failed").to_owned();
                return Ok(());
            }
            "lose_races" => {
                self.store.lose_puts.set(args["puts"].as_u64().unwrap_or(1) as u32);
                return Ok(());
            }
            _ => {}
        }
        let call = Call::from_json(json!({"op": op, "args": args}));
        let (answer, events) = match call {
            Ok(call) => self.drive(call, step["via"] == "peer"),
            Err(e) => (Err(e), Vec::new()),
        };
        if let Some(t) = &mut self.transcript {
            if let Some(password) = args.get("password").and_then(Value::as_str) {
                t.secret(password);
            }
            match &answer {
                Ok(v) => {
                    let mut shown = v.clone();
                    if let Some(token) = shown
                        .as_object_mut()
                        .and_then(|o| o.remove("token"))
                        .and_then(|t| t.as_str().map(str::to_owned))
                    {
                        // `<prefix>_<id>_<secret><check>`: the secret is what is hashed.
                        if let Some(secret) = token
                            .rsplit('_')
                            .next()
                            .and_then(|tail| tail.get(..keyward_core::tokens::format::SECRET_LEN))
                        {
                            t.secret(secret);
                        }
                        t.secret(&token);
                    }
                    t.shown.push(shown.to_string());
                }
                Err(e) => {
                    t.shown.push(e.to_string());
                    t.shown.push(format!("{e:?}"));
                    t.shown.push(serde_json::to_string(&e.to_data()).expect("error data"));
                }
            }
        }
        // A step that sets up a failure must not leak it into the next step.
        self.store.fail_calls.set(0);
        self.store.lose_puts.set(0);
        match (&answer, step.get("expect_error")) {
            (Ok(v), Some(e)) => return Err(format!("{at} ({op}): expected error {e}, got {v}")),
            (Err(err), None) => return Err(format!("{at} ({op}): unexpected error {}: {err}", err.code())),
            (Err(err), Some(expected)) => {
                let data = serde_json::to_value(err.to_data()).expect("error data");
                let expected = match expected {
                    Value::String(code) => json!({ "code": code }),
                    other => substitute(other, &self.vars),
                };
                matches(&expected, &data, "error").map_err(|m| format!("{at} ({op}): {m}"))?;
            }
            (Ok(v), None) => {
                if let Some(expected) = step.get("expect") {
                    matches(&substitute(expected, &self.vars), v, "answer").map_err(|m| format!("{at} ({op}): {m}"))?;
                }
                if let Some(Value::Object(save)) = step.get("save") {
                    for (name, path) in save {
                        let path = path.as_str().unwrap_or_default();
                        let value =
                            lookup(v, path).ok_or_else(|| format!("{at}: nothing at `{path}` to save in {v}"))?;
                        self.vars.insert(name.clone(), value.clone());
                    }
                }
            }
        }
        if let Some(expected) = step.get("expect_events").filter(|_| check_events) {
            let actual = serde_json::to_value(&events).expect("events serialise");
            matches(&substitute(expected, &self.vars), &actual, "events").map_err(|m| format!("{at} ({op}): {m}"))?;
        }
        Ok(())
    }
}

fn options(spec: Option<&Value>) -> Options {
    let mut o = Options::default();
    if let Some(spec) = spec {
        if let Some(d) = spec["domain"].as_str() {
            o.domain = d.to_owned();
        }
        if let Some(p) = spec["token_prefix"].as_str() {
            o.token_prefix = p.to_owned();
        }
        if let Some(p) = spec["pepper"].as_str() {
            o.pepper = Some(p.as_bytes().to_vec());
        }
        if let Some(ms) = spec["max_staleness_ms"].as_u64() {
            o.max_staleness_ms = ms;
        }
    }
    o
}

/// Runs one scenario on a fresh store; `Err` says which step failed and why.
pub fn run<S: Store>(scenario: &Value, store: S, order: Order) -> Result<(), String> {
    let name = scenario["name"].as_str().unwrap_or("?");
    let mut runner = Runner::new(scenario, store, order)?;
    let steps = scenario["steps"].as_array().ok_or_else(|| format!("{name}: no steps"))?;
    for (i, step) in steps.iter().enumerate() {
        runner.step(step, &format!("{name}, step {}", i + 1))?;
    }
    Ok(())
}
