"""Python: keyward ``Engine.verify`` beside PyJWT HS256 and pycasbin (RBAC with domains).

The tenant is the one of the Rust benchmarks (bench/src/lib.rs): 1,000 tokens over 20
service accounts of 50 tokens, 10 roles and 10 groups (each account holds one role and is in
one group); every call presents the next token of a round-robin over all of them. PyJWT
decodes and validates one of 1,000 HS256 tokens with the same claims; pycasbin answers the same
question from equivalent roles. Prints one JSON object: medians in ns per call.

    python bench/python/verify.py [--iterations N] [--tokens N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from importlib.metadata import version
from typing import Any, Callable, List

import keyward

TENANT = "acme"
ROOT = "root@acme.test"
PER_ACCOUNT = 50
ROLES = 10

CASBIN_MODEL = """
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && r.obj == p.obj && r.act == p.act
"""


def median_ns(fn: Callable[[int], Any], calls: int, repeats: int) -> float:
    """Median over ``repeats`` runs of ``calls`` calls, in ns per call (``fn`` gets the index)."""
    runs: List[float] = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for i in range(calls):
            fn(i)
        runs.append((time.perf_counter_ns() - start) / calls)
    return statistics.median(runs)


def fill(engine: keyward.Engine, tokens: int) -> List[tuple]:
    engine.create_tenant(TENANT, admin=ROOT)
    for i in range(ROLES):
        engine.define_role(ROOT, TENANT, f"role-{i}", [{"permission": "models:execute", "resource": f"models/m{i}"}])
        engine.create_group(ROOT, TENANT, f"group-{i}", grants=[{"permission": "datasets:read", "resource": f"datasets/d{i}"}])
    out = []
    for a in range((tokens + PER_ACCOUNT - 1) // PER_ACCOUNT):
        k = a % ROLES
        sa = engine.create_service_account(ROOT, TENANT, f"bot-{a}", role=f"role-{k}")
        engine.add_group_member(ROOT, TENANT, f"group-{k}", sa["principal"])
        for _ in range(min(PER_ACCOUNT, tokens - a * PER_ACCOUNT)):
            out.append((engine.create_token(ROOT, sa["principal"])["token"], f"models/m{k}"))
    out.sort()  # random secrets: neighbours belong to unrelated accounts
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=20000, help="calls per timed run")
    ap.add_argument("--repeats", type=int, default=15, help="timed runs (the median is reported)")
    ap.add_argument("--tokens", type=int, default=1000)
    args = ap.parse_args()
    calls, repeats, n = args.iterations, args.repeats if args.iterations > 1 else 1, args.tokens

    engine = keyward.Engine(clock=lambda: 1_700_000_000_000)
    tokens = fill(engine, n)
    verify = engine.verify
    assert verify(tokens[0][0], TENANT, "models:execute", tokens[0][1])["allowed"]

    def kw_allowed(i: int) -> Any:
        t, m = tokens[i % n]
        return verify(t, TENANT, "models:execute", m)

    def kw_denied(i: int) -> Any:
        t, m = tokens[i % n]
        return verify(t, TENANT, "models:write", m)

    results: dict = {}
    for name, fn in [("keyward_verify_allowed", kw_allowed), ("keyward_verify_denied", kw_denied)]:
        fn(0)
        results[name] = median_ns(fn, calls, repeats)

    import jwt  # PyJWT

    key = "a-32-byte-secret-for-hs256-bench"
    jwts = [
        jwt.encode(
            {"sub": f"bot-{a}@acme.sa.keyward.local", "tenant": TENANT, "scopes": ["models:execute", "models:read"], "exp": 4_000_000_000},
            key,
            algorithm="HS256",
        )
        for a in range(1000)
    ]
    decode = jwt.decode

    def pyjwt(i: int) -> Any:
        return decode(jwts[i % 1000], key, algorithms=["HS256"])

    pyjwt(0)
    results["pyjwt_hs256"] = median_ns(pyjwt, calls, repeats)

    import casbin

    enforcer = casbin.Enforcer(_model(casbin))
    for i in range(ROLES):
        enforcer.add_policy(f"role-{i}", TENANT, f"models/m{i}", "models:execute")
        enforcer.add_policy(f"group-{i}", TENANT, f"datasets/d{i}", "datasets:read")
    for a in range(1000):
        enforcer.add_grouping_policy(f"bot-{a}", f"role-{a % ROLES}", TENANT)
        enforcer.add_grouping_policy(f"bot-{a}", f"group-{a % ROLES}", TENANT)
    enforce = enforcer.enforce
    assert enforce("bot-3", TENANT, "models/m3", "models:execute")
    assert not enforce("bot-3", TENANT, "models/m3", "models:write")
    questions = [(f"bot-{a}", f"models/m{a % ROLES}") for a in range(1000)]

    def pycasbin(i: int) -> Any:
        s, o = questions[i % 1000]
        return enforce(s, TENANT, o, "models:execute")

    pycasbin(0)
    results["pycasbin_enforce"] = median_ns(pycasbin, max(1, calls // 10), repeats)

    print(
        json.dumps(
            {
                "unit": "ns per call (median)",
                "tokens": n,
                "roles": ROLES,
                "calls_per_run": calls,
                "runs": repeats,
                "python": sys.version.split()[0],
                "versions": {p: _version(p) for p in ["keyward", "PyJWT", "pycasbin"]},
                "results": results,
            }
        )
    )


def _version(package: str) -> str:
    try:
        return version(package)
    except Exception:  # run from a source tree (PYTHONPATH): no metadata
        return "unknown"


def _model(casbin: Any) -> Any:
    m = casbin.model.Model()
    m.load_model_from_text(CASBIN_MODEL)
    return m


if __name__ == "__main__":
    main()
