"""Prometheus collectors: naming conventions, bounded labels, bound children, the policy info series."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from gateway.metrics import PREFIX, Metrics


def sample(metrics: Metrics, name: str, labels: dict[str, str] | None = None) -> float | None:
    return metrics.registry.get_sample_value(name, labels or {})


def test_names_follow_prometheus_conventions() -> None:
    metrics = Metrics()
    families = list(metrics.registry.collect())
    assert len(families) >= 14
    for family in families:
        assert family.name.startswith(f"{PREFIX}_"), family.name
        assert not family.name.endswith("_total"), f"{family.name}: the client appends _total itself"
        if family.type == "histogram":
            assert family.name.endswith("_seconds"), family.name
        if family.type == "gauge":
            assert not family.name.endswith("_total"), family.name
    text = generate_latest(metrics.registry).decode()
    for family in families:
        if family.type == "counter":
            assert f"# TYPE {family.name}_total counter" in text, family.name
        else:
            assert f"# TYPE {family.name} {family.type}" in text, family.name


@pytest.mark.parametrize(
    "name",
    [
        "requests", "local_replies", "upstream_errors", "filter_errors", "firewall_decisions",
        "body_bytes", "policy_reloads",
    ],
)
def test_counters_are_exposed_with_total(name: str) -> None:
    metrics = Metrics()
    families = {f.name: f for f in metrics.registry.collect()}
    family = families[f"{PREFIX}_{name}"]
    assert family.type == "counter"
    metrics.local_replies.labels("firewall_denied").inc()
    metrics.upstream_errors.labels("connect").inc()
    metrics.filter_errors.labels("firewall").inc()
    metrics.firewall_decisions.labels("agent", "deny", "enforce").inc()
    metrics.reloads.labels("success").inc()
    metrics.count_request("default", 200)
    metrics.upload_bytes.inc(1)
    text = generate_latest(metrics.registry).decode()
    assert f"\n{PREFIX}_{name}_total{{" in text


def test_label_names_are_bounded_vocabularies() -> None:
    forbidden = {"ip", "client_ip", "peer", "url", "path", "host", "user", "query"}
    for family in Metrics().registry.collect():
        for s in family.samples:
            assert not forbidden & set(s.labels), (family.name, s.labels)


def test_instances_do_not_share_a_registry() -> None:
    a, b = Metrics(), Metrics()  # a second Metrics must not raise "Duplicated timeseries"
    a.count_request("default", 200)
    assert sample(a, f"{PREFIX}_requests_total", {"route": "default", "status_class": "2xx"}) == 1
    assert sample(b, f"{PREFIX}_requests_total", {"route": "default", "status_class": "2xx"}) is None


def test_injected_registry_is_used() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    assert metrics.registry is registry
    metrics.in_flight.inc()
    assert registry.get_sample_value(f"{PREFIX}_in_flight_requests") == 1


def test_set_policy_swaps_the_info_series() -> None:
    metrics = Metrics()
    name = f"{PREFIX}_policy_info"
    metrics.set_policy("aaaaaaaaaaaa")
    assert sample(metrics, name, {"checksum": "aaaaaaaaaaaa"}) == 1
    metrics.set_policy("bbbbbbbbbbbb")
    assert sample(metrics, name, {"checksum": "bbbbbbbbbbbb"}) == 1
    assert sample(metrics, name, {"checksum": "aaaaaaaaaaaa"}) is None
    metrics.set_policy("bbbbbbbbbbbb")  # the same policy again: still exactly one series
    series = [s for f in metrics.registry.collect() if f.name == name for s in f.samples]
    assert [(s.labels, s.value) for s in series] == [({"checksum": "bbbbbbbbbbbb"}, 1.0)]
    metrics.set_policy("aaaaaaaaaaaa")
    series = [s for f in metrics.registry.collect() if f.name == name for s in f.samples]
    assert [(s.labels, s.value) for s in series] == [({"checksum": "aaaaaaaaaaaa"}, 1.0)]


def test_route_histograms_bound_once() -> None:
    metrics = Metrics()
    first = metrics.route_histograms("agent")
    assert metrics.route_histograms("agent") is first
    other = metrics.route_histograms("default")
    assert other is not first
    request, upstream, overhead = first
    request.observe(0.2)
    upstream.observe(0.15)
    overhead.observe(0.05)
    for name, total in (("request_duration", 0.2), ("upstream_duration", 0.15), ("gateway_overhead", 0.05)):
        assert sample(metrics, f"{PREFIX}_{name}_seconds_count", {"route": "agent"}) == 1
        assert sample(metrics, f"{PREFIX}_{name}_seconds_sum", {"route": "agent"}) == pytest.approx(total)
        assert sample(metrics, f"{PREFIX}_{name}_seconds_count", {"route": "default"}) == 0


@pytest.mark.parametrize(
    ("status", "status_class"),
    [(101, "1xx"), (200, "2xx"), (204, "2xx"), (304, "3xx"), (403, "4xx"), (431, "4xx"), (502, "5xx"), (599, "5xx")],
)
def test_count_request_status_classes(status: int, status_class: str) -> None:
    metrics = Metrics()
    metrics.count_request("agent", status)
    metrics.count_request("agent", status)
    assert sample(metrics, f"{PREFIX}_requests_total", {"route": "agent", "status_class": status_class}) == 2
    series = [s for f in metrics.registry.collect() if f.name == f"{PREFIX}_requests"
              for s in f.samples if s.name.endswith("_total")]
    assert len(series) == 1


def test_count_request_separates_routes() -> None:
    metrics = Metrics()
    metrics.count_request("agent", 200)
    metrics.count_request("default", 200)
    metrics.count_request("agent", 404)
    assert sample(metrics, f"{PREFIX}_requests_total", {"route": "agent", "status_class": "2xx"}) == 1
    assert sample(metrics, f"{PREFIX}_requests_total", {"route": "default", "status_class": "2xx"}) == 1
    assert sample(metrics, f"{PREFIX}_requests_total", {"route": "agent", "status_class": "4xx"}) == 1


def test_body_bytes_children() -> None:
    metrics = Metrics()
    metrics.upload_bytes.inc(10)
    metrics.download_bytes.inc(25)
    assert sample(metrics, f"{PREFIX}_body_bytes_total", {"direction": "upload"}) == 10
    assert sample(metrics, f"{PREFIX}_body_bytes_total", {"direction": "download"}) == 25


def test_observe_store_sets_the_gauge_and_advances_the_counter_to_the_running_total() -> None:
    metrics = Metrics()
    labels = {"backend": "postgresql"}
    assert sample(metrics, "privacy_gateway_store_up", labels) is None  # absent until a store is observed
    metrics.observe_store("postgresql", up=True, errors=0)
    assert sample(metrics, "privacy_gateway_store_up", labels) == 1
    assert sample(metrics, "privacy_gateway_store_errors_total", labels) == 0  # exported from 0 on
    metrics.observe_store("postgresql", up=False, errors=3)
    metrics.observe_store("postgresql", up=False, errors=5)
    assert sample(metrics, "privacy_gateway_store_up", labels) == 0
    assert sample(metrics, "privacy_gateway_store_errors_total", labels) == 5
    metrics.observe_store("postgresql", up=True, errors=5)  # no new failures: the counter stays
    assert sample(metrics, "privacy_gateway_store_errors_total", labels) == 5
    assert sample(metrics, "privacy_gateway_store_up", labels) == 1
