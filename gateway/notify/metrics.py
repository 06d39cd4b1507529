"""Prometheus collectors of notification hiding, registered once per registry.

Labels are bounded: channels and outcomes are fixed words, rules come from
the policy, reasons from the code. Never an address or a subject.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from ..metrics import PREFIX, Metrics, feature_collectors

_SMARTHOST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class NotifyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.notifications = Counter(
            f"{PREFIX}_notifications", "Recipients' copies decided, by channel, rule, action (hide, pass, block) "
            "and mode (shadow: decided and counted only).", ["channel", "rule", "action", "mode"], registry=r,
        )
        self.rewrite_failures = Counter(
            f"{PREFIX}_notification_rewrite_failures", "Messages that could not be rewritten safely and were "
            "refused or deferred, by channel and reason.", ["channel", "reason"], registry=r,
        )
        self.relay = Counter(
            f"{PREFIX}_smtp_relay_messages", "Messages at the end of DATA, by outcome: relayed (the smarthost "
            "took every copy), deferred (4xx: the helpdesk retries), refused (5xx).", ["outcome"], registry=r,
        )
        self.egress = Counter(
            f"{PREFIX}_egress_requests", "Requests on the egress listener, by provider (none: no route) and "
            "status class of the answer.", ["provider", "status_class"], registry=r,
        )
        self.refused_clients = Counter(
            f"{PREFIX}_smtp_refused_clients", "SMTP clients turned away, by reason (not_allowed, "
            "too_many_connections).", ["reason"], registry=r,
        )
        self.smarthost_duration = Histogram(
            f"{PREFIX}_smtp_smarthost_duration_seconds", "Time the smarthost took per relayed message "
            "(transactions and DATA).", buckets=_SMARTHOST_BUCKETS, registry=r,
        )
        self.added_latency = Histogram(
            f"{PREFIX}_smtp_rewrite_duration_seconds", "Time spent parsing and rewriting one message.",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1), registry=r,
        )


def notify_metrics(metrics: Metrics) -> NotifyMetrics:
    """The collectors on ``metrics.registry``, created on first use (they survive reloads)."""
    return feature_collectors(metrics, NotifyMetrics)
