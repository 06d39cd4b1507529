"""Per-request metric updates as plain arithmetic, handed to prometheus-client in batches.

Every ``inc()`` or ``observe()`` of a prometheus-client child takes a lock,
and with ``serve --workers N`` (multiprocess mode) also writes an mmap'ed
file: a request's dozen updates cost 5 µs in one process and 16 µs in
multiprocess mode. The hot metrics are therefore counted in these wrappers
and pushed to their children by ``Batches.flush()``:

- at every collection of the registry (``Batches`` is registered on it
  before any metric, and its ``collect()`` flushes), so an in-process
  ``/metrics`` scrape is exact;
- every second by the gateway, for the workers whose files the supervisor
  aggregates (their scrapes lag by at most that), and when it stops.

Everything runs on the event loop's thread, as do the scrapes.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class BatchedCounter:
    __slots__ = ("_child", "_pending")

    def __init__(self, child: Counter) -> None:
        self._child = child
        self._pending = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self._pending += amount

    def flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, 0.0
            self._child.inc(pending)


class BatchedGauge:
    """A gauge only this process changes (``inc``/``dec``): its value lives here."""

    __slots__ = ("_child", "_value", "_flushed")

    def __init__(self, child: Gauge) -> None:
        self._child = child
        self._value = 0.0
        self._flushed = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self._value += amount

    def dec(self, amount: float = 1.0) -> None:
        self._value -= amount

    def flush(self) -> None:
        if self._value != self._flushed:
            self._flushed = self._value
            self._child.set(self._value)


class BatchedHistogram:
    __slots__ = ("_child", "_bounds", "_counts", "_sum", "_dirty")

    def __init__(self, child: Histogram) -> None:
        self._child = child
        # The child's upper bounds, +Inf last: where observe() would put each value.
        self._bounds: list[float] = list(child._upper_bounds)
        self._counts = [0] * len(self._bounds)
        self._sum = 0.0
        self._dirty = False

    def observe(self, amount: float) -> None:
        self._counts[bisect_left(self._bounds, amount)] += 1  # the first bucket with amount <= bound
        self._sum += amount
        self._dirty = True

    def flush(self) -> None:
        if not self._dirty:
            return
        child: Any = self._child
        child._sum.inc(self._sum)
        for index, count in enumerate(self._counts):
            if count:
                child._buckets[index].inc(count)
                self._counts[index] = 0
        self._sum = 0.0
        self._dirty = False


Batched = BatchedCounter | BatchedGauge | BatchedHistogram
_B = TypeVar("_B", BatchedCounter, BatchedGauge, BatchedHistogram)


class Batches:
    """The batched children of one registry; a collector that yields nothing but flushes them."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._children: dict[int, Batched] = {}
        registry.register(self)

    def counter(self, child: Counter) -> BatchedCounter:
        return self._wrap(child, BatchedCounter)

    def gauge(self, child: Gauge) -> BatchedGauge:
        return self._wrap(child, BatchedGauge)

    def histogram(self, child: Histogram) -> BatchedHistogram:
        return self._wrap(child, BatchedHistogram)

    def _wrap(self, child: Any, kind: type[_B]) -> _B:
        """One wrapper per child, however often it is asked for."""
        batched = self._children.get(id(child))
        if batched is None:
            batched = self._children[id(child)] = kind(child)
        assert isinstance(batched, kind)
        return batched

    def flush(self) -> None:
        for batched in self._children.values():
            batched.flush()

    # The collector protocol: no metrics of its own.
    def describe(self) -> list[Any]:
        return []

    def collect(self) -> list[Any]:
        self.flush()
        return []
