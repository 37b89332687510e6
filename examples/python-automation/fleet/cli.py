"""``python -m fleet``: provision a fleet's service accounts, rotate expiring tokens.

Options and environment follow the ``keyward`` command (API.md), so both can share one
database and one shell: ``--db`` (env ``KEYWARD_DB``, else ``DATABASE_URL``), ``--as`` (env
``KEYWARD_ACTOR``), ``--domain``, ``--token-prefix`` and, from the environment only, the pepper
``KEYWARD_PEPPER`` (a secret never goes on a command line).

Exit status: 0 done (or nothing to do); 1 some accounts or tokens failed, the rest done (the
summary names them); 2 nothing done: bad arguments, fleet file or token file, or the first
reads refused (unknown tenant, actor without rights, database unreachable).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timezone
from typing import Callable, List, NoReturn, Optional, Sequence

import keyward
from keyward.stores import PostgresStore, SqliteStore
from tqdm import tqdm

from . import provision, rotate, spec
from .tokenfile import TokenFile, UnsafeTokenFile, rotated_token_ids

__all__ = ["main"]

DONE, PARTIAL, NOTHING_DONE = 0, 1, 2
# Rotation outcomes a person must look at: the run exits PARTIAL.
ATTENTION = ("failed", "rotated elsewhere")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    if not args.actor:
        print("error: no actor: give --as PRINCIPAL or set KEYWARD_ACTOR", file=sys.stderr)
        return NOTHING_DONE
    try:
        store = open_store(args.db)
    except Exception as e:  # the drivers' own errors (psycopg, sqlite3) differ: report any
        print(f"error: cannot open the database: {e}", file=sys.stderr)
        return NOTHING_DONE
    try:
        engine = keyward.Engine(
            store,
            domain=args.domain,
            token_prefix=args.token_prefix,
            clock=wall_clock,
            pepper=os.environb.get(b"KEYWARD_PEPPER"),
        )
        run: Callable[[keyward.Engine, argparse.Namespace], int] = args.run
        return run(engine, args)
    except keyward.KeywardError as e:  # from the first reads: each change catches its own
        print(f"error: {e.code}: {e}", file=sys.stderr)
        return NOTHING_DONE
    finally:
        store.close()


def wall_clock() -> int:
    """Milliseconds since the epoch: the engine's clock and ours, so both agree on "now"."""
    return time.time_ns() // 1_000_000


def open_store(db: str) -> "PostgresStore | SqliteStore":
    """A ``postgres://`` or ``postgresql://`` URL is PostgreSQL; anything else a SQLite file."""
    if db.startswith(("postgres://", "postgresql://")):
        return PostgresStore(db)
    return SqliteStore(db)


def _provision(engine: keyward.Engine, args: argparse.Namespace) -> int:
    try:
        fleet = spec.load(args.file)
    except (spec.FleetError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return NOTHING_DONE
    with _bar(args, len(fleet.accounts), "reading") as bar:
        plan = provision.plan(
            engine, args.actor, fleet, domain=args.domain, now=wall_clock, prune=args.prune, progress=bar.update
        )
    for principal in plan.kept:
        print(f"keep    {principal} (not in the file; --prune deletes it)")
    if not plan.changes:
        print(f"nothing to change: {_n(plan.unchanged, 'account')} of {fleet.tenant} unchanged")
        return DONE
    if args.dry_run:
        for change in plan.changes:
            print(f"would {change.verb:6}  {change.principal}  {', '.join(s.text for s in change.steps)}")
        print(f"dry run: {_counts(plan.changes, plan.unchanged)}, {_n(plan.new_tokens, 'new token')}; nothing written")
        return DONE
    if plan.new_tokens and not args.out:
        print(f"error: {_n(plan.new_tokens, 'new token')} to make: give --out FILE to keep them", file=sys.stderr)
        return NOTHING_DONE
    out = _open_out(args.out) if plan.new_tokens else None
    if plan.new_tokens and out is None:
        return NOTHING_DONE
    done: List[provision.AccountPlan] = []
    failed = []
    try:
        with _bar(args, len(plan.changes), "applying") as bar:
            for change, error in provision.apply(plan, out):
                bar.update(1)
                if error is None:
                    done.append(change)
                    tqdm.write(f"{change.verb:7} {change.principal}  {', '.join(s.text for s in change.steps)}", file=sys.stdout)
                else:
                    failed.append(change)
                    tqdm.write(f"error: {change.principal}: {error}", file=sys.stderr)
    finally:
        if out is not None:
            out.close()
    written = out.written if out is not None else 0
    summary = f"{_counts(done, plan.unchanged)}, {_n(written, 'new token')}"
    summary += f" in {args.out}" if written else ""
    if failed:
        print(f"{summary}; {_n(len(failed), 'account')} FAILED (see above)")
        return PARTIAL
    print(summary)
    return DONE


def _rotate(engine: keyward.Engine, args: argparse.Namespace) -> int:
    if not args.dry_run and not args.out:
        print("error: give --out FILE for the new tokens (or --dry-run)", file=sys.stderr)
        return NOTHING_DONE
    with _bar(args, None, "reading") as bar:
        candidates = rotate.expiring(
            engine, args.actor, args.tenant, within_days=args.within_days, now=wall_clock, progress=bar.update
        )
    if not candidates:
        print(f"no token of {args.tenant} expires within {args.within_days} days")
        return DONE
    if args.dry_run:
        for c in candidates:
            print(f"would rotate  {c.principal}  {c.name}  {c.token_id}  (expires {_when(c.expires_at)})")
        print(f"dry run: {_n(len(candidates), 'token')} would be rotated; nothing written")
        return DONE
    saved = rotated_token_ids(args.out)  # read before opening: a crashed run's rotations
    out = _open_out(args.out)
    if out is None:
        return NOTHING_DONE
    start = wall_clock()
    horizon = start + args.within_days * rotate.DAY_MS
    tally = {"rotated": 0, "already rotated": 0, "rotated elsewhere": 0, "skipped": 0, "failed": 0}
    due_again = 0
    with out, _bar(args, len(candidates), "rotating") as bar:
        for r in rotate.rotate(
            engine, args.actor, candidates, grace_seconds=args.grace_seconds, out=out, saved=saved, now=wall_clock
        ):
            bar.update(1)
            tally[r.outcome] += 1
            c = r.candidate
            if r.outcome == "rotated":
                # the old token lasts the grace period, never past its own expiry.
                old_until = _when(min(c.expires_at, start + args.grace_seconds * 1000))
                line = f"rotated  {c.principal}  {c.name}  {c.token_id} → {r.new_token_id}  (old one until {old_until})"
                tqdm.write(line, file=sys.stdout)
                # The successor has the old token's lifetime: if that is not longer than
                # the window, the next run rotates the successor too.
                if r.new_expires_at is not None and r.new_expires_at <= horizon:
                    due_again += 1
            else:
                stream = sys.stderr if r.outcome in ATTENTION else sys.stdout
                tqdm.write(f"{r.outcome}  {c.principal}  {c.name}  {c.token_id}: {r.detail}", file=stream)
    outcomes = ", ".join(f"{n} {outcome}" for outcome, n in tally.items() if n)
    summary = f"tokens expiring within {args.within_days} days: {len(candidates)} ({outcomes})"
    print(summary + (f"; new tokens in {args.out}" if tally["rotated"] else ""))
    if due_again:
        print(
            f"warning: new tokens that expire within {args.within_days} days themselves: {due_again} "
            "(their lifetime is not longer than the window), so the next run rotates them again; "
            "choose --within-days below the tokens' lifetime",
            file=sys.stderr,
        )
    return PARTIAL if any(tally[o] for o in ATTENTION) else DONE


def _open_out(path: str) -> Optional[TokenFile]:
    try:
        return TokenFile(path)
    except (UnsafeTokenFile, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return None


def _bar(args: argparse.Namespace, total: Optional[int], what: str) -> "tqdm[NoReturn]":
    """A progress bar on stderr, only for a person watching (a terminal) and not --quiet."""
    return tqdm(total=total, desc=what, unit=" accounts" if what == "reading" else " items",
                file=sys.stderr, disable=args.quiet or not sys.stderr.isatty(), leave=False)


def _counts(changes: Sequence[provision.AccountPlan], unchanged: int) -> str:
    verbs = [c.verb for c in changes]
    return (
        f"{verbs.count('create')} created, {verbs.count('update')} updated, "
        f"{verbs.count('delete')} deleted, {unchanged} unchanged"
    )


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parser() -> argparse.ArgumentParser:
    env = os.environ
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        default=env.get("KEYWARD_DB") or env.get("DATABASE_URL") or "keyward.db",
        help="postgres:// URL or SQLite file (env KEYWARD_DB, else DATABASE_URL; default keyward.db)",
    )
    common.add_argument("--as", dest="actor", default=env.get("KEYWARD_ACTOR"), metavar="PRINCIPAL",
                        help="the acting principal (env KEYWARD_ACTOR)")
    common.add_argument("--domain", default=env.get("KEYWARD_DOMAIN") or "keyward.local",
                        help="domain of service-account principals (env KEYWARD_DOMAIN)")
    common.add_argument("--token-prefix", default=env.get("KEYWARD_TOKEN_PREFIX") or "kw",
                        help="prefix of new tokens (env KEYWARD_TOKEN_PREFIX)")
    common.add_argument("--dry-run", action="store_true", help="say what would change; write nothing")
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    parser = argparse.ArgumentParser(
        prog="python -m fleet",
        description="Provision a fleet of Keyward service accounts; rotate tokens that expire soon.",
        epilog="The pepper, if any, comes from env KEYWARD_PEPPER only. "
        "Exit status: 0 done, 1 some items failed, 2 nothing done.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("provision", parents=[common], help="make a tenant's service accounts match a file")
    p.add_argument("file", metavar="FILE", help="fleet file, YAML or JSON")
    p.add_argument("--out", metavar="FILE", help="where new tokens go (JSON lines, mode 0600)")
    p.add_argument("--prune", action="store_true", help="delete the tenant's service accounts the file omits")
    p.set_defaults(run=_provision)

    r = commands.add_parser("rotate", parents=[common], help="rotate every token expiring within N days")
    r.add_argument("--tenant", required=True)
    r.add_argument("--within-days", type=_non_negative, required=True, metavar="N")
    r.add_argument("--grace-seconds", type=_non_negative, default=86400, metavar="S",
                   help="how long an old token keeps working (default 86400)")
    r.add_argument("--out", metavar="FILE", help="where new tokens go (JSON lines, mode 0600; appended)")
    r.set_defaults(run=_rotate)
    return parser


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value
