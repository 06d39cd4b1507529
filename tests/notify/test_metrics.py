"""The notification collectors: one set per registry, surviving reloads."""

from __future__ import annotations

from prometheus_client import generate_latest

from gateway.metrics import Metrics
from gateway.notify.metrics import notify_metrics


def test_one_set_per_registry() -> None:
    metrics = Metrics()
    assert notify_metrics(metrics) is notify_metrics(metrics)
    assert notify_metrics(Metrics()) is not notify_metrics(metrics)


def test_names_follow_the_conventions() -> None:
    metrics = Metrics()
    collectors = notify_metrics(metrics)
    collectors.notifications.labels("smtp", "default", "hide", "enforce").inc()
    collectors.relay.labels("deferred").inc()
    collectors.smarthost_duration.observe(0.02)
    text = generate_latest(metrics.registry).decode()
    assert 'privacy_gateway_notifications_total{action="hide",channel="smtp",mode="enforce",rule="default"} 1.0' in text
    assert 'privacy_gateway_smtp_relay_messages_total{outcome="deferred"} 1.0' in text
    assert "privacy_gateway_smtp_smarthost_duration_seconds_bucket" in text
