"""Where the gateway's CPU goes: one wrk load per policy variant, CPU µs per request each.

Starts the suite's NGINX upstream and, one after the other, a 1-worker gateway
per variant of the suite's full policy (each part switched off in turn), plus
the minimal aiohttp pass-through as the framework's floor. Each variant gets
the same wrk load on the 4 KiB page; rounds are interleaved and medians
printed. ``--py-spy DIR`` also records a py-spy profile of each gateway
(raw, collapsed stacks) for the last round.

    python bench/profile.py [--duration 5] [--rounds 3] [--variants full,no-links] [--py-spy out/]
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

VARIANTS: dict[str, tuple[str, ...]] = {
    # name: the policy sections switched off (see ``strip_sections``)
    "full": (),
    "no-access-log": ("access_log",),
    "no-links": ("links",),
    "no-consent": ("consent",),
    "firewall-only": ("links", "consent", "access_log"),
}


def strip_sections(policy: str, off: tuple[str, ...]) -> str:
    """The suite's policy with the named parts turned off (``enabled: false`` / ``access_log: false``)."""
    for part in off:
        if part == "access_log":
            policy, count = re.subn(r"access_log: true", "access_log: false", policy)
        else:
            policy, count = re.subn(rf"^{part}:\n  enabled: true", f"{part}:\n  enabled: false", policy, flags=re.M)
        if count != 1:  # the suite's policy changed shape: a variant must never silently measure the full policy
            raise SystemExit(f"cannot switch off {part!r} in bench/servers.py's policy")
    return policy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of: {', '.join(VARIANTS)}, minimal")
    parser.add_argument("--py-spy", type=Path, help="record a py-spy profile per variant into this directory")
    args = parser.parse_args()
    names = [n for n in args.variants.split(",") if n]
    unknown = [n for n in names if n not in VARIANTS and n != "minimal"]
    if unknown:
        parser.error(f"unknown variant(s): {', '.join(unknown)}")
    if args.py_spy and not shutil.which("py-spy"):
        parser.error("--py-spy needs py-spy on PATH (pip install py-spy)")

    from run import ensure_tools

    ensure_tools()
    from content import build_site
    from measure import WrkResult, run_wrk, write_lua
    from servers import Server, Servers, gateway_policy

    with tempfile.TemporaryDirectory(prefix="pgw-profile-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        www = build_site(root, 1024)
        lua = write_lua(root / "cookie.lua")
        with Servers(root) as servers:
            upstream = servers.nginx_upstream(www, 1)
            targets: dict[str, Server] = {}
            for name in names:
                if name == "minimal":
                    targets[name] = servers.aiohttp_minimal(upstream.port)
                    continue
                off = VARIANTS[name]

                def policy(root: Path, gw: str, port: int, admin: int, up: int, off: tuple[str, ...] = off) -> str:
                    return strip_sections(gateway_policy(root, gw, port, admin, up), off)

                targets[name] = servers.gateway(f"gw-{name}", upstream.port, 1, policy_text=policy)
            runs: dict[str, list[WrkResult]] = {name: [] for name in targets}
            for server in targets.values():
                run_wrk(server, "/page.html", duration=1, connections=args.connections, threads=2, lua=lua)
            for index in range(args.rounds):
                last = index == args.rounds - 1
                for name, server in targets.items():
                    spy = None
                    if last and args.py_spy:
                        args.py_spy.mkdir(parents=True, exist_ok=True)
                        pid = server.processes()[-1].pid
                        spy = subprocess.Popen(
                            ["py-spy", "record", "--pid", str(pid), "--duration", str(int(args.duration)),
                             "--format", "raw", "--rate", "250", "--nonblocking",
                             "--output", str(args.py_spy / f"{name}.txt")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    runs[name].append(run_wrk(server, "/page.html", duration=args.duration,
                                              connections=args.connections, threads=2, lua=lua))
                    if spy is not None:
                        spy.wait(timeout=60)
        print(f"{'variant':<16} {'req/s':>8} {'CPU µs/req':>11} {'p50 ms':>7} {'errors':>7}")
        for name, results in runs.items():
            rps = statistics.median(r.rps for r in results)
            cpu = statistics.median(r.cpu_us_per_req for r in results)
            p50 = statistics.median(r.p50_ms for r in results)
            errors = sum(r.non2xx + r.socket_errors for r in results)
            print(f"{name:<16} {rps:>8.0f} {cpu:>11.1f} {p50:>7.2f} {errors:>7}")
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    raise SystemExit(main())
