"""The machine description, medians and ratios, the printed table and the JSON file."""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from measure import WrkResult

NGINX = "nginx proxy"
# A minimal aiohttp pass-through (bench/minimal_proxy.py): what the framework alone costs.
MINIMAL = "aiohttp minimal proxy"


def _version(cmd: list[str]) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    out = (proc.stdout + proc.stderr).strip().splitlines()
    return out[0] if out else "unknown"


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from importlib.metadata import PackageNotFoundError, version

    import aiohttp

    try:
        loop = f"uvloop {version('uvloop')}"
    except PackageNotFoundError:
        loop = "asyncio"
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu_model": model,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_avg_before": os.getloadavg(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "aiohttp": aiohttp.__version__,
        "event_loop": loop,
        "nginx": _version(["nginx", "-v"]).replace("nginx version: ", ""),
        "wrk": _version(["wrk", "-v"]).split(" [")[0],
    }


def summarize(rounds: dict[str, list[WrkResult]]) -> dict[str, dict[str, Any]]:
    """Medians per target; the ratio is the median of per-round ratios to NGINX (same run, same round)."""
    out: dict[str, dict[str, Any]] = {}
    base = rounds.get(NGINX)
    for name, results in rounds.items():
        if not results:
            continue
        ratios = [r.rps / b.rps for r, b in zip(results, base or []) if b.rps]
        out[name] = {
            "rps": statistics.median(r.rps for r in results),
            "mb_s": statistics.median(r.mb_s for r in results),
            "p50_ms": statistics.median(r.p50_ms for r in results),
            "p99_ms": statistics.median(r.p99_ms for r in results),
            "cpu_us_per_req": statistics.median(r.cpu_us_per_req for r in results),
            "peak_rss_mib": max(r.peak_rss_mib for r in results),
            "ratio_to_nginx": statistics.median(ratios) if ratios else None,
            "non2xx": sum(r.non2xx for r in results),
            "socket_errors": sum(r.socket_errors for r in results),
            "rounds": [r.to_dict() for r in results],
        }
    return out


def _errors(row: dict[str, Any]) -> str:
    if not row["non2xx"] and not row["socket_errors"]:
        return "0"
    return f"{row['non2xx']} non-2xx, {row['socket_errors']} sock"


def table(result: dict[str, Any]) -> str:
    m, s = result["machine"], result["settings"]
    header = (f"{'target':24} {'body':>5} {'req/s':>9} {'MB/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'CPU µs/req':>10} "
              f"{'RSS MiB':>8} {'× nginx':>8}  errors")
    lines = [
        (f"{m['date']}  {m['cpu_model']}, {m['cores']} cores, Linux {m['kernel']}, Python {m['python']}, "
         f"aiohttp {m['aiohttp']} ({m['event_loop']}), {m['nginx']}, {m['wrk']}"),
        (f"wrk -t{s['threads']} -c{s['connections']} -d{s['duration']:g}s, {s['rounds']} interleaved round(s), "
         f"medians; NGINX {s['nginx_workers']} worker(s), proxy_buffers {s['nginx_proxy_buffers']}; "
         f"load before {m['load_avg_before'][0]:.2f}"),
        "",
        header,
    ]
    for key, body in (("small_page", "4 KiB"), ("body_1mib", "1 MiB")):
        for name, row in result[key].items():
            ratio = f"{row['ratio_to_nginx']:.2f}" if row["ratio_to_nginx"] is not None else "-"
            lines.append(
                f"{name:24} {body:>5} {row['rps']:9.0f} {row['mb_s']:8.1f} {row['p50_ms']:7.2f} {row['p99_ms']:7.2f} "
                f"{row['cpu_us_per_req']:10.0f} {row['peak_rss_mib']:8.1f} {ratio:>8}  {_errors(row)}"
            )
    mitm = result.get("mitmproxy")
    if isinstance(mitm, str):
        lines.append(f"{'mitmproxy':24} {'4 KiB':>5} {mitm}")
    rw = result["rewriter"]
    lines.append("")
    lines.append(f"link rewriter, in-process, 1 core: {rw['mb_s']:.0f} MB/s on a {rw['size_mib']:.0f} MiB "
                 f"{rw['page']} ({rw['links_per_mb']:.0f} external links/MB, stand-in signer of bench/rewriter.py)")
    st = result["streaming"]
    if st:
        size = f"{st['size_bytes'] / 2**30:.2f} GiB" if st["size_bytes"] >= 2**30 else f"{st['size_bytes'] / 2**20:.0f} MiB"
        lines.append(f"gateway RSS (1 worker): {st['rss_4k_mib']:.1f} MiB answering 4 KiB pages; streaming {size}:")
        for key, label in (("rewriting", "text/html, links rewritten"), ("plain", "octet-stream, not rewritten")):
            row = st[key]
            lines.append(f"  {label:30} peak {row['peak_rss_mib']:6.1f} MiB ({row['delta_mib']:+.1f} MiB), "
                         f"{row['mb_s']:.0f} MB/s end to end, status {row['status']}")
    for note in result["notes"]:
        lines.append(f"note: {note}")
    for name, value in result["targets"].items():
        lines.append(f"target {name}: {value}")
    for problem in result["problems"]:
        lines.append(f"PROBLEM: {problem}")
    return "\n".join(lines)


def write_json(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
