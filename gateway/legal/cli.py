"""``privacy-gateway legal-basis …``: the records of legal bases and consents, for a DPO or an auditor.

- ``legal-basis show --policy P --email E``: every record made for that
  e-mail address (found by its keyed hash under every key of
  ``legal_basis.keys``), as JSON lines, oldest first; exit status 1 when
  there is none. The address itself is in no record and is not printed.
- ``legal-basis export --policy P``: every record as JSON lines, oldest first.

Each line: ``record_id``, ``created`` (ISO 8601 UTC), ``created_at``,
``route``, ``basis``, ``purpose``, ``notice_version``, ``language``,
``email_hash``, ``ip_truncated``, ``event`` (given, informed, withdrawn) and
``withdraws``. The store is the one the policy names (``store.url``).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from typing import Any, TypeVar

import orjson

from ..lib.keyring import KeyRing
from ..store import Store, store_for
from ..store.commands import policy_at, run_with
from ..store.legal import LegalRecord
from . import proof

T = TypeVar("T")


def record_json(record: LegalRecord) -> bytes:
    created = datetime.fromtimestamp(record.created_at, tz=timezone.utc)
    doc = {**record.to_dict(), "created": created.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS) + b"\n"


def _open(policy_path: str) -> tuple[Store, KeyRing | None]:
    policy = policy_at(policy_path)
    keys = policy.legal_basis.keys
    ring = KeyRing.from_config([(k.id, k.secret) for k in keys], keys[0].id) if keys else None
    return store_for(policy.store), ring


def cmd_show(args: argparse.Namespace) -> int:
    store, ring = _open(args.policy)
    if ring is None:
        print("the policy has no legal_basis.keys: records cannot be found by e-mail address", file=sys.stderr)
        return 2
    records = run_with(store, lambda s: s.legal_records_for(proof.email_hashes(ring, args.email)))
    out = sys.stdout.buffer
    for record in records:
        out.write(record_json(record))
    out.flush()
    if not records:
        print("no records for that e-mail address", file=sys.stderr)
        return 1
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    store, _ = _open(args.policy)
    out = sys.stdout.buffer

    async def export(s: Store) -> int:
        count = 0
        async for record in s.export_legal_records():
            out.write(record_json(record))
            count += 1
        return count

    count = run_with(store, export)
    out.flush()
    print(f"{count} record{'s' if count != 1 else ''} exported", file=sys.stderr)
    return 0


def add_legal_basis_commands(sub: Any) -> None:
    """Add ``legal-basis show|export`` to the main parser's subcommands."""
    legal = sub.add_parser("legal-basis", help="legal-basis and consent records: look up by e-mail, export")
    commands = legal.add_subparsers(dest="legal_basis_command", required=True)
    show = commands.add_parser("show", help="the records of one e-mail address, as JSON lines")
    show.add_argument("--policy", required=True, help="policy file or directory (for store.url, legal_basis.keys)")
    show.add_argument("--email", required=True, help="the person's e-mail address")
    show.set_defaults(func=cmd_show)
    export = commands.add_parser("export", help="every record as JSON lines, oldest first")
    export.add_argument("--policy", required=True, help="policy file or directory (for store.url)")
    export.set_defaults(func=cmd_export)
