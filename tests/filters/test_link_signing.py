"""External links through the real gateway in front of the demo helpdesk."""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from gateway.demo.helpdesk import runner_url, start_helpdesk
from gateway.lib.keyring import KeyRing
from gateway.links.signing import LinkSigner
from gateway.policy.schema import Policy
from gateway.server import Gateway
from gateway.store import open_store_url
from tests.conftest import StartGateway
from tests.support.postgres import dsn_with_schema

KEY_1 = "raw:" + "first-link-signing-key-for-tests-0001"
KEY_2 = "raw:" + "second-link-signing-key-for-tests-0002"
SIGNED = re.compile(r'href="(http://[^"/]+/_l/[A-Za-z0-9_.-]+)"')


@pytest.fixture
async def helpdesk() -> AsyncIterator[web.AppRunner]:
    runner = await start_helpdesk("127.0.0.1", 0)
    yield runner
    await runner.cleanup()


def links_policy(helpdesk: web.AppRunner, tmp_path: Path, **links: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "enabled": True,
        "keys": [{"id": "k1", "secret": KEY_1}],
        "rules": [
            {"hosts": ["*.youtube.com"], "action": "strip"},
            {"hosts": ["status.example.com"], "action": "sign", "direct": True},
        ],
    }
    config.update(links)
    return {
        "upstream": {"url": runner_url(helpdesk)},
        "links": config,
        "store": {"url": f"sqlite:///{tmp_path}/state.sqlite3"},
    }


async def get(url: str, **kwargs: Any) -> tuple[int, dict[str, str], str]:
    async with aiohttp.ClientSession() as session:
        async with session.get(url, allow_redirects=False, **kwargs) as resp:
            return resp.status, dict(resp.headers), await resp.text()


async def test_external_links_are_signed_or_stripped(start_gateway: StartGateway, helpdesk: web.AppRunner, tmp_path: Path) -> None:
    gw = await start_gateway(links_policy(helpdesk, tmp_path))
    status, headers, page = await get(f"{gw.base_url}/")  # type: ignore[attr-defined]
    assert status == 200
    assert "Content-Length" not in headers or int(headers["Content-Length"]) == len(page.encode())
    assert "https://example.org/docs" not in page
    assert "href=\"https://www.youtube.com" not in page  # stripped: the attribute is gone, the text stays
    assert "youtube.com/@example" in page  # inside a script block: not a link, left alone
    assert 'href="/tickets/' in page  # internal links untouched
    assert "mailto:" in page
    signed = SIGNED.findall(page)
    assert signed, page[:500]
    for url in signed:
        assert url.startswith(f"http://127.0.0.1:{gw.public_port}/_l/")
    assert gw.metrics.registry.get_sample_value("privacy_gateway_links_rewritten_total", {"action": "sign"})


async def test_following_a_link_shows_the_interstitial_without_tracking(
    start_gateway: StartGateway, helpdesk: web.AppRunner, tmp_path: Path
) -> None:
    gw = await start_gateway(links_policy(helpdesk, tmp_path))
    _, _, page = await get(f"{gw.base_url}/")  # type: ignore[attr-defined]
    pages = {}
    for url in SIGNED.findall(page):
        status, headers, body = await get(url)
        pages[url] = (status, headers, body)
    privacy = [v for v in pages.values() if "example.org/privacy" in v[2]]
    assert privacy, "the privacy link was signed"
    status, headers, body = privacy[0]
    assert status == 200
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "utm_source" not in body  # tracking parameters removed before signing
    direct = [v for v in pages.values() if v[0] == 302]
    assert direct and direct[0][1]["Location"] == "https://status.example.com/"
    # GET consumes nothing: the same link works again.
    url = next(iter(pages))
    assert (await get(url))[0] == pages[url][0]


async def test_bad_expired_and_revoked_tokens(start_gateway: StartGateway, helpdesk: web.AppRunner, tmp_path: Path) -> None:
    gw = await start_gateway(links_policy(helpdesk, tmp_path))
    ring = KeyRing.from_config([("k1", KEY_1)], "k1")
    base = f"{gw.base_url}/_l/"  # type: ignore[attr-defined]
    expired = LinkSigner(ring, ttl=60, leeway=0, clock=lambda: 1_000_000.0).sign("https://example.org/old")
    assert (await get(base + expired))[0] == 410
    good = LinkSigner(ring, ttl=3600).sign("https://example.org/a")
    tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    assert (await get(base + tampered))[0] == 403
    foreign = LinkSigner(KeyRing.from_config([("k9", KEY_2)], "k9"), ttl=3600).sign("https://example.org/a")
    assert (await get(base + foreign))[0] == 403
    assert (await get(base + "x" * 5000))[0] == 403
    async with aiohttp.ClientSession() as session:
        async with session.post(base + good) as resp:
            assert resp.status == 405
    assert (await get(base + good))[0] == 200
    claims = LinkSigner(ring, ttl=3600).verify(good)
    assert gw.runtime.store is not None
    await gw.runtime.store.revoke("token", claims.jti, expires_at=claims.exp)
    assert (await get(base + good))[0] == 403
    sample = gw.metrics.registry.get_sample_value
    assert sample("privacy_gateway_link_redirects_total", {"result": "expired"}) == 1
    assert sample("privacy_gateway_link_redirects_total", {"result": "invalid"}) == 3
    assert sample("privacy_gateway_link_redirects_total", {"result": "revoked"}) == 1


async def test_key_rotation(start_gateway: StartGateway, helpdesk: web.AppRunner, tmp_path: Path) -> None:
    old = LinkSigner(KeyRing.from_config([("k1", KEY_1)], "k1"), ttl=3600).sign("https://example.org/a")
    rotated = links_policy(helpdesk, tmp_path, keys=[{"id": "k1", "secret": KEY_1}, {"id": "k2", "secret": KEY_2}], current_key="k2")
    gw = await start_gateway(rotated)
    base = f"{gw.base_url}/_l/"  # type: ignore[attr-defined]
    assert (await get(base + old))[0] == 200  # the old key still verifies
    _, _, page = await get(f"{gw.base_url}/")  # type: ignore[attr-defined]
    new = SIGNED.findall(page)[0].rsplit("/", 1)[1]
    assert LinkSigner(KeyRing.from_config([("k2", KEY_2)], "k2"), ttl=3600).verify(new).kid == "k2"
    removed = links_policy(helpdesk, tmp_path, keys=[{"id": "k2", "secret": KEY_2}])
    gw2 = await start_gateway(removed)
    assert (await get(f"{gw2.base_url}/_l/{old}"))[0] == 403  # type: ignore[attr-defined]


async def test_compressed_pages_are_rewritten(start_gateway: StartGateway, helpdesk: web.AppRunner, tmp_path: Path) -> None:
    gw = await start_gateway(links_policy(helpdesk, tmp_path))
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        async with session.get(f"{gw.base_url}/", headers={"Accept-Encoding": "gzip, br"}) as resp:  # type: ignore[attr-defined]
            raw = await resp.read()
            encoding = resp.headers.get("Content-Encoding")
    page = (gzip.decompress(raw) if encoding == "gzip" else raw).decode()
    assert encoding is None  # decoded for rewriting, sent as identity
    assert "https://example.org/docs" not in page
    assert SIGNED.search(page)


async def test_plain_text_links(start_gateway: StartGateway, helpdesk: web.AppRunner, tmp_path: Path) -> None:
    gw = await start_gateway(links_policy(helpdesk, tmp_path))
    status, headers, text = await get(f"{gw.base_url}/tickets/1.txt")  # type: ignore[attr-defined]
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert "https://example.org" not in text
    assert f"http://127.0.0.1:{gw.public_port}/_l/" in text


async def test_protected_path_needs_a_valid_token(start_gateway: StartGateway, helpdesk: web.AppRunner, tmp_path: Path) -> None:
    gw = await start_gateway(links_policy(helpdesk, tmp_path, require_token=[{"path": "/echo/case/*"}]))
    signer = LinkSigner(KeyRing.from_config([("k1", KEY_1)], "k1"), ttl=3600)
    base = gw.base_url  # type: ignore[attr-defined]
    assert (await get(f"{base}/echo/case/7"))[0] == 403
    token = signer.sign("http://127.0.0.1/echo/case/7")
    status, _, body = await get(f"{base}/echo/case/7?x=1&_gt={token}")
    assert status == 200
    assert "_gt" not in body and "x=1" in body  # the token never reaches the helpdesk
    other = signer.sign("http://127.0.0.1/echo/case/8")
    assert (await get(f"{base}/echo/case/7?_gt={other}"))[0] == 403


async def test_revocation_is_shared_through_postgresql(helpdesk: web.AppRunner, tmp_path: Path, pg_dsn: str, pg_schema: str) -> None:
    """Two replicas on one PostgreSQL: a revocation made through one is honoured by the other."""
    from gateway.metrics import Metrics
    from gateway.policy.loader import LoadedPolicy

    dsn = dsn_with_schema(pg_dsn, pg_schema)
    doc = links_policy(helpdesk, tmp_path)
    doc.update(listen={"port": 0}, admin={"enabled": False}, store={"url": dsn}, logging={"access_log": False})
    policy = Policy.model_validate(doc)
    replicas = [Gateway(LoadedPolicy(policy, "x" * 64, ()), Metrics()) for _ in range(2)]
    for replica in replicas:
        await replica.start(watch=False)
    try:
        token = LinkSigner(KeyRing.from_config([("k1", KEY_1)], "k1"), ttl=3600).sign("https://example.org/a", case="case-42")
        for replica in replicas:
            assert (await get(f"http://127.0.0.1:{replica.public_port}/_l/{token}"))[0] == 200
        admin_store = open_store_url(dsn)
        await admin_store.open()
        await admin_store.revoke("case", "case-42", expires_at=4_000_000_000)
        await admin_store.close()
        for replica in replicas:
            assert (await get(f"http://127.0.0.1:{replica.public_port}/_l/{token}"))[0] == 403
    finally:
        for replica in replicas:
            await replica.stop()


async def test_rewritten_pages_drop_ranges_and_weaken_validators(
    start_gateway: StartGateway, helpdesk: web.AppRunner, tmp_path: Path
) -> None:
    gw = await start_gateway(links_policy(helpdesk, tmp_path))
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gw.base_url}/echo/x", headers={"Range": "bytes=0-10", "If-Range": '"x"'}) as resp:  # type: ignore[attr-defined]
            seen = await resp.json()
    forwarded = {name.lower() for name, _ in seen["headers"]}
    assert "range" not in forwarded and "if-range" not in forwarded
    status, headers, page = await get(f"{gw.base_url}/")  # type: ignore[attr-defined]
    assert status == 200 and "Accept-Ranges" not in headers
    assert headers.get("ETag", "W/").startswith("W/")


@pytest.mark.parametrize("count", [3, 500])
async def test_a_page_whose_rewritten_body_outgrows_the_buffer_arrives_whole(
    start_gateway: StartGateway, tmp_path: Path, count: int
) -> None:
    """500 links: under 32 KiB from the upstream, several times that once signed."""
    gw = await start_gateway({
        "links": {"enabled": True, "keys": [{"id": "k1", "secret": KEY_1}]},
        "store": {"url": f"sqlite:///{tmp_path}/state.sqlite3"},
    })
    status, headers, page = await get(f"{gw.base_url}/links-page?count={count}")  # type: ignore[attr-defined]
    assert status == 200
    assert int(headers["Content-Length"]) == len(page.encode())
    assert page.endswith("</ul></body></html>")
    assert len(SIGNED.findall(page)) == count
    assert "site1.example.org" not in page


def test_signed_links_are_reused_across_responses_and_counted_each_time() -> None:
    from gateway.filters.link_signing import LinkSigning
    from gateway.metrics import Metrics

    metrics = Metrics()
    policy = Policy.model_validate({"links": {"enabled": True, "keys": [{"id": "k1", "secret": KEY_1}]}})
    links = LinkSigning(policy, metrics)
    first = links._decider("help.example", "https://help.example/_l/")("https://example.org/a?utm_source=x")
    second = links._decider("help.example", "https://help.example/_l/")("https://example.org/a?utm_source=x")
    assert isinstance(first, str) and first == second
    assert metrics.registry.get_sample_value("privacy_gateway_links_rewritten_total", {"action": "sign"}) == 2
    other_host = links._decider("other.example", "https://other.example/_l/")("https://example.org/a?utm_source=x")
    assert isinstance(other_host, str) and other_host.startswith("https://other.example/_l/")
    claims = LinkSigner(KeyRing.from_config([("k1", KEY_1)], "k1"), ttl=3600).verify(first.rsplit("/", 1)[1])
    assert claims.url == "https://example.org/a"
