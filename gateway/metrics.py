"""Prometheus collectors, registered on an injected CollectorRegistry.

Label values are bounded by construction: route and rule names come from the
policy, reasons and kinds from fixed vocabularies in the code. Never an IP, a
URL or a user.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .lib.metric_batches import BatchedCounter, BatchedHistogram, Batches

PREFIX = "privacy_gateway"

# Buckets for a proxy: sub-millisecond overheads up to slow upstream pages.
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        # Registered first: every collection flushes the batched updates before reading values.
        self.batches = Batches(r)
        self.requests = Counter(
            f"{PREFIX}_requests", "Requests answered, by route and status class.",
            ["route", "status_class"], registry=r,
        )
        self.request_duration = Histogram(
            f"{PREFIX}_request_duration_seconds",
            "Time from request head to the last response byte, by route.",
            ["route"], buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.upstream_duration = Histogram(
            f"{PREFIX}_upstream_duration_seconds",
            "Time spent waiting for and streaming from the upstream, by route.",
            ["route"], buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.overhead_duration = Histogram(
            f"{PREFIX}_gateway_overhead_seconds",
            "Request duration minus upstream time: the gateway's own cost, by route.",
            ["route"], buckets=_LATENCY_BUCKETS, registry=r,
        )
        # multiprocess_mode says how `serve --workers N` aggregates a gauge across workers.
        self.in_flight = self.batches.gauge(Gauge(
            f"{PREFIX}_in_flight_requests", "Requests being handled now.", registry=r, multiprocess_mode="livesum"
        ))
        self.upstream_connections = Gauge(
            f"{PREFIX}_upstream_connections", "Connections to the upstream: open (in use or idle) and idle, "
            "updated every second.", ["state"], registry=r, multiprocess_mode="livesum",
        )
        self.websockets = Gauge(
            f"{PREFIX}_websocket_sessions", "WebSocket sessions open now.", registry=r, multiprocess_mode="livesum"
        )
        self.local_replies = Counter(
            f"{PREFIX}_local_replies", "Answers given by the gateway itself, by reason.", ["reason"], registry=r,
        )
        self.underscore_headers = Counter(
            f"{PREFIX}_underscore_headers", "Request header fields with '_' in the name, by route and "
            "action (drop: removed, reject: the request got 400 bad_header).", ["route", "action"], registry=r,
        )
        self.upstream_errors = Counter(
            f"{PREFIX}_upstream_errors", "Failures talking to the upstream, by kind.", ["kind"], registry=r,
        )
        self.filter_errors = Counter(
            f"{PREFIX}_filter_errors", "Exceptions raised inside a filter (the request failed closed).",
            ["filter"], registry=r,
        )
        self.firewall_decisions = Counter(
            f"{PREFIX}_firewall_decisions", "Firewall decisions by rule, decision and mode.",
            ["rule", "decision", "mode"], registry=r,
        )
        self.links_rewritten = Counter(
            f"{PREFIX}_links_rewritten", "External links in responses, by action taken (sign, strip, keep).",
            ["action"], registry=r,
        )
        self.link_redirects = Counter(
            f"{PREFIX}_link_redirects", "Requests to the link endpoint and token-protected paths, by result.",
            ["result"], registry=r,
        )
        self.sensitive_detections = Counter(
            f"{PREFIX}_sensitive_detections", "Personal data found in request bodies and pages, by kind, action, "
            "route and mode.",
            ["kind", "action", "route", "mode"], registry=r,
        )
        self.legal_basis_submissions = Counter(
            f"{PREFIX}_legal_basis_submissions", "Submissions of legal-basis routes and withdrawals, by route, result "
            "(recorded, consent_missing, consent_stale, unreadable, not_recorded, withdrawn) and mode.",
            ["route", "result", "mode"], registry=r,
        )
        self.body_bytes = Counter(
            f"{PREFIX}_body_bytes", "Body bytes streamed, by direction (upload, download).",
            ["direction"], registry=r,
        )
        self.reload_success = Gauge(
            f"{PREFIX}_policy_reload_success", "1 if the last policy (re)load succeeded, else 0.", registry=r,
            multiprocess_mode="livemin",
        )
        self.reload_timestamp = Gauge(
            f"{PREFIX}_policy_last_reload_timestamp_seconds", "Unix time of the last reload attempt.", registry=r,
            multiprocess_mode="livemax",
        )
        self.reloads = Counter(
            f"{PREFIX}_policy_reloads", "Policy reload attempts by result.", ["result"], registry=r,
        )
        self.policy_info = Gauge(
            f"{PREFIX}_policy_info", "The active policy; value 1, checksum as label.", ["checksum"], registry=r,
            multiprocess_mode="liveall",
        )
        # Sampled every second from the store (see Store.up and Store.errors); absent without a store.
        self.store_up = Gauge(
            f"{PREFIX}_store_up", "1 if the state store answered its last operation or probe (every 2s), else 0.",
            ["backend"], registry=r, multiprocess_mode="livemin",
        )
        self.store_errors = Counter(
            f"{PREFIX}_store_errors", "State store round trips that failed: unreachable, timed out, refused.",
            ["backend"], registry=r,
        )
        self._store_errors_seen: dict[str, int] = {}
        self._active_checksum: str | None = None
        # Children bound once per label value: a labels() lookup per request is measurable.
        self._route_children: dict[str, tuple[BatchedHistogram, BatchedHistogram, BatchedHistogram]] = {}
        self._status_children: dict[tuple[str, str], BatchedCounter] = {}
        self.upload_bytes = self.batches.counter(self.body_bytes.labels("upload"))
        self.download_bytes = self.batches.counter(self.body_bytes.labels("download"))

    def route_histograms(self, route: str) -> tuple[BatchedHistogram, BatchedHistogram, BatchedHistogram]:
        children = self._route_children.get(route)
        if children is None:
            children = (
                self.batches.histogram(self.request_duration.labels(route)),
                self.batches.histogram(self.upstream_duration.labels(route)),
                self.batches.histogram(self.overhead_duration.labels(route)),
            )
            self._route_children[route] = children
        return children

    def count_request(self, route: str, status: int) -> None:
        key = (route, f"{status // 100}xx")
        child = self._status_children.get(key)
        if child is None:
            child = self._status_children[key] = self.batches.counter(self.requests.labels(*key))
        child.inc()

    def observe_store(self, backend: str, *, up: bool, errors: int) -> None:
        """The store's state: the gauge, and the counter moved on to ``errors`` (a running total)."""
        self.store_up.labels(backend).set(1 if up else 0)
        counter = self.store_errors.labels(backend)  # exported from 0 on, so rate() sees the first error
        seen = self._store_errors_seen.get(backend, 0)
        if errors > seen:
            counter.inc(errors - seen)
        self._store_errors_seen[backend] = max(seen, errors)

    def set_policy(self, checksum: str) -> None:
        """Mark ``checksum`` as the active policy (one info series at a time)."""
        if self._active_checksum is not None and self._active_checksum != checksum:
            # Zero first: in multiprocess mode the value lives on in a shared file.
            self.policy_info.labels(self._active_checksum).set(0)
            self.policy_info.remove(self._active_checksum)
        self.policy_info.labels(checksum).set(1)
        self._active_checksum = checksum


C = TypeVar("C")
_features: weakref.WeakKeyDictionary[CollectorRegistry, dict[Callable[..., object], object]] = (
    weakref.WeakKeyDictionary()
)
_features_lock = threading.Lock()


def feature_collectors(metrics: Metrics, make: Callable[[CollectorRegistry], C]) -> C:
    """A feature's collectors (``make(registry)``) on ``metrics.registry``, created on first use.

    A reload builds new filters and listeners; their collectors belong to the
    registry and survive it (registering a name twice would raise).
    """
    with _features_lock:
        made = _features.setdefault(metrics.registry, {})
        found = made.get(make)
        if found is None:
            found = made[make] = make(metrics.registry)
        return found  # type: ignore[return-value]
