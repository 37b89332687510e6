"""The store conformance suite (API.md "Store adapters"), for whoever writes a store adapter.

>>> import keyward, keyward.testing
>>> keyward.testing.check_store(keyward.MemoryStore, processes=0)

:func:`check_store` raises :class:`AssertionError` saying what the store got wrong. It works
under a fresh key prefix (``keyward-check/<random>/``) and deletes its keys when it ends, so it
may run against a database that holds other data.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import pickle
import threading
import uuid
from typing import Any, Callable, Dict, List, Optional, Sequence

from ._types import Entry, Store, Versioned

__all__ = ["check_store"]

MakeStore = Callable[[], Store]

# Keys under the check's prefix: non-ASCII ones (2-, 3- and 4-byte UTF-8, where UTF-16 order
# differs from bytewise order: U+FFFF sorts before U+10000 only bytewise), LIKE wildcards, and
# prefixes of prefixes.
KEYS = [
    "a",
    "a/",
    "a/b",
    "a/b/c",
    "a/bc",
    "a/z",
    "a/é",
    "a/\u00ff",
    "a/\u0800",
    "a/\ue000",
    "a/\uffff",
    "a/\U00010000",
    "a/\U0010ffff",
    "a/\U0010ffff/x",
    "a0",
    "a%",
    "a_",
    "ab",
    "b",
    "é",
    "\U00010000",
]

PREFIXES = ["", "a", "a/", "a/b", "a/b/", "a/\U0010ffff", "a/é", "a%", "a_", "a/\ue000", "é", "c", "a/b/c/d"]


def _bytewise(keys: Sequence[str]) -> List[str]:
    return sorted(keys, key=lambda k: k.encode("utf-8"))


def _fail(message: str) -> AssertionError:
    return AssertionError(f"store conformance: {message}")


def _version(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(f"{what} must be a positive int (not a bool), got {value!r}")
    return value


def _versioned(value: Any, what: str) -> Optional[Versioned]:
    if value is None:
        return None
    try:
        text, version = value["value"], value["version"]
    except (TypeError, KeyError, IndexError):
        raise _fail(f"{what} must be None or {{'value', 'version'}}, got {value!r}") from None
    if not isinstance(text, str):
        raise _fail(f"{what}['value'] must be a str, got {text!r}")
    return {"value": text, "version": _version(version, f"{what}['version']")}


def _get(store: Store, key: str) -> Optional[Versioned]:
    return _versioned(store.get(key), f"get({key!r})")


def _list(store: Store, prefix: str, after: Optional[str], limit: int) -> List[Entry]:
    what = f"list({prefix!r}, {after!r}, {limit})"
    answer = list(store.list(prefix, after, limit))
    entries: List[Entry] = []
    for item in answer:
        try:
            key, text, version = item["key"], item["value"], item["version"]
        except (TypeError, KeyError, IndexError):
            raise _fail(f"{what}: each entry must be {{'key', 'value', 'version'}}, got {item!r}") from None
        if not isinstance(key, str) or not isinstance(text, str):
            raise _fail(f"{what}: key and value must be str, got {item!r}")
        entries.append({"key": key, "value": text, "version": _version(version, f"{what} version of {key!r}")})
    return entries


def _put(store: Store, key: str, value: str, expected: Optional[int]) -> Optional[int]:
    answer = store.put(key, value, expected)
    return None if answer is None else _version(answer, f"put({key!r}, ..., {expected!r})")


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise _fail(message)


class _Check:
    def __init__(self, store: Store, ns: str) -> None:
        self.store = store
        self.ns = ns

    def k(self, key: str) -> str:
        return self.ns + key

    def compare_and_set(self) -> None:
        s, key = self.store, self.k("cas/new")
        _expect(_get(s, key) is None, f"get of a key never written must be None, got {s.get(key)!r}")
        v1 = _put(s, key, '{"n":1}', None)
        _expect(v1 is not None, "put(key, value, None) on a new key must create it and return its version")
        assert v1 is not None
        _expect(_put(s, key, '{"n":"again"}', None) is None, "put(key, value, None) on an existing key must be a conflict (None)")
        _expect(_get(s, key) == {"value": '{"n":1}', "version": v1}, f"get after create: expected version {v1} and the first value, got {s.get(key)!r}")
        v2 = _put(s, key, '{"n":2}', v1)
        _expect(v2 is not None, "put with the current version must write and return the new version")
        assert v2 is not None
        _expect(v2 != v1, f"a write must change the version (still {v1})")
        _expect(_put(s, key, '{"n":"stale"}', v1) is None, "put with a stale version must be a conflict (None)")
        _expect(_get(s, key) == {"value": '{"n":2}', "version": v2}, f"a conflicting put must write nothing, got {s.get(key)!r}")
        for bogus in (v2 + 1, v2 + 1000):
            _expect(_put(s, key, "x", bogus) is None, f"put with version {bogus}, never held, must be a conflict")
        missing = self.k("cas/missing")
        _expect(_put(s, missing, "x", v2) is None, "put with a version on a missing key must be a conflict")
        _expect(_get(s, missing) is None, "a conflicting put on a missing key must not create it")
        # Values are JSON text of any size and characters.
        for i, text in enumerate(['{"a":"é \\" \' % _ \U00010000"}', "", "x" * 200_000, '["\\u0000"]']):
            vkey = self.k(f"cas/value{i}")
            version = _put(s, vkey, text, None)
            _expect(version is not None, f"put of value #{i} must create")
            got = _get(s, vkey)
            _expect(got is not None and got["value"] == text, f"value #{i} must read back unchanged")

    def deletes(self) -> None:
        s, key = self.store, self.k("del/key")
        v1 = _put(s, key, "1", None)
        assert v1 is not None
        v2 = _put(s, key, "2", v1)
        _expect(v2 is not None, "put with the current version must write")
        assert v2 is not None
        _expect(s.delete(key, v1) is False, "delete with a stale version must be False")
        _expect(_get(s, key) is not None, "a conflicting delete must delete nothing")
        _expect(s.delete(key, v2) is True, "delete with the current version must be True")
        _expect(_get(s, key) is None, "get after delete must be None")
        _expect(s.delete(key, v2) is False, "delete of a deleted key must be False")
        _expect(s.delete(self.k("del/missing"), 1) is False, "delete of a missing key must be False")
        v3 = _put(s, key, "3", None)
        _expect(v3 is not None, "a deleted key must be creatable again with put(key, value, None)")

    def listing(self) -> None:
        s = self.store
        base = self.k("l/")
        written: Dict[str, Entry] = {}
        # Written out of order, so that a store returning insertion order fails.
        for i, key in enumerate(reversed(KEYS)):
            full = base + key
            version = _put(s, full, f'"{i}"', None)
            _expect(version is not None, f"put of new key {full!r} must create")
            assert version is not None
            written[full] = {"key": full, "value": f'"{i}"', "version": version}
        every = _bytewise(list(written))
        got = _list(s, base, None, 1000)
        _expect(
            [e["key"] for e in got] == every,
            f"list must return every key under the prefix in bytewise (UTF-8) order:\n"
            f"  expected {every!r}\n  got      {[e['key'] for e in got]!r}",
        )
        _expect(got == [written[k] for k in every], "list entries must carry each key's value and version")
        for prefix in PREFIXES:
            full = base + prefix
            expected = [k for k in every if k.startswith(full)]
            keys = [e["key"] for e in _list(s, full, None, 1000)]
            _expect(keys == expected, f"list(prefix={full!r}): expected {expected!r}, got {keys!r}")
            # `after` at every key and between keys.
            for after in [*expected, full, full + "\x01", full + "a/c"]:
                want = [k for k in expected if k.encode() > after.encode()]
                keys = [e["key"] for e in _list(s, full, after, 1000)]
                _expect(keys == want, f"list(prefix={full!r}, after={after!r}): expected {want!r}, got {keys!r}")
        # Paging: each limit walks the same keys in the same order, no page longer than asked.
        for limit in (1, 2, 3, 7):
            pages: List[str] = []
            cursor: Optional[str] = None
            for _ in range(len(every) + 2):
                page = _list(s, base, cursor, limit)
                _expect(len(page) <= limit, f"list(limit={limit}) returned {len(page)} entries")
                if not page:
                    break
                pages.extend(e["key"] for e in page)
                cursor = page[-1]["key"]
            _expect(pages == every, f"paging with limit {limit}: expected {every!r}, got {pages!r}")
        first = _list(s, base, None, 1)
        _expect(len(first) == 1 and first[0]["key"] == every[0], f"list(limit=1) must return the first key {every[0]!r}")

    def get_many(self) -> None:
        s = self.store
        get_many = getattr(s, "get_many", None)
        if get_many is None:
            return
        _expect(callable(get_many), "get_many must be a method")
        a, b, c = self.k("gm/a"), self.k("gm/b\U00010000"), self.k("gm/c")
        va, vb = _put(s, a, "A", None), _put(s, b, "B", None)
        assert va is not None and vb is not None
        keys = [b, c, a, self.k("gm/zz"), b]
        answer = list(get_many(keys))
        _expect(len(answer) == len(keys), f"get_many must answer one item per key: {len(keys)} keys, {len(answer)} answers")
        got = [_versioned(item, f"get_many item {i}") for i, item in enumerate(answer)]
        want: List[Optional[Versioned]] = [
            {"value": "B", "version": vb},
            None,
            {"value": "A", "version": va},
            None,
            {"value": "B", "version": vb},
        ]
        _expect(got == want, f"get_many({keys!r}) must answer in request order, None for misses:\n  expected {want!r}\n  got      {got!r}")
        _expect(list(get_many([])) == [], "get_many([]) must be []")

    def cleanup(self) -> None:
        s = self.store
        for _ in range(10_000):
            page = _list(s, self.ns, None, 100)
            if not page:
                return
            for entry in page:
                s.delete(entry["key"], entry["version"])


def increment(store: Store, key: str, times: int) -> int:
    """Adds one to the integer JSON value at ``key``, ``times`` times, each by compare-and-set
    with retries; returns how many conflicts it met."""
    conflicts = 0
    for _ in range(times):
        while True:
            current = _get(store, key)
            if current is None:
                if _put(store, key, "1", None) is not None:
                    break
            else:
                if _put(store, key, str(int(current["value"]) + 1), current["version"]) is not None:
                    break
            conflicts += 1
    return conflicts


def _process_worker(make_store: MakeStore, key: str, times: int, start: Any) -> None:
    store = make_store()
    start.wait()
    increment(store, key, times)
    close = getattr(store, "close", None)
    if callable(close):
        close()


def _count(store: Store, key: str) -> int:
    got = _get(store, key)
    return 0 if got is None else int(got["value"])


def _threads(store: Store, ns: str, threads: int, times: int) -> None:
    key = ns + "race/threads"
    errors: List[BaseException] = []
    barrier = threading.Barrier(threads)

    def work() -> None:
        try:
            barrier.wait()
            increment(store, key, times)
        except BaseException as e:  # reported below
            errors.append(e)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise _fail(f"a writer thread failed: {errors[0]!r}") from errors[0]
    total = _count(store, key)
    _expect(total == threads * times, f"{threads} threads each added {times} by compare-and-set: expected {threads * times}, got {total} (lost updates)")

    # Creates race too: exactly one of many `put(key, value, None)` wins.
    created = ns + "race/create"
    wins: List[Optional[int]] = []
    barrier = threading.Barrier(threads)

    def create(i: int) -> None:
        barrier.wait()
        wins.append(store.put(created, str(i), None))

    pool = [threading.Thread(target=create, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    won = [v for v in wins if v is not None]
    _expect(len(won) == 1, f"{threads} threads created one key at once: exactly one must win, {len(won)} did")


def _processes(make_store: MakeStore, store: Store, ns: str, processes: int, times: int, start_method: str) -> None:
    try:
        pickle.dumps(make_store)
    except Exception as e:
        raise TypeError(
            "check_store: make_store goes to other processes, so it must pickle (a module-level "
            f"function or functools.partial, not a lambda): {e}; or pass processes=0"
        ) from e
    key = ns + "race/processes"
    ctx: Any = multiprocessing.get_context(start_method)
    start = ctx.Event()
    pool = [ctx.Process(target=_process_worker, args=(make_store, key, times, start)) for _ in range(processes)]
    for p in pool:
        p.start()
    start.set()
    for p in pool:
        p.join(300)
    for p in pool:
        if p.is_alive():
            p.kill()
            p.join()
            raise _fail("a writer process did not finish within 300 s")
        _expect(p.exitcode == 0, f"a writer process failed (exit code {p.exitcode}; its traceback is on stderr)")
    total = _count(store, key)
    _expect(
        total == processes * times,
        f"{processes} processes each added {times} by compare-and-set: expected {processes * times}, "
        f"got {total} (lost updates, or make_store() does not open the same database in each process)",
    )


def check_store(
    make_store: MakeStore,
    *,
    threads: int = 4,
    processes: int = 2,
    increments: int = 50,
    start_method: str = "spawn",
) -> None:
    """Checks that the stores ``make_store()`` returns follow the store protocol (R-90).

    Args:
        make_store: returns a store; every store it returns must see the same data (a new
            connection to the same database). It is called once here, and once in each writer
            process, so with ``processes`` it must pickle (a module-level function or a
            ``functools.partial``).
        threads: writer threads sharing one store (0: none).
        processes: writer processes, each with its own store (0: none, e.g. for an in-memory
            store, which other processes cannot see).
        increments: compare-and-set increments per writer.
        start_method: how writer processes start (``multiprocessing`` start method).

    Checks compare-and-set on new and existing keys, stale and never-held versions, deletes,
    values of any size and characters, ``list`` in bytewise (UTF-8) order with non-ASCII keys,
    prefixes of prefixes, ``after`` and paging by ``limit``, ``get_many`` (when the store has
    it) in request order with misses, and concurrent writers that increment one counter by
    compare-and-set retries: no update may be lost. Raises :class:`AssertionError` naming the
    first difference.
    """
    store = make_store()
    for method in ("get", "put", "delete", "list"):
        _expect(callable(getattr(store, method, None)), f"the store has no `{method}` method")
    check = _Check(store, f"keyward-check/{uuid.uuid4().hex}/")
    try:
        check.compare_and_set()
        check.deletes()
        check.listing()
        check.get_many()
        if threads > 0:
            _threads(store, check.ns, threads, increments)
        if processes > 0:
            _processes(make_store, store, check.ns, processes, increments, start_method)
    except BaseException:
        with contextlib.suppress(Exception):  # the first failure is the one to report
            check.cleanup()
        raise
    check.cleanup()
