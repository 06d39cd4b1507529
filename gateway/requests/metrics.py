"""Prometheus collectors of the data-subject request portal, registered once per registry.

Named ``data_subject_requests`` (``privacy_gateway_requests_total`` counts
HTTP requests). Labels are bounded: types come from the policy language,
results and work from fixed words here. Never an address or a request id.
The gauges are read from the store every few seconds by the worker, so each
replica reports the same values (aggregate them with ``max``).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from ..metrics import PREFIX, Metrics, feature_collectors

#: Results counted in ``data_subject_requests_total``.
RESULTS = ("submitted", "invalid", "rate_limited", "verified", "case_opened", "extended", "refused", "fulfilled",
           "downloaded")


class RequestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.requests = Counter(
            f"{PREFIX}_data_subject_requests", "Data-subject requests by type and result: submitted (verification "
            "mailed), invalid (the form again), rate_limited (429), verified, case_opened (in the helpdesk), "
            "extended, refused, fulfilled (each once the requester was told), downloaded (the export).",
            ["type", "result"], registry=r,
        )
        self.work_errors = Counter(
            f"{PREFIX}_data_subject_request_errors", "Failed tries at a request's work, by work (case, receipt, "
            "export, mail, erase) and whether it will be retried; the request is kept.", ["work", "retried"],
            registry=r,
        )
        self.open = Gauge(
            f"{PREFIX}_data_subject_requests_open", "Verified requests not yet fulfilled or refused, by type.",
            ["type"], registry=r, multiprocess_mode="livemax",
        )
        self.overdue = Gauge(
            f"{PREFIX}_data_subject_requests_overdue", "Open requests past their due date.", registry=r,
            multiprocess_mode="livemax",
        )
        self.due_soon = Gauge(
            f"{PREFIX}_data_subject_requests_due_soon", "Open requests due within the next 7 days (not yet "
            "overdue).", registry=r, multiprocess_mode="livemax",
        )
        self.oldest_open_age = Gauge(
            f"{PREFIX}_data_subject_requests_oldest_open_age_seconds", "Age of the oldest open request (0 when none "
            "is open).", registry=r, multiprocess_mode="livemax",
        )


def request_metrics(metrics: Metrics) -> RequestMetrics:
    """The collectors on ``metrics.registry``, created on first use (they survive reloads)."""
    return feature_collectors(metrics, RequestMetrics)
