"""Requests/s and latency of the gateway (firewall on) next to its upstream reached directly.

Needs ``wrk`` and ``nginx`` (Debian packages). NGINX serves a ~4 KiB page as
the fast upstream; the gateway runs with a firewall policy in front of it.
Rounds are interleaved (upstream, gateway, upstream, …) and medians printed.

    python bench/wrk_gateway.py [--duration 10] [--rounds 3] [--connections 64] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PAGE = ("<!doctype html><html><head><title>Ticket</title></head><body>"
        + "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>" * 60
        + "</body></html>")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port}")


def start_nginx(root: Path, port: int) -> subprocess.Popen[bytes]:
    (root / "www").mkdir(mode=0o755)
    (root / "www" / "page.html").write_text(PAGE)
    (root / "www" / "page.html").chmod(0o644)
    conf = root / "nginx.conf"
    conf.write_text(f"""
worker_processes 1; daemon off; pid {root}/nginx.pid; error_log {root}/error.log;
events {{ worker_connections 4096; }}
http {{ access_log off; client_body_temp_path {root}/tmp; proxy_temp_path {root}/tmp;
  fastcgi_temp_path {root}/tmp; uwsgi_temp_path {root}/tmp; scgi_temp_path {root}/tmp;
  server {{ listen 127.0.0.1:{port}; root {root}/www; keepalive_requests 1000000; }} }}
""")
    (root / "tmp").mkdir()
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(root)])
    wait_port(port)
    return proc


def start_gateway(root: Path, port: int, upstream_port: int, workers: int) -> subprocess.Popen[bytes]:
    policy = root / "policy.yaml"
    policy.write_text(f"""
listen: {{host: 127.0.0.1, port: {port}}}
admin: {{host: 127.0.0.1, port: {free_port()}}}
upstream: {{url: "http://127.0.0.1:{upstream_port}", max_connections: 256}}
ip_lists:
  office: [192.0.2.0/24, "2001:db8:1::/48", 198.51.100.10-198.51.100.40]
firewall:
  default: allow
  rules:
    - {{name: agent-area, path: /agent/, allow: [office]}}
    - {{name: admin, path: /admin/, allow: [office], status: 404}}
logging: {{access_log: false}}
""")
    cmd = [sys.executable, "-m", "gateway", "serve", "--policy", str(policy), "--workers", str(workers)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    time.sleep(0.5 * workers)
    return proc


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def run_wrk(url: str, duration: int, connections: int, threads: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency", url],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = {}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)", out, re.M)
        lat[pct] = float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": lat["50"], "p99_ms": lat["99"], "non2xx": float(errors.group(1)) if errors else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not installed (apt-get install wrk nginx-light)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # NGINX workers run as an unprivileged user and must read the page
        up_port, gw_port = free_port(), free_port()
        nginx = start_nginx(root, up_port)
        gateway = start_gateway(root, gw_port, up_port, args.workers)
        targets = {"upstream (nginx, direct)": up_port, f"gateway ({args.workers} worker)": gw_port}
        results: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        try:
            for name, port in targets.items():  # warm-up
                run_wrk(f"http://127.0.0.1:{port}/page.html", 2, args.connections, args.threads)
            for _ in range(args.rounds):
                for name, port in targets.items():
                    results[name].append(run_wrk(f"http://127.0.0.1:{port}/page.html", args.duration, args.connections, args.threads))
        finally:
            gateway.send_signal(signal.SIGTERM)
            nginx.send_signal(signal.SIGQUIT)
            gateway.wait(30)
            nginx.wait(30)
    print(f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s, {args.rounds} interleaved rounds, medians; "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"{'target':32} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    summary = {}
    for name, rounds in results.items():
        med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
        summary[name] = med
        print(f"{name:32} {med['rps']:10.0f} {med['p50_ms']:8.2f} {med['p99_ms']:8.2f} {med['non2xx']:8.0f}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
