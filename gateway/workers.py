"""``serve --workers N``: N processes sharing the public port via SO_REUSEPORT.

The supervisor serves the admin listener itself, with metrics aggregated
from every worker through prometheus-client's multiprocess mode, forwards
SIGHUP (reload) and SIGTERM (drain) to the workers, and restarts a worker
that dies unexpectedly.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web

from .policy.loader import LoadedPolicy

log = logging.getLogger("gateway.workers")

WORKER_ENV = "PRIVACY_GATEWAY_WORKER"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_KILL_AFTER_DRAIN = 3.0


def is_worker() -> bool:
    return bool(os.environ.get(WORKER_ENV))


class _Supervisor:
    def __init__(self, args: argparse.Namespace, loaded: LoadedPolicy, metrics_dir: str) -> None:
        self.args = args
        self.count = args.workers
        self.metrics_dir = metrics_dir
        self.policy_path = Path(args.policy)
        self.procs: dict[int, asyncio.subprocess.Process] = {}
        self.stopping = False
        # The admin listener needs a policy (explain, readiness) and the aggregated registry.
        from prometheus_client import CollectorRegistry
        from prometheus_client.multiprocess import MultiProcessCollector

        from .metrics import Metrics
        from .runtime import Runtime

        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=metrics_dir)  # type: ignore[no-untyped-call]
        self.metrics = Metrics(CollectorRegistry())
        self.metrics.registry = registry
        self.runtime = Runtime(loaded.policy, self.metrics, loaded.checksum)

    async def spawn(self, index: int) -> None:
        env = dict(os.environ, **{WORKER_ENV: str(index), MULTIPROC_ENV: self.metrics_dir})
        cmd = [sys.executable, "-m", "gateway", "serve", "--policy", str(self.policy_path), "--reuse-port"]
        if self.args.no_uvloop:
            cmd.append("--no-uvloop")
        self.procs[index] = await asyncio.create_subprocess_exec(*cmd, env=env)
        log.info("worker started", extra={"fields": {"worker": index, "pid": self.procs[index].pid}})

    async def watch(self, index: int) -> None:
        failures: list[float] = []
        while not self.stopping:
            code = await self.procs[index].wait()
            if self.stopping:
                return
            failures = [t for t in failures if time.monotonic() - t < 60] + [time.monotonic()]
            log.error("worker exited; restarting", extra={"fields": {"worker": index, "code": code}})
            await asyncio.sleep(min(2 ** len(failures) * 0.1, 10))
            await self.spawn(index)

    def signal_all(self, sig: signal.Signals) -> None:
        for proc in self.procs.values():
            if proc.returncode is None:
                proc.send_signal(sig)

    async def reload(self) -> None:
        from .policy.loader import SETTLE_SECONDS, PolicyError, load_policy
        from .runtime import Runtime

        self.signal_all(signal.SIGHUP)
        try:
            loaded = await asyncio.to_thread(load_policy, self.policy_path, settle=SETTLE_SECONDS)
            self.runtime = Runtime(loaded.policy, self.metrics, loaded.checksum)
        except PolicyError:
            pass  # each worker logs and counts its own failed reload

    async def run(self) -> int:
        from .admin import make_admin_app

        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))
        policy = self.runtime.policy
        admin_runner = None
        if policy.admin.enabled:
            admin_runner = web.AppRunner(make_admin_app(self), access_log=None)
            await admin_runner.setup()
            await web.TCPSite(admin_runner, policy.admin.host, policy.admin.port).start()
        for index in range(self.count):
            await self.spawn(index)
        watchers = [asyncio.create_task(self.watch(i)) for i in range(self.count)]
        await stop.wait()
        self.stopping = True
        self.signal_all(signal.SIGTERM)
        # A worker stops within its drain timeout plus a moment, logs written (see Gateway.stop);
        # SIGKILL is only for one that hangs, and would lose its buffered access-log lines.
        grace = self.runtime.limits.drain_timeout + _KILL_AFTER_DRAIN
        try:
            async with asyncio.timeout(grace):
                await asyncio.gather(*(p.wait() for p in self.procs.values()))
        except TimeoutError:
            log.error("workers still running after the drain; killing them",
                      extra={"fields": {"workers": [i for i, p in self.procs.items() if p.returncode is None]}})
            self.signal_all(signal.SIGKILL)
        for task in watchers:
            task.cancel()
        if admin_runner is not None:
            await admin_runner.cleanup()
        return 0


def run_workers(args: argparse.Namespace, loaded: LoadedPolicy) -> int:
    with tempfile.TemporaryDirectory(prefix="privacy-gateway-metrics-") as metrics_dir:
        os.environ[MULTIPROC_ENV] = metrics_dir
        supervisor = _Supervisor(args, loaded, metrics_dir)
        return asyncio.run(supervisor.run())
