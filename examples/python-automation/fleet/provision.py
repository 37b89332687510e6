"""Provisioning: make a tenant's service accounts match a fleet file.

``plan`` compares the file with the store and lists the steps that would close the gap; it
only reads. ``apply`` runs them. A second run over an unchanged file plans no step, so it
writes nothing at all, not even an audit event.

Accounts the tenant owns but the file does not list are reported and kept, unless ``prune``:
then they are deleted (SPEC R-04: deletion is final, their tokens die with them). Tokens the
file does not name are never touched: they may be successors made by ``rotate``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Dict, Iterator, List, Optional, Tuple, cast

import keyward

from .listing import is_live, service_accounts
from .spec import AccountSpec, Fleet, TokenSpec, grant_key, grant_value
from .tokenfile import TokenFile

__all__ = ["Step", "AccountPlan", "Plan", "plan", "apply"]


@dataclass
class Step:
    text: str  # what changes, for people: "description", "+group deployers", "+token ci"
    run: Callable[[], object]
    token_name: Optional[str] = None  # set when the step makes a token: `run` returns it


@dataclass
class AccountPlan:
    principal: str
    verb: str  # "create", "update" or "delete"
    steps: List[Step]


@dataclass
class Plan:
    tenant: str
    accounts_in_file: int
    changes: List[AccountPlan] = field(default_factory=list)
    kept: List[str] = field(default_factory=list)  # owned by the tenant, not in the file

    @property
    def new_tokens(self) -> int:
        return sum(1 for change in self.changes for step in change.steps if step.token_name)

    @property
    def unchanged(self) -> int:
        return self.accounts_in_file - sum(1 for c in self.changes if c.verb != "delete")


def plan(
    engine: keyward.Engine,
    actor: str,
    fleet: Fleet,
    *,
    domain: str,
    now: Callable[[], int],
    prune: bool = False,
    progress: Callable[[int], object] = lambda n: None,
) -> Plan:
    """The steps that would make the store match ``fleet``; reads only.

    ``now`` is the engine's clock, to tell live tokens from expired ones; ``progress`` is
    called with 1 for each account of the file looked at.
    """
    tenant = fleet.tenant
    existing: Dict[str, keyward.Account] = {a["name"]: a for a in service_accounts(engine, actor, tenant)}
    result = Plan(tenant=tenant, accounts_in_file=len(fleet.accounts))
    for spec in fleet.accounts:
        account = existing.pop(spec.name, None)
        if account is None:
            principal = f"{spec.name}@{tenant}.sa.{domain}"  # SPEC R-02
            steps = [_create_step(engine, actor, tenant, spec)] + _group_steps(engine, actor, tenant, principal, set(), spec)
            steps += [_token_step(engine, actor, principal, token) for token in spec.tokens]
            result.changes.append(AccountPlan(principal, "create", steps))
        else:
            principal = account["principal"]
            steps = _update_steps(engine, actor, tenant, account, spec)
            if spec.tokens:
                live = {t["name"] for t in engine.list_tokens(actor, principal) if is_live(t, now())}
                steps += [_token_step(engine, actor, principal, t) for t in spec.tokens if t.name not in live]
            if steps:
                result.changes.append(AccountPlan(principal, "update", steps))
        progress(1)
    for account in existing.values():  # what is left is not in the file
        principal = account["principal"]
        if prune:
            delete = Step("delete", partial(engine.delete_account, actor, principal))
            result.changes.append(AccountPlan(principal, "delete", [delete]))
        else:
            result.kept.append(principal)
    return result


def apply(plan: Plan, out: Optional[TokenFile]) -> Iterator[Tuple[AccountPlan, Optional[str]]]:
    """Runs the plan, account by account; yields each with ``None`` or what failed.

    An account's steps stop at its first failure and the next account goes on. Each new
    token is written to ``out`` before the next step runs.
    """
    if plan.new_tokens and out is None:  # checked first: a token nobody keeps is a token lost
        raise ValueError("the plan makes tokens: it needs a token file")
    for change in plan.changes:
        error = None
        for step in change.steps:
            try:
                result = step.run()
            except keyward.KeywardError as e:  # messages never hold a secret (SPEC R-82)
                error = f"{step.text}: {e}"
                break
            if step.token_name is not None and out is not None:
                created = cast(keyward.TokenCreated, result)
                out.write(
                    {
                        "account": change.principal,
                        "name": created["name"],
                        "token_id": created["token_id"],
                        "expires_at": created["expires_at"],
                        "token": created["token"],
                    }
                )
        yield change, error


def _create_step(engine: keyward.Engine, actor: str, tenant: str, spec: AccountSpec) -> Step:
    def run() -> None:
        account = engine.create_service_account(
            actor,
            tenant,
            spec.name,
            description=spec.description,
            role=spec.role,
            grants=[grant_value(g) for g in sorted(spec.grants)],
        )
        # `role: null` in the file means no role, even where the tenant sets a default.
        if "role" in spec.managed and spec.role is None and account["roles"]:
            engine.set_role(actor, tenant, account["principal"], None)

    details = [f"role {spec.role}"] if spec.role else []
    details += [f"+grant {_show(g)}" for g in sorted(spec.grants)]
    return Step(", ".join(["new account", *details]), run)


def _update_steps(
    engine: keyward.Engine, actor: str, tenant: str, account: keyward.Account, spec: AccountSpec
) -> List[Step]:
    principal = account["principal"]
    steps: List[Step] = []
    if "description" in spec.managed and account["description"] != spec.description:
        steps.append(
            Step("description", partial(engine.update_service_account, actor, principal, description=spec.description))
        )
    role = account["roles"][0] if account["roles"] else None
    if "role" in spec.managed and role != spec.role:
        steps.append(
            Step(f"role {role or '-'} → {spec.role or '-'}", partial(engine.set_role, actor, tenant, principal, spec.role))
        )
    if "grants" in spec.managed:
        current = {grant_key(g) for g in account["grants"]}
        for g in sorted(spec.grants - current):
            steps.append(Step(f"+grant {_show(g)}", partial(engine.grant_permissions, actor, tenant, principal, [grant_value(g)])))
        for g in sorted(current - spec.grants):
            steps.append(Step(f"-grant {_show(g)}", partial(engine.revoke_permissions, actor, tenant, principal, [grant_value(g)])))
    return steps + _group_steps(engine, actor, tenant, principal, set(account["groups"]) - {"everyone"}, spec)


def _group_steps(
    engine: keyward.Engine, actor: str, tenant: str, principal: str, current: set[str], spec: AccountSpec
) -> List[Step]:
    if "groups" not in spec.managed:
        return []
    steps = [
        Step(f"+group {g}", partial(engine.add_group_member, actor, tenant, g, principal))
        for g in sorted(spec.groups - current)
    ]
    steps += [
        Step(f"-group {g}", partial(engine.remove_group_member, actor, tenant, g, principal))
        for g in sorted(current - spec.groups)
    ]
    return steps


def _token_step(engine: keyward.Engine, actor: str, principal: str, token: TokenSpec) -> Step:
    scopes = None if token.scopes is None else [grant_value(s) for s in token.scopes]
    return Step(
        f"+token {token.name}",
        lambda: engine.create_token(actor, principal, name=token.name, ttl_days=token.ttl_days, scopes=scopes),
        token_name=token.name,
    )


def _show(grant: Tuple[str, str]) -> str:
    permission, resource = grant
    return permission if resource == "*" else f"{permission}@{resource}"  # the CLI's spelling
