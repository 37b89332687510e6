"""Several processes racing on the real PostgresStore, checked against a model (R-91, R-62,
R-23, R-25, R-92).

Each run empties the test database (scripts/with-postgres.sh, KEYWARD_TEST_PG_URL: the test
fails, never skips, without it, as the other Postgres tests do), sets up tenant `acme` near its
caps, then hands a seeded random program to each of ``PROCESSES`` processes (``spawn``). Each
process is a host of its own: its own ``keyward.Engine`` over its own ``PostgresStore``
connection to the same database. It records, per operation, whether it was acknowledged, the
error code otherwise, and how many compare-and-sets the call lost (its store wrapper counts
them).

The parent then reads the final state through an engine and checks it against a model written
here, apart from the engine:

- per register (an account's role, status, one direct grant, one group membership, a token's
  revoked and rotated flags, a setting) the final value is the last acknowledged write of some
  process (or the initial value when none was acknowledged): what a sequential order of the
  acknowledged calls, in each process's program order, leaves. A call that takes something
  away acts before its event (R-92), so one answered ``conflict`` may have taken effect: such
  writes are allowed and counted; any other unacknowledged write showing is a failure;
- every acknowledged creation exists (service account, user, token, rotation) and nothing
  else; every acknowledged secret authenticates exactly when live and its account active;
- caps hold: owned service accounts, live tokens per account, active users (seats); a token
  is rotated by at most one acknowledged call;
- ``conflict`` comes only after the engine's bounded retries: the call lost at least
  ``RETRY_BOUND`` compare-and-sets.

``RACE_PG_RUNS`` (default 6) sets the number of runs.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import keyward
import keyward.stores
from support import T0, PgTable, pg_url

ADMIN = "root@acme.test"
PROCESSES = 4
OPS = 50
RETRY_BOUND = 5  # MAX_ATTEMPTS in core/src/authz/admin.rs; R-91 asks for at least 3
SA_CAP = 4
TOKEN_CAP = 3
SEATS = 3
END = T0 + OPS + 1  # the clock of the final reads: after every call

SETUP_BOTS = ["bot0", "bot1"]
POOL_BOTS = ["bot2", "bot3", "bot4", "bot5"]
SETUP_USERS = ["u0"]
POOL_USERS = ["u1", "u2", "u3"]
GROUPS = ["g0", "g1"]
GRANTS = ["models:read", "models:write", "data:read"]
ROLES: List[Optional[str]] = [None, "viewer", "contributor", "admin"]

Act = Tuple[str, ...]
"""An operation: its name, then its arguments as text (a role of ``"-"`` clears it)."""

Reg = Tuple[str, ...]
"""A register of the model: its kind, then what it is about."""

TAKES_AWAY = {"revoke_permissions", "remove_group_member", "disable_account", "revoke_token"}


def bot(name: str) -> str:
    return f"{name}@acme.sa.keyward.local"


def user(name: str) -> str:
    return f"{name}@acme.test"


TARGETS = [bot("bot0"), bot("bot1"), user("u0")]
STATUS_TARGETS = [bot(b) for b in SETUP_BOTS] + [user(u) for u in SETUP_USERS + POOL_USERS]


class CountingStore:
    """A process's store: PostgresStore, with the compare-and-sets its calls lose counted."""

    def __init__(self, inner: keyward.stores.PostgresStore) -> None:
        self.inner = inner
        self.lost = 0

    def get(self, key: str) -> Optional[keyward.Versioned]:
        return self.inner.get(key)

    def get_many(self, keys: Sequence[str]) -> List[Optional[keyward.Versioned]]:
        return list(self.inner.get_many(keys))

    def put(self, key: str, value: str, expected_version: Optional[int]) -> Optional[int]:
        version = self.inner.put(key, value, expected_version)
        if version is None:
            self.lost += 1
        return version

    def delete(self, key: str, expected_version: int) -> bool:
        done = self.inner.delete(key, expected_version)
        if not done:
            self.lost += 1
        return done

    def list(self, prefix: str, after: Optional[str], limit: int) -> List[keyward.Entry]:
        return list(self.inner.list(prefix, after, limit))


class StepClock:
    """A host clock that a process moves one millisecond per call."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


Record = Dict[str, Any]
"""One call as run: ``act``, ``code`` (None when acknowledged), ``lost``, and ``token``
((principal, token id, secret) of an acknowledged creation or rotation)."""


def program(rng: random.Random, tokens: List[Tuple[str, str]]) -> Act:
    n = rng.randrange(18)
    if n < 2:
        return ("set_role", rng.choice(TARGETS), rng.choice(ROLES) or "-")
    if n < 4:
        return ("grant_permissions", rng.choice(TARGETS), rng.choice(GRANTS))
    if n < 5:
        return ("revoke_permissions", rng.choice(TARGETS), rng.choice(GRANTS))
    if n < 7:
        return ("add_group_member", rng.choice(GROUPS), rng.choice(TARGETS))
    if n < 8:
        return ("remove_group_member", rng.choice(GROUPS), rng.choice(TARGETS))
    if n < 9:
        return ("disable_account", rng.choice(STATUS_TARGETS))
    if n < 11:
        return ("enable_account", rng.choice(STATUS_TARGETS))
    if n < 13:
        return ("create_token", bot(rng.choice(SETUP_BOTS)))
    if n < 15:
        principal, token_id = rng.choice(tokens)
        return (rng.choice(["revoke_token", "rotate_token"]), principal, token_id)
    if n < 16:
        return ("create_service_account", rng.choice(POOL_BOTS))
    if n < 17:
        return ("create_user", user(rng.choice(POOL_USERS)))
    return ("update_tenant_settings", "default_token_ttl_days", str(rng.choice([30, 90, 365])))


def perform(kw: keyward.Engine, act: Act) -> Optional[Tuple[str, str, str]]:
    """Runs one call; the created token's (principal, id, secret) for a creation or rotation."""
    op, args = act[0], act[1:]
    if op == "set_role":
        kw.set_role(ADMIN, "acme", args[0], None if args[1] == "-" else args[1])
    elif op == "grant_permissions":
        kw.grant_permissions(ADMIN, "acme", args[0], [args[1]])
    elif op == "revoke_permissions":
        kw.revoke_permissions(ADMIN, "acme", args[0], [args[1]])
    elif op == "add_group_member":
        kw.add_group_member(ADMIN, "acme", args[0], args[1])
    elif op == "remove_group_member":
        kw.remove_group_member(ADMIN, "acme", args[0], args[1])
    elif op == "disable_account":
        kw.disable_account(ADMIN, args[0])
    elif op == "enable_account":
        kw.enable_account(ADMIN, args[0])
    elif op in ("create_token", "rotate_token"):
        made = (
            kw.create_token(ADMIN, args[0])
            if op == "create_token"
            else kw.rotate_token(ADMIN, args[0], args[1], grace_seconds=0)
        )
        return (args[0], made["token_id"], made["token"])
    elif op == "revoke_token":
        kw.revoke_token(ADMIN, args[0], args[1])
    elif op == "create_service_account":
        kw.create_service_account(ADMIN, "acme", args[0])
    elif op == "create_user":
        kw.create_user(ADMIN, "acme", args[0])
    elif op == "update_tenant_settings":
        kw.update_tenant_settings(ADMIN, "acme", {args[0]: int(args[1])})
    else:  # pragma: no cover - programs draw only the operations above
        raise AssertionError(f"unknown operation {op}")
    return None


_STORE: Optional[keyward.stores.PostgresStore] = None
_BARRIER: Any = None


def _init_worker(barrier: Any) -> None:
    global _BARRIER
    _BARRIER = barrier


def _worker(url: str, seed: int, tokens: List[Tuple[str, str]]) -> List[Record]:
    """One host: its own engine and connection; runs its program once every host is ready."""
    global _STORE
    if _STORE is None:
        _STORE = keyward.stores.PostgresStore(url)
    store = CountingStore(_STORE)
    clock = StepClock()
    kw = keyward.Engine(store, clock=clock)
    rng = random.Random(seed)
    known = list(tokens)
    records: List[Record] = []
    _BARRIER.wait(timeout=60)
    for step in range(OPS):
        clock.now = T0 + 1 + step
        act = program(rng, known)
        store.lost = 0
        record: Record = {"act": act, "code": None, "lost": 0, "token": None}
        try:
            made = perform(kw, act)
            if made is not None:
                known.append((made[0], made[1]))
                record["token"] = made
        except keyward.KeywardError as e:
            record["code"] = e.code
        record["lost"] = store.lost
        records.append(record)
    return records


def writes(act: Act) -> List[Tuple[Reg, str]]:
    """The register writes a call makes when it takes effect."""
    op, args = act[0], act[1:]
    table: Dict[str, Tuple[str, str]] = {
        "grant_permissions": ("grant", "true"),
        "revoke_permissions": ("grant", "false"),
        "add_group_member": ("member", "true"),
        "remove_group_member": ("member", "false"),
    }
    if op == "set_role":
        return [(("role", args[0]), args[1])]
    if op in table:
        kind, value = table[op]
        return [((kind, args[0], args[1]), value)]
    if op == "disable_account":
        return [(("status", args[0]), "disabled")]
    if op in ("enable_account", "create_user"):
        return [(("status", args[0]), "active")]
    if op == "revoke_token":
        return [(("revoked", args[1]), "true")]
    if op == "rotate_token":
        return [(("rotated", args[1]), "true")]
    if op == "update_tenant_settings":
        return [(("setting", args[0]), args[1])]
    return []


class Final:
    """The final state, read through an engine."""

    def __init__(self, kw: keyward.Engine) -> None:
        self.kw = kw
        self.tokens: Dict[str, List[keyward.TokenInfo]] = {
            bot(b): kw.list_tokens(ADMIN, bot(b)) for b in SETUP_BOTS
        }
        self.settings: Dict[str, Any] = dict(kw.get_tenant(ADMIN, "acme")["settings"])

    def account(self, principal: str) -> Optional[keyward.Account]:
        try:
            return self.kw.get_account(ADMIN, "acme", principal)
        except keyward.NotFound:
            return None

    def existing(self, principal: str) -> keyward.Account:
        found = self.account(principal)
        assert found is not None, f"{principal} is gone"
        return found

    def token(self, token_id: str) -> keyward.TokenInfo:
        found = [t for ts in self.tokens.values() for t in ts if t["token_id"] == token_id]
        assert found, f"token {token_id}, acknowledged, is not listed"
        return found[0]

    def read(self, reg: Reg) -> str:
        kind = reg[0]
        if kind == "role":
            roles = self.existing(reg[1])["roles"]
            return roles[0] if roles else "-"
        if kind == "status":
            found = self.account(reg[1])
            return "absent" if found is None else found["status"]
        if kind == "grant":
            return json.dumps(reg[2] in [str(g) for g in self.existing(reg[1])["grants"]])
        if kind == "member":
            return json.dumps(reg[1] in self.existing(reg[2])["groups"])
        if kind == "revoked":
            return json.dumps(self.token(reg[1])["revoked_at"] is not None)
        if kind == "rotated":
            expires_at = self.token(reg[1])["expires_at"]
            return json.dumps(expires_at is not None and expires_at <= END)
        assert kind == "setting"
        return str(self.settings[reg[1]])


def live(t: keyward.TokenInfo) -> bool:
    expires_at = t["expires_at"]
    return t["revoked_at"] is None and (expires_at is None or expires_at > END)


def initial(reg: Reg) -> str:
    kind = reg[0]
    if kind == "role":
        return "-"
    if kind == "status":
        return "absent" if reg[1] in [user(u) for u in POOL_USERS] else "active"
    if kind == "setting":
        return "365"
    return "false"


def list_all(kw: keyward.Engine, filter: Optional[str] = None) -> List[keyward.Account]:
    out: List[keyward.Account] = []
    page_token: Optional[str] = None
    while True:
        page = kw.list_accounts(ADMIN, "acme", filter=filter, page_size=100, page_token=page_token)
        out.extend(page["accounts"])
        page_token = page["next_page_token"]
        if page_token is None:
            return out


def setup(kw: keyward.Engine) -> List[Tuple[str, str, str]]:
    """Tenant acme near its caps; the setup's tokens (principal, id, secret)."""
    settings = {"max_service_accounts": SA_CAP, "max_tokens_per_account": TOKEN_CAP, "seat_limit": SEATS}
    kw.create_tenant("acme", admin=ADMIN, settings=settings)
    for g in GROUPS:
        kw.create_group(ADMIN, "acme", g, grants=["data:write"])
    tokens = []
    for b in SETUP_BOTS:
        kw.create_service_account(ADMIN, "acme", b)
        for _ in range(2):
            made = kw.create_token(ADMIN, bot(b))
            tokens.append((bot(b), made["token_id"], made["token"]))
    for u in SETUP_USERS:
        kw.create_user(ADMIN, "acme", user(u))
    return tokens


def check(
    seed: int,
    kw: keyward.Engine,
    setup_tokens: List[Tuple[str, str, str]],
    procs: List[List[Record]],
    tally: Dict[str, int],
) -> None:
    every = [r for p in procs for r in p]
    for r in every:
        tally["ops"] += 1
        tally["lost_cas"] += r["lost"]
        if r["code"] is None:
            tally["acked"] += 1
        elif r["code"] == "conflict":
            tally["conflicts"] += 1
            assert r["lost"] >= RETRY_BOUND, f"seed {seed}: {r} answered conflict too early (R-91)"
        elif r["code"] == "quota_exceeded":
            tally["quota_exceeded"] += 1

    fin = Final(kw)
    regs: Set[Reg] = {reg for r in every for reg, _ in writes(r["act"])}
    for reg in sorted(regs):
        acked: Set[str] = set()
        maybe: Set[str] = set()
        for p in procs:
            last: Optional[str] = None
            after: List[str] = []
            for r in p:
                for w, value in writes(r["act"]):
                    if w != reg:
                        continue
                    if r["code"] is None:
                        last, after = value, []
                    elif r["code"] == "conflict" and r["act"][0] in TAKES_AWAY:
                        after.append(value)
            if last is not None:
                acked.add(last)
            maybe.update(after)
        if not acked:
            acked.add(initial(reg))
        value = fin.read(reg)
        tally["registers"] += 1
        if value in acked:
            continue
        history = [(i, r) for i, p in enumerate(procs) for r in p if any(w == reg for w, _ in writes(r["act"]))]
        assert value in maybe, (
            f"seed {seed}: {reg} is {value}; no sequential order of the acknowledged calls leaves that "
            f"(last acknowledged writes per process: {acked}); history: {history}"
        )
        tally["done_despite_conflict"] += 1

    created = [tuple(r["token"]) for r in every if r["token"] is not None]
    rotated = [r["act"][2] for r in every if r["code"] is None and r["act"][0] == "rotate_token"]
    assert len(rotated) == len(set(rotated)), f"seed {seed}: a token rotated twice (R-25): {rotated}"
    for principal, listed in fin.tokens.items():
        expected = {t[1] for t in setup_tokens + created if t[0] == principal}
        assert {t["token_id"] for t in listed} == expected, f"seed {seed}: tokens of {principal}"
        n_live = sum(1 for t in listed if live(t))
        assert n_live <= TOKEN_CAP, f"seed {seed}: {principal} holds {n_live} live tokens (R-23, R-62)"
    for principal, token_id, secret in setup_tokens + created:
        info = fin.token(token_id)
        expect = live(info) and fin.existing(principal)["status"] == "active"
        try:
            kw.authenticate(secret)
            ok = True
        except keyward.KeywardError:
            ok = False
        assert ok == expect, f"seed {seed}: token {token_id} of {principal} authenticates: {ok}, model: {expect}"

    owned = {a["principal"] for a in list_all(kw, "service_account=true AND owned=true")}
    made = {bot(b) for b in SETUP_BOTS} | {
        bot(r["act"][1]) for r in every if r["code"] is None and r["act"][0] == "create_service_account"
    }
    assert owned == made, f"seed {seed}: owned service accounts vs acknowledged creations"
    assert len(owned) <= SA_CAP, f"seed {seed}: {len(owned)} service accounts, cap {SA_CAP} (R-62)"

    accounts = list_all(kw)
    active = [a for a in accounts if a["kind"] == "user" and a["status"] == "active"]
    assert kw.seat_usage(ADMIN, "acme")["seats_used"] == len(active), f"seed {seed}: seat_usage (R-63)"
    assert len(active) <= SEATS, f"seed {seed}: {len(active)} active users, seat_limit {SEATS} (R-62)"
    users = {a["principal"] for a in accounts if a["kind"] == "user" and a["owned"]}
    allowed = {ADMIN} | {user(u) for u in SETUP_USERS} | {
        r["act"][1] for r in every if r["code"] is None and r["act"][0] == "create_user"
    }
    assert users <= allowed, f"seed {seed}: users nobody created: {users - allowed}"
    tally["runs"] += 1


def test_r91_r62_processes_racing_on_postgres_match_a_sequential_model() -> None:
    pg = pg_url()
    runs = int(os.environ.get("RACE_PG_RUNS", "6"))
    tally = dict.fromkeys(
        ["runs", "ops", "acked", "conflicts", "lost_cas", "quota_exceeded", "registers", "done_despite_conflict"], 0
    )
    ctx: Any = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    table = PgTable(pg)
    with ctx.Pool(PROCESSES, initializer=_init_worker, initargs=(barrier,)) as pool:
        for seed in range(1, runs + 1):
            table.clear()
            kw = keyward.Engine(keyward.stores.PostgresStore(pg), clock=lambda: T0)
            setup_tokens = setup(kw)
            shared = [(p, i) for p, i, _ in setup_tokens]
            tasks = [(pg, seed * 1000 + i, shared) for i in range(PROCESSES)]
            procs: List[List[Record]] = pool.starmap(_worker, tasks, chunksize=1)
            final = keyward.Engine(kw.store, clock=lambda: END)
            check(seed, final, setup_tokens, procs, tally)
    table.close()
    print(f"races on postgres: {tally}")
    assert tally["runs"] == runs and tally["ops"] == runs * PROCESSES * OPS
    assert tally["acked"] > 0 and tally["quota_exceeded"] > 0, tally
