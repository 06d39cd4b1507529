"""``privacy-gateway requests …``: the operators' side of the data-subject request portal.

- ``requests list --policy P [--all]``: open requests (all with ``--all``),
  newest first, one JSON line each (no address, no text);
- ``requests show --policy P ID``: one request as JSON, with the requester's
  address and text and its audit log;
- ``requests approve|refuse|extend --policy P ID [--reason R] [--days N]``:
  the change, as JSON; the running gateway mails the requester (and, for an
  approved access or portability request, assembles and releases the export;
  for an approved erasure, when ``anonymisation`` is on, anonymises the
  requester's cases first: approving an erasure it could not complete again
  says the rest was done by hand);
- ``requests export --policy P ID --out FILE``: the export assembled now, for
  the operator (the helpdesk's cases through its adapter).

Each is written to the audit log as ``cli:<user>`` (``--actor`` to name
someone else). Exit status 1 when the request is unknown or the change does
not apply (its message says why), 2 for a policy without the portal.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson

from ..store import Store, store_for
from . import lifecycle, operations
from .compiled import CompiledRequests, compile_requests
from .worker import default_adapter

T = TypeVar("T")


def _open(policy_path: str) -> tuple[CompiledRequests, Store]:
    from ..policy.loader import PolicyError, load_policy

    try:
        policy = load_policy(Path(policy_path)).policy
    except PolicyError as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(2) from None
    compiled = compile_requests(policy)
    if compiled is None:
        print("the policy has no data-subject request portal (requests.enabled is false)", file=sys.stderr)
        raise SystemExit(2)
    return compiled, store_for(policy.store)


def _run(store: Store, action: Callable[[Store], Awaitable[T]]) -> T:
    async def main() -> T:
        async with store:
            return await action(store)

    return asyncio.run(main())


def _print(doc: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")


def _actor(args: argparse.Namespace) -> str:
    return args.actor or f"cli:{getpass.getuser()}"


def _failed(exc: Exception) -> int:
    print(str(exc), file=sys.stderr)
    return 1


def cmd_list(args: argparse.Namespace) -> int:
    _, store = _open(args.policy)
    rows = _run(store, lambda s: operations.list_requests(s, open_only=not args.all))
    out = sys.stdout.buffer
    for row in rows:
        out.write(orjson.dumps(row) + b"\n")
    out.flush()
    print(f"{len(rows)} request{'s' if len(rows) != 1 else ''}", file=sys.stderr)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    compiled, store = _open(args.policy)
    try:
        _print(_run(store, lambda s: operations.show(compiled, s, args.request_id, actor=_actor(args))))
    except operations.NotFound as exc:
        return _failed(exc)
    return 0


def cmd_act(args: argparse.Namespace) -> int:
    compiled, store = _open(args.policy)
    try:
        doc = _run(store, lambda s: operations.act(s, args.request_id, args.requests_command, actor=_actor(args),
                                                   reason=getattr(args, "reason", "") or "",
                                                   days=getattr(args, "days", 0) or 0,
                                                   erase=compiled.erasure is not None))
    except (operations.NotFound, operations.Conflict, lifecycle.NotAllowed) as exc:
        return _failed(exc)
    _print(doc)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    compiled, store = _open(args.policy)
    settings = compiled.settings.helpdesk

    async def build(s: Store) -> bytes:
        adapter = default_adapter(settings) if settings is not None else None
        try:
            return await operations.export_now(compiled, s, args.request_id, adapter, actor=_actor(args))
        finally:
            if adapter is not None:
                await adapter.close()

    from ..helpdesks.base import HelpdeskError

    try:
        archive = _run(store, build)
    except (operations.NotFound, HelpdeskError) as exc:
        return _failed(exc)
    Path(args.out).write_bytes(archive)
    print(f"{args.out}: {len(archive)} bytes", file=sys.stderr)
    return 0


def add_requests_commands(sub: Any) -> None:
    """Add ``requests list|show|approve|refuse|extend|export`` to the main parser's subcommands."""
    parser = sub.add_parser("requests", help="data-subject requests: list, show, approve, refuse, extend, export")
    commands = parser.add_subparsers(dest="requests_command", required=True)

    def command(name: str, help_text: str, func: Callable[[argparse.Namespace], int], *,
                request: bool = True) -> argparse.ArgumentParser:
        cmd: argparse.ArgumentParser = commands.add_parser(name, help=help_text)
        cmd.add_argument("--policy", required=True, help="policy file or directory (store.url, requests)")
        cmd.add_argument("--actor", help="who, for the audit log (absent: cli:<your user name>)")
        if request:
            cmd.add_argument("request_id", help="DSR-XXXXX-XXXXX")
        cmd.set_defaults(func=func)
        return cmd

    listing = command("list", "open requests, newest first, as JSON lines", cmd_list, request=False)
    listing.add_argument("--all", action="store_true", help="fulfilled and refused ones too")
    command("show", "one request as JSON, with the requester's address and its audit log", cmd_show)
    command("approve", "approve: access and portability get their export, an erasure its cases anonymised (when "
            "anonymisation is on), others are fulfilled", cmd_act)
    refuse = command("refuse", "refuse, with the reason the requester is told", cmd_act)
    refuse.add_argument("--reason", required=True)
    extend = command("extend", "extend the deadline by up to 61 days in all, with the reason", cmd_act)
    extend.add_argument("--days", type=int, required=True)
    extend.add_argument("--reason", required=True)
    exporting = command("export", "assemble the export now and write the ZIP", cmd_export)
    exporting.add_argument("--out", required=True, help="the ZIP file to write")
