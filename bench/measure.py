"""Measurements: wrk runs, CPU time and RSS of a server's processes, a single streamed body.

``Usage`` samples the summed RSS of a server's processes every 20 ms on a
thread and takes their CPU time (user + system, from psutil) before and
after, so CPU µs per request covers the server's own processes only (the
proxy, not the upstream behind it).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from content import REQUEST_COOKIE
from servers import Server

MIB = 2**20
SAMPLE_EVERY = 0.02

LUA = """\
wrk.headers["Cookie"] = "%s"
wrk.headers["Accept"] = "text/html,application/xhtml+xml,*/*;q=0.8"
wrk.headers["Accept-Language"] = "en-GB,en;q=0.9"
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) bench/1.0"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "bytes": %%d, "connect": %%d, "read": %%d, '
    .. '"write": %%d, "status": %%d, "timeout": %%d, "p50_us": %%d, "p99_us": %%d, "max_us": %%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
""" % REQUEST_COOKIE


def write_lua(path: Path) -> Path:
    path.write_text(LUA)
    return path


class Usage:
    """CPU seconds and peak summed RSS of a server's process tree over a ``with`` block."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.procs = server.processes()
        self.peak_rss = 0
        self.cpu_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _cpu(self) -> float:
        total = 0.0
        for proc in self.procs:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total

    def _rss(self) -> int:
        total = 0
        for proc in self.procs:
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss, self._rss())
            self._stop.wait(SAMPLE_EVERY)

    def __enter__(self) -> Usage:
        self._start = self._cpu()
        self.peak_rss = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_rss = max(self.peak_rss, self._rss())
        self.cpu_s = self._cpu() - self._start


@dataclass
class WrkResult:
    requests: int
    seconds: float
    bytes: int
    p50_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: int
    cpu_us_per_req: float
    peak_rss_mib: float
    errors_detail: dict[str, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def mb_s(self) -> float:
        return self.bytes / self.seconds / 1e6 if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"rps": self.rps, "mb_s": self.mb_s, **self.__dict__}


def run_wrk(server: Server, path: str, *, duration: float, connections: int, threads: int, lua: Path) -> WrkResult:
    url = f"http://127.0.0.1:{server.port}{path}"
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s", "--timeout", "10s",
           "-s", str(lua), url]
    with Usage(server) as usage:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    match = re.search(r"^WRKJSON (\{.*\})$", proc.stdout, re.MULTILINE)
    if proc.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed against {server.name} ({url}): {proc.stdout}\n{proc.stderr}")
    raw = json.loads(match.group(1))
    errors = {k: int(raw[k]) for k in ("connect", "read", "write", "timeout")}
    requests = int(raw["requests"])
    return WrkResult(
        requests=requests, seconds=raw["duration_us"] / 1e6, bytes=int(raw["bytes"]),
        p50_ms=raw["p50_us"] / 1e3, p99_ms=raw["p99_us"] / 1e3, non2xx=int(raw["status"]),
        socket_errors=sum(errors.values()), errors_detail=errors,
        cpu_us_per_req=usage.cpu_s * 1e6 / requests if requests else float("nan"),
        peak_rss_mib=usage.peak_rss / MIB,
    )


def fetch(port: int, path: str, timeout: float = 10) -> tuple[int, list[tuple[str, str]], bytes]:
    """One GET with the benchmark's Cookie header: status, headers, body."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Cookie": REQUEST_COOKIE})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, list(response.headers.items()), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, list(exc.headers.items()), exc.read()


@dataclass
class StreamResult:
    status: int
    received: int
    seconds: float
    peak_rss_mib: float
    signed_links_seen: bool

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "mb_s": self.received / self.seconds / 1e6 if self.seconds else 0.0}


def stream(server: Server, path: str, timeout: float) -> StreamResult:
    """GET ``path`` once over a raw socket, reading and discarding the body, while sampling the server's RSS."""
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nCookie: {REQUEST_COOKIE}\r\n"
               "Accept: text/html\r\nConnection: close\r\n\r\n").encode()
    deadline = time.monotonic() + timeout
    received, status, seen, head = 0, 0, False, b""
    with Usage(server) as usage:
        start = time.perf_counter()
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
            sock.sendall(request)
            buffer = bytearray(MIB)
            while True:
                n = sock.recv_into(buffer)
                if not n:
                    break
                if not head:
                    head = bytes(buffer[:64])
                    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
                if not seen and b"/_l/" in buffer[:n]:
                    seen = True
                received += n
                if time.monotonic() > deadline:
                    raise TimeoutError(f"streaming {path} from {server.name} took over {timeout:.0f}s")
        seconds = time.perf_counter() - start
    return StreamResult(status, received, seconds, usage.peak_rss / MIB, seen)


def rss_during_small_requests(server: Server, path: str, count: int) -> float:
    """Peak RSS (MiB) of the server while it answers ``count`` sequential small requests."""
    with Usage(server) as usage:
        for _ in range(count):
            fetch(server.port, path)
    return usage.peak_rss / MIB


def scrape(admin_port: int) -> dict[str, float]:
    """The gateway's Prometheus metrics, summed per name+labels (``name{labels}`` -> value)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=10) as response:
        text = response.read().decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            try:
                values[key] = values.get(key, 0.0) + float(value)
            except ValueError:
                pass
    return values


def metric_sum(values: dict[str, float], name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for key, value in values.items():
        metric, _, rest = key.partition("{")
        if metric != name:
            continue
        if all(f'{k}="{v}"' in rest for k, v in labels.items()):
            total += value
    return total
