"""Command line: ``privacy-gateway {serve,check,schema,explain,demo}`` and the features' verbs."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Coroutine, Sequence

from . import __version__

if TYPE_CHECKING:
    from .policy.loader import LoadedPolicy

log = logging.getLogger("gateway")


def _use_uvloop(enabled: bool) -> None:
    if not enabled:
        return
    try:
        import uvloop
    except ImportError:
        log.info("uvloop not installed; using asyncio's event loop")
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def valid_policy(policy: str) -> LoadedPolicy | None:
    """The policy loaded and compiled as ``serve`` would; None once every error is printed on stderr."""
    from .metrics import Metrics
    from .policy.loader import PolicyError, load_policy
    from .runtime import Runtime

    try:
        loaded = load_policy(Path(policy))
        Runtime(loaded.policy, Metrics(), loaded.checksum)  # compiles every filter, like serve would
    except PolicyError as exc:
        print(str(exc), file=sys.stderr)
        count = len(exc.issues)
        print(f"{policy}: {count} error{'s' if count != 1 else ''}; policy is NOT valid", file=sys.stderr)
        return None
    except (ValueError, RuntimeError) as exc:  # a part that validated alone but cannot be compiled with the rest
        print(f"{policy}: {exc}", file=sys.stderr)
        print(f"{policy}: 1 error; policy is NOT valid", file=sys.stderr)
        return None
    return loaded


def cmd_check(args: argparse.Namespace) -> int:
    loaded = valid_policy(args.policy)
    if loaded is None:
        return 1
    print(f"{args.policy}: policy is valid (checksum {loaded.checksum[:12]}, {len(loaded.files)} file(s))")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from .policy.jsonschema import render_json_schema

    sys.stdout.write(render_json_schema())
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from .explain import explain
    from .policy.loader import PolicyError, load_policy

    try:
        loaded = load_policy(Path(args.policy))
    except PolicyError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    result = explain(
        loaded.policy, peer=args.peer, xff=args.xff or [], path=args.path,
        method=args.method.upper(), host=args.host,
    )
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(result.to_text())
    return 0


def _load_or_exit(policy_path: Path, default_upstream: str | None = None) -> object:
    from .policy.loader import PolicyError, load_policy

    try:
        return load_policy(policy_path, default_upstream=default_upstream)
    except PolicyError as exc:
        print(str(exc), file=sys.stderr)
        print(f"{policy_path}: refusing to start on an invalid policy", file=sys.stderr)
        raise SystemExit(1) from None


def cmd_serve(args: argparse.Namespace) -> int:
    from .http.framing import ParserError, require_compiled_parser
    from .logs import setup_logging
    from .policy.loader import LoadedPolicy
    from .server import Gateway

    policy_path = Path(args.policy)
    loaded = _load_or_exit(policy_path)
    assert isinstance(loaded, LoadedPolicy)
    setup_logging(loaded.policy.logging.level)
    try:
        require_compiled_parser()
    except ParserError as exc:
        log.critical(str(exc))
        return 2
    if args.workers > 1:
        from .workers import run_workers

        return run_workers(args, loaded)
    _use_uvloop(not args.no_uvloop)

    async def main() -> None:
        from .workers import is_worker

        gateway = Gateway(loaded, policy_path=policy_path)
        # A worker of `--workers N` leaves the admin listener to its supervisor.
        await gateway.serve_forever(reuse_port=args.reuse_port, admin=not is_worker())

    return _run_serving(main)


def _run_serving(main: Callable[[], Coroutine[Any, Any, None]]) -> int:
    """Run the server; a resource that cannot be had at start is one clear line, not a traceback."""
    from .store import StoreError

    try:
        asyncio.run(main())
    except StoreError as exc:
        log.critical("cannot open the state store (store.url): %s", exc)
        return 1
    except OSError as exc:
        log.critical("cannot listen: %s", exc)
        return 1
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo.helpdesk import start_helpdesk
    from .demo.mail import MailSink
    from .logs import setup_logging
    from .policy.loader import LoadedPolicy
    from .server import Gateway

    policy_path = Path(args.policy)
    host = f"[{args.helpdesk_host}]" if ":" in args.helpdesk_host else args.helpdesk_host
    helpdesk_url = f"http://{host}:{args.helpdesk_port}"
    # Only here is there a helpdesk to default to: a policy may leave upstream.url out.
    loaded = _load_or_exit(policy_path, default_upstream=helpdesk_url)
    assert isinstance(loaded, LoadedPolicy)
    setup_logging(loaded.policy.logging.level)
    if loaded.policy.upstream.url != helpdesk_url:
        log.warning("upstream.url is not the demo helpdesk; requests go to the policy's upstream",
                    extra={"fields": {"upstream": loaded.policy.upstream.url, "helpdesk": helpdesk_url}})
    _use_uvloop(not args.no_uvloop)

    smtp = loaded.policy.notifications.smtp if loaded.policy.notifications.enabled else None
    # The portal's cases reach the demo helpdesk by a signed webhook; it checks the signature with the same secret.
    hook = loaded.policy.requests.helpdesk if loaded.policy.requests.enabled else None
    webhook_secret = hook.secret.encode() if hook is not None and hook.adapter == "webhook" and hook.secret else None
    # Anonymisation reaches the demo helpdesk's django-helpdesk API with a token; it checks the same token.
    desk = loaded.policy.anonymisation.helpdesk
    api_token = desk.token if desk is not None and desk.adapter == "django-helpdesk" else None
    egress = loaded.policy.notifications.egress if loaded.policy.notifications.enabled else None
    # The demo helpdesk sends SendGrid calls to the egress listener and stands in for SendGrid behind it.
    sendgrid = next((f"http://{egress.listen.host}:{egress.listen.port}{route.path_prefix.rstrip('/')}"
                     for route in egress.routes if route.provider == "sendgrid"), None) if egress else None

    async def main() -> None:
        # The relay's smarthost is the demo's sink; the helpdesk sends its notifications to the relay.
        sink = await MailSink().start(smtp.upstream.host, smtp.upstream.port) if smtp is not None else None
        relay = (smtp.listen.host, smtp.listen.port) if smtp is not None else None
        helpdesk = await start_helpdesk(args.helpdesk_host, args.helpdesk_port, relay=relay, outbox=sink,
                                        egress=sendgrid, webhook_secret=webhook_secret, api_token=api_token)
        try:
            gateway = Gateway(loaded, policy_path=policy_path, default_upstream=helpdesk_url)
            mail = f", SMTP relay on {smtp.listen.host}:{smtp.listen.port}" if smtp is not None else ""
            if egress is not None:
                mail += f", egress listener on {egress.listen.host}:{egress.listen.port}"
            if loaded.policy.requests.enabled:
                mail += f", data-subject requests at {loaded.policy.requests.prefix}"
            if api_token is not None:
                mail += f", its django-helpdesk API at {helpdesk_url}/helpdesk/api/"
            print(
                f"demo helpdesk on http://{args.helpdesk_host}:{args.helpdesk_port}, "
                f"gateway on http://{loaded.policy.listen.host}:{loaded.policy.listen.port}, "
                f"admin on http://{loaded.policy.admin.host}:{loaded.policy.admin.port}/metrics{mail}",
                file=sys.stderr, flush=True,
            )
            await gateway.serve_forever()
        finally:
            await helpdesk.cleanup()
            if sink is not None:
                await sink.stop()

    return _run_serving(main)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="privacy-gateway", description="GDPR privacy gateway for helpdesks")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", help="validate a policy file or directory; print every error")
    check.add_argument("policy")
    check.set_defaults(func=cmd_check)

    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--policy", required=True, help="policy file or directory")
    serve.add_argument("--workers", type=int, default=1, help="processes sharing the port (SO_REUSEPORT)")
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    serve.add_argument("--no-uvloop", action="store_true", help="use asyncio's own event loop")
    serve.set_defaults(func=cmd_serve)

    schema = sub.add_parser("schema", help="print the policy's JSON Schema")
    schema.set_defaults(func=cmd_schema)

    exp = sub.add_parser("explain", help="show how the firewall decides a request")
    exp.add_argument("--policy", required=True)
    exp.add_argument("--peer", required=True, help="socket peer address")
    exp.add_argument("--xff", action="append", help="an X-Forwarded-For header value (repeat for several headers)")
    exp.add_argument("--path", default="/")
    exp.add_argument("--method", default="GET")
    exp.add_argument("--host", default="")
    exp.add_argument("--json", action="store_true")
    exp.set_defaults(func=cmd_explain)

    demo = sub.add_parser("demo", help="run the built-in demo helpdesk behind the gateway")
    demo.add_argument("--policy", default="policies/demo.yaml")
    demo.add_argument("--helpdesk-host", default="127.0.0.1")
    demo.add_argument("--helpdesk-port", type=int, default=8081)
    demo.add_argument("--no-uvloop", action="store_true")
    demo.set_defaults(func=cmd_demo)

    from .links.cli import add_link_commands

    add_link_commands(sub)
    from .consent.cli import add_consent_commands

    add_consent_commands(sub)
    from .legal.cli import add_legal_basis_commands

    add_legal_basis_commands(sub)
    from .anonymise.cli import add_cases_commands

    add_cases_commands(sub)
    from .requests.cli import add_requests_commands

    add_requests_commands(sub)
    from .checklist.cli import add_checklist_command

    add_checklist_command(sub, load=valid_policy)
    return parser


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a writer its reader left


def stdout_closed() -> int:
    """The reader of the output went away (``… | head``): stop quietly, like a tool killed by SIGPIPE.

    Python ignores SIGPIPE, so a write to a closed pipe raises instead. Pointing
    stdout at /dev/null keeps the interpreter's final flush from raising the
    same error again on the way out.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file descriptor (captured, replaced)
        pass
    return EXIT_BROKEN_PIPE


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status = int(args.func(args))
        sys.stdout.flush()  # here, not at exit, where a closed pipe could only be reported
        return status
    except BrokenPipeError:  # every command that prints: export, receipts, links, schema, explain
        return stdout_closed()


if __name__ == "__main__":
    sys.exit(main())
