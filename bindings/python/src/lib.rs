//! `keyward._keyward`: the native module behind the `keyward` Python package.
//!
//! Conversion only (DESIGN.md): Python values become JSON, JSON becomes a
//! [`keyward_core::Call`], the core's step machine runs it, and the answer, the error or the
//! audit events come back as plain Python values. The typed, documented API lives in
//! `python/keyward/__init__.py`; this module offers the two classes it wraps:
//!
//! - `MemoryStore`: the core's built-in store. Given to an `Engine`, a whole operation runs
//!   natively in one call. It also answers the host store protocol (`get`, `put`, `delete`,
//!   `list`), so Python code can wrap or inspect it.
//! - `Engine`: holds a [`keyward_core::Engine`] and runs one operation per `call(op, args)`.
//!   With a host store (any object with the four protocol methods) it calls those methods for
//!   each store request; a method that raises answers `StoreReply::Failed` with the exception's
//!   message, so the operation fails with `store_error` and the engine stays usable.
//!
//! Every call runs under [`keyward_core::host::guarded`] and `catch_unwind`: a panic becomes
//! `keyward.Internal`, never a `PanicException`.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use keyward_core::host::guarded;
use keyward_core::OPERATIONS;
use keyward_core::{
    AuditEvent, Call, Entry, Error, MemoryStore, Op, Options, Step, Store, StoreFailure, StoreRequest, Versioned,
};
use pyo3::exceptions::{PyException, PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

/// Deepest nesting of lists and dicts accepted in arguments: deeper (or self-referencing)
/// values raise `ValueError` instead of exhausting the stack.
const MAX_DEPTH: usize = 64;

// ---------------------------------------------------------------------------------------------
// Values: Python → JSON and JSON → Python
// ---------------------------------------------------------------------------------------------

/// A `str` as Rust text. One that is not valid Unicode (a lone surrogate) is a `ValueError`
/// that does not carry the text: Python's own `UnicodeEncodeError` would hold the whole string
/// in its `.object` and `args`, and the string may be a token, a password or a pepper.
fn text(s: &Bound<'_, PyString>) -> PyResult<String> {
    s.to_cow()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| PyValueError::new_err("text is not valid Unicode (it holds a lone surrogate)"))
}

/// Converts a Python argument to JSON. `None`, `bool`, `int` (64 bits), `float` (finite),
/// `str`, `list`/`tuple` and `dict` with `str` keys; anything else is a `TypeError`.
fn to_json(value: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err("argument nested too deeply (or refers to itself)"));
    }
    if value.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = value.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(i) = value.cast::<PyInt>() {
        if let Ok(n) = i.extract::<i64>() {
            return Ok(Value::from(n));
        }
        return match i.extract::<u64>() {
            Ok(n) => Ok(Value::from(n)),
            Err(_) => Err(PyOverflowError::new_err("integer does not fit in 64 bits")),
        };
    }
    if let Ok(f) = value.cast::<PyFloat>() {
        return Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| PyValueError::new_err("a number must be finite"));
    }
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(Value::String(text(s)?));
    }
    if let Ok(d) = value.cast::<PyDict>() {
        let mut map = Map::new();
        for (k, v) in d.iter() {
            let key = text(k.cast::<PyString>().map_err(|_| PyTypeError::new_err("dictionary keys must be str"))?)?;
            map.insert(key, to_json(&v, depth + 1)?);
        }
        return Ok(Value::Object(map));
    }
    if let Ok(l) = value.cast::<PyList>() {
        return l.iter().map(|v| to_json(&v, depth + 1)).collect::<PyResult<Vec<_>>>().map(Value::Array);
    }
    if let Ok(t) = value.cast::<PyTuple>() {
        return t.iter().map(|v| to_json(&v, depth + 1)).collect::<PyResult<Vec<_>>>().map(Value::Array);
    }
    let type_name = value.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "object".to_owned());
    Err(PyTypeError::new_err(format!("expected None, bool, int, float, str, list, tuple or dict, got {type_name}")))
}

// ---------------------------------------------------------------------------------------------
// Errors: keyward_core::Error → keyward.KeywardError subclasses
// ---------------------------------------------------------------------------------------------

/// `keyward._errors._from_data(code, message, field, position, rules)`, imported once.
static FROM_DATA: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The Python exception for a core error: the `keyward.KeywardError` subclass of its code,
/// with `.code`, `.field`, `.position` and `.rules`.
fn py_error(py: Python<'_>, error: &Error) -> PyErr {
    let data = error.to_data();
    let build = || -> PyResult<PyErr> {
        let factory = FROM_DATA.get_or_try_init(py, || {
            py.import("keyward._errors").and_then(|m| m.getattr("_from_data")).map(Bound::unbind)
        })?;
        let exc = factory.bind(py).call1((data.code, &data.message, &data.field, data.position, &data.rules))?;
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|e| e)
}

fn internal(message: impl Into<String>) -> Error {
    Error::Internal { message: message.into() }
}

/// The message a failed host callback carries: `str(exception)`, or its type's name
/// when that is empty.
fn host_message(py: Python<'_>, err: &PyErr) -> String {
    let text = err.value(py).str().map(|s| s.to_string()).unwrap_or_default();
    if text.is_empty() {
        err.get_type(py).name().map(|n| n.to_string()).unwrap_or_else(|_| "host callback failed".to_owned())
    } else {
        text
    }
}

// ---------------------------------------------------------------------------------------------
// MemoryStore
// ---------------------------------------------------------------------------------------------

/// The built-in in-memory store. An `Engine` given one runs each operation natively in
/// one call; it also answers the host store protocol, so Python code may wrap or inspect it.
#[pyclass(frozen, module = "keyward._keyward", name = "MemoryStore")]
struct PyMemoryStore {
    inner: Arc<MemoryStore>,
}

fn entry_dict<'py>(py: Python<'py>, key: Option<&str>, value: &str, version: u64) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    if let Some(key) = key {
        dict.set_item("key", key)?;
    }
    dict.set_item("value", value)?;
    dict.set_item("version", version)?;
    Ok(dict)
}

#[pymethods]
impl PyMemoryStore {
    #[new]
    fn new() -> Self {
        PyMemoryStore { inner: Arc::new(MemoryStore::new()) }
    }

    /// `{"value", "version"}` at `key`, or `None`.
    fn get<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Option<Bound<'py, PyDict>>> {
        match self.inner.get(key) {
            Ok(Some(v)) => entry_dict(py, None, &v.value, v.version).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(py_error(py, &internal(e.0))),
        }
    }

    /// Compare-and-set write: the new version, or `None` when `expected_version` is stale.
    #[pyo3(signature = (key, value, expected_version))]
    fn put(&self, py: Python<'_>, key: &str, value: &str, expected_version: Option<u64>) -> PyResult<Option<u64>> {
        self.inner.put(key, value, expected_version).map_err(|e| py_error(py, &internal(e.0)))
    }

    /// Compare-and-set delete: `False` when `expected_version` is stale or the key is absent.
    fn delete(&self, py: Python<'_>, key: &str, expected_version: u64) -> PyResult<bool> {
        self.inner.delete(key, expected_version).map_err(|e| py_error(py, &internal(e.0)))
    }

    /// Up to `limit` `{"key", "value", "version"}` under `prefix`, keys after `after`, in order.
    #[pyo3(signature = (prefix, after, limit))]
    fn list<'py>(
        &self,
        py: Python<'py>,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let entries = self.inner.list(prefix, after, limit).map_err(|e| py_error(py, &internal(e.0)))?;
        let list = PyList::empty(py);
        for Entry { key, value, version } in entries {
            list.append(entry_dict(py, Some(&key), &value, version)?)?;
        }
        Ok(list)
    }

    /// One `{"value", "version"}` or `None` per key, in the order asked (the optional
    /// `get_many` of the store protocol).
    fn get_many<'py>(&self, py: Python<'py>, keys: Vec<String>) -> PyResult<Bound<'py, PyList>> {
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let entries = self.inner.get_many(&keys).map_err(|e| py_error(py, &internal(e.0)))?;
        let list = PyList::empty(py);
        for entry in entries {
            match entry {
                Some(v) => list.append(entry_dict(py, None, &v.value, v.version)?)?,
                None => list.append(py.None())?,
            }
        }
        Ok(list)
    }

    /// Every key, in order (for tests and diagnostics).
    fn keys(&self) -> Vec<String> {
        self.inner.keys()
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self) -> String {
        format!("MemoryStore(<{} keys>)", self.inner.len())
    }
}

// ---------------------------------------------------------------------------------------------
// Host store: the four protocol methods of a Python object
// ---------------------------------------------------------------------------------------------

/// A Python object as a core [`Store`]: the core's own driver (`StoreRequest::run_batch`)
/// decides when a batch of reads becomes one `get_many` call, so this type only converts. A
/// `BaseException` that is not an `Exception` (`KeyboardInterrupt`, `SystemExit`) is kept and
/// re-raised once the operation has ended; further calls then fail without calling Python.
struct HostStore<'a, 'py> {
    store: &'a Bound<'py, PyAny>,
    get_many: Option<Bound<'py, PyAny>>,
    pending: RefCell<Option<PyErr>>,
}

fn field<'py>(item: &Bound<'py, PyAny>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    item.get_item(name)
}

/// A version from the host store: an `int` that is not a `bool`; the core refuses 0.
fn version(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    if value.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err("a version is an int, not a bool"));
    }
    value.extract()
}

/// A read's answer: `None` or `{"value", "version"}` with a valid version.
fn entry(answer: &Bound<'_, PyAny>) -> PyResult<Option<Versioned>> {
    if answer.is_none() {
        return Ok(None);
    }
    Ok(Some(Versioned { value: field(answer, "value")?.extract()?, version: version(&field(answer, "version")?)? }))
}

impl<'a, 'py> HostStore<'a, 'py> {
    fn new(store: &'a Bound<'py, PyAny>) -> Self {
        let get_many = store.getattr_opt("get_many").ok().flatten().filter(|m| m.is_callable());
        HostStore { store, get_many, pending: RefCell::new(None) }
    }

    /// Calls the store's `method`, then reads its answer with `read`; any failure is the
    /// host's message.
    fn call<T>(
        &self,
        method: &str,
        call: impl FnOnce() -> PyResult<Bound<'py, PyAny>>,
        read: impl FnOnce(&Bound<'py, PyAny>) -> PyResult<T>,
    ) -> Result<T, StoreFailure> {
        if self.pending.borrow().is_some() {
            return Err(StoreFailure("interrupted".into()));
        }
        let py = self.store.py();
        let answer = call().map_err(|err| {
            let message = host_message(py, &err);
            if !err.is_instance_of::<PyException>(py) {
                *self.pending.borrow_mut() = Some(err);
            }
            StoreFailure(message)
        })?;
        read(&answer).map_err(|err| {
            StoreFailure(format!("the store's `{method}` answered an unexpected value: {}", host_message(py, &err)))
        })
    }
}

impl Store for HostStore<'_, '_> {
    fn get(&self, key: &str) -> Result<Option<Versioned>, StoreFailure> {
        self.call("get", || self.store.call_method1("get", (key,)), entry)
    }

    fn put(&self, key: &str, value: &str, expected: Option<u64>) -> Result<Option<u64>, StoreFailure> {
        let read = |answer: &Bound<'_, PyAny>| if answer.is_none() { Ok(None) } else { version(answer).map(Some) };
        self.call("put", || self.store.call_method1("put", (key, value, expected)), read)
    }

    fn delete(&self, key: &str, expected: u64) -> Result<bool, StoreFailure> {
        self.call("delete", || self.store.call_method1("delete", (key, expected)), |a| a.is_truthy())
    }

    fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Vec<Entry>, StoreFailure> {
        let read = |answer: &Bound<'_, PyAny>| {
            let mut entries = Vec::new();
            for item in answer.try_iter()? {
                let item = item?;
                entries.push(Entry {
                    key: field(&item, "key")?.extract()?,
                    value: field(&item, "value")?.extract()?,
                    version: version(&field(&item, "version")?)?,
                });
            }
            Ok(entries)
        };
        self.call("list", || self.store.call_method1("list", (prefix, after, limit)), read)
    }

    fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Versioned>>, StoreFailure> {
        let Some(get_many) = &self.get_many else {
            return keys.iter().map(|key| self.get(key)).collect();
        };
        let py = self.store.py();
        let read = |answer: &Bound<'_, PyAny>| answer.try_iter()?.map(|item| entry(&item?)).collect();
        self.call("get_many", || get_many.call1((PyList::new(py, keys)?,)), read)
    }
}

// ---------------------------------------------------------------------------------------------
// Engine
// ---------------------------------------------------------------------------------------------

enum StoreKind {
    Builtin(Arc<MemoryStore>),
    Host(Py<PyAny>),
}

/// Holds a `keyward_core::Engine` and its host callbacks; runs one operation per `call`.
#[pyclass(frozen, module = "keyward._keyward", name = "Engine")]
struct PyEngine {
    engine: keyward_core::Engine,
    store: StoreKind,
    clock: Option<Py<PyAny>>,
    audit: Option<Py<PyAny>>,
}

fn require_callable(name: &str, value: &Option<Bound<'_, PyAny>>) -> PyResult<()> {
    match value {
        Some(v) if !v.is_callable() => Err(PyTypeError::new_err(format!("`{name}` must be callable"))),
        _ => Ok(()),
    }
}

type Outcome = (keyward_core::Result<keyward_core::Answer>, Vec<AuditEvent>);

impl PyEngine {
    /// Milliseconds from the host clock, or the wall clock without one. A clock that
    /// fails is a failing host callback: `store_error` with its message.
    fn now(&self, py: Python<'_>) -> keyward_core::Result<i64> {
        let Some(clock) = &self.clock else {
            let since = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|e| internal(format!("the system clock is before 1970: {e}")))?;
            return i64::try_from(since.as_millis()).map_err(|_| internal("the system clock is out of range"));
        };
        let value = clock.bind(py).call0().map_err(|e| Error::StoreError { message: host_message(py, &e) })?;
        if let Ok(ms) = value.extract::<i64>() {
            if !value.is_instance_of::<PyBool>() {
                return Ok(ms);
            }
        }
        // A float is floored; it must land inside an i64: [-2^63, 2^63).
        match value.cast::<PyFloat>().map(|f| f.value().floor()) {
            Ok(ms) if ms.is_finite() && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&ms) => {
                Ok(ms as i64)
            }
            _ => Err(Error::StoreError {
                message: "the clock must return milliseconds since the epoch: a finite int or float within an i64"
                    .into(),
            }),
        }
    }

    /// Runs a parsed call to its end: the answer as JSON and the events for the audit callback.
    fn drive(&self, py: Python<'_>, mut op: Op, slow: bool) -> (Outcome, Option<PyErr>) {
        match &self.store {
            StoreKind::Builtin(store) => {
                let store = Arc::clone(store);
                let run = move || -> Outcome {
                    let mut events = Vec::new();
                    let answer = guarded(|| {
                        let (answer, evs) = op.run_on(&*store);
                        events = evs;
                        answer
                    });
                    (answer, events)
                };
                (if slow { py.detach(run) } else { run() }, None)
            }
            StoreKind::Host(store) => {
                let store = store.bind(py);
                let host = HostStore::new(store);
                let mut events = Vec::new();
                let answer = guarded(|| {
                    let answer = loop {
                        let step = if slow { py.detach(|| op.step()) } else { op.step() };
                        match step {
                            Step::Need(requests) => op.provide(StoreRequest::run_batch(&requests, &host)),
                            Step::Done(answer) => break answer,
                        }
                    };
                    events = op.take_events();
                    answer
                });
                ((answer, events), host.pending.into_inner())
            }
        }
    }

    /// Hands events to the audit callback; whatever it raises is swallowed: a failing
    /// callback changes no outcome.
    fn deliver(&self, py: Python<'_>, events: &[AuditEvent]) {
        let Some(audit) = &self.audit else { return };
        for event in events {
            if let Ok(record) = pythonize::pythonize(py, event) {
                let _ignored = audit.bind(py).call1((record,));
            }
        }
    }

    fn call_inner<'py>(&self, py: Python<'py>, op: &str, args: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let args = to_json(args, 0)?;
        if !args.is_object() {
            return Err(PyTypeError::new_err("args must be a dict"));
        }
        let prepared = guarded(|| {
            keyward_core::host::panic_probe(op);
            // The checked walk above built plain JSON values (R-94: depth, finite numbers);
            // they are read straight into the operation's struct.
            let call = Call::from_named(op, args)?;
            let slow = call.hashes_password();
            let now = self.now(py)?;
            let seed = || {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).map_err(|e| internal(format!("no randomness from the OS: {e}")))?;
                Ok(seed)
            };
            Ok((keyward_core::host::start_call(&self.engine, call, now, seed, self.audit.is_some())?, slow))
        });
        let (op, slow) = prepared.map_err(|e| py_error(py, &e))?;
        let ((answer, events), pending) = self.drive(py, op, slow);
        self.deliver(py, &events);
        if let Some(err) = pending {
            return Err(err);
        }
        match answer {
            // Records become dicts and lists in one pass, keys as the records name them.
            Ok(answer) => pythonize::pythonize(py, &answer)
                .map_err(|e| py_error(py, &internal(format!("cannot hand the answer over: {e}")))),
            Err(e) => Err(py_error(py, &e)),
        }
    }
}

#[pymethods]
impl PyEngine {
    #[new]
    #[pyo3(signature = (store=None, *, domain="keyward.local", token_prefix="kw", clock=None, audit=None, pepper=None, max_staleness_ms=0))]
    #[allow(clippy::too_many_arguments)] // API.md's keyword options, one parameter each
    fn new(
        py: Python<'_>,
        store: Option<Bound<'_, PyAny>>,
        domain: &str,
        token_prefix: &str,
        clock: Option<Bound<'_, PyAny>>,
        audit: Option<Bound<'_, PyAny>>,
        pepper: Option<Bound<'_, PyAny>>,
        max_staleness_ms: i64,
    ) -> PyResult<Self> {
        require_callable("clock", &clock)?;
        require_callable("audit", &audit)?;
        let pepper = match pepper {
            None => None,
            Some(p) => {
                if let Ok(b) = p.cast::<PyBytes>() {
                    Some(b.as_bytes().to_vec())
                } else if let Ok(s) = p.cast::<PyString>() {
                    Some(text(s)?.into_bytes())
                } else {
                    return Err(PyTypeError::new_err("`pepper` must be bytes or str"));
                }
            }
        };
        let store = match store {
            None => StoreKind::Builtin(Arc::new(MemoryStore::new())),
            Some(s) => match s.cast::<PyMemoryStore>() {
                Ok(m) => StoreKind::Builtin(Arc::clone(&m.get().inner)),
                Err(_) => {
                    for method in ["get", "put", "delete", "list"] {
                        let ok = s.getattr_opt(method)?.is_some_and(|m| m.is_callable());
                        if !ok {
                            return Err(PyTypeError::new_err(format!(
                                "the store must have a `{method}` method (get, put, delete, list)"
                            )));
                        }
                    }
                    StoreKind::Host(s.unbind())
                }
            },
        };
        // An i64 is exact as an f64 over the whole accepted range; the core checks the range.
        let max_staleness_ms =
            keyward_core::host::max_staleness_ms(max_staleness_ms as f64).map_err(|e| py_error(py, &e))?;
        let options =
            Options { domain: domain.to_owned(), token_prefix: token_prefix.to_owned(), pepper, max_staleness_ms };
        let engine = keyward_core::Engine::new(options).map_err(|e| py_error(py, &e))?;
        Ok(PyEngine { engine, store, clock: clock.map(Bound::unbind), audit: audit.map(Bound::unbind) })
    }

    /// Runs operation `op` with `args` (a dict keyed by API.md's parameter names) and returns
    /// its record as plain Python values. Failures raise `keyward.KeywardError` subclasses;
    /// arguments that are not JSON-like raise `TypeError`, `ValueError` or `OverflowError`.
    fn call<'py>(&self, py: Python<'py>, op: &str, args: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        match catch_unwind(AssertUnwindSafe(|| self.call_inner(py, op, args))) {
            Ok(result) => result,
            Err(_) => Err(py_error(py, &internal("the binding panicked"))),
        }
    }
}

/// Every operation's parameters as the core's table declares them (`keyward_core::OPERATIONS`):
/// a list of `(op, positional, required, keywords)`.
#[pyfunction]
fn signatures() -> Vec<(&'static str, Vec<&'static str>, usize, Vec<&'static str>)> {
    let names = |params: &mut dyn Iterator<Item = &'static keyward_core::ParamSpec>| params.map(|p| p.name).collect();
    OPERATIONS.iter().map(|s| (s.op, names(&mut s.positional()), s.required(), names(&mut s.keywords()))).collect()
}

/// Native core of the `keyward` package; use `keyward.Engine`.
#[pymodule]
fn _keyward(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEngine>()?;
    m.add_class::<PyMemoryStore>()?;
    m.add_function(wrap_pyfunction!(signatures, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
