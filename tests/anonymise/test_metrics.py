"""Anonymisation's collectors: made once per registry, bounded labels."""

from __future__ import annotations

from gateway.anonymise.metrics import anonymisation_metrics
from gateway.metrics import Metrics


def test_the_collectors_are_made_once_and_count_by_trigger_action_and_result() -> None:
    metrics = Metrics()
    first = anonymisation_metrics(metrics)
    assert anonymisation_metrics(metrics) is first
    first.cases.labels("schedule", "delete", "done").inc()
    first.due.labels("spam").set(4)
    value = metrics.registry.get_sample_value
    assert value("privacy_gateway_cases_total", {"trigger": "schedule", "action": "delete", "result": "done"}) == 1
    assert value("privacy_gateway_retention_cases_due", {"schedule": "spam"}) == 4


def test_every_trigger_action_and_result_is_exported_from_zero() -> None:
    metrics = Metrics()
    anonymisation_metrics(metrics)
    value = metrics.registry.get_sample_value
    assert value("privacy_gateway_cases_total", {"trigger": "request", "action": "delete", "result": "busy"}) == 0
    assert value("privacy_gateway_retention_runs_total", {"result": "failed"}) == 0
