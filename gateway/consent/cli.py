"""``privacy-gateway consent …``: look up, export and expire consent receipts.

- ``consent receipts --policy P --id ID``: every receipt of one consent id
  (the id a visitor sees in ``GET /_privacy/consent``), as JSON lines, oldest
  first; exit status 1 when there is none.
- ``consent export --policy P [--since WHEN]``: every receipt (created at or
  after WHEN: ISO 8601 date or time, or epoch seconds) as JSON lines.
- ``consent expire --policy P [--older-than 365d]``: delete receipts older
  than the policy's ``store.receipt_retention`` (or the duration given).
  Run it daily (cron, a Kubernetes CronJob); the gateway also does it
  opportunistically.

The store is the one the policy names (``store.url``), opened and closed per
command; nothing else in the policy is needed.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from typing import Any, TypeVar

import orjson

from ..policy.units import parse_duration
from ..store import ConsentReceipt, Store, store_for
from ..store.commands import policy_at, run_with

T = TypeVar("T")


def receipt_json(receipt: ConsentReceipt) -> bytes:
    """One receipt as a JSON line (keys sorted, the time also as ISO 8601 UTC)."""
    created = datetime.fromtimestamp(receipt.created_at, tz=timezone.utc)
    doc = {
        "consent_id": receipt.consent_id,
        "created_at": receipt.created_at,
        "created": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "choices": receipt.choices,
        "consent_version": receipt.consent_version,
        "text_hash": receipt.text_hash,
        "method": receipt.method,
        "ip_truncated": receipt.ip_truncated,
        "user_agent_family": receipt.user_agent_family,
        "page_path": receipt.page_path,
    }
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS) + b"\n"


def parse_since(text: str) -> float:
    """Epoch seconds from ``1700000000``, ``2025-01-31`` or ``2025-01-31T12:00:00Z`` (UTC unless an offset is given)."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not epoch seconds or an ISO 8601 date/time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _store(policy_path: str) -> tuple[Store, float]:
    settings = policy_at(policy_path).store
    return store_for(settings), settings.receipt_retention


def cmd_receipts(args: argparse.Namespace) -> int:
    store, _ = _store(args.policy)
    receipts = run_with(store, lambda s: s.receipts_for(args.id))
    out = sys.stdout.buffer
    for receipt in receipts:
        out.write(receipt_json(receipt))
    out.flush()
    if not receipts:
        print(f"no receipts for consent id {args.id!r}", file=sys.stderr)
        return 1
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    store, _ = _store(args.policy)
    out = sys.stdout.buffer

    async def export(s: Store) -> int:
        count = 0
        async for receipt in s.export_receipts(since=args.since):
            out.write(receipt_json(receipt))
            count += 1
        return count

    count = run_with(store, export)
    out.flush()
    print(f"{count} receipt{'s' if count != 1 else ''} exported", file=sys.stderr)
    return 0


def cmd_expire(args: argparse.Namespace) -> int:
    store, retention = _store(args.policy)
    keep = parse_duration(args.older_than) if args.older_than else retention
    cutoff = time.time() - keep
    removed = run_with(store, lambda s: s.expire_receipts(cutoff))
    print(f"{removed} receipt{'s' if removed != 1 else ''} older than {keep:g} seconds deleted", file=sys.stderr)
    return 0


def add_consent_commands(sub: Any) -> None:
    """Add ``consent receipts|export|expire`` to the main parser's subcommands."""
    consent = sub.add_parser("consent", help="consent receipts: look up, export, expire")
    commands = consent.add_subparsers(dest="consent_command", required=True)

    receipts = commands.add_parser("receipts", help="the receipts of one consent id, as JSON lines")
    receipts.add_argument("--policy", required=True, help="policy file or directory (for store.url)")
    receipts.add_argument("--id", required=True, help="the consent id")
    receipts.set_defaults(func=cmd_receipts)

    export = commands.add_parser("export", help="all receipts as JSON lines, oldest first")
    export.add_argument("--policy", required=True, help="policy file or directory (for store.url)")
    export.add_argument("--since", type=parse_since, help="only receipts from then on (ISO 8601 or epoch seconds)")
    export.set_defaults(func=cmd_export)

    expire = commands.add_parser("expire", help="delete receipts older than the retention")
    expire.add_argument("--policy", required=True, help="policy file or directory (for store.url)")
    expire.add_argument("--older-than", help="e.g. 365d (absent: store.receipt_retention)")
    expire.set_defaults(func=cmd_expire)
