"""Fixtures: a fresh PostgreSQL database per test on the server of scripts/with-postgres.sh,
and an engine on it with a clock the test moves."""

from __future__ import annotations

import os
import uuid
from typing import Iterator

import keyward
import psycopg
import pytest
from keyward.stores import PostgresStore

from support import ADMIN, Clock


@pytest.fixture(scope="session")
def pg_url() -> str:
    url = os.environ.get("KEYWARD_TEST_PG_URL")
    if not url:
        message = "KEYWARD_TEST_PG_URL is not set: run through scripts/with-postgres.sh"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture
def db_url(pg_url: str) -> Iterator[str]:
    """A database of its own for each test, dropped afterwards."""
    name = f"fleet_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = pg_url.rsplit("/", 1)[0] + "/" + name
    yield url
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(db_url: str, clock: Clock) -> Iterator[keyward.Engine]:
    """An engine on the test's database, with tenant ``acme`` and its admin ``root@acme.test``."""
    store = PostgresStore(db_url)
    kw = keyward.Engine(store, clock=clock)
    kw.create_tenant("acme", admin=ADMIN)
    yield kw
    store.close()
