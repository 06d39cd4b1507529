"""Peak RSS of the gateway while a large upload streams through it.

Starts the demo helpdesk (its /upload counts bytes without keeping them) and
a one-worker gateway in front of it, uploads SIZE bytes in 256 KiB chunks and
samples the gateway's RSS every 50 ms.

    python bench/upload_rss.py [--mib 1024]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import AsyncIterator

import aiohttp
import psutil


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_port(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


async def body(total: int) -> AsyncIterator[bytes]:
    block = b"u" * (256 * 1024)
    sent = 0
    while sent < total:
        piece = block[: min(len(block), total - sent)]
        sent += len(piece)
        yield piece


async def main(mib: int) -> None:
    total = mib * 1024 * 1024
    helpdesk_port, gateway_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        policy = Path(tmp) / "policy.yaml"
        policy.write_text(
            f"listen: {{port: {gateway_port}}}\nadmin: {{enabled: false}}\n"
            f"upstream: {{url: 'http://127.0.0.1:{helpdesk_port}'}}\n"
            f"routes: [{{name: uploads, path: /upload, max_body_bytes: {total + 1}}}]\n"
            "logging: {access_log: false}\n"
        )
        helpdesk = subprocess.Popen([sys.executable, "-m", "gateway.demo.helpdesk", "--port", str(helpdesk_port)])
        gateway = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--policy", str(policy)])
        try:
            await wait_port(helpdesk_port)
            await wait_port(gateway_port)
            proc = psutil.Process(gateway.pid)
            idle_rss = proc.memory_info().rss
            peak = idle_rss
            done = asyncio.Event()

            async def sample() -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, proc.memory_info().rss)
                    await asyncio.sleep(0.05)

            sampler = asyncio.create_task(sample())
            started = time.perf_counter()
            async with aiohttp.ClientSession() as session:
                async with session.post(
                    f"http://127.0.0.1:{gateway_port}/upload", data=body(total),
                    headers={"Content-Type": "application/octet-stream"},
                ) as resp:
                    answer = await resp.text()
                    status = resp.status
            elapsed = time.perf_counter() - started
            done.set()
            await sampler
        finally:
            for p in (gateway, helpdesk):
                p.terminate()
                p.wait(30)
    mb = 1024 * 1024
    print(f"upload {mib} MiB through the gateway: status {status}, {total / elapsed / 1e6:.0f} MB/s")
    print(f"gateway RSS: {idle_rss / mb:.1f} MiB idle, peak {peak / mb:.1f} MiB (+{(peak - idle_rss) / mb:.1f} MiB)")
    print(f"helpdesk answered: {answer[:120]}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024)
    asyncio.run(main(parser.parse_args().mib))
