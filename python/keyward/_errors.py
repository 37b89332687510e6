"""Keyward's errors: one exception class per code of SPEC §12, under :class:`KeywardError`.

The native module raises these through :func:`_from_data`; user code catches them by class
(``except keyward.NotOwner``) or reads ``.code``.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Type

__all__ = [
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
]


class KeywardError(Exception):
    """A Keyward failure (SPEC §12).

    Attributes:
        code: the stable code, e.g. ``"not_owner"``; the same in every host.
        message: the human-readable message (also ``str(error)``); never holds a secret (R-82).
        field: for ``invalid_argument``, the argument at fault; otherwise ``None``.
        position: for ``invalid_filter``, the 0-based offset of the first offending
            character (R-70); otherwise ``None``.
        rules: for ``weak_password``, every unmet password rule (R-50); otherwise ``None``.
    """

    code: str = "internal"

    def __init__(
        self,
        message: str = "",
        *,
        code: Optional[str] = None,
        field: Optional[str] = None,
        position: Optional[int] = None,
        rules: Optional[List[str]] = None,
    ) -> None:
        super().__init__(message)
        self.message: str = message
        if code is not None:
            self.code = code
        self.field: Optional[str] = field
        self.position: Optional[int] = position
        self.rules: Optional[List[str]] = rules

    def __str__(self) -> str:
        return self.message


class InvalidArgument(KeywardError):
    """An argument is malformed or not allowed; ``.field`` names it."""

    code = "invalid_argument"


class InvalidFilter(KeywardError):
    """A listing filter does not parse; ``.position`` is where (R-70)."""

    code = "invalid_filter"


class InvalidCredentials(KeywardError):
    """The token or password did not verify (R-12); deliberately says nothing more."""

    code = "invalid_credentials"


class TokenExpired(KeywardError):
    """The token verified but has expired (R-13)."""

    code = "token_expired"


class TokenRevoked(KeywardError):
    """The token verified but has been revoked (R-13)."""

    code = "token_revoked"


class AccountDisabled(KeywardError):
    """The account is disabled (R-05)."""

    code = "account_disabled"


class AccountRevoked(KeywardError):
    """The account is revoked (R-05)."""

    code = "account_revoked"


class ChannelNotAllowed(KeywardError):
    """Service accounts authenticate only on channel ``api`` (R-10)."""

    code = "channel_not_allowed"


class NotFound(KeywardError):
    """The named tenant, account, role, group or token does not exist (R-31, R-46)."""

    code = "not_found"


class AlreadyExists(KeywardError):
    """The thing to create exists already."""

    code = "already_exists"


class Forbidden(KeywardError):
    """The actor lacks the permission the operation needs, or would escalate (R-46, R-47)."""

    code = "forbidden"


class NotOwner(KeywardError):
    """An owner-only operation by an actor outside the owner tenant (R-31)."""

    code = "not_owner"


class WeakPassword(KeywardError):
    """The password fails the tenant's policy; ``.rules`` lists every unmet rule (R-50)."""

    code = "weak_password"


class FailedPrecondition(KeywardError):
    """Not allowed in the target's current state (R-04, R-25, R-41, R-61)."""

    code = "failed_precondition"


class QuotaExceeded(KeywardError):
    """A tenant quota would be exceeded (R-62)."""

    code = "quota_exceeded"


class Conflict(KeywardError):
    """Compare-and-set writes kept losing races (R-91)."""

    code = "conflict"


class StoreError(KeywardError):
    """A host callback (store or clock) failed; the message carries the host's (R-94)."""

    code = "store_error"


class Internal(KeywardError):
    """A bug in Keyward (a panic is caught and reported as this, R-94)."""

    code = "internal"


_BY_CODE: Dict[str, Type[KeywardError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        InvalidFilter,
        InvalidCredentials,
        TokenExpired,
        TokenRevoked,
        AccountDisabled,
        AccountRevoked,
        ChannelNotAllowed,
        NotFound,
        AlreadyExists,
        Forbidden,
        NotOwner,
        WeakPassword,
        FailedPrecondition,
        QuotaExceeded,
        Conflict,
        StoreError,
        Internal,
    )
}


def error_class(code: str) -> Type[KeywardError]:
    """The exception class of an error code (``KeywardError`` for an unknown one)."""
    return _BY_CODE.get(code, KeywardError)


def _from_data(
    code: str,
    message: str,
    field: Optional[str],
    position: Optional[int],
    rules: Optional[List[str]],
) -> KeywardError:
    """Builds the exception for the native module (``keyward_core::Error::to_data``)."""
    return error_class(code)(message, code=code, field=field, position=position, rules=rules)


for _cls in (KeywardError, *_BY_CODE.values()):
    _cls.__module__ = "keyward"
del _cls
