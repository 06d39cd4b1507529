"""Consent metrics: one set of collectors per registry, bounded unclassified names."""

from __future__ import annotations

from gateway.consent.metrics import MAX_UNCLASSIFIED_NAMES, OTHER, consent_metrics
from gateway.metrics import Metrics


def value(metrics: Metrics, name: str, labels: dict[str, str]) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def test_collectors_are_shared_per_registry_and_survive_reloads() -> None:
    metrics = Metrics()
    assert consent_metrics(metrics) is consent_metrics(metrics)
    assert consent_metrics(Metrics()) is not consent_metrics(metrics)
    other = Metrics()
    other.registry = metrics.registry  # what a second Metrics on the same registry would see
    assert consent_metrics(other) is consent_metrics(metrics)


def test_unclassified_names_are_bounded() -> None:
    metrics = Metrics()
    m = consent_metrics(metrics)
    for i in range(MAX_UNCLASSIFIED_NAMES + 50):
        m.unclassified_name(f"cookie{i}", "request")
    m.unclassified_name("cookie0", "response")
    m.unclassified_name("bad name with spaces", "request")
    m.unclassified_name("x" * 65, "request")
    assert value(metrics, "privacy_gateway_consent_unclassified_cookies_total", {"name": "cookie0", "direction": "request"}) == 1
    assert value(metrics, "privacy_gateway_consent_unclassified_cookies_total", {"name": "cookie0", "direction": "response"}) == 1
    assert value(metrics, "privacy_gateway_consent_unclassified_cookies_total", {"name": OTHER, "direction": "request"}) == 52
    names = {
        s.labels["name"] for metric in metrics.registry.collect() for s in metric.samples
        if s.name == "privacy_gateway_consent_unclassified_cookies_total"
    }
    assert len(names) == MAX_UNCLASSIFIED_NAMES + 1


def test_every_collector_is_named_by_convention() -> None:
    metrics = Metrics()
    consent_metrics(metrics)
    names = {metric.name for metric in metrics.registry.collect() if "consent" in metric.name}
    assert names == {
        "privacy_gateway_consent_cookies_removed", "privacy_gateway_consent_unclassified_cookies",
        "privacy_gateway_consent_decisions", "privacy_gateway_consent_cookies_expired",
        "privacy_gateway_consent_banners_injected", "privacy_gateway_consent_cookie_invalid",
        "privacy_gateway_consent_receipt_failures",
    }
