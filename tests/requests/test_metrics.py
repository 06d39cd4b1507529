"""The portal's collectors: once per registry, bounded labels, named apart from the HTTP requests counter."""

from __future__ import annotations

from prometheus_client import generate_latest

from gateway.metrics import Metrics
from gateway.requests.metrics import request_metrics


def test_the_collectors_are_made_once_per_registry_and_exported() -> None:
    metrics = Metrics()
    first = request_metrics(metrics)
    assert request_metrics(metrics) is first and request_metrics(Metrics()) is not first
    first.requests.labels("access", "verified").inc()
    first.open.labels("access").set(2)
    first.overdue.set(1)
    text = generate_latest(metrics.registry).decode()
    for name in ("privacy_gateway_data_subject_requests_total{result=\"verified\",type=\"access\"} 1.0",
                 "privacy_gateway_data_subject_requests_open{type=\"access\"} 2.0",
                 "privacy_gateway_data_subject_requests_overdue 1.0",
                 "privacy_gateway_data_subject_requests_due_soon 0.0",
                 "privacy_gateway_data_subject_requests_oldest_open_age_seconds 0.0",
                 "# TYPE privacy_gateway_data_subject_request_errors_total counter"):
        assert name in text
    assert "privacy_gateway_requests_total{" not in text or 'route="' in text  # the HTTP counter is another one
