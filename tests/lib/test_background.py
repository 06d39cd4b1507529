"""A background task runs from start to stop, once, and can start again."""

from __future__ import annotations

import asyncio

from gateway.lib.background import Background


class Ticking(Background):
    task_name = "ticking"

    def __init__(self) -> None:
        self.ticks = 0
        self.cancelled = 0

    async def _run(self) -> None:
        try:
            while True:
                self.ticks += 1
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


async def test_it_runs_once_until_stopped_and_starts_again() -> None:
    loop = Ticking()
    loop.start()
    loop.start()  # already running: still one task
    assert len([t for t in asyncio.all_tasks() if t.get_name() == "ticking"]) == 1
    await asyncio.sleep(0.05)
    await loop.stop()
    assert loop.ticks > 0 and loop.cancelled == 1
    seen = loop.ticks
    await asyncio.sleep(0.03)
    assert loop.ticks == seen  # stopped means stopped
    loop.start()
    await asyncio.sleep(0.02)
    await loop.stop()
    assert loop.ticks > seen and loop.cancelled == 2
    await loop.stop()  # stopping what is stopped does nothing
