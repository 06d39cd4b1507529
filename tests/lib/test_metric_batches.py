"""Batched metric updates export exactly what direct prometheus-client updates would."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from gateway.lib.metric_batches import Batches


def samples(registry: CollectorRegistry, name: str) -> list[tuple[str, tuple[tuple[str, str], ...], float]]:
    return sorted(
        (s.name, tuple(sorted(s.labels.items())), round(s.value, 9))  # sums added in another order
        for family in registry.collect() if family.name == name
        for s in family.samples if not s.name.endswith("_created")
    )


def test_a_batched_histogram_exports_the_buckets_and_sum_of_direct_observations() -> None:
    values = [0.0, 0.0005, 0.0007, 0.001, 0.3, 2.0, 99.0, 0.0005, 1e-9]
    direct, batched = CollectorRegistry(), CollectorRegistry()
    batches = Batches(batched)
    buckets = (0.0005, 0.001, 0.25, 1, 10)
    plain = Histogram("h", "h", ["route"], buckets=buckets, registry=direct).labels("a")
    wrapped = batches.histogram(Histogram("h", "h", ["route"], buckets=buckets, registry=batched).labels("a"))
    for value in values:
        plain.observe(value)
        wrapped.observe(value)
    assert samples(batched, "h") == samples(direct, "h")
    # A second round adds to what was flushed, not replaces it.
    for value in values:
        plain.observe(value)
        wrapped.observe(value)
    assert samples(batched, "h") == samples(direct, "h")


def test_counters_and_gauges_show_up_at_the_next_collection() -> None:
    registry = CollectorRegistry()
    batches = Batches(registry)
    counter = batches.counter(Counter("c", "c", ["kind"], registry=registry).labels("x"))
    gauge = batches.gauge(Gauge("g", "g", registry=registry))
    counter.inc()
    counter.inc(2.5)
    gauge.inc()
    gauge.inc()
    gauge.dec()
    assert registry.get_sample_value("c_total", {"kind": "x"}) == 3.5
    assert registry.get_sample_value("g") == 1
    gauge.dec()
    assert b"g 0.0" in generate_latest(registry)
    assert registry.get_sample_value("c_total", {"kind": "x"}) == 3.5  # flushed once, not twice


def test_one_wrapper_per_child() -> None:
    registry = CollectorRegistry()
    batches = Batches(registry)
    counter = Counter("c", "c", ["kind"], registry=registry)
    assert batches.counter(counter.labels("x")) is batches.counter(counter.labels("x"))
    assert batches.counter(counter.labels("x")) is not batches.counter(counter.labels("y"))


def test_in_multiprocess_mode_a_flush_writes_the_files_the_supervisor_reads(tmp_path: Path) -> None:
    # The mode is chosen when prometheus-client is imported: a fresh interpreter.
    script = textwrap.dedent(f"""
        import os
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = {str(tmp_path)!r}
        from prometheus_client import CollectorRegistry, Counter, Histogram
        from prometheus_client.multiprocess import MultiProcessCollector
        from gateway.lib.metric_batches import Batches

        worker = CollectorRegistry()
        batches = Batches(worker)
        counter = batches.counter(Counter("c", "c", registry=worker))
        hist = batches.histogram(Histogram("h", "h", buckets=(1, 2), registry=worker))
        counter.inc(3)
        hist.observe(1.5)
        supervisor = CollectorRegistry()
        MultiProcessCollector(supervisor)
        before = supervisor.get_sample_value("c_total")
        batches.flush()
        print(before, supervisor.get_sample_value("c_total"), supervisor.get_sample_value("h_bucket", {{"le": "2.0"}}))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).parents[2])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0.0", "3.0", "1.0"]
