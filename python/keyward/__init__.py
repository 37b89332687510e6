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

from typing import Any, List, Mapping, Optional, Sequence, Union, cast

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
from ._types import (
    Account,
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

Subject = Union[str, Identity, Mapping[str, Any]]
"""A principal, or an identity from ``authenticate`` (its token's scopes then apply, R-26)."""

Actor = Subject
"""The actor of an admin operation: a principal, or an identity from ``authenticate`` — its
token is read again (revoked or expired acts for nobody) and its scopes narrow the actor's
rights (R-26)."""


class Engine:
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

    # -- Bootstrap -----------------------------------------------------------------------------

    def create_tenant(
        self,
        tenant: str,
        *,
        admin: str,
        name: Optional[str] = None,
        settings: Optional[Mapping[str, Any]] = None,
    ) -> Tenant:
        """Creates a tenant and its first admin, the user ``admin`` (an email) (R-60).

        Bootstrap: there is no actor, so the host must guard this call. If a user with that
        email exists, it gets the ``admin`` role in the new tenant instead. Writes
        ``tenant.create`` with actor kind ``system`` (R-81). ``settings`` are validated as
        ``update_tenant_settings`` does.
        """
        args = {"tenant": tenant, "admin": admin, "name": name, "settings": settings}
        return cast(Tenant, self._call("create_tenant", args))

    def get_tenant(self, actor: Actor, tenant: str) -> Tenant:
        """The tenant's record; needs any access to the tenant (R-46)."""
        return cast(Tenant, self._call("get_tenant", {"actor": actor, "tenant": tenant}))

    # -- Tenants, roles, groups ----------------------------------------------------------------

    def update_tenant_settings(self, actor: Actor, tenant: str, settings: Mapping[str, Any]) -> Tenant:
        """Merges ``settings`` into the tenant's, each value validated (R-60); ``settings:write``.

        Keys: ``default_token_ttl_days``, ``max_token_ttl_days``, ``allow_non_expiring_tokens``,
        ``max_tokens_per_account``, ``max_service_accounts``, ``seat_limit``,
        ``default_service_account_role`` (no escalation, R-47), ``password_policy`` (R-50).
        """
        args = {"actor": actor, "tenant": tenant, "settings": settings}
        return cast(Tenant, self._call("update_tenant_settings", args))

    def define_role(self, actor: Actor, tenant: str, role: str, grants: Sequence[GrantInput]) -> Role:
        """Creates or replaces custom role ``role`` (R-41); ``roles:write``.

        Built-in names are refused; the actor must hold every grant it gives (R-47).
        """
        args = {"actor": actor, "tenant": tenant, "role": role, "grants": grants}
        return cast(Role, self._call("define_role", args))

    def delete_role(self, actor: Actor, tenant: str, role: str) -> None:
        """Deletes a custom role (R-41); one still in use is :class:`FailedPrecondition`."""
        self._call("delete_role", {"actor": actor, "tenant": tenant, "role": role})

    def create_group(
        self,
        actor: Actor,
        tenant: str,
        group: str,
        *,
        roles: Sequence[str] = (),
        grants: Sequence[GrantInput] = (),
    ) -> Group:
        """Creates a group carrying ``roles`` and ``grants`` (R-43, R-47); ``groups:write``."""
        args = {"actor": actor, "tenant": tenant, "group": group, "roles": roles, "grants": grants}
        return cast(Group, self._call("create_group", args))

    def delete_group(self, actor: Actor, tenant: str, group: str) -> None:
        """Deletes a group (R-43); ``everyone`` cannot be deleted (R-42); ``groups:write``."""
        self._call("delete_group", {"actor": actor, "tenant": tenant, "group": group})

    def add_group_member(self, actor: Actor, tenant: str, group: str, principal: str) -> Group:
        """Adds an account with access to the tenant to a group (R-43, R-47); ``groups:write``."""
        args = {"actor": actor, "tenant": tenant, "group": group, "principal": principal}
        return cast(Group, self._call("add_group_member", args))

    def remove_group_member(self, actor: Actor, tenant: str, group: str, principal: str) -> Group:
        """Removes an account from a group; never from ``everyone`` (R-42); ``groups:write``."""
        args = {"actor": actor, "tenant": tenant, "group": group, "principal": principal}
        return cast(Group, self._call("remove_group_member", args))

    def grant_group_permissions(
        self, actor: Actor, tenant: str, group: str, grants: Sequence[GrantInput]
    ) -> Group:
        """Adds grants to a group (R-43, R-47, R-48); ``groups:write``."""
        args = {"actor": actor, "tenant": tenant, "group": group, "grants": grants}
        return cast(Group, self._call("grant_group_permissions", args))

    def revoke_group_permissions(
        self, actor: Actor, tenant: str, group: str, grants: Sequence[GrantInput]
    ) -> Group:
        """Removes grants from a group (R-43); ``groups:write``."""
        args = {"actor": actor, "tenant": tenant, "group": group, "grants": grants}
        return cast(Group, self._call("revoke_group_permissions", args))

    # -- Users and directory sync --------------------------------------------------------------

    def create_user(
        self,
        actor: Actor,
        tenant: str,
        email: str,
        *,
        name: Optional[str] = None,
        role: Optional[str] = None,
        mfa: bool = False,
    ) -> Account:
        """Creates a user owned by the tenant; its principal is the email (R-03, R-11, R-62).

        ``accounts:write``; a ``role`` beyond the actor's own rights is :class:`Forbidden`
        (R-47); past the tenant's ``seat_limit`` is :class:`QuotaExceeded`.
        """
        args = {"actor": actor, "tenant": tenant, "email": email, "name": name, "role": role, "mfa": mfa}
        return cast(Account, self._call("create_user", args))

    def remove_user(self, actor: Actor, tenant: str, email: str) -> None:
        """Removes a user and its personal tokens (R-52); never the last admin (R-61).

        ``accounts:delete``.
        """
        self._call("remove_user", {"actor": actor, "tenant": tenant, "email": email})

    def sync_directory(
        self, actor: Actor, tenant: str, users: Sequence[Union[DirectoryUser, Mapping[str, Any]]]
    ) -> SyncReport:
        """Makes the tenant's own users match an identity provider's list (R-61, R-07).

        ``users`` is a list of ``{"email", "name"}``. Creates, renames and removes users only;
        service accounts and external users are untouched. ``accounts:write`` and
        ``accounts:delete``. Returns ``{"created", "updated", "removed", "skipped"}``.
        """
        args = {"actor": actor, "tenant": tenant, "users": users}
        return cast(SyncReport, self._call("sync_directory", args))

    def seat_usage(self, actor: Actor, tenant: str) -> Seats:
        """Active users counted as seats; service accounts apart (R-63, R-08); ``accounts:read``."""
        return cast(Seats, self._call("seat_usage", {"actor": actor, "tenant": tenant}))

    # -- Service accounts and access -----------------------------------------------------------

    def create_service_account(
        self,
        actor: Actor,
        tenant: str,
        name: str,
        *,
        description: Optional[str] = None,
        role: Optional[str] = None,
        grants: Sequence[GrantInput] = (),
        password: Optional[str] = None,
    ) -> Account:
        """Creates a service account owned by ``tenant`` (R-01, R-02, R-30); ``accounts:write``.

        Its principal is ``<name>@<tenant>.sa.<domain>``. Without ``role`` it gets the tenant's
        ``default_service_account_role`` (none by default, R-40). The actor must hold the rights
        it gives (R-47); past ``max_service_accounts`` is :class:`QuotaExceeded` (R-62). A
        ``password`` must meet the tenant's policy (R-50) and is stored as Argon2id (R-51).
        """
        args = {
            "actor": actor,
            "tenant": tenant,
            "name": name,
            "description": description,
            "role": role,
            "grants": grants,
            "password": password,
        }
        return cast(Account, self._call("create_service_account", args))

    def get_account(self, actor: Actor, tenant: str, principal: str) -> Account:
        """An account as seen from ``tenant`` (R-34); ``accounts:read``."""
        args = {"actor": actor, "tenant": tenant, "principal": principal}
        return cast(Account, self._call("get_account", args))

    def list_accounts(
        self,
        actor: Actor,
        tenant: str,
        *,
        filter: Optional[str] = None,
        page_size: int = 100,
        page_token: Optional[str] = None,
    ) -> AccountPage:
        """Accounts with access to ``tenant``, owned and external, by principal (R-34, R-70).

        ``filter`` uses the AIP-160 grammar of R-70 (a bad one is :class:`InvalidFilter` with
        ``.position``); ``page_size`` is 1 to 1,000. ``accounts:read``. Returns
        ``{"accounts", "next_page_token"}``.
        """
        args = {
            "actor": actor,
            "tenant": tenant,
            "filter": filter,
            "page_size": page_size,
            "page_token": page_token,
        }
        return cast(AccountPage, self._call("list_accounts", args))

    def update_service_account(self, actor: Actor, principal: str, *, description: Optional[str]) -> Account:
        """Changes a service account's description (R-01); owner's ``accounts:write`` (R-31)."""
        args = {"actor": actor, "principal": principal, "description": description}
        return cast(Account, self._call("update_service_account", args))

    def set_role(self, actor: Actor, tenant: str, principal: str, role: Optional[str]) -> Account:
        """Sets (or with ``None`` clears) the account's one direct role in ``tenant`` (R-44).

        ``accounts:write``; no escalation (R-47).
        """
        args = {"actor": actor, "tenant": tenant, "principal": principal, "role": role}
        return cast(Account, self._call("set_role", args))

    def grant_permissions(
        self, actor: Actor, tenant: str, principal: str, grants: Sequence[GrantInput]
    ) -> Account:
        """Adds direct grants in ``tenant`` (R-44, R-47, R-48); ``accounts:write``."""
        args = {"actor": actor, "tenant": tenant, "principal": principal, "grants": grants}
        return cast(Account, self._call("grant_permissions", args))

    def revoke_permissions(
        self, actor: Actor, tenant: str, principal: str, grants: Sequence[GrantInput]
    ) -> Account:
        """Removes direct grants in ``tenant`` (R-44); ``accounts:write``."""
        args = {"actor": actor, "tenant": tenant, "principal": principal, "grants": grants}
        return cast(Account, self._call("revoke_permissions", args))

    def grant_access(
        self,
        actor: Actor,
        tenant: str,
        principal: str,
        *,
        role: Optional[str] = None,
        grants: Sequence[GrantInput] = (),
    ) -> Account:
        """Gives an account of another tenant access to ``tenant`` (R-32, R-33, R-47).

        Needs ``accounts:write`` in ``tenant``; the owner tenant is :class:`InvalidArgument`,
        a second grant :class:`AlreadyExists`.
        """
        args = {"actor": actor, "tenant": tenant, "principal": principal, "role": role, "grants": grants}
        return cast(Account, self._call("grant_access", args))

    def remove_access(self, actor: Actor, tenant: str, principal: str) -> None:
        """Removes an external account's access to ``tenant`` (R-33); ``accounts:write``."""
        self._call("remove_access", {"actor": actor, "tenant": tenant, "principal": principal})

    # -- Lifecycle (owner only, R-31) ----------------------------------------------------------

    def disable_account(self, actor: Actor, principal: str) -> Account:
        """Disables an account: its credentials stop working at once (R-04, R-05, R-31)."""
        return cast(Account, self._call("disable_account", {"actor": actor, "principal": principal}))

    def enable_account(self, actor: Actor, principal: str) -> Account:
        """Enables a disabled account; a revoked one is :class:`FailedPrecondition` (R-04, R-31)."""
        return cast(Account, self._call("enable_account", {"actor": actor, "principal": principal}))

    def revoke_account(self, actor: Actor, principal: str) -> Account:
        """Revokes an account for good; the principal is kept as inactive (R-04, R-05, R-31)."""
        return cast(Account, self._call("revoke_account", {"actor": actor, "principal": principal}))

    def delete_account(self, actor: Actor, principal: str) -> None:
        """Deletes an account and its credentials (R-04, R-06, R-92); owner's ``accounts:delete``."""
        self._call("delete_account", {"actor": actor, "principal": principal})

    def set_password(self, actor: Actor, principal: str, password: Optional[str]) -> Account:
        """Sets (or with ``None`` clears) a service account's password (R-50, R-51, R-31).

        A weak password is :class:`WeakPassword` listing the unmet ``.rules``; a user is
        :class:`InvalidArgument`. Releases the GIL while hashing.
        """
        args = {"actor": actor, "principal": principal, "password": password}
        return cast(Account, self._call("set_password", args))

    # -- Tokens (owner only, R-31; a user's own personal tokens, R-52) -------------------------

    def create_token(
        self,
        actor: Actor,
        principal: str,
        *,
        name: Optional[str] = None,
        ttl_days: Optional[int] = None,
        expires_at: Optional[int] = None,
        never_expires: bool = False,
        scopes: Optional[Sequence[GrantInput]] = None,
    ) -> TokenCreated:
        """Issues a token (R-20..R-23, R-26, R-47); owner's ``tokens:write``.

        At most one of ``ttl_days``, ``expires_at`` (ms) and ``never_expires`` (R-22). The
        answer holds ``"token"``, the plaintext: the only time it is seen (R-21).
        """
        args = {
            "actor": actor,
            "principal": principal,
            "name": name,
            "ttl_days": ttl_days,
            "expires_at": expires_at,
            "never_expires": never_expires,
            "scopes": scopes,
        }
        return cast(TokenCreated, self._call("create_token", args))

    def list_tokens(self, actor: Actor, principal: str) -> List[TokenInfo]:
        """An account's tokens, revoked and expired included: metadata only (R-24, R-53).

        Owner's ``tokens:read``.
        """
        return cast(List[TokenInfo], self._call("list_tokens", {"actor": actor, "principal": principal}))

    def rename_token(self, actor: Actor, principal: str, token_id: str, name: str) -> TokenInfo:
        """Renames a token (1 to 64 printable characters, R-24); owner's ``tokens:write``."""
        args = {"actor": actor, "principal": principal, "token_id": token_id, "name": name}
        return cast(TokenInfo, self._call("rename_token", args))

    def revoke_token(self, actor: Actor, principal: str, token_id: str) -> TokenInfo:
        """Revokes a token; revoking a revoked one is a no-op (R-24); owner's ``tokens:write``."""
        args = {"actor": actor, "principal": principal, "token_id": token_id}
        return cast(TokenInfo, self._call("revoke_token", args))

    def rotate_token(
        self, actor: Actor, principal: str, token_id: str, *, grace_seconds: int = 86400
    ) -> TokenCreated:
        """Issues a successor and lets the old token expire after ``grace_seconds`` (R-25).

        Same name, scopes and lifetime length; a revoked or expired token is
        :class:`FailedPrecondition`. Owner's ``tokens:write``. Holds the new ``"token"``.
        """
        args = {"actor": actor, "principal": principal, "token_id": token_id, "grace_seconds": grace_seconds}
        return cast(TokenCreated, self._call("rotate_token", args))

    # -- Audit ---------------------------------------------------------------------------------

    def audit_log(
        self,
        actor: Actor,
        tenant: str,
        *,
        filter: Optional[str] = None,
        page_size: int = 100,
        page_token: Optional[str] = None,
    ) -> AuditPage:
        """The tenant's audit events, newest first (R-80, R-81); ``audit:read``.

        ``filter`` uses R-70's grammar over ``action``, ``actor``, ``target``, ``outcome`` and
        ``time``. Returns ``{"events", "next_page_token"}``.
        """
        args = {
            "actor": actor,
            "tenant": tenant,
            "filter": filter,
            "page_size": page_size,
            "page_token": page_token,
        }
        return cast(AuditPage, self._call("audit_log", args))

    # -- Data plane ----------------------------------------------------------------------------

    def authenticate(self, token: str, *, channel: str = "api") -> Identity:
        """Verifies a token and returns who it belongs to (R-10..R-15, R-20, R-21).

        Raises :class:`InvalidCredentials` until the secret verifies (R-12), then
        :class:`TokenRevoked`, :class:`TokenExpired`, :class:`AccountDisabled` /
        :class:`AccountRevoked` and :class:`ChannelNotAllowed`, in that order (R-13).
        """
        return cast(Identity, self._call("authenticate", {"token": token, "channel": channel}))

    def authenticate_password(self, principal: str, password: str, *, channel: str = "api") -> Identity:
        """Signs a service account in with its password (R-10..R-13, R-50, R-51).

        Raises like :meth:`authenticate`. Releases the GIL while hashing.
        """
        args = {"principal": principal, "password": password, "channel": channel}
        return cast(Identity, self._call("authenticate_password", args))

    def authorize(self, identity_or_principal: Subject, tenant: str, permission: str, resource: str = "*") -> Decision:
        """Decides ``permission`` on ``resource`` in ``tenant`` (R-40, R-44, R-45, R-48).

        Takes a principal (the account's full rights) or an identity from
        :meth:`authenticate` (its token's scopes apply, R-26). The decision explains itself:
        ``matched`` says which grant allowed it and its source.
        """
        args = {
            "identity_or_principal": identity_or_principal,
            "tenant": tenant,
            "permission": permission,
            "resource": resource,
        }
        return cast(Decision, self._call("authorize", args))

    def verify(
        self, token: str, tenant: str, permission: str, resource: str = "*", *, channel: str = "api"
    ) -> Decision:
        """Authenticates a token and authorizes in one call (R-10..R-15, R-44, R-45).

        Never raises for a bad credential: the failure's code is the decision's ``reason``.
        """
        args = {"token": token, "tenant": tenant, "permission": permission, "resource": resource, "channel": channel}
        return cast(Decision, self._call("verify", args))

    def effective_permissions(self, identity_or_principal: Subject, tenant: str) -> List[EffectiveGrant]:
        """Every grant an identity or principal holds in ``tenant``, with its source (R-44, R-26)."""
        args = {"identity_or_principal": identity_or_principal, "tenant": tenant}
        return cast(List[EffectiveGrant], self._call("effective_permissions", args))
