"""The benchmark suite: the gateway with its full policy next to NGINX, on this machine, in one command.

    python bench/run.py [--duration 10] [--rounds 3] [--connections 64] [--mitmproxy] [--json bench/results.json]

Starts NGINX as a static upstream (a 4 KiB page with 6 external links and 2
Set-Cookie headers, a 1 MiB binary, a 1 GiB HTML file), NGINX as a
``proxy_pass`` reverse proxy, the gateway on 1 and 2 workers with the full
policy (firewall, cookie consent, link signing, metrics, access log to a file)
and, with ``--mitmproxy``, mitmdump in reverse mode from a throw-away venv.
Then runs wrk in interleaved rounds and prints one table of medians with
ratios to the NGINX proxy of the same run, the link rewriter's MB/s and the
gateway's RSS while streaming 1 GiB. Everything started is stopped; the
results are also written as JSON. See bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


def ensure_tools() -> None:
    """wrk and NGINX from Debian's packages (as root), psutil from PyPI, when missing."""
    if not (shutil.which("wrk") and shutil.which("nginx")):
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            raise SystemExit("wrk and nginx are needed: apt-get install wrk nginx-light (as root)")
        # RUNLEVEL=1: the package's scripts must not start a system NGINX on port 80.
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", RUNLEVEL="1")
        install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"]
        for packages in (["nginx-light"], ["nginx"]):
            if subprocess.run(install + packages, env=env, timeout=600, check=False).returncode == 0:
                break
            subprocess.run(["apt-get", "update", "-qq"], env=env, timeout=600, check=False)
            if subprocess.run(install + packages, env=env, timeout=600, check=False).returncode == 0:
                break
        if not (shutil.which("wrk") and shutil.which("nginx")):
            raise SystemExit("could not install wrk and nginx with apt-get")
    try:
        import psutil  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "psutil"], check=True, timeout=600)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are printed (default 3)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--nginx-workers", type=int, default=os.cpu_count() or 1,
                        help="worker processes of each NGINX (default: one per core)")
    parser.add_argument("--nginx-proxy-buffers", metavar="'N SIZE'",
                        help="proxy_buffers of the NGINX proxy, e.g. '16 64k' (default: NGINX's own, 8 4k)")
    parser.add_argument("--mitmproxy", action="store_true", help="also measure mitmproxy (pip-installed into a temp venv)")
    parser.add_argument("--json", type=Path, default=HERE / "results.json", help="where to write the results")
    parser.add_argument("--smoke", action="store_true",
                        help="a quick check of the harness: 1 s runs, 1 round, upstream and a 1-worker gateway only")
    args = parser.parse_args(argv)
    if args.smoke:
        args.duration, args.rounds, args.mitmproxy = 1, 1, False
    return args


def install_mitmproxy(root: Path) -> Path | str:
    """mitmdump from ``pip install mitmproxy`` in a venv of its own, or why it is unavailable."""
    venv = root / "mitmproxy-venv"
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "mitmproxy"], check=True, capture_output=True,
                       timeout=900)
    except subprocess.CalledProcessError as exc:
        last = (exc.stderr or b"").decode(errors="replace").strip().splitlines()[-1:]
        return f"unavailable (pip install mitmproxy failed: {' '.join(last)[:200]})"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    return venv / "bin" / "mitmdump"


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the servers


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ensure_tools()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    from report import machine, table, write_json

    result: dict[str, Any] = {
        "machine": machine(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "settings": {"duration": args.duration, "rounds": args.rounds, "connections": args.connections,
                     "threads": args.threads, "nginx_workers": args.nginx_workers, "smoke": args.smoke,
                     "nginx_proxy_buffers": args.nginx_proxy_buffers or "8 4k (NGINX default)",
                     "consent_banner": False},
        "notes": [], "problems": [], "targets": {}, "checks": {}, "mitmproxy": None,
    }
    result["date"] = result["machine"]["date"]
    if result["machine"]["load_avg_before"][0] > 0.5 * (os.cpu_count() or 1):
        result["notes"].append(f"the machine was busy before the run (load {result['machine']['load_avg_before'][0]:.2f})")
    with tempfile.TemporaryDirectory(prefix="pgw-bench-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # NGINX's workers run unprivileged and must read the files
        bench(args, root, result)
    print(table(result))
    write_json(args.json, result)
    print(f"results: {args.json}")
    return 0


def bench(args: argparse.Namespace, root: Path, result: dict[str, Any]) -> None:
    from content import big_size, build_site
    from measure import WrkResult, run_wrk, write_lua
    from report import MINIMAL, NGINX, summarize
    from servers import Server, Servers

    mitmdump: Path | str | None = None
    if args.mitmproxy:
        print("installing mitmproxy into a temporary venv ...", flush=True)
        mitmdump = install_mitmproxy(root)
    big, note = (16 * 2**20, None) if args.smoke else big_size(root)
    if note:
        print(f"note: {note}", flush=True)
        result["notes"].append(note)
    www = build_site(root, big)
    lua = write_lua(root / "cookie.lua")

    with Servers(root) as servers:
        upstream = servers.nginx_upstream(www, args.nginx_workers)
        small: dict[str, Server] = {"upstream (nginx direct)": upstream}
        if not args.smoke:
            small[NGINX] = servers.nginx_proxy(upstream.port, args.nginx_workers, args.nginx_proxy_buffers)
        gateways = {"gateway, 1 worker": servers.gateway("gateway-1w", upstream.port, 1)}
        if not args.smoke:
            gateways["gateway, 2 workers"] = servers.gateway("gateway-2w", upstream.port, 2)
        small.update(gateways)
        if not args.smoke:
            small[MINIMAL] = servers.aiohttp_minimal(upstream.port)
        large = dict(small)  # 1 MiB bodies: every target but mitmproxy
        if isinstance(mitmdump, Path):
            try:
                small["mitmproxy"] = servers.mitmproxy(mitmdump, upstream.port)
            except RuntimeError as exc:
                mitmdump = f"unavailable (did not start: {str(exc)[:200]})"
        if isinstance(mitmdump, str):
            result["mitmproxy"] = mitmdump
        result["checks"] = check_targets(small, gateways, www, result["problems"])

        def wrk(server: Server, path: str, duration: int) -> WrkResult:
            return run_wrk(server, path, duration=duration, connections=args.connections, threads=args.threads, lua=lua)

        warm = 1 if args.smoke else 2
        print(f"warming up, then {args.rounds} round(s) of {len(small) + len(large)} wrk runs "
              f"of {args.duration}s ...", flush=True)
        for server in small.values():
            wrk(server, "/page.html", warm)
        for server in large.values():
            wrk(server, "/files/1m.bin", warm)
        page_runs: dict[str, list[WrkResult]] = {name: [] for name in small}
        bin_runs: dict[str, list[WrkResult]] = {name: [] for name in large}
        for index in range(args.rounds):
            for runs, targets, path in ((page_runs, small, "/page.html"), (bin_runs, large, "/files/1m.bin")):
                names = list(targets)
                shift = index % len(names)  # rotate the order so no target always runs first
                for name in names[shift:] + names[:shift]:
                    runs[name].append(wrk(targets[name], path, args.duration))
            print(f"  round {index + 1}/{args.rounds} done", flush=True)
        result["small_page"] = summarize(page_runs)
        result["body_1mib"] = summarize(bin_runs)
        for key in ("small_page", "body_1mib"):
            for name, row in result[key].items():
                rates = [r["rps"] for r in row["rounds"]]
                if len(rates) > 1 and min(rates) and max(rates) / min(rates) > 1.2:
                    result["notes"].append(
                        f"{name}, {key}: rounds differ by {max(rates) / min(rates) - 1:.0%} ({min(rates):.0f}-"
                        f"{max(rates):.0f} req/s); something else probably used the CPU")
                if row["non2xx"] or row["socket_errors"]:
                    result["problems"].append(f"{name}, {key}: {row['non2xx']} non-2xx responses, "
                                              f"{row['socket_errors']} socket errors: not a valid result")
        # wrk drops up to one request per connection at the end of each run: the gateway counts those too.
        cut = args.connections * 2 * (args.rounds + 1)
        result["checks"]["filters_per_request"] = check_filters(gateways, root, cut, result["problems"])
        servers.stop_all()

        print(f"streaming {big / 2**20:.0f} MiB through a fresh 1-worker gateway ...", flush=True)
        upstream = servers.nginx_upstream(www, args.nginx_workers)
        result["streaming"] = streaming(servers.gateway("gateway-stream", upstream.port, 1), big, result["problems"])
    print("link rewriter, in process ...", flush=True)
    result["rewriter"] = rewriter_speed(1 if args.smoke else 5, 1 if args.smoke else 3)
    result["targets"] = evaluate(result)


def check_targets(small: dict[str, Any], gateways: dict[str, Any], www: Path, problems: list[str]) -> dict[str, Any]:
    """Each target answers the page; each gateway signs its 6 links, drops the _ga Set-Cookie, passes the binary."""
    from content import EXTERNAL_LINKS
    from measure import fetch

    checks: dict[str, Any] = {}
    binary = hashlib.sha256((www / "files" / "1m.bin").read_bytes()).hexdigest()
    for name, server in small.items():
        status, headers, body = fetch(server.port, "/page.html")
        cookies = [v.split("=", 1)[0] for k, v in headers if k.lower() == "set-cookie"]
        checks[name] = row = {"status": status, "bytes": len(body), "signed_links": body.count(b"/_l/"),
                              "set_cookies": cookies}
        if status != 200:
            problems.append(f"{name}: GET /page.html answered {status}")
        if name in gateways:
            b_status, _, b_body = fetch(server.port, "/files/1m.bin")
            row["binary_intact"] = b_status == 200 and hashlib.sha256(b_body).hexdigest() == binary
            if row["signed_links"] != len(EXTERNAL_LINKS):
                problems.append(f"{name}: {row['signed_links']} signed links in the page, expected {len(EXTERNAL_LINKS)}")
            if cookies != ["sessionid"]:
                problems.append(f"{name}: Set-Cookie {cookies}, expected only sessionid (_ga refused)")
            if not row["binary_intact"]:
                problems.append(f"{name}: the 1 MiB binary did not come through intact (status {b_status})")
    return checks


def check_filters(gateways: dict[str, Any], root: Path, cut: int, problems: list[str]) -> dict[str, Any]:
    """From each gateway's metrics and access log: the privacy work was done on every request of the run.

    ``cut`` requests may have been abandoned by wrk mid-response (counted, body not rewritten to the end).
    """
    from content import EXTERNAL_LINKS
    from measure import metric_sum, scrape

    out: dict[str, Any] = {}
    for name, server in gateways.items():
        values = scrape(server.admin_port)
        total = metric_sum(values, "privacy_gateway_requests_total")
        pages = metric_sum(values, "privacy_gateway_requests_total", route="default")
        log = root / f"{server.name}.access.log"
        with log.open("rb") as fh:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(2**20), b""))
        row = {
            "requests": total,
            "analytics_cookies_removed_per_request": metric_sum(
                values, "privacy_gateway_consent_cookies_removed_total", direction="request") / max(total, 1),
            "links_signed_per_page": metric_sum(
                values, "privacy_gateway_links_rewritten_total", action="sign") / max(pages, 1),
            "firewall_decisions_per_request": metric_sum(
                values, "privacy_gateway_firewall_decisions_total", mode="enforce") / max(total, 1),
            "access_log_lines_per_request": lines / max(total, 1),
            "access_log_mib": log.stat().st_size / 2**20,
        }
        out[name] = row
        for key, want in (("analytics_cookies_removed_per_request", 1.0), ("links_signed_per_page", len(EXTERNAL_LINKS)),
                          ("access_log_lines_per_request", 1.0)):
            slack = 0.01 + cut / max(pages if key == "links_signed_per_page" else total, 1)
            if abs(row[key] - want) > slack * want:
                problems.append(f"{name}: {key} = {row[key]:.3f}, expected {want}")
    return out


def streaming(gateway: Any, size: int, problems: list[str]) -> dict[str, Any]:
    """Peak RSS of a fresh 1-worker gateway: 4 KiB pages, then the big body without and with rewriting."""
    from measure import rss_during_small_requests, stream

    base = rss_during_small_requests(gateway, "/page.html", 200)
    out: dict[str, Any] = {"size_bytes": size, "rss_4k_mib": base}
    timeout = max(120.0, size / 5e6)  # gives up below 5 MB/s
    for key, path in (("plain", "/files/big.bin"), ("rewriting", "/big/big.html")):
        row = stream(gateway, path, timeout).to_dict()
        row["delta_mib"] = row["peak_rss_mib"] - base
        out[key] = row
        if row["status"] != 200 or row["received"] < size:
            problems.append(f"streaming {path}: status {row['status']}, {row['received']} bytes of {size}")
        if key == "rewriting" and not row["signed_links_seen"]:
            problems.append(f"streaming {path}: no signed link seen in the body (was it rewritten?)")
    return out


def rewriter_speed(size_mib: int, rounds: int) -> dict[str, Any]:
    """bench/rewriter.py's ticket thread (few links), fed in 64 KiB chunks: best of ``rounds``, MB/s."""
    from rewriter import decide, run, ticket_thread

    from gateway.rewrite.html import HtmlLinkRewriter

    page = ticket_thread(size_mib * 2**20)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run(lambda: HtmlLinkRewriter(decide), page)
        best = min(best, time.perf_counter() - start)
    return {"page": "ticket thread, few links", "size_mib": len(page) / 2**20, "mb_s": len(page) / best / 1e6,
            "links_per_mb": page.count(b"https://tracking.example") / (len(page) / 1e6)}


def evaluate(result: dict[str, Any]) -> dict[str, str]:
    """The targets of issue 4, for the gateway on 2 workers (1 in --smoke)."""
    def verdict(value: float | None, goal: float, fmt: str, below: bool = False) -> str:
        if value is None:
            return "not measured"
        met = value <= goal if below else value >= goal
        return f"{fmt.format(value)} ({'≤' if below else '≥'} {fmt.format(goal)}) {'met' if met else 'NOT MET'}"

    name = "gateway, 2 workers" if "gateway, 2 workers" in result["small_page"] else "gateway, 1 worker"
    small, large = result["small_page"].get(name, {}), result["body_1mib"].get(name, {})
    mitm = result["small_page"].get("mitmproxy")
    out = {
        "small page vs NGINX": verdict(small.get("ratio_to_nginx"), 0.25, "{:.2f}×"),
        "small page vs mitmproxy": verdict(small["rps"] / mitm["rps"] if mitm and small else None, 10, "{:.1f}×"),
        "1 MiB vs NGINX": verdict(large.get("ratio_to_nginx"), 0.95, "{:.2f}×"),
        "link rewriter": verdict(result["rewriter"]["mb_s"], 100, "{:.0f} MB/s"),
    }
    st = result.get("streaming") or {}
    for key in ("plain", "rewriting"):
        if key in st:
            out[f"RSS flat, {key}"] = verdict(st[key]["delta_mib"], 10, "{:+.1f} MiB", below=True)
    return out


if __name__ == "__main__":
    sys.exit(main())
