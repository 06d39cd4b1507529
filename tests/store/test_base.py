"""The store contract, run against every backend; records and URLs that are refused."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import gateway.store.base as store_base
from gateway.store import (
    SCHEMA_VERSION,
    ConsentReceipt,
    PostgresStore,
    Revocation,
    SQLiteStore,
    Store,
    StoreError,
    open_store_url,
)
from tests.store.conftest import StoreFactory

T0 = 1_700_000_000.0


def receipt(consent_id: str = "c-1", created_at: float = T0, **changes: Any) -> ConsentReceipt:
    fields: dict[str, Any] = {
        "consent_id": consent_id,
        "created_at": created_at,
        "choices": {"necessary": True, "analytics": False, "marketing": False},
        "consent_version": "2024-05",
        "text_hash": "sha256:" + "ab" * 32,
        "method": "banner",
        "ip_truncated": "203.0.113.0",
        "user_agent_family": "Firefox",
        "page_path": "/cases/4711",
    }
    fields.update(changes)
    return ConsentReceipt(**fields)


# -- opening -----------------------------------------------------------------


async def test_open_twice_and_a_second_store_on_the_same_database(store_factory: StoreFactory) -> None:
    first = await store_factory()
    await first.open()  # opening an open store does nothing
    await first.revoke("token", "jti-1", expires_at=T0 + 100, now=T0)
    second = await store_factory()  # the schema is already there: created idempotently
    assert await second.is_revoked(jti="jti-1", case=None, recipient=None, now=T0)
    await first.close()
    await first.close()  # closing twice too
    await first.open()  # and it can be opened again
    assert len(await first.revocations()) == 1


async def test_replicas_see_each_other(store_factory: StoreFactory) -> None:
    a, b = await store_factory(), await store_factory()
    await a.revoke("case", "4711", expires_at=T0 + 3600, reason="leaked", now=T0)
    await b.revoke("recipient", "rcp-hash", expires_at=T0 + 3600, now=T0)
    assert await b.is_revoked(jti="x", case="4711", recipient=None, now=T0 + 1)
    assert await a.is_revoked(jti="x", case=None, recipient="rcp-hash", now=T0 + 1)
    await b.add_receipt(receipt("shared"))
    assert await a.receipts_for("shared") == [receipt("shared")]
    assert [r.value for r in await a.revocations()] == [r.value for r in await b.revocations()]


async def test_unopened_store_refuses_work(store_factory: StoreFactory) -> None:
    store = store_factory.new()
    with pytest.raises(StoreError, match="not open"):
        await store.is_revoked(jti="x", case=None, recipient=None, now=T0)
    with pytest.raises(StoreError, match="not open"):
        await store.add_receipt(receipt())


async def test_as_context_manager(store_factory: StoreFactory) -> None:
    async with store_factory.new() as store:
        await store.add_receipt(receipt())
        assert len(await store.receipts_for("c-1")) == 1


# -- revocations -------------------------------------------------------------


async def test_revoke_by_token(store: Store) -> None:
    await store.revoke("token", "jti-1", expires_at=T0 + 600, now=T0)
    assert await store.is_revoked(jti="jti-1", case=None, recipient=None, now=T0)
    assert await store.is_revoked(jti="jti-1", case="4711", recipient="r", now=T0, issued_at=T0 + 10)
    assert not await store.is_revoked(jti="jti-2", case=None, recipient=None, now=T0)


async def test_revoke_by_case(store: Store) -> None:
    await store.revoke("case", "4711", expires_at=T0 + 600, now=T0)
    assert await store.is_revoked(jti="any", case="4711", recipient=None, now=T0)
    assert not await store.is_revoked(jti="any", case="4712", recipient=None, now=T0)
    assert not await store.is_revoked(jti="any", case=None, recipient=None, now=T0)
    # Kinds do not mix: a case value is not a token id nor a recipient.
    assert not await store.is_revoked(jti="4711", case=None, recipient="4711", now=T0)


async def test_revoke_by_recipient(store: Store) -> None:
    await store.revoke("recipient", "h1", expires_at=T0 + 600, now=T0)
    assert await store.is_revoked(jti="any", case="1", recipient="h1", now=T0)
    assert not await store.is_revoked(jti="h1", case="h1", recipient="h2", now=T0)


async def test_revocation_holds_until_it_expires(store: Store) -> None:
    await store.revoke("token", "t", expires_at=T0 + 600, now=T0)
    assert await store.is_revoked(jti="t", case=None, recipient=None, now=T0 + 599.9)
    assert not await store.is_revoked(jti="t", case=None, recipient=None, now=T0 + 600)


async def test_issued_at_limits_case_and_recipient_revocations(store: Store) -> None:
    await store.revoke("case", "4711", expires_at=T0 + 600, now=T0)
    await store.revoke("recipient", "h1", expires_at=T0 + 600, now=T0)
    await store.revoke("token", "t1", expires_at=T0 + 600, now=T0)
    for case, recipient in (("4711", None), (None, "h1")):
        # Issued before (or at) the revocation: refused. Issued after: a new link, allowed.
        assert await store.is_revoked(jti="x", case=case, recipient=recipient, now=T0 + 5, issued_at=T0 - 60)
        assert await store.is_revoked(jti="x", case=case, recipient=recipient, now=T0 + 5, issued_at=T0)
        assert not await store.is_revoked(jti="x", case=case, recipient=recipient, now=T0 + 5, issued_at=T0 + 1)
    # A token id revocation does not care when the token was issued.
    assert await store.is_revoked(jti="t1", case=None, recipient=None, now=T0 + 5, issued_at=T0 + 1)


async def test_revoking_again_keeps_the_later_expiry(store: Store) -> None:
    await store.revoke("token", "t", expires_at=T0 + 600, reason="first", now=T0)
    await store.revoke("token", "t", expires_at=T0 + 60, now=T0 + 1)
    assert await store.revocations() == [Revocation("token", "t", T0, T0 + 600, "first")]
    await store.revoke("token", "t", expires_at=T0 + 900, reason="again", now=T0 + 2)
    assert await store.revocations() == [Revocation("token", "t", T0, T0 + 900, "again")]


async def test_revocations_listing(store: Store) -> None:
    await store.revoke("case", "2", expires_at=T0 + 20, now=T0 + 2)
    await store.revoke("token", "1", expires_at=T0 + 10, reason="r", now=T0 + 1)
    assert await store.revocations() == [
        Revocation("token", "1", T0 + 1, T0 + 10, "r"),
        Revocation("case", "2", T0 + 2, T0 + 20, ""),
    ]


async def test_purge_expired_revocations(store: Store) -> None:
    await store.revoke("token", "old", expires_at=T0 + 10, now=T0)
    await store.revoke("case", "edge", expires_at=T0 + 20, now=T0)
    await store.revoke("recipient", "new", expires_at=T0 + 30, now=T0)
    await store.add_receipt(receipt(created_at=T0 - 10**9))  # no retention set: kept
    assert await store.purge_expired(T0 + 20) == 2
    assert [r.value for r in await store.revocations()] == ["new"]
    assert await store.purge_expired(T0 + 20) == 0
    assert len(await store.receipts_for("c-1")) == 1


async def test_purge_expired_applies_receipt_retention(store_factory: StoreFactory) -> None:
    year = 365 * 86400.0
    store = await store_factory(receipt_retention=year)
    await store.add_receipt(receipt("old", created_at=T0 - year - 1))
    await store.add_receipt(receipt("kept", created_at=T0 - year + 1))
    await store.revoke("token", "t", expires_at=T0 - 1, now=T0 - 10)
    assert await store.purge_expired(T0) == 2
    assert await store.receipts_for("old") == []
    assert len(await store.receipts_for("kept")) == 1


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("session", "x"), {"expires_at": T0}, "kind"),
        (("token", ""), {"expires_at": T0}, "must not be empty"),
        (("token", 5), {"expires_at": T0}, "must be a string"),
        (("token", "a\x00b"), {"expires_at": T0}, "NUL"),
        (("token", "x"), {"expires_at": float("nan")}, "expires_at"),
        (("token", "x"), {"expires_at": "tomorrow"}, "expires_at"),
        (("token", "x"), {"expires_at": T0, "reason": None}, "reason"),
    ],
)
async def test_revoke_refuses_bad_input(store: Store, args: tuple[Any, ...], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        await store.revoke(*args, **kwargs)
    assert await store.revocations() == []


# -- consent receipts ----------------------------------------------------------


async def test_receipts_add_and_lookup(store: Store) -> None:
    first = receipt("c-1", T0)
    withdrawn = receipt("c-1", T0 + 60, choices={"necessary": True, "analytics": False}, method="api")
    other = receipt("c-2", T0 + 30, method="gpc", choices={})
    for r in (withdrawn, other, first):
        await store.add_receipt(r)
    assert await store.receipts_for("c-1") == [first, withdrawn]
    assert await store.receipts_for("c-2") == [other]
    assert await store.receipts_for("nobody") == []
    got = (await store.receipts_for("c-2"))[0]
    assert got.choices == {} and got.method == "gpc" and isinstance(got.created_at, float)


async def test_receipt_choices_keep_their_types(store: Store) -> None:
    r = receipt(choices={"necessary": True, "analytics": False, "x": True})
    await store.add_receipt(r)
    (got,) = await store.receipts_for("c-1")
    assert got.choices == {"necessary": True, "analytics": False, "x": True}
    assert all(type(v) is bool for v in got.choices.values())


async def test_export_streams_in_batches(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_base, "EXPORT_BATCH", 7)
    pages: list[int] = []
    real_page = store._receipt_page

    async def counting_page(*args: Any) -> Any:
        page = await real_page(*args)
        pages.append(len(page))
        return page

    monkeypatch.setattr(store, "_receipt_page", counting_page)
    # 10 receipts share one timestamp: the batches must not lose or repeat any of them.
    expected = [receipt(f"same-{i}", T0) for i in range(10)] + [receipt(f"c-{i}", T0 + i) for i in range(1, 11)]
    for r in expected:
        await store.add_receipt(r)
    exported = [r async for r in store.export_receipts()]
    assert [r.consent_id for r in exported] == [r.consent_id for r in expected]
    assert pages == [7, 7, 6]
    assert all(size <= 7 for size in pages)


async def test_export_since(store: Store) -> None:
    for i in range(5):
        await store.add_receipt(receipt(f"c-{i}", T0 + i))
    assert [r.consent_id async for r in store.export_receipts(since=T0 + 3)] == ["c-3", "c-4"]
    assert [r.consent_id async for r in store.export_receipts(since=T0 + 99)] == []
    assert len([r async for r in store.export_receipts()]) == 5


async def test_export_of_an_empty_store(store: Store) -> None:
    assert [r async for r in store.export_receipts()] == []


async def test_export_is_lazy(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_base, "EXPORT_BATCH", 2)
    for i in range(5):
        await store.add_receipt(receipt(f"c-{i}", T0 + i))
    pages = 0
    real_page = store._receipt_page

    async def counting_page(*args: Any) -> Any:
        nonlocal pages
        pages += 1
        return await real_page(*args)

    monkeypatch.setattr(store, "_receipt_page", counting_page)
    seen = []
    async for r in store.export_receipts():
        seen.append(r.consent_id)
        # Nothing is held between batches: writing during an export works.
        await store.add_receipt(receipt(f"late-{len(seen)}", T0 + 99))
        if len(seen) == 3:
            break
    assert seen == ["c-0", "c-1", "c-2"] and pages == 2


async def test_expire_receipts(store: Store) -> None:
    for i in range(6):
        await store.add_receipt(receipt(f"c-{i}", T0 + i))
    assert await store.expire_receipts(T0 + 3) == 3  # strictly older than
    assert [r.consent_id async for r in store.export_receipts()] == ["c-3", "c-4", "c-5"]
    assert await store.expire_receipts(T0) == 0


async def test_unicode_round_trips(store: Store) -> None:
    r = receipt(
        "søknad-✓-🍪",
        T0 + 0.123456,
        choices={"nødvendig": True, "analyse 📊": False, "市场": True},
        consent_version="v2 «bokmål»",
        text_hash="sha256:ÆØÅ",
        user_agent_family="Ünïcode Browser",
        page_path="/sak/æøå/日本語",
        ip_truncated="2001:db8:1::",
    )
    await store.add_receipt(r)
    assert await store.receipts_for("søknad-✓-🍪") == [r]
    assert [x async for x in store.export_receipts()] == [r]
    await store.revoke("case", "sak-ø-🍪", expires_at=T0 + 60, reason="kunden ba om det — 🙂", now=T0)
    assert await store.is_revoked(jti="j", case="sak-ø-🍪", recipient=None, now=T0)
    assert (await store.revocations())[0].reason == "kunden ba om det — 🙂"


async def test_fifty_concurrent_receipts(store: Store) -> None:
    receipts = [receipt(f"c-{i % 5}", T0 + i, page_path=f"/p/{i}") for i in range(50)]
    await asyncio.gather(*(store.add_receipt(r) for r in receipts))
    exported = [r async for r in store.export_receipts()]
    assert sorted(exported, key=lambda r: r.created_at) == receipts
    assert len(await store.receipts_for("c-3")) == 10


async def test_concurrent_replicas_writing(store_factory: StoreFactory) -> None:
    replicas = [await store_factory() for _ in range(3)]
    await asyncio.gather(
        *(
            replica.revoke("token", f"t-{i}", expires_at=T0 + 60, now=T0)
            for i in range(30)
            for replica in [replicas[i % 3]]
        ),
        *(replicas[i % 3].add_receipt(receipt(f"c-{i}", T0 + i)) for i in range(30)),
    )
    for replica in replicas:
        assert len(await replica.revocations()) == 30
        assert len([r async for r in replica.export_receipts()]) == 30


async def test_receipt_lookup_refuses_non_strings(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.receipts_for(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await store.add_receipt({"consent_id": "x"})  # type: ignore[arg-type]


# -- records -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"consent_id": ""}, "consent_id must not be empty"),
        ({"consent_id": 7}, "consent_id must be a string"),
        ({"created_at": float("inf")}, "created_at"),
        ({"created_at": "2024-01-01"}, "created_at"),
        ({"choices": ["analytics"]}, "choices"),
        ({"choices": {"analytics": "yes"}}, "true or false"),
        ({"choices": {"analytics": 1}}, "true or false"),
        ({"choices": {"": True}}, "category"),
        ({"method": "email"}, "method"),
        ({"page_path": "/search?q=kari@example.no"}, "without query"),
        ({"page_path": "https://helpdesk.example/cases"}, "starting with /"),
        ({"page_path": "/cases#top"}, "without query"),
        ({"user_agent_family": None}, "user_agent_family"),
        ({"ip_truncated": "1.2.3.\x00"}, "NUL"),
    ],
)
def test_receipt_validation(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        receipt(**changes)


def test_receipt_is_frozen_and_owns_its_choices() -> None:
    choices = {"analytics": True}
    r = receipt(choices=choices)
    choices["analytics"] = False
    assert r.choices == {"analytics": True}
    with pytest.raises(AttributeError):
        r.method = "api"  # type: ignore[misc]
    assert hash(r) == hash(receipt(choices={"analytics": True}))
    assert receipt(page_path="").page_path == ""


def test_store_options() -> None:
    with pytest.raises(ValueError, match="receipt_retention"):
        SQLiteStore(":memory:", receipt_retention=0)
    with pytest.raises(ValueError, match="receipt_retention"):
        SQLiteStore(":memory:", receipt_retention=float("nan"))
    assert SCHEMA_VERSION >= 1


# -- choosing a backend by URL -------------------------------------------------


def test_open_store_url_backends(tmp_path: Any) -> None:
    sqlite = open_store_url("sqlite:///:memory:")
    assert isinstance(sqlite, SQLiteStore) and sqlite.path == ":memory:"
    relative = open_store_url("sqlite:///data/state.sqlite3")
    assert isinstance(relative, SQLiteStore) and relative.path == "data/state.sqlite3"
    absolute = open_store_url("sqlite:////var/lib/gateway/state.sqlite3")
    assert isinstance(absolute, SQLiteStore) and absolute.path == "/var/lib/gateway/state.sqlite3"
    based = open_store_url("sqlite:///state.sqlite3", base_dir=tmp_path)
    assert isinstance(based, SQLiteStore) and based.path == str(tmp_path / "state.sqlite3")
    pg = open_store_url("postgresql://gw@db.internal:5432/gateway", receipt_retention=86400)
    assert isinstance(pg, PostgresStore) and pg.dsn == "postgresql://gw@db.internal:5432/gateway"
    assert pg.receipt_retention == 86400
    assert isinstance(open_store_url("postgres://gw@db/gateway"), PostgresStore)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("sqlite://", "no file path"),
        ("sqlite:///", "no file path"),
        ("sqlite:relative.db", "no file path"),
        ("sqlite:///x.db?mode=ro", "options are not supported"),
        ("mysql://root:hunter2@db/x", "unsupported state store URL 'mysql:...'"),
        ("redis://localhost", "unsupported"),
        ("state.sqlite3", "unsupported state store URL 'state.sqlite3'"),
    ],
)
def test_open_store_url_refuses(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        open_store_url(url)
    assert "postgresql://user@host:5432/db" in str(info.value)
    assert "hunter2" not in str(info.value)
