"""What the tests share: the test clock, the store's rows, and ``python -m fleet`` run as a
user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Tuple

import psycopg

EXAMPLE = Path(__file__).resolve().parent.parent
ADMIN = "root@acme.test"
DAY_MS = 86_400_000

Rows = Dict[str, Tuple[int, str]]


class Clock:
    """The engine's clock (API.md ``clock``): starts at the wall clock, moves when told."""

    def __init__(self) -> None:
        self.ms = time.time_ns() // 1_000_000

    def __call__(self) -> int:
        return self.ms

    def advance(self, *, days: float = 0, seconds: float = 0) -> None:
        self.ms += int(days * DAY_MS + seconds * 1000)


def rows(db_url: str) -> Rows:
    """Every row of the store's table: key → (version, value)."""
    with psycopg.connect(db_url) as conn:
        return {k: (n, v) for k, v, n in conn.execute("SELECT key, value, version FROM keyward_kv")}


def fleet(db_url: str, *args: str, actor: str = ADMIN, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m fleet ARGS`` as a user runs it: database and actor from the environment."""
    return subprocess.run(
        [sys.executable, "-m", "fleet", *args],
        cwd=EXAMPLE,
        env={**os.environ, "KEYWARD_DB": db_url, "KEYWARD_ACTOR": actor, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
