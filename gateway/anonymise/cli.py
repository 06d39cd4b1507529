"""``privacy-gateway cases …``: anonymise (or delete) a requester's cases, or one case; list what was done.

::

    privacy-gateway cases anonymise --policy P (--email E | --case ID) [--name N]... [--phone T]...
                                    [--dry-run] [--force]
    privacy-gateway cases records --policy P [--case ID] [--limit N]
    privacy-gateway cases retention --policy P

The policy is loaded whole, as ``serve`` loads it. Its ``anonymisation``
section says how (pseudonym keys, action, allowed states, attachments kept,
rate limit); the helpdesk is ``anonymisation.helpdesk``, or else the portal's
``requests.helpdesk``. The command works whether ``anonymisation.enabled`` is
true or not: ``enabled`` governs what the gateway starts by itself (erasure
requests, retention schedules), not the operator's command; the keys and a
helpdesk are required either way. ``--name`` and ``--phone`` add the
requester's known name and phone number to what is replaced (the address
always is). ``--case`` takes the helpdesk's case id (django-helpdesk,
Zendesk: the ticket number; Zammad: the ticket's id, not its number). What is
removed besides the requester's identifiers is what the sensitive-data
detectors find (:mod:`.detectors`: every built-in one and the policy's own,
from ``anonymisation.min_confidence``).

Not a dry run: the store (``store``) is opened, each case is recorded in it
before its first change and after its last (trigger ``command``), and the
signed links bound to the case and to the requester are revoked.

One JSON line per case on stdout: the case, the action, the replacements by
kind, the operations and the outcome of each (``done``, ``planned``,
``not_supported``, ``failed`` with ``retryable``, ``deferred``), the case's
``state`` and the link bindings revoked; never a value removed. ``--dry-run``
reads and plans and changes nothing, in the helpdesk or the store. The exit
status is 0 when every operation was done (a dry run: can be done; no case
found: nothing to do), 1 when anything failed, was refused, is busy in
another process or is not supported by the helpdesk (the lines say which; a
``retry`` state may be finished by running the command again), 2 when the
policy, the helpdesk or the store cannot be used (no line is printed then; a
case finished before the store failed is in its records).

``cases retention`` runs the retention schedules now, as the gateway runs
them every ``anonymisation.every`` (:mod:`.schedule`): first the cases a
crashed process left half done, then each schedule's due cases, a batch
each. It waits for no interval, but never runs alongside another run (the
store's run lease): exit 1 with a message when one is under way (or its
crashed holder's lease, ``anonymisation.lease``, has not run out yet). One
JSON document on stdout: the cases resumed and, per schedule, how many were
due and each case's line; exit 0 when every case handled is done, 1
otherwise, 2 when the policy, the helpdesk or the store cannot be used.

``cases records`` prints the journal, newest first, one JSON line per record
(``--case`` for one case's, at most ``--limit``): ids, trigger, action,
state, times and the summary of kinds, counts and operations. No address, no
name, no removed value is ever in a record. Exit 2 when the policy or the
store cannot be used.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, NoReturn

import orjson

from ..helpdesks.base import HelpdeskError
from ..helpdesks.registry import adapter_for
from ..policy.helpdesks import HelpdeskSettings
from ..policy.schema import Policy
from ..sensitive.scanner import Scanner
from ..store import StoreError, store_for
from ..store.commands import run_with
from .cases import CaseReport, anonymise_cases
from .detectors import scanner_for
from .journal import Journal
from .run import Pacer
from .schedule import RetentionRunner

EXIT_UNUSABLE = 2
TRIGGER = "command"


def _unusable(message: str) -> NoReturn:
    print(message, file=sys.stderr)
    raise SystemExit(EXIT_UNUSABLE)


def _load(policy_path: str) -> Policy:
    from ..policy.loader import PolicyError, load_policy

    try:
        return load_policy(Path(policy_path)).policy
    except PolicyError as exc:
        print(str(exc), file=sys.stderr)
        _unusable(f"{policy_path}: the policy is not valid")


def usable_helpdesk(policy: Policy, policy_path: str) -> HelpdeskSettings:
    """The helpdesk the command works on; exit 2 when the policy names none or has no pseudonym key."""
    if not policy.anonymisation.keys:
        _unusable(f"{policy_path}: anonymisation.keys is empty: pseudonyms need a key")
    helpdesk = policy.anonymisation_helpdesk
    if helpdesk is None:
        _unusable(f"{policy_path}: no helpdesk to anonymise in (anonymisation.helpdesk, or requests.helpdesk)")
    return helpdesk


def cmd_anonymise(args: argparse.Namespace) -> int:
    policy = _load(args.policy)
    helpdesk = usable_helpdesk(policy, args.policy)
    try:
        reports = asyncio.run(_anonymise(args, policy, helpdesk, scanner_for(policy)))
    except HelpdeskError as exc:  # the search itself failed: no case was touched
        _unusable(f"{exc}{' (try again later)' if exc.retryable else ''}")
    except StoreError as exc:
        _unusable(f"cases anonymise: the store could not be used: {exc}")
    out = sys.stdout.buffer
    for report in reports:
        out.write(orjson.dumps(report.to_dict(), option=orjson.OPT_SORT_KEYS) + b"\n")
    out.flush()
    if not reports:
        print("no cases found", file=sys.stderr)
    return 0 if all(r.complete for r in reports) else 1


async def _anonymise(args: argparse.Namespace, policy: Policy, helpdesk: HelpdeskSettings,
                     scanner: Scanner) -> list[CaseReport]:
    settings = policy.anonymisation
    async with AsyncExitStack() as opened:
        adapter = await opened.enter_async_context(adapter_for(helpdesk))
        journal = None
        if not args.dry_run:  # a dry run records nothing: the store is not even opened
            store = await opened.enter_async_context(store_for(policy.store))
            journal = Journal.for_policy(policy, store, adapter.name, TRIGGER)
        return await anonymise_cases(
            adapter, settings, email=args.email, case_id=args.case, names=args.name or (), phones=args.phone or (),
            scanner=scanner, dry_run=args.dry_run, force=args.force, pace=Pacer(settings.rate_limit),
            journal=journal,
        )


def cmd_records(args: argparse.Namespace) -> int:
    policy = _load(args.policy)
    if args.limit < 1:
        _unusable("cases records: --limit must be at least 1")

    try:
        records = run_with(store_for(policy.store),
                           lambda s: s.case_records(case_ids=[args.case] if args.case else (), limit=args.limit))
    except StoreError as exc:
        _unusable(f"cases records: the store could not be used: {exc}")
    out = sys.stdout.buffer
    for record in records:
        doc = record.to_dict()
        doc["summary"] = orjson.loads(doc["summary"])  # a JSON document of its own: shown as one
        out.write(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS) + b"\n")
    out.flush()
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    policy = _load(args.policy)
    usable_helpdesk(policy, args.policy)

    try:  # the detectors: scanner_for(policy), as the gateway's own runs use
        report = run_with(store_for(policy.store), lambda s: RetentionRunner(lambda: (policy, s)).run(policy, s))
    except HelpdeskError as exc:
        _unusable(f"cases retention: the helpdesk did not answer as it should: {exc}")
    except StoreError as exc:
        _unusable(f"cases retention: the store could not be used: {exc}")
    if report is None:
        print("cases retention: another process is running the schedules (or its lease, anonymisation.lease, "
              "has not run out yet); try again later", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(orjson.dumps(report.to_dict(), option=orjson.OPT_SORT_KEYS) + b"\n")
    cases = [*report.resumed, *(case for schedule in report.schedules for case in schedule.reports)]
    return 0 if all(case.complete for case in cases) else 1


def add_cases_commands(sub: Any) -> None:
    """Add ``cases anonymise`` and ``cases records`` to the main parser's subcommands."""
    parser = sub.add_parser("cases", help="helpdesk cases: anonymise or delete them, and what was done")
    commands = parser.add_subparsers(dest="cases_command", required=True)
    cmd = commands.add_parser("anonymise", help="anonymise (or delete) a requester's cases, or one case; JSON lines")
    cmd.add_argument("--policy", required=True, help="policy file or directory")
    whose = cmd.add_mutually_exclusive_group(required=True)
    whose.add_argument("--email", help="every case of this requester")
    whose.add_argument("--case", help="this case (the helpdesk's case id)")
    cmd.add_argument("--name", action="append", help="the requester's name, also replaced (repeat for several)")
    cmd.add_argument("--phone", action="append", help="the requester's phone number, also replaced (repeatable)")
    cmd.add_argument("--dry-run", action="store_true", help="read and plan only: change nothing")
    cmd.add_argument("--force", action="store_true", help="touch cases in states the policy does not allow (open)")
    cmd.set_defaults(func=cmd_anonymise)
    records = commands.add_parser("records", help="what was done to which case, newest first; JSON lines")
    records.add_argument("--policy", required=True, help="policy file or directory (its store)")
    records.add_argument("--case", help="only this case's records (the helpdesk's case id)")
    records.add_argument("--limit", type=int, default=1000, help="at most this many records (default 1000)")
    records.set_defaults(func=cmd_records)
    retention = commands.add_parser("retention", help="run the retention schedules now (one run at a time); JSON")
    retention.add_argument("--policy", required=True, help="policy file or directory")
    retention.set_defaults(func=cmd_retention)
