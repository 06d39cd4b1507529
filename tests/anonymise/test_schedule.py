"""Retention schedules over the in-memory helpdesk and a real SQLite store: due cases in bounded batches, the
rest left for the next run, done cases never handled twice, one run per interval among replicas, a run lease
that keeps two runs apart, half-done cases completed, and failures counted."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.anonymise.schedule import RetentionRunner
from gateway.helpdesks.base import Case, HelpdeskError, Message
from gateway.metrics import Metrics
from gateway.policy.loader import load_policy_text
from gateway.policy.schema import Policy
from gateway.store import SQLiteStore, Store
from gateway.store.cases import CaseRecord
from tests.support.memory_helpdesk import MemoryHelpdesk

DAY = 86400.0
NOW = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
KEY = "base64:" + base64.b64encode(b"k" * 32).decode()


def policy(**anonymisation: Any) -> Policy:
    section = {"enabled": True, "keys": [{"id": "p1", "secret": "${P}"}], "batch_size": 2, "lease": "60s",
               "schedules": [{"name": "closed-a-year", "older_than": "365d"}],
               "helpdesk": {"adapter": "webhook", "url": "http://127.0.0.1:9/", "secret": "${W}"}, **anonymisation}
    doc = {"upstream": {"url": "http://127.0.0.1:9"}, "anonymisation": section}
    return load_policy_text(yaml.safe_dump(doc), "p.yaml", env={"P": KEY, "W": "w" * 32}).policy


def case(case_id: str, days_old: float, status: str = "closed", who: str = "kari@example.no") -> Case:
    updated = datetime.fromtimestamp(NOW - days_old * DAY, UTC).isoformat()
    return Case(case_id, case_id, f"Case of {who}", status, "1", updated, updated, who,
                (Message(f"m{case_id}", who, updated, f"Write to {who}, fnr 01010012356"),))


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def runner(p: Policy, store: Store, helpdesk: MemoryHelpdesk, clock: Clock, owner: str = "r1",
           metrics: Metrics | None = None) -> RetentionRunner:
    return RetentionRunner(lambda: (p, store), metrics, adapter_factory=lambda _: helpdesk, owner=owner, clock=clock)


@pytest.fixture
async def store(tmp_path: Path) -> Any:
    async with SQLiteStore(tmp_path / "s.sqlite3") as opened:
        yield opened


async def test_due_cases_go_in_batches_and_nothing_is_handled_twice(store: Store) -> None:
    helpdesk = MemoryHelpdesk([case("1", 400), case("2", 500), case("3", 700), case("4", 30), case("5", 900, "open")])
    metrics, clock, p = Metrics(), Clock(), policy()
    first = await runner(p, store, helpdesk, clock, metrics=metrics).run(p, store)
    assert first is not None and first.schedules[0].due == 3
    assert [r.case for r in first.schedules[0].reports] == ["1", "2"]  # batch_size 2
    value = metrics.registry.get_sample_value
    assert value("privacy_gateway_retention_cases_due", {"schedule": "closed-a-year"}) == 1
    assert value("privacy_gateway_retention_last_run_timestamp_seconds", {"schedule": "closed-a-year"}) == NOW
    second = await runner(p, store, helpdesk, clock, metrics=metrics).run(p, store)
    assert second is not None and [r.case for r in second.schedules[0].reports] == ["3"]
    third = await runner(p, store, helpdesk, clock, metrics=metrics).run(p, store)
    assert third is not None and third.schedules[0].due == 0 and third.schedules[0].reports == []
    for done in "123":
        assert helpdesk.cases[done].requester.endswith("@anonymised.invalid")
        assert "01010012356" not in helpdesk.cases[done].messages[0].text
    assert helpdesk.cases["4"] == case("4", 30) and helpdesk.cases["5"] == case("5", 900, "open")
    records = await store.case_records()
    assert sorted(r.case_id for r in records) == ["1", "2", "3"] and {r.state for r in records} == {"done"}
    assert {r.trigger for r in records} == {"schedule closed-a-year"}
    assert value("privacy_gateway_cases_total", {"trigger": "schedule", "action": "anonymise", "result": "done"}) == 3
    assert value("privacy_gateway_retention_runs_total", {"result": "ok"}) == 3


async def test_a_delete_schedule_deletes_and_one_run_happens_per_interval_among_replicas(store: Store) -> None:
    helpdesk = MemoryHelpdesk([case("1", 40, "spam"), case("2", 10, "spam")])
    clock = Clock()
    p = policy(schedules=[{"name": "spam", "older_than": "30d", "states": ["spam"], "action": "delete"}])
    replicas = [runner(p, store, helpdesk, clock, owner=f"r{i}") for i in range(3)]
    reports = [await r.run_if_due() for r in replicas]
    assert sum(r is not None for r in reports) == 1 and set(helpdesk.cases) == {"2"}
    clock.now += 1800  # within the hour
    assert [await r.run_if_due() for r in replicas] == [None, None, None]
    clock.now += 1801
    helpdesk.cases["3"] = case("3", 45, "spam")
    assert sum([await r.run_if_due() is not None for r in replicas]) == 1 and set(helpdesk.cases) == {"2"}


async def test_a_run_in_progress_elsewhere_is_not_joined(store: Store) -> None:
    helpdesk, clock, p, metrics = MemoryHelpdesk([case("1", 400)]), Clock(), policy(), Metrics()
    assert await store.take_lease("retention-run", "operator", NOW, NOW + 60)
    assert await runner(p, store, helpdesk, clock, metrics=metrics).run(p, store) is None
    assert helpdesk.effects == 0
    assert metrics.registry.get_sample_value("privacy_gateway_retention_runs_total", {"result": "skipped"}) == 1
    clock.now += 61  # the operator's process died: its lease ran out
    assert await runner(p, store, helpdesk, clock).run(p, store) is not None and helpdesk.effects > 0


async def test_a_case_left_half_done_is_completed_first(store: Store) -> None:
    helpdesk, clock, p = MemoryHelpdesk([case("1", 10, "open")]), Clock(), policy()
    dead = CaseRecord("d" * 32, "memory", "1", "command", "anonymise", "started", NOW - 120, owner="dead")
    assert await store.begin_case(dead, stale_before=NOW - 200) is not None
    report = await runner(p, store, helpdesk, clock).run(p, store)
    assert report is not None and [r.state for r in report.resumed] == ["done"]  # open and recent: begun, so done
    [record] = await store.case_records()
    assert (record.record_id, record.state, record.trigger) == ("d" * 32, "done", "command")


async def test_a_helpdesk_that_fails_ends_the_run_counted_and_frees_the_lease(store: Store) -> None:
    helpdesk, clock, p, metrics = MemoryHelpdesk([case("1", 400)]), Clock(), policy(), Metrics()
    helpdesk.fail_next("list_cases", HelpdeskError("memory: list cases: answered 503", retryable=True, status=503))
    with pytest.raises(HelpdeskError):
        await runner(p, store, helpdesk, clock, metrics=metrics).run(p, store)
    assert metrics.registry.get_sample_value("privacy_gateway_retention_runs_total", {"result": "failed"}) == 1
    assert await store.take_lease("retention-run", "someone", NOW, NOW + 60)  # released


async def test_nothing_runs_without_enabled_schedules(store: Store) -> None:
    helpdesk, clock = MemoryHelpdesk([case("1", 400)]), Clock()
    for p in (policy(enabled=False), policy(schedules=[])):
        assert await runner(p, store, helpdesk, clock).run_if_due() is None
    assert helpdesk.calls == []
