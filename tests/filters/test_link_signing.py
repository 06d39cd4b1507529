"""External links through the real gateway in front of the demo helpdesk."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import orjson
import pytest
from aiohttp import web

from gateway.demo.helpdesk import runner_url, start_helpdesk
from gateway.lib.keyring import KeyRing
from gateway.links.signing import LinkSigner
from gateway.server import Gateway
from gateway.store import open_store_url
from tests.conftest import StartGateway
from tests.support.policy import make_policy
from tests.support.postgres import dsn_with_schema
from tests.support.upstream import MEDIA_HTML, MEDIA_TEXT

KEY_1 = "raw:" + "first-link-signing-key-for-tests-0001"
KEY_2 = "raw:" + "second-link-signing-key-for-tests-0002"
SIGNED = re.compile(r'href="(http://[^"/]+/_l/[A-Za-z0-9_.-]+)"')
# Policies name their keys (the loader refuses inline key material).
KEY_REF_1, KEY_REF_2 = "${TEST_LINK_KEY_1}", "${TEST_LINK_KEY_2}"


@pytest.fixture(autouse=True)
def link_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_LINK_KEY_1", KEY_1)
    monkeypatch.setenv("TEST_LINK_KEY_2", KEY_2)


@pytest.fixture
async def helpdesk() -> AsyncIterator[web.AppRunner]:
    runner = await start_helpdesk("127.0.0.1", 0)
    yield runner
    await runner.cleanup()


def links_policy(helpdesk: web.AppRunner, tmp_path: Path, **links: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "enabled": True,
        "keys": [{"id": "k1", "secret": KEY_REF_1}],
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
    rotated = links_policy(
        helpdesk, tmp_path, keys=[{"id": "k1", "secret": KEY_REF_1}, {"id": "k2", "secret": KEY_REF_2}], current_key="k2"
    )
    gw = await start_gateway(rotated)
    base = f"{gw.base_url}/_l/"  # type: ignore[attr-defined]
    assert (await get(base + old))[0] == 200  # the old key still verifies
    _, _, page = await get(f"{gw.base_url}/")  # type: ignore[attr-defined]
    new = SIGNED.findall(page)[0].rsplit("/", 1)[1]
    assert LinkSigner(KeyRing.from_config([("k2", KEY_2)], "k2"), ttl=3600).verify(new).kid == "k2"
    removed = links_policy(helpdesk, tmp_path, keys=[{"id": "k2", "secret": KEY_REF_2}])
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


async def test_plain_text_links_when_opted_in(start_gateway: StartGateway, helpdesk: web.AppRunner, tmp_path: Path) -> None:
    gw = await start_gateway(links_policy(helpdesk, tmp_path, content_types=["text/html", "text/plain"]))
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
    doc["links"]["keys"] = [{"id": "k1", "secret": KEY_1}]  # validated without the loader: no references
    policy = make_policy(doc)
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
        "links": {"enabled": True, "keys": [{"id": "k1", "secret": KEY_REF_1}]},
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
    policy = make_policy(
        {"upstream": {"url": "http://127.0.0.1:1"}, "links": {"enabled": True, "keys": [{"id": "k1", "secret": KEY_1}]}}
    )
    links = LinkSigning(policy, metrics)
    first = links._decider("help.example", "https://help.example/_l/")("https://example.org/a?utm_source=x")
    second = links._decider("help.example", "https://help.example/_l/")("https://example.org/a?utm_source=x")
    assert isinstance(first, str) and first == second
    assert metrics.registry.get_sample_value("privacy_gateway_links_rewritten_total", {"action": "sign"}) == 2
    other_host = links._decider("other.example", "https://other.example/_l/")("https://example.org/a?utm_source=x")
    assert isinstance(other_host, str) and other_host.startswith("https://other.example/_l/")
    claims = LinkSigner(KeyRing.from_config([("k1", KEY_1)], "k1"), ttl=3600).verify(first.rsplit("/", 1)[1])
    assert claims.url == "https://example.org/a"


# -- downloads, opt-in text, routes and paths without rewriting -------------------

LINK_KEY = "raw:" + "third-link-signing-key-for-tests-0003"
CONSENT_KEY = "base64:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="


@pytest.fixture
def link_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_LINK_KEY", LINK_KEY)
    monkeypatch.setenv("TEST_CONSENT_KEY", CONSENT_KEY)


def media_policy(tmp_path: Path, *, consent: bool = False, routes: Any = (), **links: Any) -> dict[str, Any]:
    """Links (and optionally consent) in front of tests/support/upstream.py, keys from the environment."""
    doc: dict[str, Any] = {
        "links": {
            "enabled": True,
            "keys": [{"id": "k3", "secret": "${TEST_LINK_KEY}"}],
            "rules": [{"hosts": ["*.youtube.com"], "action": "strip"}],
            **links,
        },
        "store": {"url": f"sqlite:///{tmp_path}/state.sqlite3"},
        "routes": list(routes),
    }
    if consent:
        doc["consent"] = {
            "enabled": True,
            "keys": [{"id": "c1", "secret": "${TEST_CONSENT_KEY}"}],
            "categories": {"analytics": {"cookies": [{"glob": "_ga*"}]}},
        }
    return doc


async def download(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        async with session.get(url, headers=headers, allow_redirects=False) as resp:
            return resp.status, dict(resp.headers), await resp.read()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("query", "stored", "extra"),
    [
        ("", MEDIA_TEXT, {}),
        ("", MEDIA_TEXT, {"content_types": ["text/html", "text/plain"]}),  # opted in: still not a download
        ("?disposition=ATTACHMENT", MEDIA_TEXT, {"content_types": ["text/plain"]}),
        ("?ctype=text/html", MEDIA_HTML, {"consent": True}),  # a saved HTML page: no links, no banner
        ("?ctype=text/html&disposition=form-data", MEDIA_HTML, {"consent": True}),  # unknown type = attachment
    ],
)
async def test_an_attachment_downloads_byte_for_byte(
    start_gateway: StartGateway, tmp_path: Path, link_keys: None, query: str, stored: bytes, extra: dict[str, Any]
) -> None:
    """Was: a .txt attachment came back 137 -> 315 bytes, youtube URLs deleted, others re-signed."""
    gw = await start_gateway(media_policy(tmp_path, **extra))
    status, headers, body = await download(f"{gw.base_url}/media/notes.txt{query}")  # type: ignore[attr-defined]
    assert status == 200
    assert sha256(body) == sha256(stored)
    assert int(headers["Content-Length"]) == len(stored)  # not rewritten: the upstream's length stands
    assert "Content-Disposition" in headers


async def test_html_pages_are_still_rewritten_and_plain_text_only_when_asked(
    start_gateway: StartGateway, tmp_path: Path, link_keys: None
) -> None:
    gw = await start_gateway(media_policy(tmp_path))
    base = gw.base_url  # type: ignore[attr-defined]
    _, _, page = await download(f"{base}/links-page?count=3")
    assert len(SIGNED.findall(page.decode())) == 3 and b"site1.example.org" not in page
    _, _, inline_html = await download(f"{base}/media/page.html?ctype=text/html&disposition=inline")
    assert b"https://example.org/manual" not in inline_html and b"/_l/" in inline_html
    assert b'href="https://www.youtube.com' not in inline_html
    _, _, text = await download(f"{base}/media/notes.txt?disposition=none")
    assert sha256(text) == sha256(MEDIA_TEXT)  # text/plain is not rewritten by default
    opted = await start_gateway(media_policy(tmp_path, content_types=["text/html", "text/plain"]))
    _, _, text = await download(f"{opted.base_url}/media/notes.txt?disposition=none")  # type: ignore[attr-defined]
    assert b"https://example.org/manual" not in text and b"/_l/" in text


@pytest.mark.parametrize(
    "settings",
    [
        {"routes": [{"name": "media", "path": "/media/", "rewrite": False}]},
        {"exclude_paths": ["/media/"]},
        {"exclude_paths": ["/m*/*.html"]},
    ],
)
async def test_a_route_or_path_without_rewriting_passes_pages_untouched(
    start_gateway: StartGateway, tmp_path: Path, link_keys: None, settings: dict[str, Any]
) -> None:
    gw = await start_gateway(media_policy(tmp_path, consent="routes" in settings, **settings))
    base = gw.base_url  # type: ignore[attr-defined]
    status, headers, body = await download(f"{base}/media/page.html?ctype=text/html&disposition=none")
    assert status == 200 and sha256(body) == sha256(MEDIA_HTML)  # no link signed, no banner
    _, _, page = await download(f"{base}/links-page?count=2")
    assert len(SIGNED.findall(page.decode())) == 2  # other paths are still rewritten
    assert (b"pgw-consent-title" in page) == ("routes" in settings)  # and get the banner, when consent is on


# -- the access log never holds a link token ---------------------------------------

DESTINATION = "https://example.org/unsubscribe?list=news&email=jane.doe%40example.com"


async def test_the_access_log_shows_a_token_id_or_hash_never_the_token(
    start_gateway: StartGateway, tmp_path: Path, link_keys: None, capfd: pytest.CaptureFixture[str]
) -> None:
    """Was: ``/_l/<token>`` logged whole: a bearer link valid for days, destination and query inside."""
    doc = media_policy(tmp_path, require_token=[{"path": "/echo/case/*"}])
    doc["logging"] = {"access_log": True}
    doc["firewall"] = {"rules": [{"name": "no-head", "path": "/_l/", "methods": ["HEAD"], "allow": []}]}
    gw = await start_gateway(doc)
    base = gw.base_url  # type: ignore[attr-defined]
    signer = LinkSigner(KeyRing.from_config([("k3", LINK_KEY)], "k3"), ttl=3600)
    token = signer.sign(DESTINATION)
    jti = signer.verify(token).jti
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    protected = signer.sign("http://127.0.0.1/echo/case/7")
    assert (await get(f"{base}/_l/{token}"))[0] == 200
    assert (await get(f"{base}/_l/{tampered}"))[0] == 403
    async with aiohttp.ClientSession() as session:
        async with session.head(f"{base}/_l/{token}") as resp:
            assert resp.status == 403  # the firewall answered: the links filter never saw it
    assert (await get(f"{base}/echo/case/7?_gt={protected}"))[0] == 200
    gw.runtime.access_log.flush()
    out = capfd.readouterr().out
    for secret in (token, tampered, protected, token.split(".")[1], "example.org", "jane"):
        assert secret not in out
    entries = [orjson.loads(line) for line in out.splitlines() if line.startswith("{")]
    paths = [e["path"] for e in entries if e.get("event") == "access"]
    hashed = "/_l/~h:" + hashlib.sha256(tampered.encode()).hexdigest()[:12]
    assert paths == [f"/_l/~jti:{jti}", hashed, f"/_l/~jti:{jti}", "/echo/case/7"]


async def test_a_stalled_store_fails_the_link_check_closed_and_promptly(
    start_gateway: StartGateway, helpdesk: web.AppRunner, tmp_path: Path, pg_dsn: str, pg_schema: str
) -> None:
    """PostgreSQL accepts connections and never answers: 503 within store.timeouts, never a pass."""
    import asyncio

    from tests.support.stall import stallable_postgres

    async with stallable_postgres(dsn_with_schema(pg_dsn, pg_schema)) as (url, proxy):
        doc = links_policy(helpdesk, tmp_path)
        doc["store"] = {"url": url, "timeouts": {"connect": "500ms", "operation": "500ms"}}
        gw = await start_gateway(doc)
        token = LinkSigner(KeyRing.from_config([("k1", KEY_1)], "k1"), ttl=3600).sign("https://example.org/a")
        link = f"{gw.base_url}/_l/{token}"  # type: ignore[attr-defined]
        assert (await get(link))[0] == 200
        proxy.stall()
        async with asyncio.timeout(10):
            for _ in range(3):  # more than once: the pool's connections are all stuck now
                status, headers, _ = await get(link)
                assert (status, headers["X-Gateway-Reason"]) == (503, "link_check_unavailable")
    sample = gw.metrics.registry.get_sample_value
    assert sample("privacy_gateway_link_redirects_total", {"result": "unavailable"}) == 3
