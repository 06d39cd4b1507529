"""Legal-basis records in every backend: written once, found by id, by withdrawal and by e-mail hash, exported."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.store import Store, StoreError
from gateway.store.legal import LegalRecord

T0 = 1_700_000_000.0


def record(n: int, **changes: Any) -> LegalRecord:
    fields: dict[str, Any] = {
        "record_id": f"{n:032x}", "created_at": T0 + n, "route": "signup", "basis": "consent", "purpose": "Accounts",
        "notice_version": "0123456789abcdef", "language": "en", "email_hash": "k1:" + "e" * 32,
        "ip_truncated": "192.0.2.0/24", "event": "given",
    }
    fields.update(changes)
    return LegalRecord(**fields)


async def test_records_are_found_by_id_with_their_withdrawals_and_by_email(store: Store) -> None:
    given, other = record(1), record(2, email_hash="k1:" + "f" * 32)
    withdrawal = record(3, event="withdrawn", withdraws=given.record_id)
    for r in (given, other, withdrawal):
        await store.add_legal_record(r)
    assert await store.legal_records([given.record_id]) == [given, withdrawal]
    assert await store.legal_records_for(["k1:" + "e" * 32, "k0:" + "e" * 32]) == [given, withdrawal]
    assert await store.legal_records([]) == [] and await store.legal_records_for([]) == []
    assert [r async for r in store.export_legal_records()] == [given, other, withdrawal]


async def test_export_reads_in_batches(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import gateway.store.base as base

    monkeypatch.setattr(base, "EXPORT_BATCH", 3)
    for n in range(8):
        await store.add_legal_record(record(n, created_at=T0))  # one time: the id breaks the tie
    assert [r.record_id async for r in store.export_legal_records()] == [f"{n:032x}" for n in range(8)]


async def test_a_record_id_is_written_once(store: Store) -> None:
    await store.add_legal_record(record(1))
    with pytest.raises(StoreError):
        await store.add_legal_record(record(1))


@pytest.mark.parametrize(("changes", "message"), [
    ({"record_id": "x"}, "record_id"),
    ({"event": "maybe"}, "event"),
    ({"event": "withdrawn"}, "names the record it withdraws"),
    ({"withdraws": "a" * 32}, "names the record it withdraws"),
    ({"notice_version": "short"}, "notice_version"),
    ({"route": ""}, "must not be empty"),
    ({"purpose": "a\x00b"}, "purpose"),
])
def test_a_malformed_record_is_refused_before_any_backend(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        record(1, **changes)


async def test_lookups_take_lists_of_text(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.legal_records("a" * 32)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        await store.legal_records_for(["x"] * 101)
