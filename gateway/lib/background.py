"""One coroutine kept running beside the server, from ``start()`` to ``stop()``: the store probe, the
data-subject request worker, the retention schedules.

A subclass names its task (``task_name``) and writes ``_run``; ``start`` makes
the task once (again after a stop), ``stop`` cancels it and waits for it to
end, so nothing it was doing outlives the server's shutdown.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
from typing import ClassVar


class Background(abc.ABC):
    task_name: ClassVar[str]
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @abc.abstractmethod
    async def _run(self) -> None:
        """Runs until cancelled."""
