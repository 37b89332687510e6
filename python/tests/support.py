"""Test support: a host clock, a store written in Python, a store wrapper that injects
host failures (R-94) and lost races (R-91), as the Rust runner's `FaultyStore` does, and the
test PostgreSQL database."""

from __future__ import annotations

import os
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import pytest

import keyward
import keyward.stores

T0 = 1_700_000_000_000
"""Time starts at 2023-11-14T22:13:20Z and moves only when a test says so."""


class Clock:
    """A settable host clock (R-93)."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


class DictStore:
    """The store protocol over a plain dict. Versions start at 1000 and step by 7, so nothing
    may assume that they start at 1 or count by one; `list` sorts the keys itself."""

    def __init__(self) -> None:
        self.data: Dict[str, Tuple[str, int]] = {}

    def get(self, key: str) -> Optional[keyward.Versioned]:
        found = self.data.get(key)
        if found is None:
            return None
        return {"value": found[0], "version": found[1]}

    def put(self, key: str, value: str, expected_version: Optional[int]) -> Optional[int]:
        current = self.data.get(key)
        if (current[1] if current else None) != expected_version:
            return None
        version = 1000 if current is None else current[1] + 7
        self.data[key] = (value, version)
        return version

    def delete(self, key: str, expected_version: int) -> bool:
        current = self.data.get(key)
        if current is None or current[1] != expected_version:
            return False
        del self.data[key]
        return True

    def list(self, prefix: str, after: Optional[str], limit: int) -> List[keyward.Entry]:
        keys = sorted(k for k in self.data if k.startswith(prefix) and (after is None or k > after))
        return [{"key": k, "value": self.data[k][0], "version": self.data[k][1]} for k in keys[:limit]]


class HostFailure(Exception):
    """What a failing host store raises."""


class FaultyStore:
    """Delegates to another store; the next `fail_calls` calls raise `HostFailure` with
    `fail_message`, and the next `lose_puts` puts lose their compare-and-set without writing."""

    def __init__(self, inner: keyward.Store) -> None:
        self.inner = inner
        self.fail_calls = 0
        self.fail_message = "store failed"
        self.lose_puts = 0
        self.calls = 0

    def armed(self) -> bool:
        return self.fail_calls > 0 or self.lose_puts > 0

    def disarm(self) -> None:
        self.fail_calls = 0
        self.lose_puts = 0

    def _gate(self) -> None:
        self.calls += 1
        if self.fail_calls > 0:
            self.fail_calls -= 1
            raise HostFailure(self.fail_message)

    def get(self, key: str) -> Optional[keyward.Versioned]:
        self._gate()
        return self.inner.get(key)

    def put(self, key: str, value: str, expected_version: Optional[int]) -> Optional[int]:
        self._gate()
        if self.lose_puts > 0:
            self.lose_puts -= 1
            return None
        return self.inner.put(key, value, expected_version)

    def delete(self, key: str, expected_version: int) -> bool:
        self._gate()
        return self.inner.delete(key, expected_version)

    def list(self, prefix: str, after: Optional[str], limit: int) -> Iterable[keyward.Entry]:
        self._gate()
        return self.inner.list(prefix, after, limit)


class FaultyManyStore(FaultyStore):
    """A `FaultyStore` over a store that has `get_many`, which it offers too: a batch of reads
    fails at its first key while failures are armed, as the Rust runner's default `get_many`
    (one `get` per key, stopping at the first error) does."""

    def get_many(self, keys: Sequence[str]) -> List[Optional[keyward.Versioned]]:
        for _ in keys:
            self._gate()
        return list(getattr(self.inner, "get_many")(keys))


def faulty(inner: keyward.Store) -> FaultyStore:
    """The fault-injecting wrapper of `inner`, with `get_many` when `inner` has it."""
    return FaultyManyStore(inner) if hasattr(inner, "get_many") else FaultyStore(inner)


def pg_url() -> str:
    """The test database's URL; fails (never skips) the test when there is none."""
    url = os.environ.get("KEYWARD_TEST_PG_URL")
    if not url:
        pytest.fail(
            "KEYWARD_TEST_PG_URL is not set: run the tests through scripts/with-postgres.sh "
            "(`make python-test` does), which starts a private PostgreSQL cluster",
            pytrace=False,
        )
    return url


class PgTable:
    """Empties the test database's `keyward_kv` table on demand."""

    def __init__(self, url: str) -> None:
        import psycopg

        keyward.stores.PostgresStore(url).close()  # creates the table when missing
        self.conn = psycopg.connect(url, autocommit=True)

    def clear(self) -> None:
        self.conn.execute("DELETE FROM keyward_kv")

    def close(self) -> None:
        self.conn.close()
