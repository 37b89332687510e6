"""``python -m fleet rotate``: every live token expiring within N days, once, to a 0600 file."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import stat
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Dict, List

import keyward
from keyward.stores import PostgresStore

from fleet import rotate
from fleet.tokenfile import TokenFile
from support import ADMIN, EXAMPLE, Clock, fleet, rows

SA = ".sa.keyward.local"


def saved(path: Path) -> List[Dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_picks_exactly_the_live_tokens_expiring_within_the_window(engine: keyward.Engine, clock: Clock, tmp_path: Path) -> None:
    engine.update_tenant_settings(ADMIN, "acme", {"allow_non_expiring_tokens": True})
    bot = engine.create_service_account(ADMIN, "acme", "deploy-bot", role="viewer")["principal"]
    gone = engine.create_service_account(ADMIN, "acme", "gone-bot", role="viewer")["principal"]
    soon = engine.create_token(ADMIN, bot, name="soon", ttl_days=30)
    edge = engine.create_token(ADMIN, bot, name="edge", ttl_days=32)  # exactly at the horizon
    engine.create_token(ADMIN, bot, name="later", ttl_days=60)
    engine.create_token(ADMIN, bot, name="forever", never_expires=True)
    revoked = engine.create_token(ADMIN, bot, name="revoked", ttl_days=30)
    engine.revoke_token(ADMIN, bot, revoked["token_id"])
    engine.create_token(ADMIN, bot, name="expired", ttl_days=10)
    engine.create_token(ADMIN, gone, name="soon", ttl_days=30)
    engine.revoke_account(ADMIN, gone)
    user = engine.create_user(ADMIN, "acme", "ann@acme.test", role="viewer")["principal"]
    engine.create_token(user, user, name="personal", ttl_days=30)  # a person's own: not ours
    clock.advance(days=25)

    candidates = rotate.expiring(engine, ADMIN, "acme", within_days=7, now=clock)
    assert sorted((c.principal, c.token_id) for c in candidates) == sorted([(bot, soon["token_id"]), (bot, edge["token_id"])])

    out = tmp_path / "new.jsonl"
    with TokenFile(out) as file:
        results = list(rotate.rotate(engine, ADMIN, candidates, grace_seconds=3600, out=file, saved=set(), now=clock))
    assert [r.outcome for r in results] == ["rotated", "rotated"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    lines = {line["old_token_id"]: line for line in saved(out)}
    assert set(lines) == {soon["token_id"], edge["token_id"]}
    new = lines[soon["token_id"]]
    assert set(new) == {"account", "name", "old_token_id", "token_id", "expires_at", "token"}
    assert (new["account"], new["name"], new["expires_at"]) == (bot, "soon", clock() + 30 * 86_400_000)

    # The old token works for the grace period and not a moment after.
    clock.advance(seconds=3599)
    assert engine.verify(soon["token"], "acme", "models:read")["allowed"]
    clock.advance(seconds=1)
    assert engine.verify(soon["token"], "acme", "models:read")["reason"] == "token_expired"
    assert engine.verify(str(new["token"]), "acme", "models:read")["allowed"]


def make_tokens_due_in_two_days(db_url: str, names: List[str]) -> Dict[str, keyward.TokenCreated]:
    """Tokens of 30 days made 28 days ago (an engine whose clock is set back), one an account."""
    back = Clock()
    back.advance(days=-28)
    store = PostgresStore(db_url)
    kw = keyward.Engine(store, clock=back)
    made = {}
    for name in names:
        principal = kw.create_service_account(ADMIN, "acme", name, role="viewer")["principal"]
        made[name] = kw.create_token(ADMIN, principal, name="main", ttl_days=30)
    store.close()
    return made


def test_a_rerun_never_rotates_twice(engine: keyward.Engine, db_url: str, tmp_path: Path) -> None:
    made = make_tokens_due_in_two_days(db_url, ["a-bot", "b-bot", "c-bot"])
    # c-bot's token was rotated by someone else (or by a run that died before saving it).
    wall = keyward.Engine(PostgresStore(db_url))
    wall.rotate_token(ADMIN, f"c-bot@acme{SA}", made["c-bot"]["token_id"])
    out = tmp_path / "new.jsonl"

    first = fleet(db_url, "rotate", "--tenant", "acme", "--within-days", "7", "--out", str(out))
    assert first.returncode == 1, "a successor nobody here saved needs a person"
    assert first.stdout.splitlines()[-1] == f"tokens expiring within 7 days: 3 (2 rotated, 1 rotated elsewhere); new tokens in {out}"
    assert (
        f"rotated elsewhere  c-bot@acme{SA}  main  {made['c-bot']['token_id']}: "
        "its successor is not in the token file: if no other job rotated it, its secret is lost; "
        "then make a new token for this account before the old one's grace period ends"
    ) in first.stderr
    assert sorted(str(line["account"]) for line in saved(out)) == [f"a-bot@acme{SA}", f"b-bot@acme{SA}"]
    for line in saved(out):
        assert str(line["token"]) not in first.stdout + first.stderr
        assert wall.verify(str(line["token"]), "acme", "models:read")["allowed"]

    before, file_before = rows(db_url), out.read_bytes()
    second = fleet(db_url, "rotate", "--tenant", "acme", "--within-days", "7", "--out", str(out))
    assert second.returncode == 1, second.stderr
    assert second.stdout.splitlines()[-1] == "tokens expiring within 7 days: 3 (2 already rotated, 1 rotated elsewhere)"
    assert f"already rotated  a-bot@acme{SA}  main  {made['a-bot']['token_id']}: its successor is already in the token file" in second.stdout
    assert rows(db_url) == before and out.read_bytes() == file_before


def test_dry_run_lists_and_writes_nothing(engine: keyward.Engine, db_url: str, tmp_path: Path) -> None:
    made = make_tokens_due_in_two_days(db_url, ["a-bot"])
    engine.create_token(ADMIN, f"a-bot@acme{SA}", name="fresh", ttl_days=30)
    out = tmp_path / "new.jsonl"
    before = rows(db_url)
    result = fleet(db_url, "rotate", "--tenant", "acme", "--within-days", "7", "--out", str(out), "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"would rotate  a-bot@acme{SA}  main  {made['a-bot']['token_id']}  (expires ")
    assert lines[1:] == ["dry run: 1 token would be rotated; nothing written"]
    assert rows(db_url) == before and not out.exists()

    nothing = fleet(db_url, "rotate", "--tenant", "acme", "--within-days", "1", "--out", str(out))
    assert nothing.stdout == "no token of acme expires within 1 days\n" and not out.exists()


def test_partial_failure_exits_non_zero_with_a_summary(engine: keyward.Engine, db_url: str, tmp_path: Path) -> None:
    # A rotation job's own rights: it can mint tokens only for accounts it covers.
    engine.define_role(ADMIN, "acme", "rotator", ["accounts:read", "tokens:read", "tokens:write", "*:read"])
    engine.create_user(ADMIN, "acme", "job@acme.test", role="rotator")
    made = make_tokens_due_in_two_days(db_url, ["reader-bot", "writer-bot"])
    engine.set_role(ADMIN, "acme", f"writer-bot@acme{SA}", "contributor")  # more than the job holds
    out = tmp_path / "new.jsonl"

    result = fleet(db_url, "rotate", "--tenant", "acme", "--within-days", "7", "--out", str(out), actor="job@acme.test")
    assert result.returncode == 1
    assert f"failed  writer-bot@acme{SA}  main  {made['writer-bot']['token_id']}: " in result.stderr
    assert "forbidden" in result.stderr
    assert result.stdout.splitlines()[-1] == f"tokens expiring within 7 days: 2 (1 rotated, 1 failed); new tokens in {out}"
    assert [line["account"] for line in saved(out)] == [f"reader-bot@acme{SA}"]


def test_an_unsafe_token_file_is_refused(engine: keyward.Engine, db_url: str, tmp_path: Path) -> None:
    make_tokens_due_in_two_days(db_url, ["a-bot"])
    before = rows(db_url)
    readable = tmp_path / "new.jsonl"
    readable.write_text("")
    readable.chmod(0o640)
    refused = fleet(db_url, "rotate", "--tenant", "acme", "--within-days", "7", "--out", str(readable))
    assert refused.returncode == 2 and "refusing to write tokens" in refused.stderr

    link = tmp_path / "link.jsonl"
    link.symlink_to(tmp_path / "elsewhere.jsonl")
    followed = fleet(db_url, "rotate", "--tenant", "acme", "--within-days", "7", "--out", str(link))
    assert followed.returncode == 2 and not (tmp_path / "elsewhere.jsonl").exists()
    assert rows(db_url) == before


def run_on_a_terminal(args: List[str], env: Dict[str, str]) -> str:
    """Runs ``python -m fleet`` with stderr on a pseudo-terminal, as a person at a shell has it;
    returns what reached that terminal."""
    controller, terminal = pty.openpty()
    # A terminal has a size; a new pseudo-terminal has 0 columns, where tqdm draws nothing.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleet", *args], cwd=EXAMPLE, env=env,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=terminal,
    )
    os.close(terminal)
    seen = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    assert proc.wait(timeout=60) == 0
    return seen.decode(errors="replace")


def test_progress_bar_on_a_terminal_only(engine: keyward.Engine, db_url: str, tmp_path: Path) -> None:
    make_tokens_due_in_two_days(db_url, [f"bot-{i:02d}" for i in range(30)])
    env = {**os.environ, "KEYWARD_DB": db_url, "KEYWARD_ACTOR": ADMIN}
    out = tmp_path / "new.jsonl"
    shown = run_on_a_terminal(["rotate", "--tenant", "acme", "--within-days", "7", "--out", str(out)], env)
    assert "rotating" in shown and "30/30" in shown
    quiet = run_on_a_terminal(["rotate", "--tenant", "acme", "--within-days", "7", "--out", str(out), "--quiet"], env)
    assert "rotating" not in quiet and "reading" not in quiet
    piped = fleet(db_url, "rotate", "--tenant", "acme", "--within-days", "7", "--out", str(out))
    assert "rotating" not in piped.stderr and "reading" not in piped.stderr


class FullDisk(TokenFile):
    """A token file on a full disk: every write fails, as the kernel would say (ENOSPC)."""

    def __init__(self) -> None:  # no file behind it
        self.written = 0

    def write(self, record: object) -> None:
        raise OSError(28, "No space left on device")


def test_a_token_file_that_cannot_be_written_stops_the_run_and_names_the_new_token(
    engine: keyward.Engine, clock: Clock
) -> None:
    bot = engine.create_service_account(ADMIN, "acme", "deploy-bot", role="viewer")["principal"]
    engine.create_token(ADMIN, bot, name="one", ttl_days=3)
    engine.create_token(ADMIN, bot, name="two", ttl_days=3)
    candidates = rotate.expiring(engine, ADMIN, "acme", within_days=7, now=clock)
    assert len(candidates) == 2
    results = list(
        rotate.rotate(engine, ADMIN, candidates, grace_seconds=60, out=FullDisk(), saved=set(), now=clock)
    )
    # The first rotation happened (and cannot be undone); its token could not be saved: the run
    # says which token it was and stops before rotating (and losing) the second.
    assert [r.outcome for r in results] == ["failed"]
    assert results[0].new_token_id is not None
    assert f"rotated to {results[0].new_token_id}" in results[0].detail
    assert "No space left on device" in results[0].detail
    rotated = results[0].candidate
    other = next(c for c in candidates if c is not rotated)
    names = [t["name"] for t in engine.list_tokens(ADMIN, bot) if t["revoked_at"] is None]
    assert names.count(rotated.name) == 2, "the rotated token (in its grace period) and its successor"
    assert names.count(other.name) == 1, "the other token was left alone"
