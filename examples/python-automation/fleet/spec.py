"""The fleet file: a tenant's service accounts as they should be, in YAML or JSON.

    tenant: acme
    accounts:
      - name: deploy-bot                 # SPEC R-02: ^[a-z][a-z0-9-]{1,62}$
        description: Deploys models      # optional
        role: inference-user             # optional; null = no direct role
        grants:                          # optional; direct grants (R-48)
          - models:read
          - {permission: deployments:write, resource: deployments/prod-*}
        groups: [deployers]              # optional; groups the tenant already has
        tokens:                          # optional
          - {name: ci, ttl_days: 90, scopes: [models:read]}

A key that is absent is not managed: provisioning leaves that part of an existing account as
it is (so a tenant's ``default_service_account_role`` is not fought over). A key that is
present is the whole truth: ``grants: []`` removes every direct grant, ``role: null`` clears
the role. Tokens are wanted by name: one live token of that name is enough.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Tuple, Union

import yaml

__all__ = ["Fleet", "AccountSpec", "TokenSpec", "FleetError", "GrantKey", "load", "parse", "grant_key", "grant_value"]

SERVICE_ACCOUNT_NAME = re.compile(r"^[a-z][a-z0-9-]{1,62}$")  # SPEC R-02

GrantKey = Tuple[str, str]
"""A grant as ``(permission, resource)``, so that ``"x:y"`` and ``{"permission": "x:y"}`` are
equal (API.md: a bare string is a grant on resource ``*``)."""


class FleetError(ValueError):
    """The fleet file is not what this tool reads; the message says where."""


@dataclass(frozen=True)
class TokenSpec:
    name: str
    ttl_days: Optional[int]  # None: the tenant's default_token_ttl_days
    scopes: Optional[Tuple[GrantKey, ...]]  # None: the account's full rights


@dataclass(frozen=True)
class AccountSpec:
    name: str
    description: Optional[str]
    role: Optional[str]
    grants: FrozenSet[GrantKey]
    groups: FrozenSet[str]
    tokens: Tuple[TokenSpec, ...]
    # Which of the optional keys the file gave (absent keys are not managed).
    managed: FrozenSet[str]


@dataclass(frozen=True)
class Fleet:
    tenant: str
    accounts: Tuple[AccountSpec, ...]


def grant_key(grant: Union[str, Mapping[str, Any]]) -> GrantKey:
    """The comparable form of a grant, as given in the file or returned by the engine."""
    if isinstance(grant, str):
        return (grant, "*")
    return (str(grant["permission"]), str(grant.get("resource", "*")))


def grant_value(key: GrantKey) -> Union[str, Dict[str, str]]:
    """A grant as the engine takes it (API.md "Conventions": a bare string on resource ``*``)."""
    permission, resource = key
    return permission if resource == "*" else {"permission": permission, "resource": resource}


def load(path: Union[str, Path]) -> Fleet:
    """Reads a fleet file: JSON when it ends in ``.json``, YAML otherwise (YAML reads JSON too)."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        raise FleetError(f"{path}: not valid {'JSON' if str(path).endswith('.json') else 'YAML'}: {e}") from e
    return parse(data)


def parse(data: Any) -> Fleet:
    """Checks the structure of a decoded fleet file; the engine checks the values themselves."""
    top = _mapping(data, "the file", required={"tenant", "accounts"}, optional=set())
    tenant = _text(top["tenant"], "tenant")
    raw_accounts = _list(top["accounts"], "accounts")
    accounts: List[AccountSpec] = []
    seen: Dict[str, int] = {}
    for i, raw in enumerate(raw_accounts):
        where = f"accounts[{i}]"
        account = _account(raw, where)
        if account.name in seen:
            raise FleetError(f"{where}: account {account.name!r} is also accounts[{seen[account.name]}]")
        seen[account.name] = i
        accounts.append(account)
    return Fleet(tenant=tenant, accounts=tuple(accounts))


_ACCOUNT_KEYS = {"description", "role", "grants", "groups", "tokens"}


def _account(raw: Any, where: str) -> AccountSpec:
    fields = _mapping(raw, where, required={"name"}, optional=_ACCOUNT_KEYS)
    name = _text(fields["name"], f"{where}.name")
    if not SERVICE_ACCOUNT_NAME.match(name):
        raise FleetError(f"{where}.name: {name!r} is not a service-account name (^[a-z][a-z0-9-]{{1,62}}$)")
    description = _optional_text(fields.get("description"), f"{where}.description")
    role = _optional_text(fields.get("role"), f"{where}.role")
    grants = frozenset(_grant(g, f"{where}.grants[{j}]") for j, g in enumerate(_list(fields.get("grants", []), f"{where}.grants")))
    groups = frozenset(
        _text(g, f"{where}.groups[{j}]") for j, g in enumerate(_list(fields.get("groups", []), f"{where}.groups"))
    ) - {"everyone"}  # every account is in `everyone` and cannot leave it
    tokens: List[TokenSpec] = []
    for j, raw_token in enumerate(_list(fields.get("tokens", []), f"{where}.tokens")):
        token = _token(raw_token, f"{where}.tokens[{j}]")
        if any(t.name == token.name for t in tokens):
            raise FleetError(f"{where}.tokens[{j}]: a second token named {token.name!r}")
        tokens.append(token)
    return AccountSpec(
        name=name,
        description=description,
        role=role,
        grants=grants,
        groups=groups,
        tokens=tuple(tokens),
        managed=frozenset(fields) & _ACCOUNT_KEYS,
    )


def _token(raw: Any, where: str) -> TokenSpec:
    fields = _mapping(raw, where, required={"name"}, optional={"ttl_days", "scopes"})
    ttl = fields.get("ttl_days")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 1):
        raise FleetError(f"{where}.ttl_days: a whole number of days, at least 1")
    raw_scopes = fields.get("scopes")
    scopes = None
    if raw_scopes is not None:
        scopes = tuple(_grant(s, f"{where}.scopes[{k}]") for k, s in enumerate(_list(raw_scopes, f"{where}.scopes")))
    return TokenSpec(name=_text(fields["name"], f"{where}.name"), ttl_days=ttl, scopes=scopes)


def _grant(raw: Any, where: str) -> GrantKey:
    if isinstance(raw, str):
        return grant_key(raw)
    # A scope limited to one tenant is not read: a fleet's tokens act in its own tenant.
    fields = _mapping(raw, where, required={"permission"}, optional={"resource"})
    return grant_key({k: _text(v, f"{where}.{k}") for k, v in fields.items()})


def _mapping(raw: Any, where: str, *, required: set[str], optional: set[str]) -> Dict[str, Any]:
    if not isinstance(raw, dict):
        raise FleetError(f"{where}: expected a mapping")
    unknown = sorted(set(raw) - required - optional)
    if unknown:
        raise FleetError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(required | optional))})")
    missing = sorted(required - set(raw))
    if missing:
        raise FleetError(f"{where}: missing key {missing[0]!r}")
    return raw


def _list(raw: Any, where: str) -> List[Any]:
    if not isinstance(raw, list):
        raise FleetError(f"{where}: expected a list")
    return raw


def _text(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not raw:
        raise FleetError(f"{where}: expected a non-empty string")
    return raw


def _optional_text(raw: Any, where: str) -> Optional[str]:
    return None if raw is None else _text(raw, where)
