"""Reading a tenant's service accounts and tokens, shared by ``provision`` and ``rotate``."""

from __future__ import annotations

from typing import Iterator, Optional

import keyward

__all__ = ["service_accounts", "is_live"]

# Service accounts the tenant owns: those whose tokens it manages. External accounts
# granted access here are their owner's business, and users are people.
OWNED_SERVICE_ACCOUNTS = "service_account=true AND owned=true"


def service_accounts(engine: keyward.Engine, actor: str, tenant: str) -> Iterator[keyward.Account]:
    """Every service account ``tenant`` owns, by principal, a page of 1,000 at a time."""
    page_token: Optional[str] = None
    while True:
        page = engine.list_accounts(
            actor, tenant, filter=OWNED_SERVICE_ACCOUNTS, page_size=1000, page_token=page_token
        )
        yield from page["accounts"]
        page_token = page["next_page_token"]
        if page_token is None:
            return


def is_live(token: keyward.TokenInfo, now: int) -> bool:
    """Neither revoked nor expired at ``now`` (SPEC R-13: expired when ``now >= expires_at``)."""
    expires_at = token["expires_at"]
    return token["revoked_at"] is None and (expires_at is None or now < expires_at)
