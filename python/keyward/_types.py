"""Types of the records Keyward returns (API.md "Records") and of the host store protocol.

Records are plain ``dict``s at run time; these ``TypedDict``s describe them for type checkers.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Protocol, TypedDict, Union

__all__ = [
    "GrantObject",
    "Grant",
    "ScopeObject",
    "Scope",
    "GrantInput",
    "Subject",
    "Actor",
    "Identity",
    "Matched",
    "EffectiveGrant",
    "Decision",
    "Account",
    "AccountPage",
    "TokenInfo",
    "TokenCreated",
    "TenantSettings",
    "Tenant",
    "Role",
    "Group",
    "AuditActor",
    "AuditEvent",
    "AuditPage",
    "Seats",
    "SyncReport",
    "DirectoryUser",
    "Versioned",
    "Entry",
    "Store",
    "Clock",
    "AuditCallback",
]


class GrantObject(TypedDict):
    """A grant on a resource other than ``*`` (R-48)."""

    permission: str
    resource: str


Grant = Union[str, GrantObject]
"""A grant as returned: ``"type:action"`` (resource ``*``) or ``{"permission", "resource"}``."""


class ScopeObject(GrantObject, total=False):
    """A token scope (R-26): a grant, optionally limited to one tenant."""

    tenant: str


Scope = Union[str, ScopeObject]
"""A token scope as returned: a bare permission, or an object with resource and tenant."""

GrantInput = Union[str, Mapping[str, Any]]
"""A grant or scope as given: ``"type:action"`` or ``{"permission", "resource"?, "tenant"?}``."""


class Identity(TypedDict):
    """Who a verified credential belongs to (``authenticate``, ``authenticate_password``)."""

    principal: str
    kind: str
    tenant: str
    uid: str
    token_id: Optional[str]
    status: str
    scopes: Optional[List[Scope]]
    requires_second_factor: bool


Subject = Union[str, Identity, Mapping[str, Any]]
"""A principal, or an identity from ``authenticate`` (its token's scopes then apply, R-26)."""

Actor = Subject
"""The actor of an admin operation: a principal, or an identity from ``authenticate`` — its
token is read again (revoked or expired acts for nobody) and its scopes narrow the actor's
rights (R-26)."""


class Matched(TypedDict):
    """The grant that allowed a decision and where it came from (R-45)."""

    permission: str
    resource: str
    source: str


EffectiveGrant = Matched
"""One line of ``effective_permissions``: a grant and its source."""


class Decision(TypedDict):
    """An explained decision (R-45)."""

    allowed: bool
    reason: str
    principal: Optional[str]
    matched: Optional[Matched]


class Account(TypedDict):
    """An account as seen from one tenant."""

    principal: str
    id: str
    uid: Optional[str]  # null for a tenant that does not own the account
    kind: str
    name: str
    tenant: str
    owned: bool
    description: Optional[str]
    status: str
    roles: List[str]
    groups: List[str]
    grants: List[Grant]
    mfa: Optional[bool]
    has_password: Optional[bool]
    created_at: int
    created_by: Optional[str]  # null for a non-owner
    updated_at: int


class AccountPage(TypedDict):
    """A page of ``list_accounts``."""

    accounts: List[Account]
    next_page_token: Optional[str]


class TokenInfo(TypedDict):
    """Token metadata: exactly the fields of R-53, never the secret or its hash."""

    token_id: str
    name: str
    created_at: int
    created_by: str
    expires_at: Optional[int]
    last_used_at: Optional[int]
    revoked_at: Optional[int]
    scopes: Optional[List[Scope]]


class TokenCreated(TokenInfo):
    """A new token's metadata plus ``token``, the plaintext, shown this once (R-21)."""

    token: str


class TenantSettings(TypedDict):
    """A tenant's settings (R-60)."""

    default_token_ttl_days: int
    max_token_ttl_days: Optional[int]
    allow_non_expiring_tokens: bool
    max_tokens_per_account: int
    max_service_accounts: Optional[int]
    seat_limit: Optional[int]
    default_service_account_role: Optional[str]
    password_policy: str


class Tenant(TypedDict):
    """A tenant."""

    tenant: str
    name: str
    settings: TenantSettings
    created_at: int


class Role(TypedDict):
    """A role (R-41)."""

    tenant: str
    role: str
    grants: List[Grant]
    builtin: bool


class Group(TypedDict):
    """A group (R-43)."""

    tenant: str
    group: str
    roles: List[str]
    grants: List[Grant]
    members: List[str]


class AuditActor(TypedDict):
    """Who acted (R-81); ``kind`` tells automation (``service``) from people (``user``)."""

    principal: str
    kind: str
    status: str


class AuditEvent(TypedDict):
    """An audit event (R-81)."""

    time: int
    tenant: Optional[str]
    actor: Optional[AuditActor]
    action: str
    target: str
    outcome: str
    reason: Optional[str]
    details: Dict[str, Any]


class AuditPage(TypedDict):
    """A page of ``audit_log``, newest first."""

    events: List[AuditEvent]
    next_page_token: Optional[str]


class Seats(TypedDict):
    """``seat_usage``'s answer (R-63)."""

    seats_used: int
    seat_limit: Optional[int]
    service_accounts: int


class SyncReport(TypedDict):
    """``sync_directory``'s answer (R-61)."""

    created: int
    updated: int
    removed: int
    skipped: int


class _DirectoryUserBase(TypedDict):
    email: str


class DirectoryUser(_DirectoryUserBase, total=False):
    """One user of an identity provider's list, for ``sync_directory``."""

    name: Optional[str]


class Versioned(TypedDict):
    """A store value with its version (the answer of ``Store.get``)."""

    value: str
    version: int


class Entry(TypedDict):
    """One row of ``Store.list``."""

    key: str
    value: str
    version: int


class Store(Protocol):
    """The host store protocol (R-90): four methods, values are JSON text with versions.

    ``put`` and ``delete`` are compare-and-set on an integer version; ``put`` with
    ``expected_version=None`` must only create. A method that raises makes the operation fail
    with :class:`keyward.StoreError` carrying the exception's message (R-94).

    A store may also have ``get_many(keys: list[str]) -> list[Versioned | None]`` (one answer
    per key, in order): the engine then asks each batch of reads in one call. The SQL stores of
    :mod:`keyward.stores` have it; :func:`keyward.testing.check_store` checks a store.
    """

    def get(self, key: str) -> Optional[Versioned]:
        """The value and version at ``key``, or ``None``."""
        ...

    def put(self, key: str, value: str, expected_version: Optional[int]) -> Optional[int]:
        """Writes if the current version is ``expected_version``; the new version, or ``None``."""
        ...

    def delete(self, key: str, expected_version: int) -> bool:
        """Deletes if the current version is ``expected_version``; ``False`` otherwise."""
        ...

    def list(self, prefix: str, after: Optional[str], limit: int) -> Iterable[Entry]:
        """Up to ``limit`` entries under ``prefix`` with keys after ``after``, in key order."""
        ...


Clock = Callable[[], float]
"""The host clock (R-93): returns milliseconds since the epoch, an ``int`` or a finite
``float`` (floored); anything else, a ``bool`` included, fails the call with ``StoreError``."""

AuditCallback = Callable[[AuditEvent], object]
"""Receives every audit event (R-80); whatever it raises is ignored."""
