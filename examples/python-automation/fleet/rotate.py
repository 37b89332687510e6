"""Rotation: replace every live token that expires within N days.

Each token is rotated by the engine (SPEC R-25): the successor keeps the name, scopes and
lifetime length, and the old token keeps working for a grace period. The engine rotates a
token once only, so a rerun after a crash, or two jobs at once, never rotate twice: the second
attempt is refused with ``failed_precondition`` and reported as "already rotated".

Tokens that never expire are left alone, and so are the tokens of revoked accounts (they will
never work again, R-04) and of users (people rotate their own).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, List, Optional, Set

import keyward

from .listing import is_live, service_accounts
from .tokenfile import TokenFile

__all__ = ["Candidate", "Result", "expiring", "rotate"]

DAY_MS = 86_400_000


@dataclass(frozen=True)
class Candidate:
    principal: str
    token_id: str
    name: str
    expires_at: int


@dataclass(frozen=True)
class Result:
    candidate: Candidate
    outcome: str  # "rotated", "already rotated", "rotated elsewhere", "skipped" or "failed"
    detail: str = ""
    new_token_id: Optional[str] = None
    new_expires_at: Optional[int] = None


def expiring(
    engine: keyward.Engine,
    actor: str,
    tenant: str,
    *,
    within_days: int,
    now: Callable[[], int],
    progress: Callable[[int], object] = lambda n: None,
) -> List[Candidate]:
    """The live tokens of ``tenant``'s service accounts that expire within ``within_days``.

    ``now`` is the engine's clock; ``progress`` is called with 1 for each account read.
    """
    start = now()
    horizon = start + within_days * DAY_MS
    found = []
    for account in service_accounts(engine, actor, tenant):
        progress(1)
        if account["status"] == "revoked":
            continue
        for token in engine.list_tokens(actor, account["principal"]):
            expires_at = token["expires_at"]
            if expires_at is not None and expires_at <= horizon and is_live(token, start):
                found.append(Candidate(account["principal"], token["token_id"], token["name"], expires_at))
    return found


def rotate(
    engine: keyward.Engine,
    actor: str,
    candidates: Iterable[Candidate],
    *,
    grace_seconds: int,
    out: TokenFile,
    saved: Set[str],
    now: Callable[[], int],
) -> Iterator[Result]:
    """Rotates each candidate, writing its successor to ``out`` at once; yields what happened.

    ``saved`` holds the ids of tokens whose rotation ``out`` already records (from an earlier
    run), so that an "already rotated" token can be told apart from one rotated elsewhere.
    """
    for c in candidates:
        try:
            new = engine.rotate_token(actor, c.principal, c.token_id, grace_seconds=grace_seconds)
        except keyward.FailedPrecondition:
            try:
                refused = _refused(engine, actor, c, saved, now())
            except keyward.KeywardError as e:
                refused = Result(c, "failed", str(e))
            yield refused
            continue
        except keyward.KeywardError as e:  # messages never hold a secret (SPEC R-82)
            yield Result(c, "failed", str(e))
            continue
        try:
            out.write(
                {
                    "account": c.principal,
                    "name": new["name"],
                    "old_token_id": c.token_id,
                    "token_id": new["token_id"],
                    "expires_at": new["expires_at"],
                    "token": new["token"],
                }
            )
        except OSError as e:
            # The rotation happened and cannot be undone; its secret exists nowhere else.
            # Say so and stop: every further rotation would lose its token the same way.
            lost = f"rotated to {new['token_id']}, but the token file could not be written ({e}): that new token is lost; revoke it and make a new one"
            yield Result(c, "failed", lost, new_token_id=new["token_id"])
            return
        yield Result(c, "rotated", new_token_id=new["token_id"], new_expires_at=new["expires_at"])


def _refused(engine: keyward.Engine, actor: str, c: Candidate, saved: Set[str], now: int) -> Result:
    """Why the engine refused to rotate a token we saw live: R-25 names three causes."""
    token = next((t for t in engine.list_tokens(actor, c.principal) if t["token_id"] == c.token_id), None)
    if token is None or not is_live(token, now):
        return Result(c, "skipped", "revoked, expired or deleted since it was listed")
    if c.token_id in saved:
        return Result(c, "already rotated", "its successor is already in the token file")
    # Another job may hold the successor; or a run of ours stopped between rotating and saving,
    # and its secret is lost. Nobody here can tell which: the run reports it as needing a person.
    return Result(
        c,
        "rotated elsewhere",
        "its successor is not in the token file: if no other job rotated it, its secret is lost; "
        "then make a new token for this account before the old one's grace period ends",
    )
