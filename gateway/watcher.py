"""Reload the policy when its files change.

The directory is polled by content, not watched by inode: editors save by
renaming, and Kubernetes ConfigMaps swap a symlink to a new directory, both of
which an inode watch misses. Hashing a few small YAML files once a second is
cheaper than one request.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path
from typing import Awaitable, Callable

log = logging.getLogger("gateway.watcher")


def fingerprint(path: Path) -> str:
    """A hash over the names and contents of the policy files at ``path``."""
    digest = hashlib.sha256()
    try:
        if path.is_dir():
            files = sorted(
                p for p in path.iterdir()
                if p.suffix in (".yaml", ".yml") and not p.name.startswith(".") and p.is_file()
            )
        else:
            files = [path]
        for file in files:
            digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    except OSError as exc:
        digest.update(f"unreadable:{exc.errno}".encode())
    return digest.hexdigest()


class PolicyWatcher:
    def __init__(self, path: Path, on_change: Callable[[], Awaitable[bool]], interval: float = 1.0) -> None:
        self.path = path
        self.on_change = on_change
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._seen = fingerprint(path)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="policy-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            current = await asyncio.to_thread(fingerprint, self.path)
            if current == self._seen:
                continue
            self._seen = current
            log.info("policy files changed", extra={"fields": {"path": str(self.path)}})
            try:
                await self.on_change()
            except Exception:
                log.exception("policy reload raised")
