"""The Python surface of Keyward: signatures, records, errors, host callbacks and threads."""

from __future__ import annotations

import inspect
import json
import pickle
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Type, cast

import pytest

import keyward
from keyward import _keyward
from support import T0, Clock, DictStore, FaultyStore, HostFailure

ADMIN = "root@acme.test"
BOT = "bot@acme.sa.keyward.local"
STRONG = "Correct-Horse-9-battery"


class World:
    """An engine with tenant `acme` (admin `root@acme.test`) and service account `bot`
    (role `viewer`), a settable clock and the events the audit callback received."""

    def __init__(self, store: keyward.Store) -> None:
        self.clock = Clock()
        self.events: List[keyward.AuditEvent] = []
        self.store = store
        self.kw = keyward.Engine(store, clock=self.clock, audit=self.events.append)
        self.kw.create_tenant("acme", admin=ADMIN)
        self.bot = self.kw.create_service_account(ADMIN, "acme", "bot", role="viewer")
        self.events.clear()


@pytest.fixture(params=["builtin", "python"])
def world(request: pytest.FixtureRequest) -> World:
    """Both kinds of store: the native `MemoryStore` and a store written in Python."""
    store: keyward.Store = keyward.MemoryStore() if request.param == "builtin" else DictStore()
    return World(store)


@pytest.fixture
def kw(world: World) -> keyward.Engine:
    return world.kw


# -- Signatures ------------------------------------------------------------------------------

API_DEFAULTS: Dict[str, Dict[str, Any]] = {
    "create_tenant": {"name": None, "settings": None},
    "create_group": {"roles": (), "grants": ()},
    "create_user": {"name": None, "role": None, "mfa": False},
    "create_service_account": {"description": None, "role": None, "grants": (), "password": None},
    "list_accounts": {"filter": None, "page_size": 100, "page_token": None},
    "audit_log": {"filter": None, "page_size": 100, "page_token": None},
    "grant_access": {"role": None, "grants": ()},
    "create_token": {"name": None, "ttl_days": None, "expires_at": None, "never_expires": False, "scopes": None},
    "rotate_token": {"grace_seconds": 86400},
    "authenticate": {"channel": "api"},
    "authenticate_password": {"channel": "api"},
    "authorize": {"resource": "*"},
    "verify": {"resource": "*", "channel": "api"},
}


SIGNATURES = _keyward.signatures()


@pytest.mark.parametrize("op,positional,required,keywords", SIGNATURES, ids=[s[0] for s in SIGNATURES])
def test_every_operation_has_api_md_signature(
    op: str, positional: List[str], required: int, keywords: List[str]
) -> None:
    method = getattr(keyward.Engine, op)
    params = list(inspect.signature(method).parameters.values())[1:]  # self
    pos = [p for p in params if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    kwonly = [p for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert [p.name for p in pos] == positional
    assert [p.name for p in kwonly] == keywords
    assert len(pos) + len(kwonly) == len(params), "no *args or **kwargs"
    assert sum(p.default is inspect.Parameter.empty for p in pos) == required
    defaults = {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}
    assert defaults == API_DEFAULTS.get(op, {})
    assert method.__doc__ and "R-" in method.__doc__, "every method documents its SPEC rules"


def test_engine_constructor_signature() -> None:
    params = inspect.signature(keyward.Engine.__init__).parameters
    assert list(params) == [
        "self", "store", "domain", "token_prefix", "clock", "audit", "pepper", "max_staleness_ms"
    ]
    assert params["store"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert {n: p.default for n, p in params.items() if n not in ("self", "store")} == {
        "domain": "keyward.local",
        "token_prefix": "kw",
        "clock": None,
        "audit": None,
        "pepper": None,
        "max_staleness_ms": 0,
    }


# -- Happy path and records ------------------------------------------------------------------

IDENTITY = {"principal", "kind", "tenant", "uid", "token_id", "status", "scopes", "requires_second_factor"}
DECISION = {"allowed", "reason", "principal", "matched"}
ACCOUNT = {
    "principal", "id", "uid", "kind", "name", "tenant", "owned", "description", "status", "roles",
    "groups", "grants", "mfa", "has_password", "created_at", "created_by", "updated_at",
}  # fmt: skip
TOKEN_INFO = {"token_id", "name", "created_at", "created_by", "expires_at", "last_used_at", "revoked_at", "scopes"}
TENANT = {"tenant", "name", "settings", "created_at"}
ROLE = {"tenant", "role", "grants", "builtin"}
GROUP = {"tenant", "group", "roles", "grants", "members"}
EVENT = {"time", "tenant", "actor", "action", "target", "outcome", "reason", "details"}


@pytest.mark.parametrize(
    "typed,fields",
    [
        (keyward.Identity, IDENTITY),
        (keyward.Decision, DECISION),
        (keyward.Account, ACCOUNT),
        (keyward.TokenInfo, TOKEN_INFO),
        (keyward.TokenCreated, TOKEN_INFO | {"token"}),
        (keyward.Tenant, TENANT),
        (keyward.Role, ROLE),
        (keyward.Group, GROUP),
        (keyward.AuditEvent, EVENT),
    ],
)
def test_typed_dicts_name_the_documented_fields(typed: Any, fields: set[str]) -> None:
    assert set(typed.__annotations__) == fields


def test_records_have_the_documented_fields(world: World) -> None:
    kw, clock = world.kw, world.clock
    assert set(world.bot) == ACCOUNT
    assert world.bot["principal"] == BOT and world.bot["id"] == "sa::bot" and world.bot["kind"] == "service"
    assert world.bot["owned"] is True and world.bot["roles"] == ["viewer"] and world.bot["created_at"] == T0

    tenant = kw.get_tenant(ADMIN, "acme")
    assert set(tenant) == TENANT and tenant["settings"]["default_token_ttl_days"] == 365

    created = kw.create_token(ADMIN, BOT, name="ci", ttl_days=30)
    assert set(created) == TOKEN_INFO | {"token"}
    assert created["token"].startswith("kw_" + created["token_id"] + "_")
    assert created["expires_at"] == T0 + 30 * 86_400_000
    [info] = kw.list_tokens(ADMIN, BOT)
    assert set(info) == TOKEN_INFO and "token" not in info

    identity = kw.authenticate(created["token"])
    assert set(identity) == IDENTITY
    assert identity["token_id"] == created["token_id"] and identity["requires_second_factor"] is False

    decision = kw.verify(created["token"], "acme", "models:read")
    assert set(decision) == DECISION
    assert decision == {
        "allowed": True,
        "reason": "allowed",
        "principal": BOT,
        "matched": {"permission": "*:read", "resource": "*", "source": "role:viewer"},
    }
    denied = kw.authorize(identity, "acme", "models:write")
    assert denied == {"allowed": False, "reason": "forbidden", "principal": BOT, "matched": None}

    role = kw.define_role(ADMIN, "acme", "deployer", ["deployments:write", {"permission": "models:read", "resource": "models/llama-*"}])
    assert set(role) == ROLE and role["builtin"] is False
    assert role["grants"] == ["deployments:write", {"permission": "models:read", "resource": "models/llama-*"}]
    group = kw.create_group(ADMIN, "acme", "ops", roles=["deployer"])
    assert set(group) == GROUP
    assert kw.add_group_member(ADMIN, "acme", "ops", BOT)["members"] == [BOT]
    sources = {(g["permission"], g["source"]) for g in kw.effective_permissions(BOT, "acme")}
    assert ("deployments:write", "group:ops") in sources and ("*:read", "role:viewer") in sources

    page = kw.list_accounts(ADMIN, "acme", filter="service_account=true")
    assert [a["principal"] for a in page["accounts"]] == [BOT] and page["next_page_token"] is None

    clock.advance(1000)
    log = kw.audit_log(ADMIN, "acme", page_size=2)
    assert len(log["events"]) == 2 and log["next_page_token"] is not None
    assert all(set(e) == EVENT for e in log["events"])
    assert log["events"][0]["action"] == "group.add_member", "newest first"

    assert kw.seat_usage(ADMIN, "acme") == {"seats_used": 1, "seat_limit": None, "service_accounts": 1}
    report = kw.sync_directory(ADMIN, "acme", [{"email": ADMIN}, {"email": "ann@acme.test", "name": "Ann"}])
    assert report == {"created": 1, "updated": 0, "removed": 0, "skipped": 0}
    kw.remove_user(ADMIN, "acme", "ann@acme.test")
    with pytest.raises(keyward.NotFound):
        kw.get_account(ADMIN, "acme", "ann@acme.test")


def test_generic_call_runs_an_operation_given_as_data(kw: keyward.Engine) -> None:
    account = kw.call("get_account", {"actor": ADMIN, "tenant": "acme", "principal": BOT})
    assert account["principal"] == BOT
    with pytest.raises(keyward.InvalidArgument) as e:
        kw.call("get_account", {"actor": ADMIN, "tenant": "acme", "principal": BOT, "colour": "red"})
    assert e.value.field == "colour"
    with pytest.raises(keyward.InvalidArgument) as e:
        kw.call("no_such_operation", {})
    assert e.value.field == "op"


# -- Errors ----------------------------------------------------------------------------------

CODES: Dict[str, Type[keyward.KeywardError]] = {
    "invalid_argument": keyward.InvalidArgument,
    "invalid_filter": keyward.InvalidFilter,
    "invalid_credentials": keyward.InvalidCredentials,
    "token_expired": keyward.TokenExpired,
    "token_revoked": keyward.TokenRevoked,
    "account_disabled": keyward.AccountDisabled,
    "account_revoked": keyward.AccountRevoked,
    "channel_not_allowed": keyward.ChannelNotAllowed,
    "not_found": keyward.NotFound,
    "already_exists": keyward.AlreadyExists,
    "forbidden": keyward.Forbidden,
    "not_owner": keyward.NotOwner,
    "weak_password": keyward.WeakPassword,
    "failed_precondition": keyward.FailedPrecondition,
    "quota_exceeded": keyward.QuotaExceeded,
    "conflict": keyward.Conflict,
    "store_error": keyward.StoreError,
    "internal": keyward.Internal,
}


@pytest.mark.parametrize("code,cls", CODES.items(), ids=list(CODES))
def test_one_error_class_per_code(code: str, cls: Type[keyward.KeywardError]) -> None:
    assert issubclass(cls, keyward.KeywardError) and issubclass(cls, Exception)
    assert cls.code == code and keyward.error_class(code) is cls
    assert cls.__module__ == "keyward" and getattr(keyward, cls.__name__) is cls
    error = cls("something failed")
    assert (error.code, error.message, str(error)) == (code, "something failed", "something failed")
    assert error.field is None and error.position is None and error.rules is None
    copy = pickle.loads(pickle.dumps(cls("x", field="f", position=3, rules=["digit"])))
    assert type(copy) is cls and (copy.field, copy.position, copy.rules) == ("f", 3, ["digit"])


def test_error_classes_cover_spec_section_12_exactly() -> None:
    subclasses = {c for c in vars(keyward).values() if isinstance(c, type) and issubclass(c, keyward.KeywardError)}
    assert subclasses - {keyward.KeywardError} == set(CODES.values())
    assert keyward.error_class("no_such_code") is keyward.KeywardError


def _call(kw: keyward.Engine, op: str, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
    method: Callable[..., Any] = getattr(kw, op)
    return method(*args, **kwargs)


BAD_INPUTS: List[Tuple[str, Tuple[Any, ...], Dict[str, Any], Type[keyward.KeywardError], Optional[str]]] = [
    ("create_service_account", (ADMIN, "acme", "Bad Name"), {}, keyward.InvalidArgument, "name"),
    ("create_service_account", (ADMIN, "acme", "bot"), {}, keyward.AlreadyExists, None),
    ("create_service_account", (ADMIN, "acme", "x" * 80), {}, keyward.InvalidArgument, "name"),
    ("create_service_account", (ADMIN, "acme", "pw-bot"), {"password": "short"}, keyward.WeakPassword, None),
    ("create_service_account", (ADMIN, "acme", "big"), {"role": "admin-ish"}, keyward.NotFound, None),
    ("create_tenant", ("-bad",), {"admin": "a@b.test"}, keyward.InvalidArgument, "tenant"),
    ("create_tenant", ("acme",), {"admin": ADMIN}, keyward.AlreadyExists, None),
    ("create_tenant", ("fresh",), {"admin": "not-an-email"}, keyward.InvalidArgument, "admin"),
    ("create_tenant", (5,), {"admin": "a@b.test"}, keyward.InvalidArgument, "tenant"),
    ("create_token", (ADMIN, BOT), {"ttl_days": 0}, keyward.InvalidArgument, "ttl_days"),
    ("create_token", (ADMIN, BOT), {"ttl_days": -1}, keyward.InvalidArgument, "ttl_days"),
    ("create_token", (ADMIN, BOT), {"ttl_days": 1.5}, keyward.InvalidArgument, "ttl_days"),
    ("create_token", (ADMIN, BOT), {"expires_at": 1}, keyward.InvalidArgument, "expires_at"),
    ("create_token", (ADMIN, BOT), {"never_expires": True}, keyward.InvalidArgument, "never_expires"),
    ("create_token", (ADMIN, BOT), {"name": ""}, keyward.InvalidArgument, "name"),
    ("create_token", (ADMIN, BOT), {"scopes": ["bad perm"]}, keyward.InvalidArgument, "scopes"),
    ("create_token", ("stranger@else.test", BOT), {}, keyward.NotOwner, None),
    ("rotate_token", (ADMIN, BOT, "nope"), {}, keyward.InvalidArgument, "token_id"),
    ("list_accounts", (ADMIN, "acme"), {"page_size": 0}, keyward.InvalidArgument, "page_size"),
    ("list_accounts", (ADMIN, "acme"), {"page_size": 1001}, keyward.InvalidArgument, "page_size"),
    ("list_accounts", (ADMIN, "acme"), {"page_token": "garbage"}, keyward.InvalidArgument, "page_token"),
    ("list_accounts", (ADMIN, "acme"), {"filter": "status = "}, keyward.InvalidFilter, None),
    ("define_role", (ADMIN, "acme", "admin", ["x:y"]), {}, keyward.InvalidArgument, "role"),
    ("define_role", (ADMIN, "acme", "r1", ["bad perm"]), {}, keyward.InvalidArgument, "grants"),
    ("update_tenant_settings", (ADMIN, "acme", {"colour": 1}), {}, keyward.InvalidArgument, "settings"),
    ("update_tenant_settings", (ADMIN, "acme", {"seat_limit": -1}), {}, keyward.InvalidArgument, "seat_limit"),
    ("update_tenant_settings", (BOT, "acme", {"seat_limit": 5}), {}, keyward.Forbidden, None),
    ("create_user", (ADMIN, "acme", "x@bot.sa.keyward.local"), {}, keyward.InvalidArgument, "email"),
    ("get_account", (ADMIN, "acme", "nobody@acme.sa.keyward.local"), {}, keyward.NotFound, None),
    ("get_tenant", (ADMIN, "nowhere"), {}, keyward.NotFound, None),
    ("verify", ("kw_x", "acme", "models:read"), {"channel": "fax"}, keyward.InvalidArgument, "channel"),
    ("verify", ("kw_x", "acme", "bad perm"), {}, keyward.InvalidArgument, "permission"),
    ("authorize", (BOT, "acme", "a:b", "bad resource"), {}, keyward.InvalidArgument, "resource"),
    ("authenticate", ("garbage",), {}, keyward.InvalidCredentials, None),
    ("authenticate_password", (BOT, STRONG), {}, keyward.InvalidCredentials, None),
    ("set_password", (ADMIN, BOT, "short"), {}, keyward.WeakPassword, None),
    ("set_password", (ADMIN, ADMIN, STRONG), {}, keyward.InvalidArgument, "principal"),
    ("remove_group_member", (ADMIN, "acme", "everyone", BOT), {}, keyward.InvalidArgument, None),
    ("delete_role", (ADMIN, "acme", "viewer"), {}, keyward.InvalidArgument, "role"),
]


@pytest.mark.parametrize(
    "name,args,kwargs,cls,field", BAD_INPUTS, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD_INPUTS)]
)
def test_bad_input_raises_the_right_error(
    kw: keyward.Engine,
    name: str,
    args: Tuple[Any, ...],
    kwargs: Dict[str, Any],
    cls: Type[keyward.KeywardError],
    field: Optional[str],
) -> None:
    with pytest.raises(cls) as raised:
        _call(kw, name, args, kwargs)
    error = raised.value
    assert type(error) is cls and error.code == cls.code
    if field is not None:
        assert error.field == field
    if cls is keyward.InvalidArgument:
        assert error.field
    else:
        assert error.field is None


def test_extra_fields_of_filter_and_password_errors(kw: keyward.Engine) -> None:
    with pytest.raises(keyward.InvalidFilter) as f:
        kw.list_accounts(ADMIN, "acme", filter='status = "active" AND')
    assert f.value.position == len('status = "active" AND')
    with pytest.raises(keyward.WeakPassword) as w:
        kw.set_password(ADMIN, BOT, "short")
    assert w.value.rules == ["min_length", "uppercase", "digit", "special"]


def _self_referencing() -> List[Any]:
    items: List[Any] = []
    items.append(items)
    return items


WRONG_TYPES: List[Tuple[str, Tuple[Any, ...], Dict[str, Any], Type[BaseException]]] = [
    ("create_tenant", ("t2",), {"admin": object()}, TypeError),
    ("create_tenant", (b"t2",), {"admin": "a@b.test"}, TypeError),
    ("create_tenant", ("t2",), {"admin": float("nan")}, ValueError),
    ("create_tenant", ("\ud800",), {"admin": "a@b.test"}, ValueError),
    ("create_token", (ADMIN, BOT), {"ttl_days": 2**70}, OverflowError),
    ("create_token", (ADMIN, BOT), {"expires_at": -(2**64)}, OverflowError),
    ("define_role", (ADMIN, "acme", "r2", _self_referencing()), {}, ValueError),
    ("update_tenant_settings", (ADMIN, "acme", {1: 2}), {}, TypeError),
    ("grant_permissions", (ADMIN, "acme", BOT, {"models:read"}), {}, TypeError),
    ("verify", (None, "acme", "models:read"), {}, keyward.InvalidArgument),
    ("authorize", (42, "acme", "models:read"), {}, keyward.InvalidArgument),
    ("create_group", (ADMIN, "acme", "g"), {"roles": "viewer"}, keyward.InvalidArgument),
]


@pytest.mark.parametrize(
    "name,args,kwargs,expected", WRONG_TYPES, ids=[f"{w[0]}-{i}" for i, w in enumerate(WRONG_TYPES)]
)
def test_wrong_python_types_raise_type_value_or_overflow_errors_only(
    kw: keyward.Engine, name: str, args: Tuple[Any, ...], kwargs: Dict[str, Any], expected: Type[BaseException]
) -> None:
    with pytest.raises((TypeError, ValueError, OverflowError, keyward.KeywardError)) as raised:
        _call(kw, name, args, kwargs)
    assert isinstance(raised.value, expected)
    assert kw.get_account(ADMIN, "acme", BOT)["principal"] == BOT, "the engine keeps working"


def test_engine_options_are_checked() -> None:
    bad_window: Any = "60000"
    with pytest.raises(keyward.InvalidArgument) as e:
        keyward.Engine(domain="Bad Domain")
    assert e.value.field == "domain"
    with pytest.raises(keyward.InvalidArgument) as e:
        keyward.Engine(token_prefix="x")
    assert e.value.field == "token_prefix"
    # a whole number of ms from 0 to one day.
    for window in (-1, -(2**70), 86_400_001, 2**70):
        with pytest.raises(keyward.InvalidArgument) as raised:
            keyward.Engine(max_staleness_ms=window)
        assert raised.value.field == "max_staleness_ms"
    wrongs: List[Any] = [bad_window, True, 60000.0]
    for wrong in wrongs:
        with pytest.raises(TypeError):
            keyward.Engine(max_staleness_ms=wrong)
    assert keyward.Engine(max_staleness_ms=86_400_000) is not None
    bad: Any = object()
    with pytest.raises(TypeError):
        keyward.Engine(bad)
    with pytest.raises(TypeError):
        keyward.Engine(clock=bad)
    with pytest.raises(TypeError):
        keyward.Engine(audit=bad)
    with pytest.raises(TypeError):
        keyward.Engine(pepper=bad)


def test_custom_domain_prefix_and_pepper() -> None:
    store = DictStore()
    kw = keyward.Engine(store, domain="corp.example", token_prefix="acme", pepper=b"pepper")
    kw.create_tenant("acme", admin=ADMIN)
    bot = kw.create_service_account(ADMIN, "acme", "bot", role="viewer")
    assert bot["principal"] == "bot@acme.sa.corp.example"
    token = kw.create_token(ADMIN, bot["principal"])["token"]
    assert token.startswith("acme_")
    assert kw.verify(token, "acme", "models:read")["allowed"]
    other = keyward.Engine(store, domain="corp.example", token_prefix="acme", pepper="another")
    assert other.verify(token, "acme", "models:read")["reason"] == "invalid_credentials"


# -- Secrets never leak (R-21, R-53, R-82) ---------------------------------------------------


def test_no_secret_appears_in_events_errors_or_the_store(world: World) -> None:
    kw, events = world.kw, world.events
    kw.set_password(ADMIN, BOT, STRONG)
    created = kw.create_token(ADMIN, BOT, name="ci")
    token = created["token"]
    secret = token.split("_")[2]
    rotated = kw.rotate_token(ADMIN, BOT, created["token_id"])["token"]
    texts: List[str] = []
    kw.verify(token, "acme", "models:read")
    kw.authenticate_password(BOT, STRONG)
    wrong = token[:-8] + ("A" if token[-8] != "A" else "B") + token[-7:]
    for attempt in (
        lambda: kw.authenticate(wrong),
        lambda: kw.authenticate(token, channel="ui"),
        lambda: kw.authenticate_password(BOT, STRONG + "x"),
        lambda: kw.set_password(ADMIN, BOT, "Weak1!"),
        lambda: kw.create_service_account(ADMIN, "acme", "bot", password=STRONG),
    ):
        with pytest.raises(keyward.KeywardError) as e:
            attempt()
        texts += [str(e.value), repr(e.value), json.dumps(vars(e.value))]
    texts.append(json.dumps(kw.verify(wrong, "acme", "models:read")))
    texts.append(json.dumps(events))
    texts.append(json.dumps(kw.audit_log(ADMIN, "acme", page_size=1000)))
    texts.append(json.dumps(kw.list_tokens(ADMIN, BOT)))
    texts += [v["value"] for v in world.store.list("", None, 100_000)]
    assert events, "the audit callback saw the calls"
    for text in texts:
        for s in (token, secret, rotated, rotated.split("_")[2], STRONG, "Weak1!"):
            assert s not in text


# -- Host store (R-90, R-94) -----------------------------------------------------------------


@pytest.mark.parametrize("inner", ["builtin", "python"])
def test_a_failing_store_raises_store_error_and_the_engine_keeps_working(inner: str) -> None:
    store = FaultyStore(keyward.MemoryStore() if inner == "builtin" else DictStore())
    kw = keyward.Engine(store, clock=Clock())
    store.fail_calls, store.fail_message = 1, "disk on fire"
    with pytest.raises(keyward.StoreError) as e:
        kw.create_tenant("acme", admin=ADMIN)
    assert e.value.code == "store_error" and "disk on fire" in str(e.value)
    assert kw.create_tenant("acme", admin=ADMIN)["tenant"] == "acme"
    bot = kw.create_service_account(ADMIN, "acme", "bot", role="viewer")
    token = kw.create_token(ADMIN, bot["principal"])["token"]
    store.fail_calls, store.fail_message = 1, "read timed out"
    with pytest.raises(keyward.StoreError, match="read timed out"):
        kw.verify(token, "acme", "models:read")
    assert kw.verify(token, "acme", "models:read")["allowed"]


class OddStore(DictStore):
    """A store whose `get` misbehaves in a chosen way."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode
        self.armed = False

    def get(self, key: str) -> Optional[keyward.Versioned]:
        if not self.armed:
            return super().get(key)
        if self.mode == "raises-empty":
            raise RuntimeError()
        if self.mode == "garbage":
            return cast(keyward.Versioned, 42)
        if self.mode == "not-json":
            return {"value": "{not json", "version": 1}
        if self.mode == "interrupt":
            raise KeyboardInterrupt
        raise AssertionError(self.mode)


@pytest.mark.parametrize(
    "mode,expected,message",
    [
        ("raises-empty", keyward.StoreError, "RuntimeError"),
        ("garbage", keyward.StoreError, "`get` answered an unexpected value"),
        ("not-json", keyward.Internal, "unreadable"),
        ("interrupt", KeyboardInterrupt, ""),
    ],
)
def test_a_misbehaving_store_never_crashes_the_engine(mode: str, expected: Type[BaseException], message: str) -> None:
    store = OddStore(mode)
    kw = keyward.Engine(store)
    kw.create_tenant("acme", admin=ADMIN)
    store.armed = True
    with pytest.raises(expected) as raised:
        kw.get_tenant(ADMIN, "acme")
    assert message in str(raised.value)
    store.armed = False
    assert kw.get_tenant(ADMIN, "acme")["tenant"] == "acme"


def test_memory_store_answers_the_store_protocol() -> None:
    store = keyward.MemoryStore()
    assert store.put("a/1", "{}", None) == 1
    assert store.put("a/1", "{}", None) is None, "must-not-exist put on an existing key"
    assert store.put("a/1", '{"x":1}', 7) is None, "stale version"
    assert store.put("a/1", '{"x":1}', 1) == 2
    assert store.get("a/1") == {"value": '{"x":1}', "version": 2}
    assert store.put("a/2", "{}", None) == 1 and store.put("b/1", "{}", None) == 1
    assert [e["key"] for e in store.list("a/", None, 10)] == ["a/1", "a/2"]
    assert store.list("a/", "a/1", 10) == [{"key": "a/2", "value": "{}", "version": 1}]
    assert store.delete("a/1", 1) is False and store.delete("a/1", 2) is True
    assert store.get("a/1") is None and len(store) == 2 and store.keys() == ["a/2", "b/1"]
    with pytest.raises(OverflowError):
        store.delete("a/2", -1)


def test_engines_share_a_memory_store_and_python_can_wrap_it() -> None:
    store = keyward.MemoryStore()
    native = keyward.Engine(store)
    native.create_tenant("acme", admin=ADMIN)
    assert "t/acme" in store.keys()
    wrapped = FaultyStore(store)
    through_python = keyward.Engine(wrapped)
    assert through_python.get_tenant(ADMIN, "acme")["tenant"] == "acme"
    assert wrapped.calls > 0
    assert native.create_service_account(ADMIN, "acme", "bot")["principal"] == BOT
    assert through_python.get_account(ADMIN, "acme", BOT)["principal"] == BOT


# -- Clock and audit callbacks (R-80, R-93) --------------------------------------------------


def test_time_comes_from_the_host_clock(world: World) -> None:
    world.clock.advance(5_000)
    assert world.kw.create_token(ADMIN, BOT, ttl_days=1)["created_at"] == T0 + 5_000
    before = int(time.time() * 1000)
    kw = keyward.Engine()
    created = kw.create_tenant("acme", admin=ADMIN)["created_at"]
    assert before - 1000 <= created <= int(time.time() * 1000) + 1000, "default: the wall clock"


def test_a_failing_clock_is_a_store_error() -> None:
    def broken() -> int:
        raise OSError("no time")

    kw = keyward.Engine(clock=broken)
    with pytest.raises(keyward.StoreError, match="no time"):
        kw.create_tenant("acme", admin=ADMIN)
    wrong: Any = lambda: "noon"  # noqa: E731
    with pytest.raises(keyward.StoreError):
        keyward.Engine(clock=wrong).create_tenant("acme", admin=ADMIN)


@pytest.mark.parametrize(
    "answer",
    [float("nan"), float("inf"), float("-inf"), "123", None, True, False, 1e30, 2**63, -(2**63) - 1, object(), [1]],
    ids=repr,
)
def test_r93_a_clock_answer_that_is_not_a_finite_number_in_range_is_store_error(answer: Any) -> None:
    now: List[Any] = [answer]
    kw = keyward.Engine(DictStore(), clock=lambda: now[0])
    with pytest.raises(keyward.StoreError, match="clock"):
        kw.create_tenant("acme", admin=ADMIN)
    now[0] = T0
    assert kw.create_tenant("acme", admin=ADMIN)["created_at"] == T0, "never read as 0; the engine goes on"


def test_r93_a_fractional_clock_is_floored() -> None:
    kw = keyward.Engine(clock=lambda: 1_700_000_000_000.9)
    assert kw.create_tenant("acme", admin=ADMIN)["created_at"] == 1_700_000_000_000
    assert keyward.Engine(clock=lambda: -1.5).create_tenant("acme", admin=ADMIN)["created_at"] == -2


class BadVersionStore(DictStore):
    """A store whose `call` answers `version` once armed (R-94)."""

    def __init__(self, call: str, version: Any) -> None:
        super().__init__()
        self.call, self.version, self.armed = call, version, False

    def get(self, key: str) -> Optional[keyward.Versioned]:
        found = super().get(key)
        if self.armed and self.call == "get" and found is not None:
            found = cast(keyward.Versioned, {**found, "version": self.version})
        return found

    def put(self, key: str, value: str, expected_version: Optional[int]) -> Optional[int]:
        written = super().put(key, value, expected_version)
        return cast(Optional[int], self.version) if self.armed and self.call == "put" else written

    def list(self, prefix: str, after: Optional[str], limit: int) -> List[keyward.Entry]:
        entries = super().list(prefix, after, limit)
        if self.armed and self.call == "list":
            entries = [cast(keyward.Entry, {**e, "version": self.version}) for e in entries]
        return entries


@pytest.mark.parametrize("version", [True, False, 0, -1, 1.5, "7", None], ids=repr)
@pytest.mark.parametrize("call", ["get", "put", "list"])
def test_r94_a_store_version_outside_the_protocol_is_store_error(call: str, version: Any) -> None:
    if call == "put" and version is None:
        return  # None is a lost compare-and-set, inside the protocol
    store = BadVersionStore(call, version)
    kw = keyward.Engine(store, clock=Clock())
    kw.create_tenant("acme", admin=ADMIN)
    kw.create_service_account(ADMIN, "acme", "bot")
    store.armed = True
    with pytest.raises(keyward.StoreError):
        if call == "list":
            kw.audit_log(ADMIN, "acme")
        elif call == "put":
            kw.update_service_account(ADMIN, BOT, description="x")
        else:
            kw.get_account(ADMIN, "acme", BOT)
    store.armed = False
    assert kw.get_account(ADMIN, "acme", BOT)["principal"] == BOT, "the engine goes on"


def test_the_audit_callback_receives_every_event(world: World) -> None:
    kw, events = world.kw, world.events
    token = kw.create_token(ADMIN, BOT)
    kw.verify(token["token"], "acme", "models:read")
    with pytest.raises(keyward.Forbidden):
        kw.create_service_account(BOT, "acme", "other")
    assert [(e["action"], e["outcome"]) for e in events] == [
        ("token.create", "ok"),
        ("auth.verify", "ok"),
        ("service_account.create", "denied"),
    ]
    assert events[0]["target"] == f"token:{token['token_id']}" and events[0]["time"] == T0
    assert events[0]["actor"] == {"principal": ADMIN, "kind": "user", "status": "active"}
    assert events[2]["actor"] is not None and events[2]["actor"]["kind"] == "service"


@pytest.mark.parametrize("store_kind", ["builtin", "python"])
def test_an_audit_callback_that_raises_changes_nothing(store_kind: str) -> None:
    calls: List[str] = []

    def audit(event: keyward.AuditEvent) -> None:
        calls.append(event["action"])
        raise RuntimeError("audit sink down")

    store: keyward.Store = keyward.MemoryStore() if store_kind == "builtin" else DictStore()
    kw = keyward.Engine(store, audit=audit)
    assert kw.create_tenant("acme", admin=ADMIN)["tenant"] == "acme"
    bot = kw.create_service_account(ADMIN, "acme", "bot", role="viewer")
    token = kw.create_token(ADMIN, bot["principal"])["token"]
    assert kw.verify(token, "acme", "models:read")["allowed"]
    with pytest.raises(keyward.NotOwner):
        kw.revoke_account("stranger@else.test", bot["principal"])
    assert calls == ["tenant.create", "service_account.create", "token.create", "auth.verify", "service_account.revoke"]
    assert [e["action"] for e in kw.audit_log(ADMIN, "acme")["events"]] == [
        "service_account.revoke",
        "token.create",
        "service_account.create",
        "tenant.create",
    ]


# -- Threads and the GIL ---------------------------------------------------------------------


@pytest.fixture
def ticker() -> Iterator[List[int]]:
    """A Python thread that counts while it gets the GIL."""
    count = [0]
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            count[0] += 1
            time.sleep(0.0005)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield count
    stop.set()
    thread.join()


@pytest.mark.parametrize("store_kind", ["builtin", "python"])
def test_password_hashing_releases_the_gil(store_kind: str, ticker: List[int]) -> None:
    store: keyward.Store = keyward.MemoryStore() if store_kind == "builtin" else DictStore()
    kw = keyward.Engine(store)
    kw.create_tenant("acme", admin=ADMIN)
    kw.create_service_account(ADMIN, "acme", "bot", password=STRONG)
    most = 0
    for _ in range(3):
        before = ticker[0]
        kw.authenticate_password(BOT, STRONG)
        most = max(most, ticker[0] - before)
    assert most >= 3, "another Python thread ran while a password was hashed"


def test_two_threads_hash_passwords_concurrently(world: World) -> None:
    kw = world.kw
    kw.create_service_account(ADMIN, "acme", "bot-two", password=STRONG)
    kw.set_password(ADMIN, BOT, STRONG)
    results: Dict[str, Any] = {}

    def sign_in(principal: str) -> None:
        try:
            for _ in range(2):
                results[principal] = kw.authenticate_password(principal, STRONG)["principal"]
        except BaseException as e:  # pragma: no cover - reported below
            results[principal] = e

    threads = [threading.Thread(target=sign_in, args=(p,)) for p in (BOT, "bot-two@acme.sa.keyward.local")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert results == {BOT: BOT, "bot-two@acme.sa.keyward.local": "bot-two@acme.sa.keyward.local"}


def test_one_engine_serves_many_threads(world: World) -> None:
    kw = world.kw
    token = kw.create_token(ADMIN, BOT)["token"]
    answers: List[bool] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(50):
            allowed = kw.verify(token, "acme", "models:read")["allowed"]
            with lock:
                answers.append(allowed)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert answers == [True] * 200
