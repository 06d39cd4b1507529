"""A periodic ping of the store, so its health is known without traffic.

Requests update ``Store.up`` as they go, but a quiet night has none: the
probe pings every ``interval`` seconds, so the ``store_up`` gauge and
``/readyz`` follow the database within one interval, and the pool replaces
broken connections before a visitor's request needs one. A ping is bounded
by the store's operation timeout; a failed one is recorded by the store and
otherwise ignored here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Final

from ..lib.background import Background
from .base import Store, StoreError

#: Seconds between pings: one ``SELECT 1`` per process, cheap next to any traffic.
PROBE_INTERVAL: Final = 2.0


class StoreProbe(Background):
    """Pings the store ``current()`` names (none: nothing to do) every ``interval`` seconds, from start to stop.

    A callable, so a reload that swaps the store moves the probe to the new one
    and a store left behind is no longer pinged (nor counted as failing).
    """

    task_name = "store-probe"

    def __init__(self, current: Callable[[], Store | None], interval: float = PROBE_INTERVAL) -> None:
        if interval <= 0:
            raise ValueError("the probe interval must be positive")
        self.current = current
        self.interval = interval

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            store = self.current()
            if store is not None:
                with contextlib.suppress(StoreError):  # recorded in store.up and store.errors
                    await store.ping()
