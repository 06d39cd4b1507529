"""Data-subject requests in every backend: verifications used once, requests leased to one worker at a time,
operators' changes, exports taken once, the audit log, rate windows and purging."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.store import Store, StoreError
from gateway.store.requests import (
    AuditEntry,
    ExportBlob,
    RequestUpdate,
    SubjectRequest,
    Verification,
    Work,
    WorkResult,
)
from tests.store.conftest import StoreFactory

T0 = 1_700_000_000.0
DAY = 86400.0


def verification(n: int = 1, **changes: Any) -> Verification:
    fields: dict[str, Any] = {"nonce": f"{n:032x}", "created_at": T0, "expires_at": T0 + 3600,
                              "email_hash": "r1:" + "e" * 32, "sealed": "r1:c2VhbGVk"}
    fields.update(changes)
    return Verification(**fields)


def request(n: int = 1, **changes: Any) -> SubjectRequest:
    fields: dict[str, Any] = {
        "request_id": f"DSR-{n:05d}-ABCDE", "kind": "access", "state": "received", "created_at": T0 + n,
        "due_at": T0 + n + 30 * DAY, "updated_at": T0 + n, "email_hash": "r1:" + "e" * 32, "sealed": "r1:c2VhbGVk",
        "language": "en", "work": Work.CASE | Work.RECEIPT, "next_attempt_at": T0 + n,
    }
    fields.update(changes)
    return SubjectRequest(**fields)


async def test_a_verification_is_used_once_and_then_reported_used(store: Store) -> None:
    await store.add_verification(verification())
    assert await store.peek_verification(f"{1:032x}", T0 + 1) == "verified"
    outcome, found = await store.use_verification(f"{1:032x}", T0 + 1)
    assert outcome == "verified" and found is not None and found.email_hash == "r1:" + "e" * 32
    assert await store.use_verification(f"{1:032x}", T0 + 2) == ("used", None)
    assert await store.use_verification(f"{2:032x}", T0 + 2) == ("unknown", None)


async def test_an_expired_verification_is_not_used(store: Store) -> None:
    await store.add_verification(verification())
    assert await store.use_verification(f"{1:032x}", T0 + 3600) == ("expired", None)
    assert await store.peek_verification(f"{1:032x}", T0 + 3600) == "expired"


async def test_two_replicas_using_one_link_at_once_verify_it_once(store_factory: StoreFactory) -> None:
    first, second = await store_factory(), await store_factory()
    await first.add_verification(verification())
    results = await asyncio.gather(*(s.use_verification(f"{1:032x}", T0 + 1) for s in (first, second, first)))
    assert sorted(outcome for outcome, _ in results) == ["used", "used", "verified"]


async def test_requests_are_found_by_id_listed_newest_first_and_by_email_hash(store: Store) -> None:
    a, b = request(1), request(2, email_hash="r1:" + "f" * 32, state="refused")
    for r in (a, b):
        await store.add_request(r)
    assert await store.get_request(a.request_id) == a
    assert await store.get_request("DSR-99999-ABCDE") is None and await store.get_request("x") is None
    assert await store.list_requests() == [b, a]
    assert await store.list_requests(open_only=True) == [a]
    assert await store.requests_for(["r1:" + "e" * 32, "r0:" + "e" * 32]) == [a]
    with pytest.raises(StoreError):
        await store.add_request(a)


async def test_an_operator_change_applies_only_in_the_state_it_was_made_for(store: Store) -> None:
    await store.add_request(request(1, work=0))
    update = RequestUpdate("extended", T0 + 50, reason="Many cases", due_at=T0 + 60 * DAY, extended_days=30,
                           add_work=Work.MAIL_EXTENDED)
    assert await store.update_request("DSR-00001-ABCDE", update, expect_state="in_progress") is False
    assert await store.update_request("DSR-00001-ABCDE", update, expect_state="received") is True
    found = await store.get_request("DSR-00001-ABCDE")
    assert found is not None
    assert (found.state, found.reason, found.due_at, found.extended_days, found.work, found.next_attempt_at) == (
        "extended", "Many cases", T0 + 60 * DAY, 30, Work.MAIL_EXTENDED, T0 + 50)
    again = RequestUpdate("refused", T0 + 60, reason="Manifestly unfounded")
    assert await store.update_request("DSR-00001-ABCDE", again, expect_state="extended") is True
    found = await store.get_request("DSR-00001-ABCDE")
    assert found is not None and found.due_at == T0 + 60 * DAY and found.work == Work.MAIL_EXTENDED


async def test_work_is_leased_to_one_worker_and_finished_by_it(store: Store) -> None:
    await store.add_request(request(1))
    await store.add_request(request(2, next_attempt_at=T0 + 500))  # not due yet
    claimed = await store.claim_request_work("w1", T0 + 10, 60)
    assert claimed is not None and claimed.request_id == "DSR-00001-ABCDE"
    assert await store.claim_request_work("w2", T0 + 20, 60) is None  # leased, and the other not due
    done = WorkResult(Work.CASE, T0 + 30, case_id="17", case_reference="DSAR-17")
    assert await store.finish_request_work("DSR-00001-ABCDE", "w2", done) is False  # not its lease
    assert await store.finish_request_work("DSR-00001-ABCDE", "w1", done) is True
    found = await store.get_request("DSR-00001-ABCDE")
    assert found is not None
    assert (found.state, found.case_id, found.case_reference, found.work) == ("in_progress", "17", "DSAR-17",
                                                                               Work.RECEIPT)
    again = await store.claim_request_work("w2", T0 + 40, 60)
    assert again is not None and again.request_id == "DSR-00001-ABCDE"


async def test_a_lease_that_ran_out_is_taken_by_another_worker(store: Store) -> None:
    await store.add_request(request(1))
    assert await store.claim_request_work("w1", T0 + 10, 60) is not None
    claimed = await store.claim_request_work("w2", T0 + 71, 60)
    assert claimed is not None
    assert await store.finish_request_work(claimed.request_id, "w1", WorkResult(Work.CASE, T0 + 72)) is False


async def test_a_failed_try_is_rescheduled_and_work_added_meanwhile_is_kept(store: Store) -> None:
    await store.add_request(request(1))
    assert await store.claim_request_work("w1", T0 + 10, 60) is not None
    await store.update_request("DSR-00001-ABCDE", RequestUpdate("received", T0 + 11, add_work=Work.EXPORT),
                               expect_state="received")
    failed = WorkResult(Work.RECEIPT, T0 + 12, attempts=1, next_attempt_at=T0 + 42, last_error="helpdesk_unavailable")
    assert await store.finish_request_work("DSR-00001-ABCDE", "w1", failed)
    found = await store.get_request("DSR-00001-ABCDE")
    assert found is not None
    assert (found.work, found.attempts, found.last_error) == (Work.CASE | Work.EXPORT, 1, "helpdesk_unavailable")
    assert await store.claim_request_work("w1", T0 + 41, 60) is None
    assert await store.claim_request_work("w1", T0 + 42, 60) is not None


async def test_replicas_claiming_together_never_share_a_request(store_factory: StoreFactory) -> None:
    stores = [await store_factory() for _ in range(3)]
    for n in range(1, 7):
        await stores[0].add_request(request(n))
    claims = await asyncio.gather(*(s.claim_request_work(f"w{i}", T0 + 100, 60) for i, s in enumerate(stores * 3)))
    ids = [c.request_id for c in claims if c is not None]
    assert len(ids) == 6 and len(set(ids)) == 6


async def test_fulfilling_closes_an_open_request_only(store: Store) -> None:
    await store.add_request(request(1, work=Work.EXPORT))
    await store.add_request(request(2, work=Work.EXPORT, state="refused"))
    for n in (1, 2):
        claimed = await store.claim_request_work("w", T0 + 10, 60)
        assert claimed is not None
        await store.finish_request_work(claimed.request_id, "w", WorkResult(
            Work.EXPORT, T0 + 11, fulfilled=True, export_id="a" * 31 + str(n), export_expires_at=T0 + 99))
    first, second = await store.get_request("DSR-00001-ABCDE"), await store.get_request("DSR-00002-ABCDE")
    assert first is not None and second is not None
    assert (first.state, first.export_id, first.export_expires_at) == ("fulfilled", "a" * 31 + "1", T0 + 99)
    assert second.state == "refused"


async def test_stats_count_open_requests_by_type_overdue_and_due_soon(store: Store) -> None:
    await store.add_request(request(1, due_at=T0 + 5))  # overdue at T0 + 10
    await store.add_request(request(2, kind="erasure", due_at=T0 + 3 * DAY))  # due soon
    await store.add_request(request(3, due_at=T0 + 20 * DAY))
    await store.add_request(request(4, state="fulfilled", due_at=T0))
    stats = await store.request_stats(T0 + 10, 7 * DAY)
    assert stats.open_by_kind == {"access": 2, "erasure": 1}
    assert (stats.overdue, stats.due_soon, stats.oldest_created_at) == (1, 1, T0 + 1)
    empty = await store.request_stats(T0, 1)
    assert empty.open_by_kind == {} or empty.open_by_kind  # shape only
    await store.update_request("DSR-00001-ABCDE", RequestUpdate("fulfilled", T0), expect_state="received")
    assert (await store.request_stats(T0 + 10, 7 * DAY)).overdue == 0


async def test_an_export_is_taken_once_and_marks_its_request_downloaded(store: Store) -> None:
    await store.add_request(request(1))
    claimed = await store.claim_request_work("w", T0 + 10, 60)
    assert claimed is not None
    await store.finish_request_work(claimed.request_id, "w", WorkResult(0, T0, export_id="b" * 32,
                                                                        export_expires_at=T0 + 100))
    await store.add_export(ExportBlob("b" * 32, "DSR-00001-ABCDE", T0, T0 + 100, b"\x00sealed"))
    outcome, blob = await store.take_export("b" * 32, T0 + 50)
    assert outcome == "taken" and blob is not None and blob.sealed == b"\x00sealed"
    assert await store.take_export("b" * 32, T0 + 51) == ("gone", None)
    found = await store.get_request("DSR-00001-ABCDE")
    assert found is not None and found.export_downloaded_at == T0 + 50


async def test_an_expired_export_is_deleted_not_given(store: Store) -> None:
    await store.add_export(ExportBlob("c" * 32, "DSR-00001-ABCDE", T0, T0 + 100, b"x"))
    assert await store.take_export("c" * 32, T0 + 100) == ("expired", None)
    assert await store.take_export("c" * 32, T0 + 1) == ("gone", None)


async def test_the_audit_log_keeps_who_what_when_per_request(store: Store) -> None:
    entries = [AuditEntry(T0 + 1, "cli:kari", "approve", "DSR-00001-ABCDE"),
               AuditEntry(T0 + 2, "api:ops", "extend", "DSR-00001-ABCDE"),
               AuditEntry(T0 + 3, "api:ops", "refuse", "DSR-00002-ABCDE")]
    for entry in entries:
        await store.add_audit(entry)
    assert await store.audit_for("DSR-00001-ABCDE") == entries[:2]
    assert await store.audit_for("nope") == []


async def test_rate_windows_count_and_purge_removes_what_ended(store: Store) -> None:
    assert [await store.count_rate("ip:abc:1", T0 + 60) for _ in range(3)] == [1, 2, 3]
    assert await store.count_rate("ip:abc:2", T0 + 120) == 1
    await store.add_verification(verification(1, expires_at=T0 + 10))
    await store.add_verification(verification(2, expires_at=T0 + 2 * DAY))
    await store.add_export(ExportBlob("d" * 32, "DSR-00001-ABCDE", T0, T0 + 10, b"x"))
    removed = await store.purge_requests(T0 + DAY + 60)
    assert removed == 4  # the first verification (a day past expiry), the export, both windows
    assert await store.peek_verification(f"{1:032x}", T0) == "unknown"
    assert await store.peek_verification(f"{2:032x}", T0) == "verified"
    assert await store.count_rate("ip:abc:1", T0 + 60) == 1


@pytest.mark.parametrize(("make", "message"), [
    (lambda: verification(nonce="short"), "nonce"),
    (lambda: request(request_id="R-1"), "request_id"),
    (lambda: request(state="lost"), "state"),
    (lambda: request(work=128), "unknown bits"),
    (lambda: request(last_error="Kari's mailbox is full"), "last_error"),
    (lambda: request(sealed=""), "sealed"),
    (lambda: AuditEntry(T0, "", "approve", "DSR-00001-ABCDE"), "actor"),
    (lambda: AuditEntry(T0, "cli:x", "Approve it!", "DSR-00001-ABCDE"), "action"),
    (lambda: ExportBlob("e" * 32, "DSR-00001-ABCDE", T0, T0, b""), "sealed"),
    (lambda: RequestUpdate("lost", T0), "state"),  # type: ignore[arg-type]
    (lambda: WorkResult(0, T0, last_error="A sentence."), "last_error"),
])
def test_malformed_records_are_refused_before_any_backend(make: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


async def test_a_closed_request_is_reduced_with_its_exports_and_an_open_one_is_not(store: Store) -> None:
    closed, still_open = request(1, state="fulfilled"), request(2)
    for n, made in enumerate((closed, still_open), 1):
        await store.add_request(made)
        await store.add_export(ExportBlob(f"{n:032x}", made.request_id, T0, T0 + 3600, b"sealed"))
    assert await store.reduce_request(closed.request_id, "r1:bGVzcw") == 2  # the request and its export
    assert await store.reduce_request(still_open.request_id, "r1:bGVzcw") == 0  # open: left whole
    assert (await store.take_export(f"{2:032x}", T0))[1] is not None
    reduced, kept = await store.get_request(closed.request_id), await store.get_request(still_open.request_id)
    assert reduced is not None and reduced.sealed == "r1:bGVzcw" and reduced.state == "fulfilled"
    assert kept is not None and kept.sealed == still_open.sealed
