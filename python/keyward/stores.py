"""Durable stores for :class:`keyward.Engine` (API.md "Store adapters").

Both keep every key in one table, the same for every host, so one database serves the
``keyward`` command, Rust, Node and Python at once::

    CREATE TABLE IF NOT EXISTS keyward_kv (
      key     TEXT PRIMARY KEY,      -- Postgres: TEXT COLLATE "C", so ORDER BY is bytewise
      value   TEXT NOT NULL,
      version BIGINT NOT NULL
    );

Each compare-and-set is one SQL statement, ``get_many`` is one query, and ``list`` returns keys
in bytewise (UTF-8) order. A store may be shared by the threads of a process (one connection
behind a lock); several processes may use one database at once, each with its own store. A
store inherited through ``fork`` opens a new connection in the child and never touches the
parent's.

>>> import keyward, keyward.stores
>>> kw = keyward.Engine(keyward.stores.SqliteStore(":memory:"))
>>> kw.create_tenant("acme", admin="root@acme.test")["tenant"]
'acme'
"""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union

from ._types import Entry, Versioned

if TYPE_CHECKING:
    import psycopg

__all__ = ["SqliteStore", "PostgresStore", "TABLE"]

TABLE = "keyward_kv"
"""The one table every host's SQL store uses (API.md "Store adapters")."""

_MAX_VERSION = 2**63 - 1  # BIGINT: a larger expected version can match no row
_MAX_CODE_POINT = 0x10FFFF
_SQLITE_CHUNK = 500  # keys per `IN (...)`, below SQLite's oldest limit of 999 parameters

# Connections inherited through fork: kept referenced (never closed, never used) so that the
# child neither runs the parent's transactions nor closes its session.
_INHERITED: List[object] = []


def prefix_upper_bound(prefix: str) -> Optional[str]:
    """The least string greater than every string that starts with ``prefix``, in bytewise
    (UTF-8, i.e. code point) order, or ``None`` when there is none (``""``, or only U+10FFFF).

    ``list`` then asks for ``prefix <= key < bound``: a range the primary key index answers,
    with no ``LIKE`` and so no wildcard to escape.
    """
    chars = list(prefix)
    while chars and ord(chars[-1]) == _MAX_CODE_POINT:
        chars.pop()
    if not chars:
        return None
    last = ord(chars[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # surrogates are not characters: skip to the next one
        last = 0xE000
    chars[-1] = chr(last)
    return "".join(chars)


def _expected(version: Optional[int]) -> bool:
    """Whether ``version`` can be a stored version at all (1 ..= BIGINT's maximum)."""
    return version is not None and 1 <= version <= _MAX_VERSION


def _range(prefix: str, after: Optional[str], placeholder: str, collate: str) -> Tuple[str, List[str]]:
    """The WHERE clause and parameters of ``list``: keys from ``prefix`` (included) to its
    bound (excluded), and after ``after``."""
    clauses = [f"key{collate} >= {placeholder}"]
    params = [prefix]
    upper = prefix_upper_bound(prefix)
    if upper is not None:
        clauses.append(f"key{collate} < {placeholder}")
        params.append(upper)
    if after is not None:
        clauses.append(f"key{collate} > {placeholder}")
        params.append(after)
    return " AND ".join(clauses), params


class _SqlStore:
    """What both SQL stores share: the statements that differ only in their placeholder and
    in how keys are compared bytewise (``_COLLATE``)."""

    _PH = "?"
    _COLLATE = ""

    def _locked(self) -> threading.Lock:
        raise NotImplementedError

    def _connection(self) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def delete(self, key: str, expected_version: int) -> bool:
        """Compare-and-set delete in one statement: ``False`` on conflict or a missing key."""
        if not _expected(expected_version):
            return False
        ph = self._PH
        with self._locked():
            cur = self._connection().execute(
                f"DELETE FROM {TABLE} WHERE key = {ph} AND version = {ph}", (key, expected_version)
            )
            return bool(cur.rowcount == 1)

    def list(self, prefix: str, after: Optional[str], limit: int) -> List[Entry]:
        """Up to ``limit`` entries under ``prefix`` with keys after ``after``, bytewise order."""
        if limit <= 0:
            return []
        where, params = _range(prefix, after, self._PH, self._COLLATE)
        with self._locked():
            rows = self._connection().execute(
                f"SELECT key, value, version FROM {TABLE} WHERE {where} "
                f"ORDER BY key{self._COLLATE} LIMIT {self._PH}",
                [*params, min(limit, _MAX_VERSION)],
            ).fetchall()
        return [{"key": k, "value": v, "version": n} for k, v, n in rows]

    def __exit__(self, *exc: object) -> None:
        self.close()


class SqliteStore(_SqlStore):
    """The store protocol over a SQLite file, with the standard library's ``sqlite3``.

    Args:
        path: the database file (created when missing), or ``":memory:"`` for a private
            in-memory database.
        timeout: seconds a write waits for another connection's lock before failing.

    The database is put in WAL mode (readers never wait for a writer) with a busy timeout, so
    several processes may share one file. One connection per store, used under a lock, in
    autocommit mode: each statement is its own transaction.
    """

    def __init__(self, path: Union[str, "os.PathLike[str]"], *, timeout: float = 30.0) -> None:
        self._path = os.fspath(path)
        self._timeout = timeout
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._conn: Optional[sqlite3.Connection] = self._connect()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._path, timeout=self._timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            if self._path != ":memory:":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} "
                "(key TEXT PRIMARY KEY, value TEXT NOT NULL, version BIGINT NOT NULL)"
            )
        except BaseException:
            conn.close()
            raise
        return conn

    def _connection(self) -> sqlite3.Connection:
        """This process's connection; call with the lock held."""
        if self._conn is None:
            raise sqlite3.ProgrammingError("the store is closed")
        return self._conn

    def _locked(self) -> threading.Lock:
        if os.getpid() != self._pid:  # inherited through fork: a connection of our own
            _INHERITED.append(self._conn)
            self._lock = threading.Lock()
            self._pid = os.getpid()
            self._conn = self._connect() if self._conn is not None else None
        return self._lock

    @property
    def path(self) -> str:
        """The database file."""
        return self._path

    def get(self, key: str) -> Optional[Versioned]:
        """The value and version at ``key``, or ``None``."""
        with self._locked():
            row = self._connection().execute(f"SELECT value, version FROM {TABLE} WHERE key = ?", (key,)).fetchone()
        return None if row is None else {"value": row[0], "version": row[1]}

    def get_many(self, keys: Sequence[str]) -> List[Optional[Versioned]]:
        """One answer per key, in order: one ``SELECT ... WHERE key IN (...)``."""
        found: Dict[str, Versioned] = {}
        unique = list(dict.fromkeys(keys))
        with self._locked():
            conn = self._connection()
            for start in range(0, len(unique), _SQLITE_CHUNK):
                chunk = unique[start : start + _SQLITE_CHUNK]
                marks = ", ".join("?" * len(chunk))
                for key, value, version in conn.execute(
                    f"SELECT key, value, version FROM {TABLE} WHERE key IN ({marks})", chunk
                ):
                    found[key] = {"value": value, "version": version}
        return [found.get(key) for key in keys]

    def put(self, key: str, value: str, expected_version: Optional[int]) -> Optional[int]:
        """Compare-and-set write in one statement: the new version, or ``None`` on conflict."""
        with self._locked():
            conn = self._connection()
            if expected_version is None:
                cur = conn.execute(
                    f"INSERT INTO {TABLE} (key, value, version) VALUES (?, ?, 1) ON CONFLICT (key) DO NOTHING",
                    (key, value),
                )
                return 1 if cur.rowcount == 1 else None
            if not _expected(expected_version):
                return None
            cur = conn.execute(
                f"UPDATE {TABLE} SET value = ?, version = version + 1 WHERE key = ? AND version = ?",
                (value, key, expected_version),
            )
        return expected_version + 1 if cur.rowcount == 1 else None

    def close(self) -> None:
        """Closes the connection; the store cannot be used afterwards."""
        with self._locked():
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> "SqliteStore":
        return self

    def __repr__(self) -> str:
        return f"SqliteStore({self._path!r})"


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as e:
        raise ImportError(
            "keyward.stores.PostgresStore needs psycopg 3: pip install 'keyward[postgres]'"
        ) from e
    return psycopg


class PostgresStore(_SqlStore):
    """The store protocol over PostgreSQL, with psycopg 3 (``pip install 'keyward[postgres]'``).

    Args:
        conninfo: a libpq connection string or URL, e.g. ``"postgresql://app@db/keyward"``.
        **kwargs: further arguments of ``psycopg.connect`` (``autocommit`` is always on).

    Keys are ``TEXT COLLATE "C"``, so they order bytewise as in every other host. One
    connection per store, in autocommit mode, used under a lock; a connection found closed
    (the server restarted) is opened again on the next call.
    """

    _PH = "%s"
    # COLLATE "C" in the queries too: bytewise even over a table made by hand without it.
    _COLLATE = ' COLLATE "C"'

    def __init__(self, conninfo: str = "", **kwargs: Any) -> None:
        self._psycopg = _psycopg()
        self._conninfo = conninfo
        self._kwargs = {**kwargs, "autocommit": True}
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._closed = False
        self._conn: Optional["psycopg.Connection[Tuple[Any, ...]]"] = self._connect()

    def _connect(self) -> "psycopg.Connection[Tuple[Any, ...]]":
        pg = self._psycopg
        conn: "psycopg.Connection[Tuple[Any, ...]]" = pg.connect(self._conninfo, **self._kwargs)
        try:
            conn.execute(
                f'CREATE TABLE IF NOT EXISTS {TABLE} (key TEXT COLLATE "C" PRIMARY KEY, '
                "value TEXT NOT NULL, version BIGINT NOT NULL)"
            )
        except (pg.errors.UniqueViolation, pg.errors.DuplicateTable):
            pass  # another process created it at the same moment
        except BaseException:
            conn.close()
            raise
        return conn

    def _locked(self) -> threading.Lock:
        if os.getpid() != self._pid:  # inherited through fork: a session of our own
            old = self._conn
            if old is not None:
                _INHERITED.append(old)
                try:  # whatever the old connection writes from now on (its goodbye) goes nowhere
                    devnull = os.open(os.devnull, os.O_RDWR)
                    os.dup2(devnull, old.pgconn.socket)
                    os.close(devnull)
                except Exception:
                    pass
            self._lock = threading.Lock()
            self._pid = os.getpid()
            self._conn = None
        return self._lock

    def _connection(self) -> "psycopg.Connection[Tuple[Any, ...]]":
        """An open connection; call with the lock held."""
        if self._closed:
            raise self._psycopg.InterfaceError("the store is closed")
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = self._connect()
        return self._conn

    def get(self, key: str) -> Optional[Versioned]:
        """The value and version at ``key``, or ``None``."""
        with self._locked():
            row = self._connection().execute(f"SELECT value, version FROM {TABLE} WHERE key = %s", (key,)).fetchone()
        return None if row is None else {"value": row[0], "version": row[1]}

    def get_many(self, keys: Sequence[str]) -> List[Optional[Versioned]]:
        """One answer per key, in order: one ``SELECT ... WHERE key = ANY(...)``."""
        with self._locked():
            rows = self._connection().execute(
                f"SELECT key, value, version FROM {TABLE} WHERE key = ANY(%s)", (list(keys),)
            ).fetchall()
        found: Dict[str, Versioned] = {k: {"value": v, "version": n} for k, v, n in rows}
        return [found.get(key) for key in keys]

    def put(self, key: str, value: str, expected_version: Optional[int]) -> Optional[int]:
        """Compare-and-set write in one statement: the new version, or ``None`` on conflict."""
        if expected_version is None:
            sql = (
                f"INSERT INTO {TABLE} (key, value, version) VALUES (%s, %s, 1) "
                "ON CONFLICT (key) DO NOTHING RETURNING version"
            )
            params: Tuple[Any, ...] = (key, value)
        elif not _expected(expected_version):
            return None
        else:
            sql = (
                f"UPDATE {TABLE} SET value = %s, version = version + 1 "
                "WHERE key = %s AND version = %s RETURNING version"
            )
            params = (value, key, expected_version)
        with self._locked():
            row = self._connection().execute(sql, params).fetchone()
        return None if row is None else int(row[0])

    def close(self) -> None:
        """Closes the connection; the store cannot be used afterwards."""
        with self._locked():
            self._closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> "PostgresStore":
        return self

    def __repr__(self) -> str:
        return "PostgresStore(...)"
