"""PostgreSQL goes down under a running gateway and comes back: what each feature does, and the recovery.

The real PostgreSQL is never stopped: the gateway reaches it through a proxy
on loopback (tests/support/outage.py) that the test cuts, which closes every
connection and refuses new ones, and then restores on the same port.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from gateway.policy.schema import StoreSettings
from gateway.server import Gateway
from gateway.store import store_for
from tests.conftest import StartGateway
from tests.support.outage import cuttable_postgres
from tests.support.postgres import dsn_with_schema
from tests.support.shared_state import CONSENT, consent_cookie, signed_link, stateful_policy

BOUND = 15.0  # seconds to wait for a state to show: far above the 2s probe and 1s store timeouts


async def fetch(
    url: str, *, method: str = "GET", cookie: str = "", json: Any = None, gpc: bool = False,
) -> tuple[int, dict[str, Any] | None, list[str]]:
    headers = {"Cookie": cookie} if cookie else {}
    if gpc:
        headers["Sec-GPC"] = "1"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        async with session.request(method, url, headers=headers, json=json, allow_redirects=False) as response:
            body = await response.json() if response.content_type == "application/json" else None
            await response.read()
            if response.status == 503:  # which feature refused, as the gateway says it
                assert response.headers["X-Gateway-Reason"] in ("link_check_unavailable", "consent_not_recorded")
                body = {**(body or {}), "reason": response.headers["X-Gateway-Reason"]}
            return response.status, body, response.headers.getall("Set-Cookie", [])


async def eventually(check: Any, what: str) -> Any:
    deadline = time.monotonic() + BOUND
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {BOUND}s: {what}")
        await asyncio.sleep(0.1)


def sample(gw: Gateway, name: str) -> float | None:
    return gw.metrics.registry.get_sample_value(name, {"backend": "postgresql"})


def gauge_is(gw: Gateway, value: float) -> Any:
    async def check() -> bool:
        return sample(gw, "privacy_gateway_store_up") == value  # sampled every second

    return check


async def exported(url: str) -> list[Any]:
    store = store_for(StoreSettings(url=url))
    async with store:
        return [receipt async for receipt in store.export_receipts()]


async def test_postgresql_down_fails_closed_is_reported_and_recovers_without_a_restart(
    start_gateway: StartGateway, upstream: web.AppRunner, pg_dsn: str, pg_schema: str, tmp_path: Path,
) -> None:
    direct = dsn_with_schema(pg_dsn, pg_schema)
    async with cuttable_postgres(direct) as (url, proxy):
        gw = await start_gateway(stateful_policy(url, timeouts={"connect": "1s", "operation": "1s"}))
        base, admin = gw.base_url, f"http://127.0.0.1:{gw.admin_port}"  # type: ignore[attr-defined]
        link, _ = signed_link()

        def store_reachable(expected: bool) -> Any:
            async def check() -> bool:
                status, body, _ = await fetch(f"{admin}/readyz")
                assert status == 200 and body is not None, body  # the upstream answers: ready, store or not
                return bool(body["store_reachable"] is expected)

            return check

        # Up: links open, consent is recorded, readiness and the gauge say so.
        assert (await fetch(base + link))[0] == 200
        status, body, cookies = await fetch(base + CONSENT, method="POST", json={"action": "accept"})
        assert status == 200 and body is not None
        first_id, given = body["consent_id"], consent_cookie(cookies)
        assert given is not None
        assert await store_reachable(True)()
        await eventually(gauge_is(gw, 1), "store_up 1")

        await proxy.cut()
        down_at = time.monotonic()

        # Revocations cannot be checked: the link is refused with 503, never opened unchecked.
        status, body, _ = await fetch(base + link)
        refused_after = time.monotonic() - down_at
        assert status == 503 and body is not None and body["reason"] == "link_check_unavailable"
        assert gw.metrics.registry.get_sample_value("privacy_gateway_link_redirects_total", {"result": "unavailable"})
        # Consent that grants something is refused and nothing changes (no consent cookie) ...
        status, body, cookies = await fetch(base + CONSENT, method="POST", json={"action": "accept"})
        assert status == 503 and body is not None and body["reason"] == "consent_not_recorded"
        assert consent_cookie(cookies) is None
        # ... a withdrawal takes effect in the browser but is answered "not recorded".
        status, body, cookies = await fetch(base + CONSENT, method="POST", cookie=given, json={"action": "reject"})
        assert status == 503 and body is not None and body["recorded"] is False
        assert consent_cookie(cookies) is not None
        # A Global Privacy Control refusal applies but sets no consent cookie: the next page records it.
        status, _, cookies = await fetch(base + "/cookie-page", gpc=True)
        assert status == 200 and consent_cookie(cookies) is None
        # Pages that need no store are served as ever.
        assert (await fetch(base + "/echo"))[0] == 200
        await eventually(store_reachable(False), "readyz store_reachable false")
        await eventually(gauge_is(gw, 0), "store_up 0")
        assert (sample(gw, "privacy_gateway_store_errors_total") or 0) >= 3
        print(f"store down: the link answered 503 link_check_unavailable {refused_after:.3f}s after the cut; "
              f"store_up 0 and readyz store_reachable false {time.monotonic() - down_at:.3f}s after it")

        await proxy.restore()
        restored_at = time.monotonic()

        # Without a restart: links open again, consent is recorded again.
        async def link_opens() -> bool:
            return (await fetch(base + link))[0] == 200

        await eventually(link_opens, "the link opens again")
        print(f"store back: the link opened {time.monotonic() - restored_at:.3f}s after the database returned")
        status, _, cookies = await fetch(base + CONSENT, method="POST", json={"action": "accept"})
        assert status == 200 and consent_cookie(cookies) is not None
        status, _, cookies = await fetch(base + "/cookie-page", gpc=True)
        assert status == 200 and consent_cookie(cookies) is not None
        await eventually(store_reachable(True), "readyz store_reachable true")
        await eventually(gauge_is(gw, 1), "store_up 1 again")
        assert proxy.connections > 1  # the pool reconnected through the restored proxy

    # Exactly the decisions answered as recorded have a receipt, each once; the refused ones left none.
    receipts = await exported(direct)
    assert [(r.method, r.choices["analytics"]) for r in receipts] == [("api", True), ("api", True), ("gpc", False)]
    assert receipts[0].consent_id == first_id and len({r.consent_id for r in receipts}) == 3
