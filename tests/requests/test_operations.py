"""Operators' actions on a real store: decided on the state they saw, audited, reported without addresses."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.lib.keyring import KeyRing
from gateway.requests import lifecycle, operations
from gateway.requests.keys import PortalKeys
from gateway.store import SQLiteStore
from gateway.store.requests import RequestUpdate, Work, WorkResult

KEYS = PortalKeys(KeyRing.from_config([("r1", "raw:" + "a-data-subject-request-key-000001")], "r1"))


async def test_a_change_made_meanwhile_is_a_conflict_not_applied_twice(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    private = lifecycle.Private("erasure", "kari@example.no", "", "", "en")
    request = lifecycle.verified(KEYS, private, now=1_000, due_days=30, automatic=False)
    async with SQLiteStore(tmp_path / "s.sqlite3") as store:
        await store.add_request(request)
        real_update = store.update_request

        async def someone_else_first(request_id: str, update: RequestUpdate, *, expect_state: str) -> bool:
            await real_update(request_id, RequestUpdate("refused", 1_001, reason="By someone else"),
                              expect_state=expect_state)
            return await real_update(request_id, update, expect_state=expect_state)

        monkeypatch.setattr(store, "update_request", someone_else_first)
        with pytest.raises(operations.Conflict):
            await operations.act(store, request.request_id, "approve", actor="api:ops")
        assert await store.audit_for(request.request_id) == []
        with pytest.raises(operations.NotFound):
            await operations.act(store, "DSR-00000-00000", "approve", actor="api:ops")
        with pytest.raises(ValueError):
            await operations.act(store, request.request_id, "delete", actor="api:ops")


async def test_a_decision_still_applies_after_the_worker_opened_the_case_meanwhile(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    private = lifecycle.Private("erasure", "kari@example.no", "", "", "en")
    request = lifecycle.verified(KEYS, private, now=1_000, due_days=30, automatic=False)
    async with SQLiteStore(tmp_path / "s.sqlite3") as store:
        await store.add_request(request)
        real_update = store.update_request
        calls: list[str] = []

        async def worker_first(request_id: str, update: RequestUpdate, *, expect_state: str) -> bool:
            if not calls:  # the worker opens the case in the helpdesk between the operator's read and write
                claimed = await store.claim_request_work("worker", 1_001, 30)
                assert claimed is not None and claimed.request_id == request_id
                assert await store.finish_request_work(request_id, "worker", WorkResult(
                    Work.CASE, 1_002, case_id="7", case_reference="7"))
            calls.append(expect_state)
            return await real_update(request_id, update, expect_state=expect_state)

        monkeypatch.setattr(store, "update_request", worker_first)
        done = await operations.act(store, request.request_id, "extend", actor="api:ops", days=10, reason="Busy")
        assert calls == ["received", "in_progress"]
        assert done["state"] == "extended" and done["extended_days"] == 10 and "mail_extended" in done["pending"]
        assert [e.action for e in await store.audit_for(request.request_id)] == ["extend"]


def test_a_request_is_listed_without_its_address_and_with_its_pending_work() -> None:
    private = lifecycle.Private("access", "kari@example.no", "", "", "en")
    request = lifecycle.verified(KEYS, private, now=1_000, due_days=30, automatic=True)
    row = operations.request_json(request)
    assert row["pending"] == ["case", "receipt", "export"] and row["overdue"] is True and row["export"] == ""
    assert "kari" not in str(row) and operations.pending_work(Work.MAIL_REFUSED) == ["mail_refused"]
