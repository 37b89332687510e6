"""Replays every scenario of `tests/conformance/` (DESIGN.md, "Conformance scenarios"), with
the same semantics as the Rust runner (`core/tests/support/scenario.rs`):

- a step is `{"op", "args", "expect"?, "expect_error"?, "expect_events"?, "save"?}`; `op` is an
  operation of API.md, called through the typed `keyward.Engine` method (or, when the args do
  not fit its signature, through `Engine.call`, so the core names the bad argument), or a host
  step: `advance_clock {ms}`, `fail_store {calls, message}`, `lose_races {puts}`;
- `"$name"` in args is replaced by a saved value (whole strings), `"${name}"` inside strings;
- `expect` matches the answer: objects by the keys given, arrays element by element with equal
  length, `"$any"` anything, `"$set"` anything but null, `"$absent"` a key that must not be
  there; `expect_error` is a code or `{code, message?, field?, position?, rules?}`;
- `expect_events` matches the events the audit callback received during the step, in order;
- `save` maps names to dotted paths in the answer (`""` is the whole answer);
- `"via": "peer"` runs the step on a second engine over the same store, with the same options
  but no staleness window: another process writing (R-16).

Each file runs four times: with the built-in `keyward.MemoryStore` (natively; a step after
`fail_store`/`lose_races` goes through a second engine over a Python wrapper of the same
store, which injects the failures), with a store written in Python (a dict), and with
`keyward.stores.SqliteStore` (a file per scenario) and `keyward.stores.PostgresStore` (the
test database, emptied before each scenario) behind the failure-injecting wrapper, whose
`get_many` the engine then uses.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

import keyward
import keyward.stores
from keyward import _keyward
from support import T0, Clock, DictStore, PgTable, faulty, pg_url

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "tests" / "conformance"
FILES = sorted(SCENARIO_DIR.glob("*.json"))
OPERATIONS = {sig[0] for sig in _keyward.signatures()}
_MISSING = object()


class Mismatch(Exception):
    """A step's answer, error or events differ from the scenario's expectation."""


def load(path: Path) -> List[Dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, list) else [data]


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def substitute(value: Any, variables: Dict[str, Any]) -> Any:
    if isinstance(value, str):
        if value.startswith("$") and value[1:] in variables:
            return variables[value[1:]]
        out = value
        for name, saved in variables.items():
            pattern = "${" + name + "}"
            if pattern in out:
                out = out.replace(pattern, _text(saved))
        return out
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, variables) for k, v in value.items()}
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _scalar_equal(expected: Any, actual: Any) -> bool:
    if _is_number(expected) and _is_number(actual):
        return float(expected) == float(actual)
    if isinstance(expected, (dict, list)) or isinstance(actual, (dict, list)):
        return False
    return type(expected) is type(actual) and bool(expected == actual)


def matches(expected: Any, actual: Any, path: str) -> None:
    """Raises `Mismatch` saying where `actual` differs from `expected`."""
    if expected == "$any" and isinstance(expected, str):
        return
    if expected == "$set" and isinstance(expected, str):
        if actual is None:
            raise Mismatch(f"{path}: expected a value, got null")
        return
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key, value in expected.items():
            if isinstance(value, str) and value == "$absent":
                if key in actual:
                    raise Mismatch(f"{path}.{key}: expected no such key")
                continue
            if key not in actual:
                raise Mismatch(f"{path}.{key}: missing in {_text(actual)}")
            matches(value, actual[key], f"{path}.{key}")
        return
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            raise Mismatch(f"{path}: expected {len(expected)} items, got {len(actual)}: {_text(actual)}")
        for i, (e, a) in enumerate(zip(expected, actual)):
            matches(e, a, f"{path}[{i}]")
        return
    if not _scalar_equal(expected, actual):
        raise Mismatch(f"{path}: expected {_text(expected)}, got {_text(actual)}")


def lookup(value: Any, path: str) -> Any:
    if path == "":
        return value
    current = value
    for segment in path.split("."):
        if re.fullmatch(r"\+?[0-9]+", segment):
            index = int(segment)
            if not isinstance(current, list) or index >= len(current):
                return _MISSING
            current = current[index]
        else:
            if not isinstance(current, dict) or segment not in current:
                return _MISSING
            current = current[segment]
    return current


def error_data(error: keyward.KeywardError) -> Dict[str, Any]:
    """The error as `keyward_core::ErrorData` serialises it."""
    data: Dict[str, Any] = {"code": error.code, "message": error.message}
    if error.field is not None:
        data["field"] = error.field
    if error.position is not None:
        data["position"] = error.position
    if error.rules is not None:
        data["rules"] = error.rules
    return data


def invoke(engine: keyward.Engine, op: str, args: Dict[str, Any]) -> Any:
    """Calls the typed method when the args fit its signature, `Engine.call` otherwise."""
    if op in OPERATIONS:
        method: Callable[..., Any] = getattr(engine, op)
        try:
            inspect.signature(method).bind(**args)
        except TypeError:
            pass
        else:
            return method(**args)
    return engine.call(op, args)


class Runner:
    """Runs one scenario on a fresh store."""

    def __init__(self, scenario: Dict[str, Any], store_kind: str, store: Optional[keyward.Store] = None) -> None:
        options: Dict[str, Any] = {}
        for key in ("domain", "token_prefix", "pepper"):
            value = (scenario.get("engine") or {}).get(key)
            if isinstance(value, str):
                options[key] = value
        window = (scenario.get("engine") or {}).get("max_staleness_ms", 0)
        self.clock = Clock(T0)
        self.events: List[keyward.AuditEvent] = []
        self.variables: Dict[str, Any] = {}
        inner: keyward.Store
        if store is not None:
            inner = store
        else:
            inner = keyward.MemoryStore() if store_kind == "builtin" else DictStore()
        self.faulty = faulty(inner)
        self.faulty_engine = keyward.Engine(
            self.faulty, clock=self.clock, audit=self.events.append, max_staleness_ms=window, **options
        )
        # The built-in store runs natively; only steps with injected faults use the wrapper. A
        # staleness window belongs to one engine, so a scenario with one always uses the wrapper.
        self.engine = (
            keyward.Engine(inner, clock=self.clock, audit=self.events.append, **options)
            if store_kind == "builtin" and not window
            else self.faulty_engine
        )
        self.peer = keyward.Engine(self.faulty, clock=self.clock, audit=self.events.append, **options)

    def step(self, step: Dict[str, Any], at: str) -> None:
        op = step.get("op")
        if not isinstance(op, str):
            raise Mismatch(f"{at}: no op")
        args = substitute(step.get("args", {}), self.variables)
        if op == "advance_clock":
            self.clock.advance(int(args["ms"]))
            return
        if op == "fail_store":
            self.faulty.fail_calls = int(args.get("calls", 1))
            message = args.get("message")
            self.faulty.fail_message = message if isinstance(message, str) else "store failed"
            return
        if op == "lose_races":
            self.faulty.lose_puts = int(args.get("puts", 1))
            return

        engine = self.faulty_engine if self.faulty.armed() else self.engine
        if step.get("via") == "peer":
            engine = self.peer
        self.events.clear()
        answer: Any = None
        error: Optional[keyward.KeywardError] = None
        try:
            answer = invoke(engine, op, args)
        except keyward.KeywardError as e:
            error = e
        finally:
            # A step that sets up a failure must not leak it into the next step.
            self.faulty.disarm()
        events = list(self.events)

        expected_error = step.get("expect_error")
        if error is None and expected_error is not None:
            raise Mismatch(f"{at} ({op}): expected error {_text(expected_error)}, got {_text(answer)}")
        if error is not None and expected_error is None:
            raise Mismatch(f"{at} ({op}): unexpected error {error.code}: {error}")
        if error is not None:
            expected = (
                {"code": expected_error}
                if isinstance(expected_error, str)
                else substitute(expected_error, self.variables)
            )
            try:
                matches(expected, error_data(error), "error")
            except Mismatch as m:
                raise Mismatch(f"{at} ({op}): {m}") from None
        else:
            if "expect" in step:
                try:
                    matches(substitute(step["expect"], self.variables), answer, "answer")
                except Mismatch as m:
                    raise Mismatch(f"{at} ({op}): {m}") from None
            save = step.get("save")
            if isinstance(save, dict):
                for name, path in save.items():
                    value = lookup(answer, path if isinstance(path, str) else "")
                    if value is _MISSING:
                        raise Mismatch(f"{at}: nothing at `{path}` to save in {_text(answer)}")
                    self.variables[name] = value
        if "expect_events" in step:
            try:
                matches(substitute(step["expect_events"], self.variables), events, "events")
            except Mismatch as m:
                raise Mismatch(f"{at} ({op}): {m}") from None


def run(scenario: Dict[str, Any], store_kind: str, store: Optional[keyward.Store] = None) -> None:
    name = scenario.get("name", "?")
    runner = Runner(scenario, store_kind, store)
    steps = scenario.get("steps")
    if not isinstance(steps, list):
        raise Mismatch(f"{name}: no steps")
    for i, step in enumerate(steps, start=1):
        runner.step(step, f"{name}, step {i}")


def test_scenarios_are_found() -> None:
    assert FILES, f"no scenario files in {SCENARIO_DIR}"


@pytest.fixture(scope="module")
def pg_table() -> Iterator[PgTable]:
    table = PgTable(pg_url())
    yield table
    table.close()


@pytest.mark.parametrize("store_kind", ["builtin", "python", "sqlite", "postgres"])
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_scenario_file(path: Path, store_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    failures = []
    scenarios = load(path)
    assert scenarios, f"{path.name} holds no scenario"
    pg: Optional[keyward.stores.PostgresStore] = None
    if store_kind == "postgres":
        table: PgTable = request.getfixturevalue("pg_table")
        pg = keyward.stores.PostgresStore(pg_url())
    for i, scenario in enumerate(scenarios):
        store: Optional[keyward.Store] = None
        if store_kind == "sqlite":
            store = keyward.stores.SqliteStore(tmp_path / f"scenario{i}.db")
        elif pg is not None:
            table.clear()
            store = pg
        try:
            run(scenario, store_kind, store)
        except Mismatch as m:
            failures.append(str(m))
        finally:
            if isinstance(store, keyward.stores.SqliteStore):
                store.close()
    if pg is not None:
        pg.close()
    assert not failures, f"{len(failures)} of {len(scenarios)} scenarios failed:\n" + "\n".join(failures)
