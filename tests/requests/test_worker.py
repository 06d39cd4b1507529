"""The worker on a real store and a real SMTP sink: work in order, retried with backoff, done once even with
two workers at it; the gauges."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.helpdesks.base import CaseRef, NewCase
from gateway.metrics import Metrics
from gateway.policy.loader import load_policy_text
from gateway.requests import lifecycle
from gateway.requests.compiled import CompiledRequests, compile_requests
from gateway.requests.worker import RequestsWorker, case_for
from gateway.store import SQLiteStore, Store
from gateway.store.requests import Work
from tests.support.portal import RecordingHelpdesk, portal_policy
from tests.support.smarthost import Smarthost

ENV = {"K": "raw:" + "a-data-subject-request-key-000001", "H": "a-webhook-secret-of-32-bytes-000001"}
EMAIL = "kari@example.no"


@dataclasses.dataclass
class World:
    compiled: CompiledRequests
    store: Store
    sink: Smarthost
    helpdesk: RecordingHelpdesk
    metrics: Metrics

    def worker(self) -> RequestsWorker:
        return RequestsWorker(lambda: (self.compiled, self.store), self.metrics,
                              adapter_factory=lambda settings: self.helpdesk)

    async def request(self, kind: str = "access", *, automatic: bool = False, now: float = 1_000.0) -> str:
        private = lifecycle.Private(kind, EMAIL, "", "Please", "en")
        request = lifecycle.verified(self.compiled.keys, private, now=now, due_days=30, automatic=automatic)
        await self.store.add_request(request)
        return request.request_id


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    sink = Smarthost()
    await sink.start()
    doc: dict[str, Any] = portal_policy(sink.port, 8080, retry={"initial": "10s", "max": "25s"})
    doc["requests"]["keys"] = [{"id": "r1", "secret": "${K}"}]
    doc["requests"]["helpdesk"]["secret"] = "${H}"
    doc["requests"]["api_tokens"] = []
    policy = load_policy_text(yaml.safe_dump(doc), "p.yaml", env=ENV, default_upstream="http://h.test").policy
    compiled = compile_requests(policy)
    assert compiled is not None
    async with SQLiteStore(tmp_path / "s.sqlite3") as store:
        yield World(compiled, store, sink, RecordingHelpdesk(), Metrics())
    await sink.stop()


async def test_the_work_is_done_in_order_and_the_request_moves_on(world: World) -> None:
    request_id = await world.request()
    assert await world.worker().run_once(now=1_001.0) == 1
    done = await world.store.get_request(request_id)
    assert done is not None and (done.state, done.work, done.case_reference) == ("in_progress", 0, "DSAR-101")
    (receipt,) = world.sink.messages
    assert receipt.recipients == (EMAIL,)
    assert world.metrics.registry.get_sample_value("privacy_gateway_data_subject_requests_open", {"type": "access"}) == 1
    assert await world.worker().run_once(now=1_002.0) == 0


async def test_a_failure_is_retried_with_a_doubling_wait_up_to_the_max(world: World) -> None:
    world.helpdesk.down = True
    request_id = await world.request()
    worker = world.worker()
    now = 1_001.0
    waits = []
    for _ in range(4):
        assert await worker.run_once(now=now) == 1
        kept = await world.store.get_request(request_id)
        assert kept is not None and kept.work == Work.CASE and kept.state == "received"
        waits.append(kept.next_attempt_at - now)
        assert await worker.run_once(now=now + waits[-1] - 0.5) == 0  # not before its time
        now = kept.next_attempt_at
    assert waits == [10.0, 20.0, 25.0, 25.0] and len(world.sink.messages) == 1  # the receipt went at once
    world.helpdesk.down = False
    await worker.run_once(now=now)
    opened = await world.store.get_request(request_id)
    assert opened is not None and opened.attempts == 0 and opened.work == 0 and len(world.helpdesk.opened) == 1


async def test_an_automatic_export_waits_for_the_case_and_follows_it(world: World) -> None:
    world.helpdesk.down = True
    request_id = await world.request(automatic=True)
    worker = world.worker()
    await worker.run_once(now=1_001.0)
    waiting = await world.store.get_request(request_id)
    assert waiting is not None and waiting.work == Work.CASE | Work.EXPORT and "find_cases" not in world.helpdesk.calls
    world.helpdesk.down = False
    await worker.run_once(now=waiting.next_attempt_at)
    done = await world.store.get_request(request_id)
    assert done is not None and done.state == "fulfilled" and done.export_id and done.work == 0
    assert world.helpdesk.calls == ["open_case", "open_case", "find_cases", "read_case"]
    assert [m.data for m in world.sink.messages if b"Your data is ready" in m.data]


async def test_two_workers_at_once_open_the_case_once(world: World) -> None:
    slow = world.helpdesk

    async def open_slowly(case: NewCase) -> CaseRef:
        await asyncio.sleep(0.2)
        return await RecordingHelpdesk.open_case(slow, case)

    slow.open_case = open_slowly  # type: ignore[method-assign]
    await world.request()
    worked = await asyncio.gather(world.worker().run_once(), world.worker().run_once())
    assert sorted(worked) == [0, 1] and len(slow.opened) == 1


async def test_a_request_sealed_with_a_removed_key_is_dropped_and_said_so(world: World) -> None:
    request_id = await world.request()
    broken = await world.store.get_request(request_id)
    assert broken is not None
    await world.store._fetch("UPDATE dsr_requests SET sealed = 'eHl6' WHERE request_id = ?",  # type: ignore[attr-defined]
                             (request_id,))
    await world.worker().run_once(now=1_001.0)
    dropped = await world.store.get_request(request_id)
    assert dropped is not None and dropped.work == 0 and dropped.last_error == "unsealable"
    assert not world.helpdesk.opened and not world.sink.messages


async def test_a_refused_address_does_not_hold_the_request_back(world: World) -> None:
    world.sink.refuse_recipients[EMAIL] = "550 5.1.1 no such user"
    request_id = await world.request()
    await world.worker().run_once(now=1_001.0)
    done = await world.store.get_request(request_id)
    assert done is not None and done.work == 0 and done.case_reference
    assert world.metrics.registry.get_sample_value("privacy_gateway_data_subject_request_errors_total",
                                                   {"work": "mail", "retried": "false"}) == 1


async def test_the_gauges_count_open_overdue_due_soon_and_the_oldest(world: World) -> None:
    await world.request(now=1_000.0)
    await world.request("erasure", now=2_000.0)
    worker = world.worker()
    now = 1_000.0 + 24 * 86400  # both due within 7 days
    await worker.refresh_stats(world.compiled, world.store, now)
    value = world.metrics.registry.get_sample_value
    assert value("privacy_gateway_data_subject_requests_open", {"type": "erasure"}) == 1
    assert value("privacy_gateway_data_subject_requests_open", {"type": "portability"}) == 0
    assert value("privacy_gateway_data_subject_requests_due_soon", {}) == 2
    assert value("privacy_gateway_data_subject_requests_oldest_open_age_seconds", {}) == now - 1_000.0
    await worker.refresh_stats(world.compiled, world.store, 1_500.0 + 30 * 86400)
    assert value("privacy_gateway_data_subject_requests_overdue", {}) == 1


def test_the_case_tells_agents_what_to_do_by_when() -> None:
    from gateway.lib.keyring import KeyRing
    from gateway.requests.keys import PortalKeys

    keys = PortalKeys(KeyRing.from_config([("r1", ENV["K"])], "r1"))
    private = lifecycle.Private("erasure", EMAIL, "support-7", "Delete my account", "nb")
    request = lifecycle.verified(keys, private, now=0.0, due_days=30, automatic=False)
    case = case_for(request, private, None)  # type: ignore[arg-type]
    assert case.title == f"[{request.request_id}] Data-subject request: Erasure" and case.requester == EMAIL
    assert "Answer by: 1970-01-31" in case.body and "support-7" in case.body and "Delete my account" in case.body
    assert case.tags == ("data-subject-request", "erasure") and case.idempotency_key == request.request_id
