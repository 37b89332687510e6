"""Keyward: a policy engine for service accounts.

Who a non-human principal is (tokens and passwords, SPEC R-10..R-27, R-50..R-53) and what it
may do (roles, groups, grants and per-tenant access, R-40..R-48), with explained decisions and
an audit trail (R-80, R-81). The engine is the Rust core, run natively; this package gives it a
typed Python API. Records are plain ``dict``s; failures raise :class:`KeywardError` subclasses.

>>> import keyward
>>> kw = keyward.Engine()
>>> _ = kw.create_tenant("acme", admin="root@acme.test")
>>> bot = kw.create_service_account("root@acme.test", "acme", "deploy-bot", role="viewer")
>>> token = kw.create_token("root@acme.test", bot["principal"])["token"]
>>> kw.verify(token, "acme", "models:read")["allowed"]
True
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Union

from . import _keyward
from ._errors import (
    AccountDisabled,
    AccountRevoked,
    AlreadyExists,
    ChannelNotAllowed,
    Conflict,
    FailedPrecondition,
    Forbidden,
    Internal,
    InvalidArgument,
    InvalidCredentials,
    InvalidFilter,
    KeywardError,
    NotFound,
    NotOwner,
    QuotaExceeded,
    StoreError,
    TokenExpired,
    TokenRevoked,
    WeakPassword,
    error_class,
)
from ._keyward import MemoryStore
from ._operations import Operations
from ._types import (
    Account,
    Actor,
    AccountPage,
    AuditActor,
    AuditCallback,
    AuditEvent,
    AuditPage,
    Clock,
    Decision,
    DirectoryUser,
    EffectiveGrant,
    Entry,
    Grant,
    GrantInput,
    GrantObject,
    Group,
    Identity,
    Matched,
    Role,
    Scope,
    ScopeObject,
    Seats,
    Store,
    Subject,
    SyncReport,
    Tenant,
    TenantSettings,
    TokenCreated,
    TokenInfo,
    Versioned,
)

__version__: str = _keyward.__version__

__all__ = [
    "Actor",
    "Subject",
    "Engine",
    "MemoryStore",
    "Store",
    "KeywardError",
    "InvalidArgument",
    "InvalidFilter",
    "InvalidCredentials",
    "TokenExpired",
    "TokenRevoked",
    "AccountDisabled",
    "AccountRevoked",
    "ChannelNotAllowed",
    "NotFound",
    "AlreadyExists",
    "Forbidden",
    "NotOwner",
    "WeakPassword",
    "FailedPrecondition",
    "QuotaExceeded",
    "Conflict",
    "StoreError",
    "Internal",
    "error_class",
    "Account",
    "AccountPage",
    "AuditActor",
    "AuditCallback",
    "AuditEvent",
    "AuditPage",
    "Clock",
    "Decision",
    "DirectoryUser",
    "EffectiveGrant",
    "Entry",
    "Grant",
    "GrantInput",
    "GrantObject",
    "Group",
    "Identity",
    "Matched",
    "Role",
    "Scope",
    "ScopeObject",
    "Seats",
    "SyncReport",
    "Tenant",
    "TenantSettings",
    "TokenCreated",
    "TokenInfo",
    "Versioned",
]

class Engine(Operations):
    """A Keyward engine over a store (API.md "Engine").

    Args:
        store: any object with the store protocol's four methods (:class:`Store`, R-90), or
            ``None`` for a new built-in :class:`MemoryStore`. With a ``MemoryStore`` each
            operation runs natively in one call. A store with ``get_many`` answers each batch
            of reads in one call; :mod:`keyward.stores` has durable ones (SQLite, Postgres).
        domain: domain of service-account principals, ``<name>@<tenant>.sa.<domain>`` (R-02).
        token_prefix: first part of every token, ``^[a-z]{2,8}$`` (R-20).
        clock: callable returning milliseconds since the epoch (R-93); default: the wall clock.
        audit: callable receiving every audit event as a dict (R-80); what it raises is ignored.
        pepper: bytes or str; when set, token hashes are HMAC-SHA-256 under it (R-21).
        max_staleness_ms: the staleness window of R-16, 0 (default) to 86,400,000: within it
            ``authenticate``, ``verify`` and ``authorize`` may answer from documents this engine
            read no longer ago, with no store access. Writes through this engine take effect at
            once; writes through another engine (another process) within the window.

    Raises:
        InvalidArgument: ``domain``, ``token_prefix`` or ``max_staleness_ms`` is malformed.
        TypeError: ``store`` lacks a protocol method, or ``clock``/``audit`` is not callable.

    Every operation is synchronous. Operations that hash a password (``set_password``,
    ``authenticate_password``, ``create_service_account`` with a password) release the GIL
    while hashing, so other threads go on. An engine may be shared between threads.
    """

    __slots__ = ("_native", "_store", "_call")

    def __init__(
        self,
        store: Optional[Store] = None,
        *,
        domain: str = "keyward.local",
        token_prefix: str = "kw",
        clock: Optional[Clock] = None,
        audit: Optional[AuditCallback] = None,
        pepper: Union[bytes, str, None] = None,
        max_staleness_ms: int = 0,
    ) -> None:
        if isinstance(max_staleness_ms, bool) or not isinstance(max_staleness_ms, int):
            raise TypeError("`max_staleness_ms` must be an int (milliseconds)")
        if store is None:
            store = MemoryStore()
        self._store: Store = store
        self._native = _keyward.Engine(
            store,
            domain=domain,
            token_prefix=token_prefix,
            clock=clock,
            audit=audit,
            pepper=pepper,
            # Beyond 64 bits is out of range too: the core says so (InvalidArgument).
            max_staleness_ms=max(-1, min(max_staleness_ms, 2**62)),
        )
        self._call = self._native.call

    @property
    def store(self) -> Store:
        """The store this engine reads and writes."""
        return self._store

    def call(self, op: str, args: Mapping[str, Any]) -> Any:
        """Runs operation ``op`` given as data, as conformance scenarios write it.

        ``args`` maps API.md's parameter names to values; missing optional ones take their
        defaults. An unknown operation or argument is :class:`InvalidArgument` naming it.
        Returns the operation's record (``None`` for removals).
        """
        return self._call(op, dict(args))
