"""``python -m fleet provision``: the file is the desired state; a second run writes nothing."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any, Dict, List

import keyward
import yaml

from support import ADMIN, fleet, rows

SA = ".sa.keyward.local"


def write_yaml(path: Path, accounts: List[Dict[str, Any]], tenant: str = "acme") -> Path:
    path.write_text(yaml.safe_dump({"tenant": tenant, "accounts": accounts}, sort_keys=False))
    return path


def thousand_accounts() -> List[Dict[str, Any]]:
    """1,000 accounts, a quarter with a token, some with grants and a group."""
    roles = ["viewer", "inference-user", "contributor"]
    accounts: List[Dict[str, Any]] = []
    for i in range(1000):
        account: Dict[str, Any] = {"name": f"bot-{i:04d}", "description": f"fleet bot {i}", "role": roles[i % 3]}
        if i % 10 == 0:
            account["grants"] = [{"permission": "models:execute", "resource": "models/llama*"}]
        if i % 50 == 0:
            account["groups"] = ["deployers"]
        if i % 4 == 0:
            account["tokens"] = [{"name": "main", "ttl_days": 90}]
        accounts.append(account)
    return accounts


def test_thousand_accounts_then_a_second_run_changes_nothing(engine: keyward.Engine, db_url: str, tmp_path: Path) -> None:
    engine.create_group(ADMIN, "acme", "deployers", roles=["viewer"])
    accounts = thousand_accounts()
    file = write_yaml(tmp_path / "fleet.yaml", accounts)
    out = tmp_path / "tokens.jsonl"

    first = fleet(db_url, "provision", str(file), "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-1] == f"1000 created, 0 updated, 0 deleted, 0 unchanged, 250 new tokens in {out}"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    saved = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(t["account"] for t in saved) == [f"bot-{i:04d}@acme{SA}" for i in range(0, 1000, 4)]
    for t in saved:  # every token saved is the real one, and no secret went to stdout
        decision = engine.verify(t["token"], "acme", "models:read")
        assert decision["allowed"] and decision["principal"] == t["account"], decision
        assert t["token"] not in first.stdout and t["token"] not in first.stderr
    account = engine.get_account(ADMIN, "acme", f"bot-0050@acme{SA}")
    assert (account["description"], account["roles"], account["groups"]) == ("fleet bot 50", ["contributor"], ["deployers", "everyone"])
    assert account["grants"] == [{"permission": "models:execute", "resource": "models/llama*"}]

    before, tokens_before = rows(db_url), out.read_bytes()
    second = fleet(db_url, "provision", str(file), "--out", str(out))
    assert second.returncode == 0, second.stderr
    assert second.stdout == "nothing to change: 1000 accounts of acme unchanged\n"
    assert rows(db_url) == before  # not one row written: no version moved, no audit event
    assert out.read_bytes() == tokens_before

    accounts[500]["description"] = "fleet bot 500, renamed"
    write_yaml(file, accounts)
    third = fleet(db_url, "provision", str(file), "--out", str(out))
    assert third.returncode == 0, third.stderr
    assert third.stdout.splitlines() == [
        f"update  bot-0500@acme{SA}  description",
        "0 created, 1 updated, 0 deleted, 999 unchanged, 0 new tokens",
    ]
    after = rows(db_url)
    changed = [k for k in before if after[k] != before[k]]
    added = [k for k in after if k not in before]
    assert len(changed) == 1 and f"bot-0500@acme{SA}" in changed[0]
    assert len(added) == 1  # the change's audit event
    event = engine.audit_log(ADMIN, "acme", page_size=1)["events"][0]
    assert (event["action"], event["target"]) == ("service_account.update", f"bot-0500@acme{SA}")
    assert engine.get_account(ADMIN, "acme", f"bot-0500@acme{SA}")["description"] == "fleet bot 500, renamed"


def test_dry_run_writes_nothing(engine: keyward.Engine, db_url: str, tmp_path: Path) -> None:
    file = write_yaml(tmp_path / "fleet.yaml", [
        {"name": "deploy-bot", "role": "viewer", "tokens": [{"name": "ci"}]},
        {"name": "backup-bot", "description": "backups"},
    ])
    out = tmp_path / "tokens.jsonl"
    before = rows(db_url)
    result = fleet(db_url, "provision", str(file), "--out", str(out), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"would create  deploy-bot@acme{SA}  new account, role viewer, +token ci",
        f"would create  backup-bot@acme{SA}  new account",
        "dry run: 2 created, 0 updated, 0 deleted, 0 unchanged, 1 new token; nothing written",
    ]
    assert rows(db_url) == before
    assert not out.exists()


def test_present_keys_are_the_whole_truth_absent_keys_are_left_alone(engine: keyward.Engine, db_url: str, tmp_path: Path) -> None:
    for group in ("blue", "green"):
        engine.create_group(ADMIN, "acme", group)
    bot = engine.create_service_account(ADMIN, "acme", "deploy-bot", description="old", role="viewer", grants=["models:read"])
    engine.add_group_member(ADMIN, "acme", "blue", bot["principal"])
    engine.create_service_account(ADMIN, "acme", "backup-bot", description="mine", role="contributor")
    file = write_yaml(tmp_path / "fleet.yaml", [
        {"name": "deploy-bot", "description": "new", "role": "inference-user",
         "grants": [{"permission": "deployments:write", "resource": "deployments/prod-*"}], "groups": ["green"]},
        {"name": "backup-bot"},  # only its name: nothing of it is managed
    ])

    result = fleet(db_url, "provision", str(file))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        f"update  deploy-bot@acme{SA}  description, role viewer → inference-user, "
        "+grant deployments:write@deployments/prod-*, -grant models:read, +group green, -group blue"
    )
    deploy = engine.get_account(ADMIN, "acme", bot["principal"])
    assert deploy["description"] == "new" and deploy["roles"] == ["inference-user"]
    assert deploy["grants"] == [{"permission": "deployments:write", "resource": "deployments/prod-*"}]
    assert deploy["groups"] == ["everyone", "green"]
    backup = engine.get_account(ADMIN, "acme", f"backup-bot@acme{SA}")
    assert (backup["description"], backup["roles"]) == ("mine", ["contributor"])

    again = fleet(db_url, "provision", str(file))
    assert again.stdout == "nothing to change: 2 accounts of acme unchanged\n"


def test_accounts_missing_from_the_file_are_kept_unless_prune(engine: keyward.Engine, db_url: str, tmp_path: Path) -> None:
    engine.create_service_account(ADMIN, "acme", "deploy-bot")
    engine.create_service_account(ADMIN, "acme", "legacy-bot")
    file = write_yaml(tmp_path / "fleet.yaml", [{"name": "deploy-bot"}])

    kept = fleet(db_url, "provision", str(file))
    assert kept.returncode == 0, kept.stderr
    assert kept.stdout.splitlines() == [
        f"keep    legacy-bot@acme{SA} (not in the file; --prune deletes it)",
        "nothing to change: 1 account of acme unchanged",
    ]
    engine.get_account(ADMIN, "acme", f"legacy-bot@acme{SA}")  # still there

    pruned = fleet(db_url, "provision", str(file), "--prune")
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout.splitlines() == [
        f"delete  legacy-bot@acme{SA}  delete",
        "0 created, 0 updated, 1 deleted, 1 unchanged, 0 new tokens",
    ]
    names = [a["name"] for a in engine.list_accounts(ADMIN, "acme", filter="service_account=true")["accounts"]]
    assert names == ["deploy-bot"]


def test_one_failing_account_does_not_stop_the_others(engine: keyward.Engine, db_url: str, tmp_path: Path) -> None:
    file = write_yaml(tmp_path / "fleet.yaml", [
        {"name": "a-bot", "role": "viewer"},
        {"name": "b-bot", "groups": ["no-such-group"]},
        {"name": "c-bot", "role": "viewer"},
    ])
    result = fleet(db_url, "provision", str(file))
    assert result.returncode == 1
    assert "error: b-bot@acme.sa.keyward.local: +group no-such-group: " in result.stderr
    assert result.stdout.splitlines()[-1] == "2 created, 0 updated, 0 deleted, 0 unchanged, 0 new tokens; 1 account FAILED (see above)"
    names = {a["name"] for a in engine.list_accounts(ADMIN, "acme", filter="service_account=true")["accounts"]}
    assert {"a-bot", "c-bot"} <= names


def test_refusals_before_any_change(engine: keyward.Engine, db_url: str, tmp_path: Path) -> None:
    before = rows(db_url)
    typo = write_yaml(tmp_path / "typo.yaml", [{"name": "a-bot"}, {"name": "b-bot", "descripton": "x"}])
    bad = fleet(db_url, "provision", str(typo))
    assert bad.returncode == 2
    assert "accounts[1]: unknown key 'descripton'" in bad.stderr

    wants_token = write_yaml(tmp_path / "fleet.yaml", [{"name": "a-bot", "tokens": [{"name": "ci"}]}])
    no_out = fleet(db_url, "provision", str(wants_token))
    assert no_out.returncode == 2
    assert "error: 1 new token to make: give --out FILE to keep them" in no_out.stderr

    shared = tmp_path / "shared.jsonl"
    shared.write_text("")
    shared.chmod(0o644)
    unsafe = fleet(db_url, "provision", str(wants_token), "--out", str(shared))
    assert unsafe.returncode == 2
    assert "refusing to write tokens" in unsafe.stderr and shared.read_text() == ""

    assert rows(db_url) == before


def test_json_file_and_tenant_of_the_file(engine: keyward.Engine, db_url: str, tmp_path: Path) -> None:
    file = tmp_path / "fleet.json"
    file.write_text(json.dumps({"tenant": "globex", "accounts": [{"name": "a-bot"}]}))
    unknown = fleet(db_url, "provision", str(file))
    assert unknown.returncode == 2 and "error: not_found" in unknown.stderr

    engine.create_tenant("globex", admin=ADMIN)
    result = fleet(db_url, "provision", str(file))
    assert result.returncode == 0, result.stderr
    engine.get_account(ADMIN, "globex", "a-bot@globex.sa.keyward.local")
