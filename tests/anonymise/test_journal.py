"""The journal around each case: a record before the first change and after the last, links bound to the case
and its requester revoked, a case another process is on left alone, metrics counted, and nothing in a dry run."""

from __future__ import annotations

import itertools
from pathlib import Path

import orjson

from gateway.anonymise.cases import anonymise_cases
from gateway.anonymise.journal import Journal
from gateway.helpdesks.base import HelpdeskError
from gateway.links.signing import recipient_hash
from gateway.metrics import Metrics
from gateway.sensitive.scanner import Scanner, builtin_detectors
from gateway.store import SQLiteStore
from gateway.store.cases import CaseRecord
from tests.anonymise.test_cases import KARI, SETTINGS, case
from tests.support.memory_helpdesk import MemoryHelpdesk

SALT = b"a-recipient-salt"
SCANNER = Scanner(builtin_detectors())
NOW = 1_800_000_000.0
TICKS = itertools.count()  # a second per reading: records of successive runs are ordered by their start


def journal(store: SQLiteStore, metrics: Metrics | None = None, owner: str = "me") -> Journal:
    return Journal(store, "memory", "request DSR-AAAAA-BBBBB", owner=owner, link_salt=SALT, revoke_for=86400,
                   metrics=metrics, clock=lambda: NOW + next(TICKS))


async def test_each_case_is_recorded_its_links_revoked_and_counted(tmp_path: Path) -> None:
    helpdesk = MemoryHelpdesk([case("1"), case("2")])
    metrics = Metrics()
    async with SQLiteStore(tmp_path / "s.sqlite3") as store:
        reports = await anonymise_cases(helpdesk, SETTINGS, email=KARI, scanner=SCANNER,
                                        journal=journal(store, metrics))
        assert [r.state for r in reports] == ["done", "done"] and reports[0].to_dict()["links_revoked"] == 2
        records = sorted(await store.case_records(), key=lambda r: r.case_id)
        assert [(r.case_id, r.state, r.trigger, r.owner) for r in records] == [
            ("1", "done", "request DSR-AAAAA-BBBBB", "me"), ("2", "done", "request DSR-AAAAA-BBBBB", "me")]
        summary = orjson.loads(records[0].summary)
        assert summary["replacements"] == {"no_fnr": 1, "requester": 1} and summary["state"] == "done"
        assert KARI not in records[0].summary and "01010012356" not in records[0].summary  # kinds, never values
        for binding in ({"case": "1", "recipient": None}, {"case": None, "recipient": recipient_hash(KARI, SALT)}):
            assert await store.is_revoked(jti="x", now=NOW + 1, issued_at=NOW - 10, **binding)
        assert not await store.is_revoked(jti="x", case="3", recipient=None, now=NOW + 1, issued_at=NOW - 10)
    value = metrics.registry.get_sample_value
    assert value("privacy_gateway_cases_total", {"trigger": "request", "action": "anonymise", "result": "done"}) == 2


async def test_a_case_another_process_is_on_is_left_to_it(tmp_path: Path) -> None:
    helpdesk = MemoryHelpdesk([case("1")])
    async with SQLiteStore(tmp_path / "s.sqlite3") as store:
        other = CaseRecord("f" * 32, "memory", "1", "schedule old", "anonymise", "started", NOW - 5, owner="other")
        assert await store.begin_case(other, stale_before=NOW - 600) is not None
        [report] = await anonymise_cases(helpdesk, SETTINGS, case_id="1", journal=journal(store))
        assert report.state == "busy" and helpdesk.effects == 0 and not report.complete


async def test_a_case_left_half_done_by_a_dead_process_is_completed_under_its_record(tmp_path: Path) -> None:
    helpdesk = MemoryHelpdesk([case("1")])
    async with SQLiteStore(tmp_path / "s.sqlite3") as store:
        dead = CaseRecord("d" * 32, "memory", "1", "schedule old", "anonymise", "started", NOW - 3600, owner="dead")
        await store.begin_case(dead, stale_before=NOW - 7200)
        [report] = await anonymise_cases(helpdesk, SETTINGS, case_id="1", journal=journal(store))
        assert report.state == "done"
        [record] = await store.case_records(case_ids=["1"])
        assert (record.record_id, record.state, record.owner) == ("d" * 32, "done", "me")


async def test_a_failed_case_is_recorded_as_retry(tmp_path: Path) -> None:
    helpdesk = MemoryHelpdesk([case("1")])
    helpdesk.fail_next("update_message", HelpdeskError("memory: update message: answered 503", retryable=True))
    async with SQLiteStore(tmp_path / "s.sqlite3") as store:
        [report] = await anonymise_cases(helpdesk, SETTINGS, case_id="1", scanner=SCANNER, journal=journal(store))
        [record] = await store.case_records()
        assert report.state == record.state == "retry"
        [again] = await anonymise_cases(helpdesk, SETTINGS, case_id="1", scanner=SCANNER, journal=journal(store))
        assert again.state == "done" and [r.state for r in await store.case_records()] == ["done", "retry"]


async def test_a_dry_run_writes_nothing(tmp_path: Path) -> None:
    helpdesk = MemoryHelpdesk([case("1")])
    async with SQLiteStore(tmp_path / "s.sqlite3") as store:
        [report] = await anonymise_cases(helpdesk, SETTINGS, case_id="1", dry_run=True, journal=journal(store))
        assert report.state == "planned"
        assert await store.case_records() == [] and await store.revocations() == []
