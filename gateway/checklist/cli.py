"""``privacy-gateway checklist --policy P``: the deployed policy against the GDPR checklist.

One line per item: ``ok``, ``warn`` or ``missing``, the policy key to change,
and why. ``--format json`` prints the items as a JSON list for CI. Exit
status: 0; with ``--strict``, 1 when an item is missing; 2 when the policy
is not valid (its errors printed as ``check`` prints them).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from .items import ITEM_IDS, STATUSES, Item, checklist

if TYPE_CHECKING:
    from ..policy.loader import LoadedPolicy

EXIT_MISSING = 1
EXIT_INVALID_POLICY = 2
_KEY_COLUMN = 32  # longer keys (several at once) push their line's text right

Load = Callable[[str], "LoadedPolicy | None"]


def render_text(items: list[Item], source: str) -> str:
    width = min(max((len(item.key) for item in items), default=0), _KEY_COLUMN)
    lines = [f"{item.status:<7}  {item.key:<{width}}  {item.title}: {item.why}" for item in items]
    counts = Counter(item.status for item in items)
    summary = ", ".join(f"{counts[status]} {status}" for status in STATUSES)
    lines.append(f"{source}: {len(items)} items: {summary}")
    return "\n".join(lines) + "\n"


def render_json(items: list[Item]) -> str:
    return json.dumps([item.as_dict() for item in items], indent=2, ensure_ascii=False) + "\n"


def cmd_checklist(args: argparse.Namespace, load: Load) -> int:
    loaded = load(args.policy)
    if loaded is None:
        return EXIT_INVALID_POLICY
    items = checklist(loaded.policy, replicas=args.replicas, skip=args.skip)
    print(render_json(items) if args.format == "json" else render_text(items, args.policy), end="")
    if args.strict and any(item.status == "missing" for item in items):
        return EXIT_MISSING
    return 0


def _replicas(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of replicas (1 or more)")
    return count


def add_checklist_command(sub: Any, load: Load) -> None:
    """Add ``checklist``; ``load`` validates the policy as ``check`` does (None after printing its errors)."""
    parser = sub.add_parser(
        "checklist", help="check a policy against the GDPR checklist: ok, warn or missing per item",
        description="Exit status: 0; 1 with --strict when an item is missing; 2 for an invalid policy.",
    )
    parser.add_argument("--policy", required=True, help="policy file or directory")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="absent: text")
    parser.add_argument("--strict", action="store_true", help="exit 1 when an item is missing")
    parser.add_argument(
        "--replicas", type=_replicas, default=1, metavar="N",
        help="how many gateway replicas share the work; the policy cannot know (absent: 1)",
    )
    parser.add_argument(
        "--skip", action="append", default=[], choices=ITEM_IDS, metavar="ITEM",
        help=f"leave an item out, e.g. one this deployment answers otherwise (repeatable): {', '.join(ITEM_IDS)}",
    )
    parser.set_defaults(func=partial(cmd_checklist, load=load))
