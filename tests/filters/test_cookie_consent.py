"""The cookie consent filter through the real gateway and a real upstream, over loopback."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from multidict import CIMultiDict

from gateway.filters import cookie_consent
from gateway.filters.cookie_consent import CookieConsent
from gateway.metrics import Metrics
from gateway.server import Gateway
from gateway.store import SQLiteStore
from tests.conftest import StartGateway
from tests.consent.support import gateway_policy, make_exchange, policy, set_cookie_value

P = "/_privacy/consent"
PAGE = "/cookie-page"


async def fetch(gw: Gateway, path: str, *, method: str = "GET", **kwargs: Any) -> tuple[aiohttp.ClientResponse, bytes]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=True) as session:
        async with session.request(method, gw.base_url + path, allow_redirects=False, **kwargs) as response:  # type: ignore[attr-defined]
            return response, await response.read()


async def echo_cookies(gw: Gateway, cookie: str, **headers: str) -> list[str]:
    _, body = await fetch(gw, "/echo", headers={"Cookie": cookie, **headers})
    return [v for k, v in json.loads(body)["headers"] if k.lower() == "cookie"]


def metric(gw: Gateway, sample: str, **labels: str) -> float:
    return gw.metrics.registry.get_sample_value(sample, labels) or 0.0


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.sqlite3'}"


@pytest.fixture
async def gw(start_gateway: StartGateway, store_url: str) -> Gateway:
    return await start_gateway(gateway_policy(store_url))


async def decide(gw: Gateway, body: dict[str, Any], cookie: str = "") -> str:
    response, _ = await fetch(gw, P, method="POST", json=body, headers={"Cookie": cookie} if cookie else {})
    assert response.status == 200
    value = set_cookie_value(response.headers.getall("Set-Cookie"), "pgw_consent")
    return f"pgw_consent={value}"


# -- request: the Cookie header ----------------------------------------------------------------


async def test_cookies_without_consent_never_reach_the_upstream(gw: Gateway) -> None:
    header = 'sessionid="a;b"; _ga=GA1.2;lang=nb;  csrftoken=x=y=z ; tracker=1; pgw_consent=whatever; _ga_ABC=7'
    assert await echo_cookies(gw, header) == ['sessionid="a; csrftoken=x=y=z']
    assert metric(gw, "privacy_gateway_consent_cookies_removed_total", category="analytics", direction="request", mode="enforce") == 2
    assert metric(gw, "privacy_gateway_consent_unclassified_cookies_total", name="tracker", direction="request") == 1


async def test_consented_cookies_pass_byte_for_byte(gw: Gateway) -> None:
    consent = await decide(gw, {"action": "accept"})
    header = f"_ga=GA1.2.3;  sessionid=\u00e6\u00f8\u00e5 ;{consent}; lang=nb; tracker=1"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        async with session.get(gw.base_url + "/echo", headers={"Cookie": header.encode().decode("latin-1")}) as response:  # type: ignore[attr-defined]
            doc = await response.json()
    [sent] = [v for k, v in doc["headers"] if k.lower() == "cookie"]
    assert sent.encode("latin-1").decode() == "_ga=GA1.2.3; sessionid=\u00e6\u00f8\u00e5; lang=nb"


async def test_every_cookie_kept_means_the_header_is_untouched(gw: Gateway) -> None:
    header = "sessionid=1;csrftoken=2 ;;  sessionid=3"
    assert await echo_cookies(gw, header) == [header]


async def test_unclassified_cookies_pass_when_the_policy_allows(start_gateway: StartGateway, store_url: str) -> None:
    gw = await start_gateway(gateway_policy(store_url, unclassified="allow"))
    assert await echo_cookies(gw, "tracker=1; _ga=2") == ["tracker=1"]
    assert metric(gw, "privacy_gateway_consent_unclassified_cookies_total", name="tracker", direction="request") == 1


# -- response: Set-Cookie ------------------------------------------------------------------------


async def test_set_cookies_without_consent_are_dropped_one_by_one(gw: Gateway) -> None:
    response, _ = await fetch(gw, PAGE + "?nocookies=0")
    assert response.headers.getall("Set-Cookie") == ["sessionid=s3ss; Path=/; HttpOnly; SameSite=Lax"]
    consent = await decide(gw, {"choices": {"analytics": True}})
    response, _ = await fetch(gw, PAGE, headers={"Cookie": consent})
    assert response.headers.getall("Set-Cookie") == [
        "sessionid=s3ss; Path=/; HttpOnly; SameSite=Lax",
        "_ga=GA1.1.123.456; Max-Age=63072000; Path=/; SameSite=Lax",
        "_gid=GA1.1.789; Path=/help; Domain=127.0.0.1",
    ]
    assert metric(gw, "privacy_gateway_consent_cookies_removed_total", category="preferences", direction="response", mode="enforce") == 2
    assert metric(gw, "privacy_gateway_consent_unclassified_cookies_total", name="tracker", direction="response") == 2


async def test_withdrawal_expires_cookies_where_they_were_set(gw: Gateway) -> None:
    consent = await decide(gw, {"action": "accept"})
    await fetch(gw, PAGE, headers={"Cookie": consent})  # the gateway sees _gid set at /help on 127.0.0.1
    response, _ = await fetch(gw, P, method="POST", json={"action": "reject"}, headers={"Cookie": consent + "; _ga=1"})
    expired = sorted(h for h in response.headers.getall("Set-Cookie") if "Max-Age=0" in h)
    assert expired == sorted([
        "_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",
        "_gid=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/help; Domain=127.0.0.1",
        "_gid=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",
        "lang=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",
    ])


# -- the banner --------------------------------------------------------------------------------


async def test_the_banner_is_injected_before_the_closing_body_tag(gw: Gateway) -> None:
    for query in ("", "?chunk=7"):
        response, body = await fetch(gw, PAGE + query, headers={"Accept-Language": "nb"})
        text = body.decode()
        assert response.status == 200
        # The upstream's length no longer holds: either none (streamed) or the exact new one.
        assert int(response.headers.get("Content-Length", len(body))) == len(body)
        assert response.headers["Vary"] == "Cookie"
        assert text.count('id="pgw-consent"') == 1
        assert re.search(r'</div><script src="/_privacy/consent/banner\.js\?v=[0-9a-f]{16}" defer></script></BODY></html>$', text)
        assert f'<input type="hidden" name="return" value="{PAGE}{query}">' in text
        assert "Godta alle" in text and "\u00e6\u00f8\u00e5" in text
    assert metric(gw, "privacy_gateway_consent_banners_injected_total", kind="banner") == 2


async def test_compressed_pages_are_decoded_for_injection(gw: Gateway) -> None:
    response, body = await fetch(gw, PAGE + "?gzip=1&chunk=10", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in response.headers
    assert b'id="pgw-consent"' in body and body.endswith(b"</BODY></html>")


@pytest.mark.parametrize(
    ("query", "headers", "method"),
    [
        ("?status=404", {}, "GET"),
        ("?ctype=text/plain", {}, "GET"),
        ("?ctype=application/json", {}, "GET"),
        ("?ctype=" + quote("text/html; charset=utf-16"), {}, "GET"),
        ("", {"Sec-Fetch-Dest": "empty"}, "GET"),
        ("", {"Sec-Fetch-Dest": "iframe"}, "GET"),
        ("", {}, "HEAD"),
        ("?body=" + quote("<div>a fragment for htmx</div>"), {}, "GET"),
    ],
)
async def test_nothing_is_injected_where_it_does_not_belong(
    gw: Gateway, query: str, headers: dict[str, str], method: str
) -> None:
    response, body = await fetch(gw, PAGE + query, headers=headers, method=method)
    assert b"pgw-consent" not in body
    assert response.headers.getall("Set-Cookie") == ["sessionid=s3ss; Path=/; HttpOnly; SameSite=Lax"]


async def injects(flt: CookieConsent, content_type: str, encoding: str = "", path: str = PAGE) -> bool:
    ex = make_exchange(path)
    assert await flt.on_request(ex) is None
    ex.response_status = 200
    ex.response_headers = CIMultiDict({"Content-Type": content_type})
    if encoding:
        ex.response_headers["Content-Encoding"] = encoding
    return await flt.on_response_headers(ex) is not None


async def test_page_verdicts_are_cached_bounded_and_belong_to_one_policy() -> None:
    flt = CookieConsent(policy(), Metrics())
    for _ in range(2):  # the second round is answered from the caches
        assert await injects(flt, "text/html")
        assert await injects(flt, "TEXT/HTML; charset=UTF-8", "gzip")
        assert not await injects(flt, "text/html; charset=utf-16")
        assert not await injects(flt, "text/html", "br")
        assert not await injects(flt, "application/json")
    for index in range(cookie_consent._CACHE_SIZE * 2 + 10):
        assert await injects(flt, f"text/html; charset=utf-8; v={index}")
        assert len(flt._html_types) <= cookie_consent._CACHE_SIZE
    entries = len(flt._html_types)
    assert not await injects(flt, "text/html; charset=utf-16; " + "x" * cookie_consent._CACHED_VALUE_LENGTH)
    assert len(flt._html_types) == entries  # a long value is judged, not kept
    reloaded = CookieConsent(policy(banner={"exclude_paths": [PAGE]}), Metrics())
    assert not await injects(reloaded, "text/html")
    assert await injects(reloaded, "text/html", path="/other")


async def test_removals_are_recorded_as_one_decision_per_direction() -> None:
    flt = CookieConsent(policy(), Metrics())
    ex = make_exchange("/api", headers={"Cookie": "lang=nb; sessionid=1; _ga=2; _gid=3"})
    assert await flt.on_request(ex) is None
    ex.response_status = 200
    ex.response_headers = CIMultiDict([("Set-Cookie", "_ga=1"), ("Set-Cookie", "sessionid=2")])
    assert await flt.on_response_headers(ex) is None
    assert ex.upstream_headers.getall("Cookie") == ["sessionid=1"]
    assert ex.response_headers.getall("Set-Cookie") == ["sessionid=2"]
    assert [(d.filter, d.decision, d.rule, d.mode) for d in ex.decisions] == [
        ("consent", "request_cookies_removed", "analytics,preferences", "enforce"),
        ("consent", "response_cookies_removed", "analytics", "enforce"),
    ]


async def test_after_a_decision_only_the_settings_link(gw: Gateway) -> None:
    consent = await decide(gw, {"action": "reject"})
    _, body = await fetch(gw, PAGE, headers={"Cookie": consent})
    assert b"pgw-consent" not in body
    assert b'<div id="pgw-settings" class="pgw-settings" lang="en"><a href="/_privacy/consent/settings?return=/cookie-page">' in body


async def test_no_settings_link_leaves_decided_pages_untouched(start_gateway: StartGateway, store_url: str) -> None:
    gw = await start_gateway(gateway_policy(store_url, banner={"settings_link": False, "exclude_paths": ["/privacy"]}))
    consent = await decide(gw, {"action": "reject"})
    response, body = await fetch(gw, PAGE, headers={"Cookie": consent})
    assert b"pgw-" not in body and response.headers["Content-Length"] == str(len(body))


async def test_a_new_consent_version_asks_again(start_gateway: StartGateway, store_url: str, tmp_path: Path) -> None:
    gw = await start_gateway(gateway_policy(store_url))
    consent = await decide(gw, {"action": "accept"})
    (tmp_path / "policy.yaml").write_text((tmp_path / "policy.yaml").read_text().replace("version: v1", "version: v2"))
    assert await gw.reload()
    _, body = await fetch(gw, PAGE, headers={"Cookie": consent})
    assert b'id="pgw-consent"' in body
    assert await echo_cookies(gw, consent + "; _ga=1") == []
    assert metric(gw, "privacy_gateway_consent_cookie_invalid_total") >= 1


async def test_a_strict_nonce_csp_gets_the_banners_nonce(gw: Gateway) -> None:
    csp = "default-src 'none'; script-src 'nonce-pageNonce'; style-src 'self'"
    response, body = await fetch(gw, PAGE + "?csp=" + quote(csp))
    header = response.headers["Content-Security-Policy"]
    nonce = header.split("'nonce-")[2].split("'")[0]
    assert header == f"default-src 'none'; script-src 'nonce-pageNonce' 'nonce-{nonce}'; style-src 'self'"
    assert f'defer nonce="{nonce}"></script>'.encode() in body
    assert b'banner.css?v=' in body and b'rel="stylesheet" href' in body


async def test_a_csp_that_forbids_scripts_keeps_the_no_javascript_banner(gw: Gateway) -> None:
    csp = "script-src 'none'; style-src 'self'"
    response, body = await fetch(gw, PAGE + "?csp=" + quote(csp))
    assert response.headers["Content-Security-Policy"] == csp
    assert b"<script" not in body and b'<form method="post" action="/_privacy/consent">' in body


# -- shadow mode, GPC, consent managers ----------------------------------------------------------


async def test_shadow_mode_counts_and_removes_nothing(start_gateway: StartGateway, store_url: str) -> None:
    gw = await start_gateway(gateway_policy(store_url, shadow=True))
    assert await echo_cookies(gw, "sessionid=1; _ga=2; pgw_consent=x") == ["sessionid=1; _ga=2"]
    response, body = await fetch(gw, PAGE)
    assert len(response.headers.getall("Set-Cookie")) == 5 and b'id="pgw-consent"' in body
    assert metric(gw, "privacy_gateway_consent_cookies_removed_total", category="analytics", direction="request", mode="shadow") == 1
    assert metric(gw, "privacy_gateway_consent_cookies_removed_total", category="analytics", direction="response", mode="shadow") == 2
    assert metric(gw, "privacy_gateway_consent_cookies_removed_total", category="analytics", direction="request", mode="enforce") == 0


async def test_gpc_is_recorded_once_as_a_decision(gw: Gateway, store_url: str) -> None:
    response, body = await fetch(gw, PAGE, headers={"Sec-GPC": "1"})
    assert b'id="pgw-consent"' not in body and b'id="pgw-settings"' in body
    consent = set_cookie_value(response.headers.getall("Set-Cookie"), "pgw_consent")
    assert consent
    _, state = await fetch(gw, P, headers={"Sec-GPC": "1", "Cookie": f"pgw_consent={consent}"})
    doc = json.loads(state)
    assert doc["decided"] and doc["method"] == "gpc" and doc["gpc"]
    async with SQLiteStore(store_url.removeprefix("sqlite:///")) as store:
        [receipt] = await store.receipts_for(doc["consent_id"])
    assert receipt.method == "gpc" and receipt.page_path == PAGE
    assert metric(gw, "privacy_gateway_consent_decisions_total", method="gpc", choice="reject_all") == 1
    # Without GPC the same browser has not decided: the banner comes back.
    _, body = await fetch(gw, PAGE, headers={"Cookie": f"pgw_consent={consent}"})
    assert b'id="pgw-consent"' in body


async def test_a_cmp_cookie_is_enforced(start_gateway: StartGateway, store_url: str) -> None:
    gw = await start_gateway(gateway_policy(store_url, cmp={"type": "klaro"}, banner={"enabled": False}))
    klaro = "klaro=" + quote('{"analytics":true,"preferences":false}')
    assert await echo_cookies(gw, f"{klaro}; _ga=1; lang=nb") == [f"{klaro}; _ga=1"]
    response, body = await fetch(gw, PAGE, headers={"Cookie": klaro})
    assert [h.split("=")[0] for h in response.headers.getall("Set-Cookie")] == ["sessionid", "_ga", "_gid"]
    assert b"pgw-" not in body


# -- safety ------------------------------------------------------------------------------------


async def test_the_upstream_cannot_set_the_gateways_cookie(gw: Gateway) -> None:
    forged = quote("<html><body>x</body></html>")
    response, _ = await fetch(gw, f"{PAGE}?nocookies=1&body={forged}")
    assert set_cookie_value(response.headers.getall("Set-Cookie", []), "pgw_consent") is None


async def test_a_failing_filter_fails_closed(gw: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    [consent] = [f for f in gw.runtime.chain.filters if isinstance(f, CookieConsent)]

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(consent.c.enforcer, "filter_request", broken)
    response, _ = await fetch(gw, "/echo", headers={"Cookie": "_ga=1"})
    assert response.status == 502 and response.headers["X-Gateway-Reason"] == "filter_error"
