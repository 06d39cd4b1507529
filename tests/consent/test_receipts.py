"""Receipts: what they hold (and never hold), and writing them to SQLite and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import pytest

from gateway.consent import receipts
from gateway.consent.receipts import make_receipt, page_path, record, user_agent_family
from gateway.store import ConsentReceipt, Store, StoreError
from tests.consent.conftest import RETENTION

UA = {
    "Firefox": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Chrome": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "HeadlessChrome": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0 Safari/537.36",
    "Safari": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Edge": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0",
    "Opera": "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 OPR/111.0",
    "iOS Chrome": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 CriOS/126.0 Mobile/15E148 Safari/604.1",
    "iOS Firefox": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 FxiOS/127.0 Mobile/15E148 Safari/605.1.15",
    "Samsung": "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0 Mobile Safari/537.36",
}


@pytest.mark.parametrize(
    ("ua", "family"),
    [
        (UA["Firefox"], "Firefox"), (UA["Chrome"], "Chrome"), (UA["HeadlessChrome"], "Chrome"),
        (UA["Safari"], "Safari"), (UA["Edge"], "Edge"), (UA["Opera"], "Opera"), (UA["iOS Chrome"], "Chrome"),
        (UA["iOS Firefox"], "Firefox"), (UA["Samsung"], "Samsung"), ("curl/8.5.0", "other"), ("", "other"),
        ("x" * 100_000 + "Firefox/1", "other"),
    ],
)
def test_user_agent_family_is_coarse(ua: str, family: str) -> None:
    assert user_agent_family(ua) == family


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/a/b?q=secret#frag", "/a/b"), ("/", "/"), ("", ""), ("relative", ""), ("/x\n", ""), ("/" + "a" * 600, "/" + "a" * 511)],
)
def test_page_path_never_keeps_a_query(path: str, expected: str) -> None:
    assert page_path(path) == expected


def receipt(**overrides: Any) -> ConsentReceipt:
    args: dict[str, Any] = dict(
        consent_id="abcdefghijklmnopqrstuv", choices={"analytics": True}, version="v1", text_hash="f" * 64,
        method="banner", client_ip="198.51.100.77", user_agent=UA["Firefox"], path="/tickets/1?token=secret",
    )
    args.update(overrides)
    return make_receipt(**args)


def test_a_receipt_holds_no_raw_address_agent_or_query() -> None:
    r = receipt()
    assert r.ip_truncated == "198.51.100.0/24"
    assert r.user_agent_family == "Firefox"
    assert r.page_path == "/tickets/1"
    assert r.choices == {"necessary": True, "analytics": True}
    assert abs(r.created_at - time.time()) < 5
    assert receipt(client_ip="2001:db8:1:2:3::4").ip_truncated == "2001:db8:1::/48"
    assert receipt(client_ip="not an ip").ip_truncated == "invalid"


async def test_receipts_are_written_and_read_back(receipt_store: Store) -> None:
    first, second = receipt(), receipt(choices={"analytics": False}, method="api")
    assert await record(receipt_store, first, None)
    assert await record(receipt_store, second, None)
    assert await receipt_store.receipts_for(first.consent_id) == [first, second]


async def test_old_receipts_expire_at_most_hourly(receipt_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(receipts, "_last_expiry", type(receipts._last_expiry)())
    old = receipt(consent_id="oldoldoldoldoldoldold1", now=time.time() - RETENTION - 10)
    await receipt_store.add_receipt(old)
    assert await record(receipt_store, receipt(), RETENTION)
    assert await receipt_store.receipts_for(old.consent_id) == []
    older = receipt(consent_id="oldoldoldoldoldoldold2", now=time.time() - RETENTION - 10)
    await receipt_store.add_receipt(older)
    assert await record(receipt_store, receipt(), RETENTION)
    assert await receipt_store.receipts_for(older.consent_id) == [older]  # within the hour: not yet


class BrokenStore:
    async def add_receipt(self, receipt: ConsentReceipt) -> None:
        raise StoreError("database is down")


async def test_a_failing_store_is_reported_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    assert not await record(BrokenStore(), receipt(), None)  # type: ignore[arg-type]
    assert not await record(None, receipt(), None)
    assert "consent receipt not written" in caplog.text
