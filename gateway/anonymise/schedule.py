"""Retention schedules: the gateway anonymises (or deletes) the cases that are due, one replica at a time.

Every replica ticks; a run happens once per ``anonymisation.every`` across
all of them, on whichever takes the interval lease first (a lease row in the
store, :mod:`gateway.store.cases`: on PostgreSQL one row shared by every
replica, on SQLite the one process). A run also holds the *run* lease while it
works, renewed after every case, so an operator's ``cases retention`` never
runs alongside a replica's; a replica killed mid-run loses it after
``anonymisation.lease`` and the next run, anywhere, carries on.

A run:

1. completes the cases left half done (a ``started`` record older than the
   lease: its process died between the first change and the record's end),
   by any trigger, with the action begun and regardless of state (it was
   allowed when begun);
2. then, per schedule, lists the cases in the schedule's states last changed
   before ``older_than`` (``HelpdeskAdapter.list_cases``), leaves out those
   already done (a ``done`` record, or already a pseudonym's), and handles at
   most ``batch_size`` of them, oldest listing first; the rest are counted in
   the ``retention_cases_due`` gauge and wait for the next run.

Each case goes through :func:`~.cases.anonymise_cases` with a
:class:`~.journal.Journal` (trigger ``schedule <name>``), so it is recorded
before its first change and after its last, its links revoked, and counted;
every call to the helpdesk is paced by ``rate_limit``. A helpdesk or store
that fails ends the run (counted ``failed``, logged); the next run starts over
from what the journal says.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..helpdesks.base import HelpdeskAdapter, HelpdeskError
from ..helpdesks.registry import adapter_for
from ..lib.background import Background
from ..metrics import Metrics
from ..policy.anonymisation import Anonymisation, Schedule
from ..policy.helpdesks import HelpdeskSettings
from ..policy.schema import Policy
from ..sensitive.scanner import Scanner
from ..store import Store, StoreError
from ..store.cases import owner_name
from .cases import INVALID_DOMAIN, CaseReport, anonymise_cases
from .detectors import scanner_for
from .journal import Journal
from .metrics import AnonymisationMetrics, anonymisation_metrics
from .run import Pacer

log = logging.getLogger("gateway.anonymise")

RUN_LEASE = "retention-run"
INTERVAL_LEASE = "retention-interval"
TICK_SECONDS = 30.0

Current = Callable[[], "tuple[Policy, Store] | None"]
AdapterFactory = Callable[[HelpdeskSettings], HelpdeskAdapter]


class LeaseLost(Exception):
    """Another process holds the run lease now: this run stops where it is."""


@dataclass
class ScheduleReport:
    schedule: str
    due: int  # due and not done when the run looked, this run's batch included
    reports: list[CaseReport] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"schedule": self.schedule, "due": self.due, "handled": len(self.reports),
                "done": sum(r.state == "done" for r in self.reports),
                "cases": [r.to_dict() for r in self.reports]}


@dataclass
class RunReport:
    resumed: list[CaseReport] = field(default_factory=list)
    schedules: list[ScheduleReport] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"resumed": [r.to_dict() for r in self.resumed], "schedules": [s.to_dict() for s in self.schedules]}


class RetentionRunner(Background):
    task_name = "retention-schedules"

    def __init__(self, current: Current, metrics: Metrics | None = None, *,
                 adapter_factory: AdapterFactory = adapter_for, owner: str | None = None,
                 clock: Callable[[], float] = time.time, scanner: Scanner | None = None) -> None:
        self.current = current
        self.metrics = metrics
        self.adapter_factory = adapter_factory
        self.owner = owner or owner_name()
        self.clock = clock
        self.scanner = scanner

    @property
    def _counters(self) -> AnonymisationMetrics | None:
        return anonymisation_metrics(self.metrics) if self.metrics is not None else None

    async def _run(self) -> None:
        while True:
            try:
                await self.run_if_due()
            except asyncio.CancelledError:
                raise
            except (HelpdeskError, StoreError, LeaseLost):
                pass  # logged and counted by run()
            except Exception:
                log.exception("the retention schedules failed; tried again at the next tick")
            await asyncio.sleep(TICK_SECONDS)

    async def run_if_due(self) -> RunReport | None:
        """A run if the policy has schedules and this interval's run is nobody else's; None otherwise."""
        found = self.current()
        if found is None:
            return None
        policy, store = found
        settings = policy.anonymisation
        if not settings.enabled or not settings.schedules or policy.anonymisation_helpdesk is None:
            return None
        now = self.clock()
        if not await store.take_lease(INTERVAL_LEASE, self.owner, now, now + settings.every, renew=False):
            return None  # this interval's run is another replica's (or was this one's)
        return await self.run(policy, store)

    async def run(self, policy: Policy, store: Store) -> RunReport | None:
        """One run of every schedule now, unless another process is running them (None then)."""
        settings = policy.anonymisation
        helpdesk = policy.anonymisation_helpdesk
        if helpdesk is None:
            raise ValueError("anonymisation has no helpdesk (anonymisation.helpdesk or requests.helpdesk)")
        counters = self._counters
        if not await self._renew(store, settings):
            if counters is not None:
                counters.schedule_runs.labels("skipped").inc()
            return None
        report = RunReport()
        try:
            scanner = self.scanner or scanner_for(policy)
            async with self.adapter_factory(helpdesk) as adapter:
                pace = Pacer(settings.rate_limit)
                report.resumed = await self._resume(policy, store, adapter, pace, scanner)
                for schedule in settings.schedules:
                    report.schedules.append(await self._schedule(policy, store, adapter, schedule, pace, scanner))
        except (HelpdeskError, StoreError, LeaseLost) as exc:
            if counters is not None:
                counters.schedule_runs.labels("failed").inc()
            log.warning("a retention run stopped; the next run carries on", extra={"fields": {
                "error": str(exc)[:300], "handled": sum(len(s.reports) for s in report.schedules)}})
            raise
        finally:
            try:
                await store.release_lease(RUN_LEASE, self.owner)
            except StoreError:
                pass  # it runs out by itself
        if counters is not None:
            counters.schedule_runs.labels("ok").inc()
        log.info("retention run", extra={"fields": {
            "resumed": len(report.resumed),
            "schedules": {s.schedule: {"due": s.due, "handled": len(s.reports)} for s in report.schedules}}})
        return report

    async def _renew(self, store: Store, settings: Anonymisation) -> bool:
        now = self.clock()
        return await store.take_lease(RUN_LEASE, self.owner, now, now + settings.lease)

    async def _still_ours(self, store: Store, settings: Anonymisation) -> None:
        if not await self._renew(store, settings):
            raise LeaseLost("the run lease was taken by another process (a run longer than anonymisation.lease?)")

    def _journal(self, policy: Policy, store: Store, adapter: HelpdeskAdapter, trigger: str) -> Journal:
        return Journal.for_policy(policy, store, adapter.name, trigger, metrics=self.metrics, owner=self.owner)

    async def _resume(self, policy: Policy, store: Store, adapter: HelpdeskAdapter, pace: Pacer,
                      scanner: Scanner) -> list[CaseReport]:
        settings = policy.anonymisation
        left = await store.unfinished_cases(adapter.name, stale_before=self.clock() - settings.lease)
        reports = []
        for record in left:
            as_begun = settings.model_copy(update={"action": record.action})
            reports += await anonymise_cases(adapter, as_begun, case_id=record.case_id, scanner=scanner,
                                             force=True, pace=pace,
                                             journal=self._journal(policy, store, adapter, record.trigger))
            await self._still_ours(store, settings)
        if reports:
            log.info("cases left half done were completed", extra={"fields": {
                "cases": len(reports), "done": sum(r.state == "done" for r in reports)}})
        return reports

    async def _schedule(self, policy: Policy, store: Store, adapter: HelpdeskAdapter, schedule: Schedule,
                        pace: Pacer, scanner: Scanner) -> ScheduleReport:
        settings = policy.anonymisation
        await pace()
        listed = await adapter.list_cases(schedule.states, self.clock() - schedule.older_than)
        candidates = [c.id for c in listed
                      if not (schedule.action == "anonymise" and c.requester.strip().lower().endswith(INVALID_DOMAIN))]
        done = await store.cases_done(adapter.name, candidates)
        due = [case_id for case_id in candidates if case_id not in done]
        result = ScheduleReport(schedule.name, len(due))
        rules = settings.model_copy(update={"action": schedule.action, "states": schedule.states})
        journal = self._journal(policy, store, adapter, f"schedule {schedule.name}")
        for case_id in due[: settings.batch_size]:
            result.reports += await anonymise_cases(adapter, rules, case_id=case_id, scanner=scanner, pace=pace,
                                                    journal=journal)
            await self._still_ours(store, settings)
        counters = self._counters
        if counters is not None:
            counters.due.labels(schedule.name).set(len(due) - sum(r.state == "done" for r in result.reports))
            counters.last_run.labels(schedule.name).set(self.clock())
        return result
