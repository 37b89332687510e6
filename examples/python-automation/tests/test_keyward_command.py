"""One database, two tools: the ``keyward`` command provisions a tenant, an account and a
token in PostgreSQL; the rotation job rotates that token; the command accepts the new token,
and the old one for its grace period only."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Dict

import keyward
import pytest
from keyward.stores import PostgresStore

from support import ADMIN, DAY_MS, EXAMPLE, Clock, fleet


@pytest.fixture
def keyward_bin() -> str:
    path = Path(os.environ.get("KEYWARD_BIN") or EXAMPLE / "../../target/debug/keyward").resolve()
    assert path.is_file(), f"the keyward command is not at {path}: build it or set KEYWARD_BIN"
    return str(path)


def test_the_job_rotates_a_token_made_by_the_keyward_command(keyward_bin: str, db_url: str, tmp_path: Path) -> None:
    # The same pepper for both tools: each must hash the other's tokens alike.
    env = {**os.environ, "KEYWARD_DB": db_url, "KEYWARD_ACTOR": ADMIN, "KEYWARD_PEPPER": "fleet-test-pepper"}

    def command(*args: str, token: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [keyward_bin, "-o", "json", *args], env={**env, "KEYWARD_TOKEN": token},
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
        )

    def verify(token: str) -> Dict[str, object]:
        decision: Dict[str, object] = json.loads(command("verify", "acme", "models:read", token=token).stdout)
        return decision

    assert command("tenant", "create", "acme", "--admin", ADMIN).returncode == 0
    principal = json.loads(command("sa", "create", "acme", "deploy-bot", "--role", "viewer").stdout)["principal"]
    expires_at = time.time_ns() // 1_000_000 + 2 * DAY_MS
    old = json.loads(command("token", "create", principal, "--name", "ci", "--expires-at", str(expires_at)).stdout)
    assert verify(old["token"])["allowed"] is True

    out = tmp_path / "new.jsonl"
    started = time.time_ns() // 1_000_000
    job = fleet(db_url, "rotate", "--tenant", "acme", "--within-days", "3", "--grace-seconds", "3600",
                "--out", str(out), KEYWARD_PEPPER="fleet-test-pepper")
    assert job.returncode == 0, job.stderr
    assert job.stdout.splitlines()[-1] == f"tokens expiring within 3 days: 1 (1 rotated); new tokens in {out}"
    # A 2-day token in a 3-day window: its successor is due at once, and the job says so.
    assert "warning: new tokens that expire within 3 days themselves: 1 "  in job.stderr
    (line,) = [json.loads(text) for text in out.read_text().splitlines()]
    assert (line["account"], line["name"], line["old_token_id"]) == (principal, "ci", old["token_id"])

    assert verify(line["token"])["allowed"] is True
    assert verify(old["token"])["allowed"] is True  # within its grace period
    listed = {t["token_id"]: t for t in json.loads(command("token", "list", principal).stdout)}
    assert started + 3_600_000 <= listed[old["token_id"]]["expires_at"] <= time.time_ns() // 1_000_000 + 3_600_000

    # After the grace period (an engine whose clock is an hour ahead): the old one is refused.
    later = Clock()
    later.advance(seconds=3601)
    store = PostgresStore(db_url)
    kw = keyward.Engine(store, clock=later, pepper="fleet-test-pepper")
    assert kw.verify(old["token"], "acme", "models:read")["reason"] == "token_expired"
    assert kw.verify(str(line["token"]), "acme", "models:read")["allowed"]
    store.close()
