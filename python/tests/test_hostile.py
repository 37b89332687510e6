"""Hostile inputs through the Python host (issue 11 point 5; SPEC §12, R-82, R-93, R-94).

Every input — the shared matrix of tests/hostile/inputs.json, then what only Python can
express (bytes, lone surrogates, NaN, integers beyond 64 bits, objects of no JSON kind), bad
clocks and store answers outside the protocol — must end in a typed error with a stable code
(or the host type error API.md allows: `TypeError`, `ValueError`, `OverflowError`), never a
crash or a `PanicException`, never echo a token (R-82), and leave the same engine instance
serving a normal `verify` and an admin call afterwards.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Type, cast

import pytest

import keyward
from support import T0, Clock, DictStore

ROOT = "root@acme.test"
BOT = "bot@acme.sa.keyward.local"
MATRIX: Dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "tests" / "hostile" / "inputs.json").read_text(encoding="utf-8")
)
SHARED: List[Dict[str, Any]] = MATRIX["inputs"]
HUGE = "a" * 10_000_000


def _nested(depth: int, kind: str) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value] if kind == "array" else {"k": value}
    return value


class World:
    """One engine with tenant `acme`, its admin, service account `bot` (role `viewer`) and a
    live token for it."""

    def __init__(self, store: Optional[keyward.Store] = None, clock: Optional[Callable[[], Any]] = None) -> None:
        self.kw = keyward.Engine(store, clock=clock or Clock())
        self.kw.create_tenant("acme", admin=ROOT)
        self.kw.create_service_account(ROOT, "acme", "bot", role="viewer")
        created = self.kw.create_token(ROOT, BOT, name="ci")
        self.token: str = created["token"]
        self.token_id: str = created["token_id"]

    def materialise(self, value: Any) -> Any:
        if isinstance(value, dict):
            gen = value.get("$gen")
            if gen == "huge":
                return HUGE
            if gen == "deep_array":
                return _nested(10_000, "array")
            if gen == "deep_object":
                return _nested(10_000, "object")
            if gen == "token":
                return self.token
            if gen == "token_id":
                return self.token_id
            return {k: self.materialise(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.materialise(v) for v in value]
        return value

    def assert_usable(self) -> None:
        """The same engine instance still decides and administers (R-94)."""
        decision = self.kw.verify(self.token, "acme", "models:read")
        assert decision["allowed"] and decision["principal"] == BOT
        assert self.kw.get_account(ROOT, "acme", BOT)["principal"] == BOT

    def assert_not_echoed(self, error: BaseException) -> None:
        """R-82: neither the token nor its secret appears in what the error shows."""
        shown = f"{error} {error!r} {error.args!r} {getattr(error, 'field', '')}"
        assert self.token not in shown and self.token[16:48] not in shown


HOST_ERRORS: Dict[str, Type[BaseException]] = {"TypeError": TypeError, "ValueError": ValueError, "OverflowError": OverflowError}


def check_error(error: BaseException, expect: Dict[str, Any]) -> None:
    assert isinstance(error, keyward.KeywardError), repr(error)
    assert error.code == expect["code"] and type(error) is keyward.error_class(expect["code"]), repr(error)
    if "field" in expect:
        assert error.field == expect["field"], repr(error)
    if expect["code"] == "invalid_argument":
        assert error.field, "invalid_argument always names its argument"
    if "position" in expect:
        assert error.position == expect["position"], repr(error)
    if "rules" in expect:
        assert error.rules == expect["rules"], repr(error)


@pytest.fixture(scope="module", params=["builtin", "python"])
def world(request: pytest.FixtureRequest) -> World:
    """One engine per kind of store for the whole matrix (the native `MemoryStore`, run in one
    crossing, and a store written in Python, driven step by step): each input must leave it
    usable for the next."""
    return World(None if request.param == "builtin" else DictStore())


@pytest.mark.parametrize("entry", SHARED, ids=[e["id"] for e in SHARED])
def test_shared_hostile_input_is_a_typed_error_and_the_engine_goes_on(world: World, entry: Dict[str, Any]) -> None:
    """§12, R-82, R-94: one entry of tests/hostile/inputs.json (its `rules` name the rule)."""
    expect: Dict[str, Any] = entry.get("python", entry["expect"])
    args = world.materialise(entry["args"])
    method = getattr(world.kw, entry["op"])
    if "decision" in expect:
        decision = method(**args)
        assert not decision["allowed"] and decision["reason"] == expect["decision"]
        assert world.token[16:48] not in json.dumps(decision)
    else:
        allowed: Tuple[Type[BaseException], ...] = (keyward.KeywardError, TypeError, ValueError, OverflowError)
        with pytest.raises(allowed) as raised:
            method(**args)
        world.assert_not_echoed(raised.value)
        if "raises" in expect:
            assert isinstance(raised.value, HOST_ERRORS[expect["raises"]]), repr(raised.value)
        else:
            check_error(raised.value, expect)
    world.assert_usable()


# -- What only Python can express: bytes, lone surrogates, non-finite floats, big ints --------

SURROGATE = "\ud800"
ESCAPED = b"\xff\xfe".decode("utf-8", "surrogateescape")  # invalid UTF-8 smuggled into a str


def _self_referencing() -> List[Any]:
    items: List[Any] = []
    items.append(items)
    return items


PYTHON_ONLY: List[Tuple[str, str, Callable[[World], Dict[str, Any]], Type[BaseException]]] = [
    ("bytes-tenant", "create_tenant", lambda w: {"tenant": b"fresh", "admin": "a@b.test"}, TypeError),
    ("bytes-actor", "get_tenant", lambda w: {"actor": ROOT.encode(), "tenant": "acme"}, TypeError),
    ("bytes-token", "verify", lambda w: {"token": w.token.encode(), "tenant": "acme", "permission": "models:read"}, TypeError),
    ("bytearray-name", "create_service_account", lambda w: {"actor": ROOT, "tenant": "acme", "name": bytearray(b"x")}, TypeError),
    ("invalid-utf8-bytes-password", "set_password", lambda w: {"actor": ROOT, "principal": BOT, "password": b"\xff\xfe"}, TypeError),
    ("surrogate-tenant", "create_tenant", lambda w: {"tenant": SURROGATE, "admin": "a@b.test"}, ValueError),
    ("surrogate-token", "verify", lambda w: {"token": w.token + SURROGATE, "tenant": "acme", "permission": "models:read"}, ValueError),
    ("surrogate-description", "update_service_account", lambda w: {"actor": ROOT, "principal": BOT, "description": SURROGATE}, ValueError),
    ("surrogate-filter", "list_accounts", lambda w: {"actor": ROOT, "tenant": "acme", "filter": f'name="{SURROGATE}"'}, ValueError),
    ("surrogate-dict-key", "update_tenant_settings", lambda w: {"actor": ROOT, "tenant": "acme", "settings": {SURROGATE: 1}}, ValueError),
    ("surrogateescape-name", "create_service_account", lambda w: {"actor": ROOT, "tenant": "acme", "name": ESCAPED}, ValueError),
    ("surrogateescape-password", "set_password", lambda w: {"actor": ROOT, "principal": BOT, "password": "Aa1!" + ESCAPED * 8}, ValueError),
    ("nan-ttl", "create_token", lambda w: {"actor": ROOT, "principal": BOT, "ttl_days": math.nan}, ValueError),
    ("inf-expires-at", "create_token", lambda w: {"actor": ROOT, "principal": BOT, "expires_at": math.inf}, ValueError),
    ("neg-inf-page-size", "list_accounts", lambda w: {"actor": ROOT, "tenant": "acme", "page_size": -math.inf}, ValueError),
    ("nan-in-settings", "update_tenant_settings", lambda w: {"actor": ROOT, "tenant": "acme", "settings": {"seat_limit": math.nan}}, ValueError),
    ("int-beyond-64-bits-ttl", "create_token", lambda w: {"actor": ROOT, "principal": BOT, "ttl_days": 2**70}, OverflowError),
    ("int-below-i64-expires-at", "create_token", lambda w: {"actor": ROOT, "principal": BOT, "expires_at": -(2**63) - 1}, OverflowError),
    ("object-name", "create_service_account", lambda w: {"actor": ROOT, "tenant": "acme", "name": object()}, TypeError),
    ("set-grants", "grant_permissions", lambda w: {"actor": ROOT, "tenant": "acme", "principal": BOT, "grants": {"models:read"}}, TypeError),
    ("int-dict-key", "update_tenant_settings", lambda w: {"actor": ROOT, "tenant": "acme", "settings": {1: 2}}, TypeError),
    ("self-referencing-grants", "define_role", lambda w: {"actor": ROOT, "tenant": "acme", "role": "r2", "grants": _self_referencing()}, ValueError),
    ("callable-resource", "authorize", lambda w: {"identity_or_principal": BOT, "tenant": "acme", "permission": "a:b", "resource": print}, TypeError),
    ("complex-page-size", "audit_log", lambda w: {"actor": ROOT, "tenant": "acme", "page_size": 1j}, TypeError),
    ("unknown-keyword", "create_token", lambda w: {"actor": ROOT, "principal": BOT, "colour": "red"}, TypeError),
    ("tuple-of-grants-with-none", "define_role", lambda w: {"actor": ROOT, "tenant": "acme", "role": "r3", "grants": (None,)}, keyward.InvalidArgument),
    ("none-token", "verify", lambda w: {"token": None, "tenant": "acme", "permission": "models:read"}, keyward.InvalidArgument),
    ("none-actor", "get_tenant", lambda w: {"actor": None, "tenant": "acme"}, keyward.InvalidArgument),
]


@pytest.mark.parametrize("name,op,make,expected", PYTHON_ONLY, ids=[p[0] for p in PYTHON_ONLY])
def test_python_only_input_is_a_host_type_error_or_typed_error(
    world: World, name: str, op: str, make: Callable[[World], Dict[str, Any]], expected: Type[BaseException]
) -> None:
    """API.md "Errors": a wrong host type is `TypeError`, `ValueError` or `OverflowError`, never
    anything else; the engine goes on (R-94)."""
    with pytest.raises((keyward.KeywardError, TypeError, ValueError, OverflowError)) as raised:
        getattr(world.kw, op)(**make(world))
    assert isinstance(raised.value, expected), repr(raised.value)
    if isinstance(raised.value, keyward.InvalidArgument):
        assert raised.value.field
    world.assert_not_echoed(raised.value)
    world.assert_usable()


def test_r82_a_token_given_as_an_argument_name_is_never_the_errors_field(world: World) -> None:
    """R-82: `call` with an unknown argument names it in `.field` — unless the name is shaped
    like a token, which only the alphabet of a name would let through."""
    for op, args in (
        ("get_tenant", {"actor": ROOT, "tenant": "acme", world.token: 1}),
        ("verify", {"token": "x", "tenant": "acme", "permission": "models:read", world.token: 1}),
    ):
        with pytest.raises(keyward.InvalidArgument) as raised:
            world.kw.call(op, args)
        world.assert_not_echoed(raised.value)
        assert raised.value.field == "args"
    with pytest.raises(keyward.InvalidArgument) as named:
        world.kw.call("get_tenant", {"actor": ROOT, "tenant": "acme", "colour": 1})
    assert named.value.field == "colour", "a name is still named"
    world.assert_usable()


# -- Engine options -------------------------------------------------------------------------

CONSTRUCTORS: List[Tuple[str, Dict[str, Any], Type[BaseException], Optional[str]]] = [
    ("ctor-domain-number", {"domain": 5}, TypeError, None),
    ("ctor-domain-none", {"domain": None}, TypeError, None),
    ("ctor-domain-bytes", {"domain": b"x.test"}, TypeError, None),
    ("ctor-domain-empty", {"domain": ""}, keyward.InvalidArgument, "domain"),
    ("ctor-domain-huge", {"domain": HUGE}, keyward.InvalidArgument, "domain"),
    ("ctor-domain-nul", {"domain": "a\x00.test"}, keyward.InvalidArgument, "domain"),
    ("ctor-domain-surrogate", {"domain": "a\ud800.test"}, ValueError, None),
    ("ctor-prefix-number", {"token_prefix": 5}, TypeError, None),
    ("ctor-prefix-injection", {"token_prefix": "kw'; --"}, keyward.InvalidArgument, "token_prefix"),
    ("ctor-pepper-number", {"pepper": 5}, TypeError, None),
    ("ctor-pepper-list", {"pepper": [1, 2]}, TypeError, None),
    ("ctor-store-object", {"store": object()}, TypeError, None),
    ("ctor-clock-number", {"clock": 5}, TypeError, None),
    ("ctor-audit-string", {"audit": "log"}, TypeError, None),
    ("ctor-staleness-negative", {"max_staleness_ms": -1}, keyward.InvalidArgument, "max_staleness_ms"),
    ("ctor-staleness-beyond-a-day", {"max_staleness_ms": 86_400_001}, keyward.InvalidArgument, "max_staleness_ms"),
    ("ctor-staleness-float", {"max_staleness_ms": 1.5}, TypeError, None),
    ("ctor-staleness-beyond-64-bits", {"max_staleness_ms": 2**70}, keyward.InvalidArgument, "max_staleness_ms"),
]


@pytest.mark.parametrize("name,options,expected,field", CONSTRUCTORS, ids=[c[0] for c in CONSTRUCTORS])
def test_bad_engine_options_are_host_type_errors_or_invalid_argument(
    world: World, name: str, options: Dict[str, Any], expected: Type[BaseException], field: Optional[str]
) -> None:
    """API.md "Engine", §12: a bad option is refused when the engine is made; R-16 for
    `max_staleness_ms`. Other engines go on."""
    with pytest.raises((keyward.KeywardError, TypeError, ValueError, OverflowError)) as raised:
        keyward.Engine(**options)
    assert isinstance(raised.value, expected), repr(raised.value)
    if field is not None:
        assert isinstance(raised.value, keyward.InvalidArgument) and raised.value.field == field
    world.assert_usable()


# -- Bad clocks (R-93) ----------------------------------------------------------------------


class Raising(Exception):
    pass


def _raise() -> Any:
    raise Raising("the clock broke")


CLOCKS: List[Tuple[str, Callable[[], Any]]] = [
    ("nan", lambda: math.nan),
    ("infinity", lambda: math.inf),
    ("minus-infinity", lambda: -math.inf),
    ("string", lambda: "1700000000000"),
    ("none", lambda: None),
    ("bool", lambda: True),
    ("beyond-i64", lambda: 2**63),
    ("below-i64", lambda: -(2**63) - 1),
    ("float-beyond-i64", lambda: 1e30),
    ("list", lambda: [T0]),
    ("throws", _raise),
]


@pytest.mark.parametrize("name,answer", CLOCKS, ids=[c[0] for c in CLOCKS])
def test_r93_a_bad_clock_answer_is_store_error_and_the_engine_goes_on(name: str, answer: Callable[[], Any]) -> None:
    """R-93: a clock answer that is not a finite number within an i64, or a clock that raises,
    fails the call as `store_error`; never read as 0."""
    clock: List[Callable[[], Any]] = [lambda: T0]
    world = World(DictStore(), clock=lambda: clock[0]())
    clock[0] = answer
    with pytest.raises(keyward.StoreError) as raised:
        world.kw.verify(world.token, "acme", "models:read")
    assert raised.value.code == "store_error"
    with pytest.raises(keyward.StoreError):
        world.kw.create_service_account(ROOT, "acme", "late-bot")
    clock[0] = lambda: T0
    world.assert_usable()


# -- Store answers outside the protocol (R-94) ----------------------------------------------


class HostileStore(DictStore):
    """A dict store that answers one call outside the protocol once armed."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode
        self.armed = False

    def get(self, key: str) -> Optional[keyward.Versioned]:
        found = super().get(key)
        if not self.armed or found is None:
            return found
        m = self.mode
        if m.startswith("get-version:"):
            return cast(keyward.Versioned, {**found, "version": VERSIONS[m.split(":", 1)[1]]})
        if m == "get-value-number":
            return cast(keyward.Versioned, {"value": 5, "version": found["version"]})
        if m == "get-value-none":
            return cast(keyward.Versioned, {"value": None, "version": found["version"]})
        if m == "get-list":
            return cast(keyward.Versioned, [found["value"], found["version"]])
        if m == "get-missing-version":
            return cast(keyward.Versioned, {"value": found["value"]})
        if m == "get-raises":
            raise RuntimeError("get exploded")
        return found

    def put(self, key: str, value: str, expected_version: Optional[int]) -> Optional[int]:
        written = super().put(key, value, expected_version)
        if self.armed and self.mode.startswith("put-version:"):
            return cast(Optional[int], VERSIONS[self.mode.split(":", 1)[1]])
        if self.armed and self.mode == "put-raises":
            raise RuntimeError("put exploded")
        return written

    def delete(self, key: str, expected_version: int) -> bool:
        if self.armed and self.mode == "delete-raises":
            raise RuntimeError("delete exploded")
        return super().delete(key, expected_version)

    def list(self, prefix: str, after: Optional[str], limit: int) -> List[keyward.Entry]:
        entries = super().list(prefix, after, limit)
        if not self.armed:
            return entries
        m = self.mode
        if m.startswith("list-version:"):
            return [cast(keyward.Entry, {**e, "version": VERSIONS[m.split(":", 1)[1]]}) for e in entries]
        if m == "list-unsorted":
            return list(reversed(entries))
        if m == "list-duplicated":
            return entries[:1] + entries[:1]
        if m == "list-outside-prefix":
            return entries + [{"key": "zz/outside", "value": "{}", "version": 1000}]
        if m == "list-too-long":
            pad = [{"key": prefix + "\U0010ffff" * (i + 1), "value": "{}", "version": 1000} for i in range(limit + 1)]
            return cast(List[keyward.Entry], (entries + pad)[: limit + 1])
        if m == "list-none":
            return cast(List[keyward.Entry], None)
        if m == "list-raises":
            raise RuntimeError("list exploded")
        return entries


VERSIONS: Dict[str, Any] = {"0": 0, "-1": -1, "1.5": 1.5, "true": True, "'1'": "1", "nan": math.nan, "2^64": 2**64}

STORE_MODES: List[Tuple[str, str]] = (
    [(f"get-version:{v}", "get_account") for v in VERSIONS]
    + [(f"put-version:{v}", "update_service_account") for v in VERSIONS]
    + [(f"list-version:{v}", "audit_log") for v in VERSIONS]
    + [
        ("get-value-number", "get_account"),
        ("get-value-none", "get_account"),
        ("get-list", "get_account"),
        ("get-missing-version", "get_account"),
        ("get-raises", "verify"),
        ("put-raises", "update_service_account"),
        ("delete-raises", "delete_account"),
        ("list-unsorted", "audit_log"),
        ("list-duplicated", "audit_log"),
        ("list-outside-prefix", "audit_log"),
        ("list-too-long", "audit_log"),
        ("list-none", "audit_log"),
        ("list-raises", "audit_log"),
    ]
)


def _trigger(world: World, op: str) -> Any:
    kw = world.kw
    if op == "get_account":
        return kw.get_account(ROOT, "acme", BOT)
    if op == "update_service_account":
        return kw.update_service_account(ROOT, BOT, description="changed")
    if op == "audit_log":
        return kw.audit_log(ROOT, "acme", page_size=2)
    if op == "verify":
        return kw.verify(world.token, "acme", "models:read")
    if op == "delete_account":
        return kw.delete_account(ROOT, "doomed@acme.sa.keyward.local")
    raise AssertionError(op)


@pytest.mark.parametrize("mode,op", STORE_MODES, ids=[m[0] for m in STORE_MODES])
def test_r94_a_store_answer_outside_the_protocol_is_store_error(mode: str, op: str) -> None:
    """R-94: a version that is not a positive integer, a value that is not text, a list answer
    out of order, duplicated, outside the prefix or too long, or a callback that raises, is
    `store_error`; the engine stays usable."""
    store = HostileStore(mode)
    world = World(store)
    world.kw.create_service_account(ROOT, "acme", "doomed")
    store.armed = True
    with pytest.raises(keyward.StoreError) as raised:
        _trigger(world, op)
    assert raised.value.code == "store_error"
    store.armed = False
    world.assert_usable()


GET_MANY: List[Tuple[str, Callable[[List[str]], Any]]] = [
    ("get-many-short", lambda keys: [None] * (len(keys) - 1)),
    ("get-many-long", lambda keys: [None] * (len(keys) + 1)),
    ("get-many-none", lambda keys: None),
    ("get-many-int", lambda keys: 5),
    ("get-many-raises", lambda keys: 1 // 0),
    ("get-many-bad-entry", lambda keys: [{"value": 5, "version": 1000}] * len(keys)),
]


@pytest.mark.parametrize("name,get_many", GET_MANY, ids=[g[0] for g in GET_MANY])
def test_r94_a_get_many_answer_outside_the_protocol_is_store_error(name: str, get_many: Callable[[List[str]], Any]) -> None:
    """R-94: the optional `get_many` answering the wrong number of entries, no list, a value
    that is not text, or raising, is `store_error` for admin calls and decisions alike."""
    store = DictStore()
    world = World(store)
    setattr(store, "get_many", get_many)
    with pytest.raises(keyward.StoreError):
        world.kw.get_account(ROOT, "acme", BOT)
    with pytest.raises(keyward.StoreError):
        world.kw.verify(world.token, "acme", "models:read")
    delattr(store, "get_many")
    world.assert_usable()


def test_a_corrupt_stored_document_is_internal_and_the_engine_goes_on() -> None:
    """R-94: a document that does not parse is the engine's `internal`, never a crash."""
    store = DictStore()
    world = World(store)
    original = store.data["t/acme"]
    store.data["t/acme"] = ("{not json", original[1])
    with pytest.raises(keyward.Internal):
        world.kw.get_tenant(ROOT, "acme")
    store.data["t/acme"] = original
    world.assert_usable()


def test_the_matrix_holds_at_least_fifty_distinct_inputs() -> None:
    """Issue 11 point 5: the count cannot silently shrink below 50 (reported by the report)."""
    count = len(SHARED) + len(PYTHON_ONLY) + len(CONSTRUCTORS) + len(CLOCKS) + len(STORE_MODES) + len(GET_MANY) + 2
    ids = [e["id"] for e in SHARED] + [p[0] for p in PYTHON_ONLY] + [c[0] for c in CONSTRUCTORS]
    ids += [c[0] for c in CLOCKS] + [m[0] for m in STORE_MODES] + [g[0] for g in GET_MANY]
    assert len(ids) == len(set(ids)), "distinct inputs"
    print(f"python hostile inputs: {count}")
    assert count >= 50


def test_r82_text_that_is_not_valid_unicode_is_never_echoed_by_its_error() -> None:
    """R-82: a password, token or pepper holding a lone surrogate is a `ValueError` that does
    not carry the text (Python's `UnicodeEncodeError` would keep it in `.object` and `args`)."""
    world = World()
    password = "Correct-Horse-9-battery\ud800"
    token = world.token + "\ud800"
    for attempt in (
        lambda: world.kw.set_password(ROOT, BOT, password),
        lambda: world.kw.authenticate_password(BOT, password),
        lambda: world.kw.verify(token, "acme", "models:read"),
        lambda: keyward.Engine(pepper="pepper-secret\ud800"),
    ):
        with pytest.raises(ValueError) as raised:
            attempt()
        shown = f"{raised.value} {raised.value!r} {raised.value.args!r} {vars(raised.value)!r}"
        for secret in ("Correct-Horse-9-battery", world.token[16:48], "pepper-secret"):
            assert secret not in shown, shown
    world.assert_usable()


@pytest.mark.parametrize("kind", ["builtin", "python"])
def test_r94_a_rust_panic_never_crosses_into_python_and_the_engine_goes_on(kind: str) -> None:
    """A real panic inside the binding (the core's panic probe, an operation name no operation
    has) is `internal` — a KeywardError, not pyo3's PanicException — and the same engine
    serves the next calls."""
    world = World(None if kind == "builtin" else DictStore())
    for _ in range(3):
        with pytest.raises(keyward.KeywardError) as caught:
            world.kw.call("__keyward_panic_probe", {})
        assert caught.value.code == "internal" and type(caught.value) is keyward.error_class("internal")
        assert "panic" in str(caught.value)
        world.assert_usable()
