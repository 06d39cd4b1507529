"""Prometheus collectors of case anonymisation, registered once per registry.

Labels are bounded: the trigger is ``command``, ``request`` or ``schedule``;
the action ``anonymise`` or ``delete``; the result a case's outcome (``done``,
``retry``, ``incomplete``, ``refused``, ``unreadable``, ``busy``); a schedule
by its name from the policy. Never a case id or an address.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from ..metrics import PREFIX, Metrics, feature_collectors

TRIGGERS = ("command", "request", "schedule")
ACTIONS = ("anonymise", "delete")
RESULTS = ("done", "retry", "incomplete", "refused", "unreadable", "busy")
RUN_RESULTS = ("ok", "failed", "skipped")


class AnonymisationMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.cases = Counter(
            f"{PREFIX}_cases", "Helpdesk cases anonymised or deleted, by trigger (command, request, schedule), "
            "action and result: done, retry (a later run finishes it), incomplete (the helpdesk cannot do all of "
            "it), refused (a state the policy does not allow), unreadable, busy (another process was on it).",
            ["trigger", "action", "result"], registry=r,
        )
        self.schedule_runs = Counter(
            f"{PREFIX}_retention_runs", "Runs of the retention schedules by result: ok, failed (the helpdesk or "
            "the store did not answer; tried again at the next run), skipped (another replica holds the lease).",
            ["result"], registry=r,
        )
        # Every child from 0, so an alert's increase() sees the first failure after a start.
        for trigger in TRIGGERS:
            for action in ACTIONS:
                for result in RESULTS:
                    self.cases.labels(trigger, action, result)
        for result in RUN_RESULTS:
            self.schedule_runs.labels(result)
        self.last_run = Gauge(
            f"{PREFIX}_retention_last_run_timestamp_seconds", "When a retention schedule last ran to the end "
            "(epoch seconds), by schedule.", ["schedule"], registry=r, multiprocess_mode="livemax",
        )
        self.due = Gauge(
            f"{PREFIX}_retention_cases_due", "Cases a retention schedule found due and not yet done at its last "
            "run, by schedule (more than a batch: the next runs take the rest).", ["schedule"], registry=r,
            multiprocess_mode="livemax",
        )


def anonymisation_metrics(metrics: Metrics) -> AnonymisationMetrics:
    """The collectors on ``metrics.registry``, created on first use (they survive reloads)."""
    return feature_collectors(metrics, AnonymisationMetrics)
