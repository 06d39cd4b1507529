"""The worker on a real store and a real SMTP sink: work in order, retried with backoff, done once even with
two workers at it; the gauges; an approved erasure's cases anonymised (a memory helpdesk), its outcomes."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.helpdesks.base import Case, CaseRef, HelpdeskError, Message, NewCase
from gateway.metrics import Metrics
from gateway.policy.loader import load_policy_text
from gateway.requests import lifecycle, operations
from gateway.requests.compiled import CompiledRequests, compile_requests
from gateway.requests.worker import RequestsWorker, case_for, phones_in, requester_names
from gateway.store import SQLiteStore, Store
from gateway.store.requests import ExportBlob, RequestUpdate, Work
from tests.support.memory_helpdesk import MemoryHelpdesk
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


def portal(sink: Smarthost, **sections: Any) -> CompiledRequests:
    """The portal's policy mailing through ``sink``, retrying after 10 s (at most 25 s), with ``sections``."""
    doc: dict[str, Any] = portal_policy(sink.port, 8080, retry={"initial": "10s", "max": "25s"})
    doc["requests"]["keys"] = [{"id": "r1", "secret": "${K}"}]
    doc["requests"]["helpdesk"]["secret"] = "${H}"
    doc["requests"]["api_tokens"] = []
    doc.update(sections)
    env = {**ENV, "P": "raw:" + "a-pseudonym-key-" + "0" * 17}
    compiled = compile_requests(load_policy_text(yaml.safe_dump(doc), "p.yaml", env=env,
                                                 default_upstream="http://h.test").policy)
    assert compiled is not None
    return compiled


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    sink = Smarthost()
    await sink.start()
    compiled = portal(sink)
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


# -- an approved erasure: the requester's cases anonymised, the request's own case told ---------------------------

ERASER = "kari.nordmann@example.no"
FNR = "01010012356"
SEEDED = (ERASER, "Kari", "Nordmann", "+47 912 34 567", "91234567", FNR)


def _case(case_id: str, requester: str, status: str, *texts: str) -> Case:
    return Case(case_id, f"support-{case_id}", f"Printer trouble, {texts[0][:12]}", status, "support",
                "2025-01-01T00:00:00", "2025-01-02T00:00:00", requester,
                tuple(Message(f"{case_id}-{n}", requester if n == 0 else "user 1", "2025-01-01T00:00:00", text)
                      for n, text in enumerate(texts)))


@dataclasses.dataclass
class Erasing:
    compiled: CompiledRequests
    store: Store
    sink: Smarthost
    helpdesk: MemoryHelpdesk
    metrics: Metrics
    t: float = 0.0

    def worker(self) -> RequestsWorker:
        return RequestsWorker(lambda: (self.compiled, self.store), self.metrics,
                              adapter_factory=lambda settings: self.helpdesk)

    async def approved(self, worker: RequestsWorker, now: float = 1_000.0) -> str:
        """An erasure request, verified, its case opened and its receipt mailed, then approved."""
        private = lifecycle.Private("erasure", ERASER, "", "Delete me. You may call +47 912 34 567.", "en")
        request = lifecycle.verified(self.compiled.keys, private, now=now, due_days=30, automatic=False)
        await self.store.add_request(request)
        await worker.run_once(now=now + 1)
        await operations.act(self.store, request.request_id, "approve", actor="cli:test",
                             erase=self.compiled.erasure is not None)
        self.t = time.time()  # the approval's work is due from now (the store's clock)
        return request.request_id


@pytest.fixture
async def erasing(tmp_path: Path) -> AsyncIterator[Erasing]:
    sink = Smarthost()
    await sink.start()
    compiled = portal(sink, anonymisation={"enabled": True, "keys": [{"id": "p1", "secret": "${P}"}],
                                           "rate_limit": 1000})
    assert compiled.erasure is not None and compiled.erasure.same_helpdesk
    helpdesk = MemoryHelpdesk([
        _case("7", ERASER, "closed", "Hi, Kari Nordmann here, call me on +47 912 34 567.",
              f"Her fødselsnummer is {FNR}; phone 91234567."),
        _case("8", "ola@example.no", "closed", "Ola Hansen here, phone +47 413 22 110."),
    ])
    async with SQLiteStore(tmp_path / "s.sqlite3") as store:
        yield Erasing(compiled, store, sink, helpdesk, Metrics())
    await sink.stop()


def _texts(case: Case) -> str:
    return "\n".join([case.title, case.requester, *(m.text for m in case.messages), *case.fields.values()])


async def test_an_approved_erasure_anonymises_the_cases_and_tells_the_requests_own_case(erasing: Erasing) -> None:
    worker = erasing.worker()
    untouched = erasing.helpdesk.cases["8"]
    request_id = await erasing.approved(worker)
    pending = await erasing.store.get_request(request_id)
    assert pending is not None and pending.state == "in_progress" and pending.work == Work.ERASE | Work.MAIL_FULFILLED
    assert await worker.run_once(now=erasing.t + 2) == 1
    done = await erasing.store.get_request(request_id)
    assert done is not None and (done.state, done.work, done.last_error) == ("fulfilled", 0, "")
    anonymised = _texts(erasing.helpdesk.cases["7"])
    assert not [value for value in SEEDED if value.casefold() in anonymised.casefold()], anonymised
    assert erasing.helpdesk.cases["7"].requester.endswith("@anonymised.invalid")
    assert erasing.helpdesk.cases["8"] == untouched
    own = erasing.helpdesk.cases[done.case_id]  # the request's own case: its record, kept as it was
    assert own.requester == ERASER and ERASER in own.messages[0].text
    (note,) = erasing.helpdesk.notes[done.case_id]
    assert note.startswith(f"Erasure for data-subject request {request_id}: done")
    assert "Cases of the requester found: 1; anonymised completely: 1." in note
    assert "support-7 (anonymise, done)" in note
    assert "no_fnr 1" in note and "phone 2" in note and "requester 1" in note
    assert not [value for value in SEEDED if value.casefold() in note.casefold()], note
    fulfilled = [m for m in erasing.sink.messages if ERASER in m.recipients]
    assert len(fulfilled) == 2 and request_id.encode() in fulfilled[-1].data  # the receipt, then "fulfilled"
    (record,) = await erasing.store.case_records(case_ids=["7"])
    assert (record.trigger, record.state) == (f"request {request_id}", "done") and FNR not in record.summary
    assert erasing.metrics.registry.get_sample_value(
        "privacy_gateway_cases_total", {"trigger": "request", "action": "anonymise", "result": "done"}) == 1
    assert erasing.metrics.registry.get_sample_value(
        "privacy_gateway_data_subject_requests_total", {"type": "erasure", "result": "fulfilled"}) == 1


async def test_an_erasure_the_helpdesk_may_finish_later_is_retried_with_the_backoff(erasing: Erasing) -> None:
    worker = erasing.worker()
    erasing.helpdesk.fail_next("update_message", HelpdeskError("memory: update message: answered 503",
                                                               retryable=True, status=503))
    request_id = await erasing.approved(worker)
    mails = len(erasing.sink.messages)
    await worker.run_once(now=erasing.t + 2)
    kept = await erasing.store.get_request(request_id)
    assert kept is not None and kept.state == "in_progress" and kept.work == Work.ERASE | Work.MAIL_FULFILLED
    assert (kept.last_error, kept.attempts, kept.next_attempt_at) == ("erasure_retry", 1, erasing.t + 12)
    assert len(erasing.sink.messages) == mails  # not told before it is done
    assert erasing.metrics.registry.get_sample_value("privacy_gateway_data_subject_request_errors_total",
                                                     {"work": "erase", "retried": "true"}) == 1
    assert "partly done" in erasing.helpdesk.notes[kept.case_id][0]  # a message was rewritten: agents hear it
    assert await worker.run_once(now=erasing.t + 11) == 0  # not before its time
    await worker.run_once(now=erasing.t + 12)
    done = await erasing.store.get_request(request_id)
    assert done is not None and (done.state, done.work, done.last_error) == ("fulfilled", 0, "")
    assert not [v for v in SEEDED if v.casefold() in _texts(erasing.helpdesk.cases["7"]).casefold()]
    assert len(erasing.sink.messages) == mails + 1
    assert erasing.helpdesk.notes[kept.case_id][-1].startswith(f"Erasure for data-subject request {request_id}: done")


async def test_an_erasure_the_helpdesk_cannot_finish_is_not_fulfilled_until_an_operator_decides(
        erasing: Erasing, caplog: pytest.LogCaptureFixture) -> None:
    erasing.helpdesk.cases["9"] = _case("9", ERASER, "open", "Kari again, still waiting.")
    erasing.helpdesk.capabilities = frozenset(erasing.helpdesk.capabilities - {"update_case"})  # type: ignore[misc]
    worker = erasing.worker()
    request_id = await erasing.approved(worker)
    mails = len(erasing.sink.messages)
    await worker.run_once(now=erasing.t + 2)
    left = await erasing.store.get_request(request_id)
    assert left is not None and (left.state, left.work, left.last_error) == ("in_progress", 0, "erasure_incomplete")
    assert len(erasing.sink.messages) == mails  # never told it was done
    (note,) = erasing.helpdesk.notes[left.case_id]
    assert "NOT complete" in note and "What remains:" in note
    assert "- support-9: its state (open) is not one anonymisation.states allows" in note
    assert "- support-7: update case of 7: the helpdesk cannot do it; do it by hand (memory: update case:" in note
    assert erasing.helpdesk.cases["9"].messages[0].text == "Kari again, still waiting."  # refused: untouched
    assert not [r for r in caplog.records if ERASER in r.getMessage() or "Kari" in str(getattr(r, "fields", ""))]
    assert erasing.metrics.registry.get_sample_value("privacy_gateway_data_subject_request_errors_total",
                                                     {"work": "erase", "retried": "false"}) == 1
    # Other work meanwhile (an extension) keeps the request marked incomplete.
    await operations.act(erasing.store, request_id, "extend", actor="cli:test", days=10, reason="The rest by hand")
    await worker.run_once(now=erasing.t + 3)
    extended = await erasing.store.get_request(request_id)
    assert extended is not None and (extended.state, extended.last_error) == ("extended", "erasure_incomplete")
    # A person did the rest; approving again fulfils it and tells the requester, without erasing again.
    calls = len(erasing.helpdesk.calls)
    await operations.act(erasing.store, request_id, "approve", actor="cli:test", erase=True)
    await worker.run_once(now=erasing.t + 4)
    closed = await erasing.store.get_request(request_id)
    assert closed is not None and (closed.state, closed.work, closed.last_error) == ("fulfilled", 0, "")
    assert len(erasing.sink.messages) == mails + 2 and len(erasing.helpdesk.calls) == calls  # extended, fulfilled


async def test_an_incomplete_erasure_may_be_refused_instead(erasing: Erasing) -> None:
    erasing.helpdesk.cases["9"] = _case("9", ERASER, "open", "Kari again.")
    worker = erasing.worker()
    request_id = await erasing.approved(worker)
    await worker.run_once(now=erasing.t + 2)
    await operations.act(erasing.store, request_id, "refuse", actor="cli:test",
                         reason="Case support-9 is kept while the dispute runs (Art. 17(3)(e)).")
    mails = len(erasing.sink.messages)
    await worker.run_once(now=erasing.t + 3)
    refused = await erasing.store.get_request(request_id)
    assert refused is not None and (refused.state, refused.work) == ("refused", 0)
    assert len(erasing.sink.messages) == mails + 1 and b"Art. 17(3)(e)" in erasing.sink.messages[-1].data


async def test_an_erasure_refused_while_it_waits_is_not_erased_nor_told_done(erasing: Erasing) -> None:
    worker = erasing.worker()
    erasing.helpdesk.fail_next("find_cases", HelpdeskError("memory: find cases: answered 503", retryable=True))
    request_id = await erasing.approved(worker)
    await worker.run_once(now=erasing.t + 2)
    waiting = await erasing.store.get_request(request_id)
    assert waiting is not None and waiting.work & Work.ERASE and waiting.last_error == "helpdesk_unavailable"
    assert not erasing.helpdesk.notes  # nothing done yet: nothing to tell agents
    await operations.act(erasing.store, request_id, "refuse", actor="cli:test", reason="Kept by law")
    mails = len(erasing.sink.messages)
    await worker.run_once(now=erasing.t + 20)
    refused = await erasing.store.get_request(request_id)
    assert refused is not None and (refused.state, refused.work) == ("refused", 0)
    assert len(erasing.sink.messages) == mails + 1 and b"Kept by law" in erasing.sink.messages[-1].data
    assert erasing.helpdesk.cases["7"].requester == ERASER


def test_the_requesters_name_from_the_address_and_phones_from_the_text(erasing: Erasing) -> None:
    assert requester_names("kari.nordmann@example.no") == ("Kari Nordmann",)
    assert requester_names("Ola_Åsen-Berg@example.no") == ("Ola Åsen Berg",)
    assert requester_names("kari@example.no") == () and requester_names("k.n2@example.no") == ()
    assert erasing.compiled.erasure is not None
    assert phones_in("Call +47 912 34 567 or mail.", erasing.compiled.erasure) == ("+47 912 34 567",)


async def test_an_erasure_left_to_do_when_anonymisation_is_turned_off_is_incomplete(erasing: Erasing) -> None:
    worker = erasing.worker()
    request_id = await erasing.approved(worker)
    erasing.compiled = dataclasses.replace(erasing.compiled, erasure=None)  # a reload turned anonymisation off
    await worker.run_once(now=erasing.t + 2)
    left = await erasing.store.get_request(request_id)
    assert left is not None and (left.state, left.work, left.last_error) == ("in_progress", 0, "erasure_incomplete")
    (note,) = erasing.helpdesk.notes[left.case_id]
    assert "anonymisation is off in the policy" in note and "NOT complete" in note
    assert erasing.helpdesk.cases["7"].requester == ERASER


async def test_an_erasure_reduces_the_requesters_earlier_requests_and_keeps_itself_whole(erasing: Erasing) -> None:
    worker = erasing.worker()
    earlier = lifecycle.Private("access", ERASER, "support-7", "Send me all you hold, Kari Nordmann.", "en",
                                ("c" * 32,))
    old = lifecycle.verified(erasing.compiled.keys, earlier, now=900, due_days=30, automatic=False)
    await erasing.store.add_request(old)
    await erasing.store.update_request(old.request_id, RequestUpdate("fulfilled", 950), expect_state="received")
    await erasing.store.add_export(ExportBlob("e" * 32, old.request_id, 950, time.time() + 3600, b"sealed"))
    request_id = await erasing.approved(worker)
    await worker.run_once(now=erasing.t + 2)
    reduced = await erasing.store.get_request(old.request_id)
    assert reduced is not None and reduced.state == "fulfilled" and reduced.kind == "access"
    assert lifecycle.unseal(erasing.compiled.keys, reduced.sealed, old.request_id) == lifecycle.Private(
        "access", ERASER, "", "", "en")
    assert (await erasing.store.take_export("e" * 32, time.time()))[1] is None  # its export is gone
    kept = await erasing.store.get_request(request_id)
    assert kept is not None and "Delete me" in lifecycle.unseal(erasing.compiled.keys, kept.sealed, request_id).text
