"""keyward.stores and keyward.testing.check_store (API.md "Store adapters", issue 8).

The Postgres tests use the database of scripts/with-postgres.sh (KEYWARD_TEST_PG_URL) and fail,
never skip, without it; each empties `keyward_kv` first.
"""

from __future__ import annotations

import functools
import re
import multiprocessing
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Union

import pytest

import keyward
import keyward.stores
import keyward.testing
from keyward.stores import PostgresStore, SqliteStore, prefix_upper_bound
from support import Clock, DictStore, PgTable, pg_url

ADMIN = "root@acme.test"
SqlStore = Union[SqliteStore, PostgresStore]


@pytest.fixture
def pg() -> Iterator[str]:
    """The test database's URL, its `keyward_kv` emptied."""
    url = pg_url()
    table = PgTable(url)
    table.clear()
    table.close()
    yield url


@pytest.fixture(params=["sqlite", "postgres"])
def make_sql(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], SqlStore]:
    """Opens a store on one (empty at first) SQL database; each call a new connection."""
    if request.param == "sqlite":
        return functools.partial(SqliteStore, tmp_path / "keyward.db")
    url: str = request.getfixturevalue("pg")
    return functools.partial(PostgresStore, url)


# -- The conformance suite on every store ----------------------------------------------------


def test_check_store_passes_on_the_built_in_memory_store() -> None:
    keyward.testing.check_store(keyward.MemoryStore, processes=0)


def test_check_store_passes_on_sqlite_store_with_threads_and_processes(tmp_path: Path) -> None:
    keyward.testing.check_store(functools.partial(SqliteStore, tmp_path / "kw.db"), threads=4, processes=3)


def test_check_store_passes_on_postgres_store_with_threads_and_processes(pg: str) -> None:
    keyward.testing.check_store(functools.partial(PostgresStore, pg), threads=4, processes=3)


def test_check_store_leaves_no_key_behind(make_sql: Callable[[], SqlStore]) -> None:
    keyward.testing.check_store(make_sql, processes=0)
    assert make_sql().list("", None, 10) == []


class Mutant(DictStore):
    """A dict store with one bug, to prove that check_store finds it (single-threaded, so it
    is run with threads=0)."""

    def __init__(self, bug: str) -> None:
        super().__init__()
        self.bug = bug

    def put(self, key: str, value: str, expected_version: Optional[int]) -> Optional[int]:
        if self.bug == "blind-put" and key in self.data:
            expected_version = self.data[key][1]
        if self.bug == "bool-version":
            written = super().put(key, value, expected_version)
            return True if written is not None else None
        return super().put(key, value, expected_version)

    def delete(self, key: str, expected_version: int) -> bool:
        if self.bug == "blind-delete":
            return self.data.pop(key, None) is not None
        return super().delete(key, expected_version)

    def list(self, prefix: str, after: Optional[str], limit: int) -> List[keyward.Entry]:
        if self.bug == "utf16-order":
            keys = sorted(
                (k for k in self.data if k.startswith(prefix) and (after is None or k > after)),
                key=lambda k: k.encode("utf-16-be"),
            )
            return [{"key": k, "value": self.data[k][0], "version": self.data[k][1]} for k in keys[:limit]]
        if self.bug == "like-wildcard":  # prefix "a_" also matches "ab", as LIKE 'a_%' would
            pattern = re.compile(re.escape(prefix).replace("_", "."))
            keys = sorted(k for k in self.data if pattern.match(k) and (after is None or k > after))
            return [{"key": k, "value": self.data[k][0], "version": self.data[k][1]} for k in keys[:limit]]
        if self.bug == "after-inclusive":
            entries = super().list(prefix, None, 10**9)
            return [e for e in entries if after is None or e["key"] >= after][:limit]
        return super().list(prefix, after, limit)

    def get_many(self, keys: Sequence[str]) -> List[Optional[keyward.Versioned]]:
        found = [self.get(k) for k in keys]
        if self.bug == "get-many-drops-misses":
            return [f for f in found if f is not None]
        if self.bug == "get-many-sorted":
            return [self.get(k) for k in sorted(keys)]
        return found


@pytest.mark.parametrize(
    "bug,message",
    [
        ("blind-put", "must be a conflict"),
        ("bool-version", "positive int"),
        ("blind-delete", "delete with a stale version must be False"),
        ("utf16-order", "bytewise"),
        ("like-wildcard", "list(prefix="),
        ("after-inclusive", "after="),
        ("get-many-drops-misses", "one item per key"),
        ("get-many-sorted", "request order"),
    ],
)
def test_check_store_finds_a_broken_store(bug: str, message: str) -> None:
    with pytest.raises(AssertionError, match="store conformance: .*" + re.escape(message)):
        keyward.testing.check_store(functools.partial(Mutant, bug), threads=0, processes=0)


class RacyStore(DictStore):
    """Loses updates under concurrency: `put` reads, yields the GIL, then writes."""

    def put(self, key: str, value: str, expected_version: Optional[int]) -> Optional[int]:
        current = self.data.get(key)
        if (current[1] if current else None) != expected_version:
            return None
        import time

        time.sleep(0.0005)
        version = 1000 if current is None else current[1] + 7
        self.data[key] = (value, version)
        return version


def test_check_store_finds_lost_updates_between_threads() -> None:
    with pytest.raises(AssertionError, match="lost updates|exactly one must win"):
        keyward.testing.check_store(RacyStore, threads=4, processes=0, increments=20)


def test_check_store_explains_a_make_store_that_cannot_reach_other_processes() -> None:
    with pytest.raises(TypeError, match="must pickle"):
        keyward.testing.check_store(lambda: keyward.MemoryStore(), processes=1)
    with pytest.raises(AssertionError, match="does not open the same database"):
        keyward.testing.check_store(keyward.MemoryStore, processes=1, increments=2)


# -- The SQL stores ------------------------------------------------------------------------


def test_prefix_upper_bound_is_the_next_string_in_bytewise_order() -> None:
    assert prefix_upper_bound("") is None
    assert prefix_upper_bound("a/") == "a0"
    assert prefix_upper_bound("a\U0010ffff") == "b"
    assert prefix_upper_bound("\U0010ffff\U0010ffff") is None
    assert prefix_upper_bound("a\ud7ff") == "a\ue000"  # over the surrogates
    assert prefix_upper_bound("é") == "ê"


def test_one_table_exactly_as_api_md_says(make_sql: Callable[[], SqlStore]) -> None:
    store = make_sql()
    store.put("k", "v", None)
    if isinstance(store, SqliteStore):
        import sqlite3

        with sqlite3.connect(store.path) as conn:
            sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'keyward_kv'").fetchone()[0]
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert "key TEXT PRIMARY KEY, value TEXT NOT NULL, version BIGINT NOT NULL" in sql
    else:
        import psycopg

        with psycopg.connect(pg_url()) as conn:
            cols = conn.execute(
                "SELECT column_name, data_type, is_nullable, collation_name FROM information_schema.columns "
                "WHERE table_name = 'keyward_kv' ORDER BY ordinal_position"
            ).fetchall()
        assert cols == [
            ("key", "text", "NO", "C"),
            ("value", "text", "NO", None),
            ("version", "bigint", "NO", None),
        ]
    store.close()


def test_data_outlives_the_store_and_reaches_another_connection(make_sql: Callable[[], SqlStore]) -> None:
    first = make_sql()
    kw = keyward.Engine(first, clock=Clock())
    kw.create_tenant("acme", admin=ADMIN)
    bot = kw.create_service_account(ADMIN, "acme", "bot", role="viewer")
    token = kw.create_token(ADMIN, bot["principal"])["token"]
    first.close()
    again = keyward.Engine(make_sql(), clock=Clock())
    assert again.verify(token, "acme", "models:read")["allowed"]
    with pytest.raises(Exception, match="closed"):
        first.get("t/acme")


def test_versions_beyond_bigint_are_conflicts_not_errors(make_sql: Callable[[], SqlStore]) -> None:
    store = make_sql()
    assert store.put("k", "v", None) == 1
    assert store.put("k", "v", 2**64) is None and store.delete("k", 2**63) is False
    assert store.put("k", "v", 0) is None and store.delete("k", -1) is False
    assert store.get_many(["k"] * 3) == [{"value": "v", "version": 1}] * 3
    assert store.list("", None, 0) == [] and len(store.list("", None, 2**70)) == 1


def test_sqlite_get_many_asks_large_batches_in_chunks(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kw.db")
    for i in range(0, 1500, 3):
        store.put(f"k{i:05}", str(i), None)
    keys = [f"k{i:05}" for i in range(1500)]
    got = store.get_many(keys)
    assert [g["value"] if g else None for g in got] == [str(i) if i % 3 == 0 else None for i in range(1500)]


def _fork_child(store: Any, key: str) -> None:
    assert store.put(key, "child", None) == 1


def test_a_store_inherited_through_fork_opens_its_own_connection(make_sql: Callable[[], SqlStore]) -> None:
    store = make_sql()
    assert store.put("before", "parent", None) == 1
    ctx = multiprocessing.get_context("fork")
    for i in range(2):
        child = ctx.Process(target=_fork_child, args=(store, f"child{i}"))
        child.start()
        child.join(60)
        assert child.exitcode == 0
    # The parent's connection survived its children's exits.
    assert [e["key"] for e in store.list("", None, 10)] == ["before", "child0", "child1"]
    assert store.put("after", "parent", None) == 1


def test_postgres_store_without_psycopg_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(ImportError, match=r"keyward\[postgres\]"):
        PostgresStore("postgresql://nowhere/none")


def test_postgres_store_reconnects_after_its_session_is_killed(pg: str) -> None:
    import psycopg

    store = PostgresStore(pg)
    assert store.put("k", "1", None) == 1
    with psycopg.connect(pg, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND datname = current_database()"
        )
    with pytest.raises(psycopg.OperationalError):
        store.get("k")  # this call fails: the engine reports it as store_error
    assert store.get("k") == {"value": "1", "version": 1}, "the next call reconnects"


# -- The engine over SQL stores: get_many, and verify in two queries -------------------------


class Counting:
    """Counts the store calls the engine makes; offers get_many only when asked to."""

    def __init__(self, inner: SqlStore) -> None:
        self.inner = inner
        self.calls: Dict[str, int] = {}

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def get(self, key: str) -> Optional[keyward.Versioned]:
        self._count("get")
        return self.inner.get(key)

    def put(self, key: str, value: str, expected_version: Optional[int]) -> Optional[int]:
        self._count("put")
        return self.inner.put(key, value, expected_version)

    def delete(self, key: str, expected_version: int) -> bool:
        self._count("delete")
        return self.inner.delete(key, expected_version)

    def list(self, prefix: str, after: Optional[str], limit: int) -> List[keyward.Entry]:
        self._count("list")
        return self.inner.list(prefix, after, limit)


class CountingMany(Counting):
    def get_many(self, keys: Sequence[str]) -> List[Optional[keyward.Versioned]]:
        self._count("get_many")
        return self.inner.get_many(keys)


def test_verify_on_a_sql_store_costs_at_most_two_queries(make_sql: Callable[[], SqlStore]) -> None:
    store = CountingMany(make_sql())
    kw = keyward.Engine(store, clock=Clock())
    kw.create_tenant("acme", admin=ADMIN)
    bot = kw.create_service_account(ADMIN, "acme", "bot", role="viewer")
    token = kw.create_token(ADMIN, bot["principal"])["token"]
    assert kw.verify(token, "acme", "models:read")["allowed"]
    store.calls.clear()
    assert kw.verify(token, "acme", "models:read")["allowed"]
    assert store.calls == {"get": 1, "get_many": 1}, "the token, then one batch of reads"
    store.calls.clear()
    assert not kw.verify(token, "acme", "models:write")["allowed"]
    assert sum(store.calls.values()) <= 2


def test_a_store_without_get_many_keeps_working(make_sql: Callable[[], SqlStore]) -> None:
    store = Counting(make_sql())
    kw = keyward.Engine(store, clock=Clock())
    kw.create_tenant("acme", admin=ADMIN)
    bot = kw.create_service_account(ADMIN, "acme", "bot", role="viewer")
    token = kw.create_token(ADMIN, bot["principal"])["token"]
    assert kw.verify(token, "acme", "models:read")["allowed"]
    store.calls.clear()
    assert kw.verify(token, "acme", "models:read")["allowed"]
    assert set(store.calls) == {"get"} and store.calls["get"] > 2


class BadMany(DictStore):
    """A store whose `get_many` answers `answer(keys)` once armed."""

    def __init__(self, answer: Callable[[Sequence[str]], Any]) -> None:
        super().__init__()
        self.answer, self.armed = answer, False

    def get_many(self, keys: Sequence[str]) -> Any:
        if not self.armed:
            return [self.get(k) for k in keys]
        return self.answer(keys)


def _raise(keys: Sequence[str]) -> Any:
    raise RuntimeError("replica lagging")


@pytest.mark.parametrize(
    "answer,message",
    [
        (lambda keys: [], "0 entries for"),
        (lambda keys: [None] * (len(keys) + 1), "entries for"),
        (lambda keys: [{"value": "{}", "version": True}] * len(keys), "not a bool"),
        (lambda keys: [{"value": "{}", "version": 0}] * len(keys), "version 0"),
        (lambda keys: [{"value": "{}", "version": -3}] * len(keys), "negative"),
        (lambda keys: [{"value": "{}", "version": "2"}] * len(keys), "get_many"),
        (lambda keys: 42, "get_many"),
        (_raise, "replica lagging"),
    ],
    ids=["short", "long", "bool", "zero", "negative", "str", "not-a-list", "raises"],
)
def test_r94_a_get_many_answer_outside_the_protocol_is_store_error(
    answer: Callable[[Sequence[str]], Any], message: str
) -> None:
    store = BadMany(answer)
    kw = keyward.Engine(store, clock=Clock())
    kw.create_tenant("acme", admin=ADMIN)
    bot = kw.create_service_account(ADMIN, "acme", "bot", role="viewer")
    token = kw.create_token(ADMIN, bot["principal"])["token"]
    store.armed = True
    with pytest.raises(keyward.StoreError, match=re.escape(message)):
        kw.authorize(bot["principal"], "acme", "models:read")
    with pytest.raises(keyward.StoreError):
        kw.verify(token, "acme", "models:read")
    store.armed = False
    assert kw.verify(token, "acme", "models:read")["allowed"], "the engine goes on"


def test_memory_store_answers_get_many() -> None:
    store = keyward.MemoryStore()
    store.put("a", "1", None)
    assert store.get_many(["b", "a", "a"]) == [None, {"value": "1", "version": 1}, {"value": "1", "version": 1}]
