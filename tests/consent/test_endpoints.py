"""The consent endpoints through the real gateway over loopback (SQLite and PostgreSQL receipts)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gateway.consent.assets import CSS, JS
from gateway.server import Gateway
from gateway.store import open_store_url
from tests.conftest import StartGateway
from tests.consent.support import gateway_policy, set_cookie_value
from tests.support.upstream import SEEN

P = "/_privacy/consent"
SAME = {"Sec-Fetch-Site": "same-origin"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def call(gw: Gateway, method: str, path: str, **kwargs: Any) -> tuple[aiohttp.ClientResponse, bytes]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        async with session.request(method, gw.base_url + path, allow_redirects=False, **kwargs) as response:  # type: ignore[attr-defined]
            return response, await response.read()


@pytest.fixture
async def gw(start_gateway: StartGateway, store_url: str) -> Gateway:
    return await start_gateway(gateway_policy(store_url))


async def consent_cookie(gw: Gateway, action: str = "accept") -> str:
    response, _ = await call(gw, "POST", P, json={"action": action})
    assert response.status == 200
    value = set_cookie_value(response.headers.getall("Set-Cookie"), "pgw_consent")
    assert value
    return f"pgw_consent={value}"


async def test_get_returns_the_current_choices(gw: Gateway) -> None:
    response, body = await call(gw, "GET", P, headers={"Accept-Language": "nb-NO,nb;q=0.9"})
    assert response.status == 200 and response.content_type == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    doc = json.loads(body)
    assert doc["decided"] is False and doc["method"] is None and doc["consent_id"] is None and doc["gpc"] is False
    assert doc["version"] == "v1" and doc["language"] == "nb" and len(doc["text_hash"]) == 64
    # start_gateway writes the policy with sorted keys: the categories are in alphabetical order.
    assert [(c["name"], c["granted"], c["required"]) for c in doc["categories"]] == [
        ("necessary", True, True), ("analytics", False, False), ("marketing", False, False), ("preferences", False, False)
    ]
    assert doc["categories"][1]["label"] == "Statistikk"


async def test_the_banner_form_posts_and_comes_back_with_303(gw: Gateway, store_url: str) -> None:
    data = "action=save&category=analytics&return=%2Ftickets%2F1%3Fq%3Dsecret&lang=nb"
    response, body = await call(gw, "POST", P, data=data, headers={**SAME, **FORM, "User-Agent": "Firefox/128.0"})
    assert response.status == 303 and body == b""
    assert response.headers["Location"] == "/tickets/1?q=secret"
    cookies = response.headers.getall("Set-Cookie")
    assert cookies[0].startswith("pgw_consent=") and "HttpOnly" in cookies[0] and "SameSite=Lax" in cookies[0]
    _, body = await call(gw, "GET", P, headers={"Cookie": cookies[0].split(";")[0]})
    doc = json.loads(body)
    assert doc["decided"] and doc["method"] == "banner" and doc["consent_id"]
    assert {c["name"]: c["granted"] for c in doc["categories"]} == {
        "necessary": True, "preferences": False, "analytics": True, "marketing": False
    }
    async with open_store_url(store_url) as store:
        [receipt] = await store.receipts_for(doc["consent_id"])
    assert receipt.method == "banner" and receipt.page_path == "/tickets/1" and receipt.user_agent_family == "Firefox"
    assert receipt.ip_truncated == "127.0.0.0/24" and receipt.choices["analytics"] is True
    _, nb = await call(gw, "GET", P, headers={"Accept-Language": "nb"})
    assert receipt.text_hash == json.loads(nb)["text_hash"]


async def test_the_script_posts_the_form_and_gets_json(gw: Gateway) -> None:
    response, body = await call(
        gw, "POST", P, data="action=reject&return=/", headers={**SAME, **FORM, "Accept": "application/json"}
    )
    assert response.status == 200 and json.loads(body)["decided"] is True
    assert all(not c["granted"] for c in json.loads(body)["categories"][1:])


@pytest.mark.parametrize(
    "headers", [{}, {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}, {"Origin": "http://evil.example"}]
)
async def test_forged_form_posts_are_refused(gw: Gateway, headers: dict[str, str]) -> None:
    response, _ = await call(gw, "POST", P, data="action=accept", headers={**FORM, **headers})
    assert response.status == 403 and response.headers["X-Gateway-Reason"] == "consent_csrf"
    assert "Set-Cookie" not in response.headers


async def test_an_origin_matching_the_host_is_enough_for_the_form(gw: Gateway) -> None:
    origin = gw.base_url  # type: ignore[attr-defined]
    response, _ = await call(gw, "POST", P, data="action=accept", headers={**FORM, "Origin": origin})
    assert response.status == 303


async def test_json_api_partial_updates_and_withdrawal(gw: Gateway) -> None:
    cookie = await consent_cookie(gw, "accept")
    response, body = await call(gw, "POST", P, json={"choices": {"analytics": False}}, headers={"Cookie": cookie + "; _ga=1"})
    assert response.status == 200
    doc = json.loads(body)
    assert {c["name"]: c["granted"] for c in doc["categories"]} == {
        "necessary": True, "preferences": True, "analytics": False, "marketing": True
    }
    expired = [h for h in response.headers.getall("Set-Cookie") if "Max-Age=0" in h]
    assert {h.split("=")[0] for h in expired} == {"_ga", "_gid"}


async def test_json_errors(gw: Gateway) -> None:
    response, body = await call(gw, "POST", P, json={"choices": {"ads": True}}, headers={"Accept": "application/json"})
    assert response.status == 400 and json.loads(body)["reason"] == "consent_bad_request"
    response, _ = await call(gw, "POST", P, data=b"{}", headers={"Content-Type": "text/plain"})
    assert response.status == 415
    response, _ = await call(gw, "POST", P, data=b"x" * 9000, headers={"Content-Type": "application/json"})
    assert response.status == 413
    response, _ = await call(gw, "POST", P, json={"action": "accept"}, headers={"Origin": "http://evil.example"})
    assert response.status == 403


async def test_expect_continue(gw: Gateway) -> None:
    response, _ = await call(gw, "POST", P, json={"action": "reject"}, headers={"Expect": "100-continue"})
    assert response.status == 200


async def test_assets(gw: Gateway) -> None:
    for name, text, kind in (("banner.js", JS, "text/javascript"), ("banner.css", CSS, "text/css")):
        response, body = await call(gw, "GET", f"{P}/{name}?v=anything")
        assert response.status == 200 and body == text.encode() and response.content_type == kind
        assert response.headers["Cache-Control"] == "public, max-age=86400"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    response, body = await call(gw, "HEAD", f"{P}/banner.js")
    assert response.status == 200 and body == b""


async def test_settings_page(gw: Gateway) -> None:
    cookie = await consent_cookie(gw, "accept")
    response, body = await call(gw, "GET", f"{P}/settings?return=%2Fa%3Fb%3D1", headers={"Cookie": cookie})
    assert response.status == 200 and response.content_type == "text/html"
    assert "script-src" not in response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    text = body.decode()
    assert '<input type="hidden" name="return" value="/a?b=1">' in text
    assert 'value="analytics" checked' in text and '<a href="/a?b=1">' in text
    response, body = await call(gw, "GET", f"{P}/settings?return=//evil.example")
    assert '<a href="/">' in body.decode()


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("PUT", P, 405, "GET, HEAD, POST"), ("DELETE", f"{P}/", 405, "GET, HEAD, POST"),
        ("POST", f"{P}/banner.js", 405, "GET, HEAD"), ("POST", f"{P}/settings", 405, "GET, HEAD"),
        ("GET", f"{P}/nothing", 404, None), ("GET", f"{P}/settings/x", 404, None),
    ],
)
async def test_other_methods_and_paths(gw: Gateway, method: str, path: str, status: int, allow: str | None) -> None:
    response, _ = await call(gw, method, path)
    assert response.status == status
    assert response.headers.get("Allow") == allow


async def test_the_prefix_is_never_forwarded_but_neighbours_are(
    gw: Gateway, upstream: web.AppRunner
) -> None:
    seen = upstream.app[SEEN]  # type: ignore[union-attr]
    await call(gw, "GET", P)
    await call(gw, "POST", P, json={"action": "accept"})
    await call(gw, "GET", f"{P}/settings")
    assert seen == []
    response, _ = await call(gw, "GET", "/_privacy/consentx")
    assert response.status == 404 and "X-Gateway-Reason" not in response.headers  # the upstream's own 404


async def test_a_tampered_cookie_is_no_decision_never_an_error(gw: Gateway) -> None:
    cookie = await consent_cookie(gw)
    tampered = cookie[:-6] + ("AAAAAA" if not cookie.endswith("AAAAAA") else "BBBBBB")
    response, body = await call(gw, "GET", P, headers={"Cookie": tampered})
    assert response.status == 200 and json.loads(body)["decided"] is False
    response, _ = await call(gw, "POST", P, json={"action": "reject"}, headers={"Cookie": "pgw_consent=%%%"})
    assert response.status == 200


async def test_the_readme_documents_the_state_document(gw: Gateway) -> None:
    readme = (Path(__file__).resolve().parent.parent.parent / "README.md").read_text()
    section = readme[readme.index("## Cookie consent"):readme.index("## External links")]
    documented = json.loads(re.search(r"```json\n(.*?)```", section, re.DOTALL).group(1).replace("…", ""))  # type: ignore[union-attr]
    await consent_cookie(gw)
    response, body = await call(gw, "POST", P, json={"choices": {"analytics": True}})
    doc = json.loads(body)
    assert set(doc) == set(documented)
    assert set(doc["categories"][0]) == set(documented["categories"][0])
    assert doc["method"] == documented["method"] == "api"
    for status, reason in ((400, "consent_bad_request"), (403, "consent_csrf"), (405, "consent_method_not_allowed"),
                           (413, "consent_body_too_large"), (415, "consent_bad_media_type")):
        assert f"{status} `{reason}`" in " ".join(section.split())


async def test_a_stalled_store_answers_promptly_and_never_says_saved(
    start_gateway: StartGateway, pg_dsn: str, pg_schema: str
) -> None:
    """PostgreSQL stops answering: consent posts fail within store.timeouts, not after minutes,
    and a refusal (which still takes effect in the browser) is not reported as saved."""
    import asyncio

    from tests.support.postgres import dsn_with_schema
    from tests.support.stall import stallable_postgres

    async with stallable_postgres(dsn_with_schema(pg_dsn, pg_schema)) as (url, proxy):
        policy = gateway_policy(url)
        policy["store"]["timeouts"] = {"connect": "500ms", "operation": "500ms"}
        gw = await start_gateway(policy)
        cookie = await consent_cookie(gw, "accept")  # recorded while the store answers
        proxy.stall()
        async with asyncio.timeout(10):
            response, body = await call(gw, "POST", P, json={"action": "accept"})
            assert (response.status, response.headers["X-Gateway-Reason"]) == (503, "consent_not_recorded")
            assert "Set-Cookie" not in response.headers

            response, body = await call(gw, "POST", P, json={"action": "reject"}, headers={"Cookie": cookie})
            assert (response.status, response.headers["X-Gateway-Reason"]) == (503, "consent_not_recorded")
            doc = json.loads(body)
            assert doc["recorded"] is False and not any(c["granted"] for c in doc["categories"][1:])
            assert set_cookie_value(response.headers.getall("Set-Cookie"), "pgw_consent")  # applied all the same

            response, body = await call(
                gw, "POST", P, data="action=reject&return=/", headers={**SAME, **FORM, "Cookie": cookie}
            )
            assert (response.status, response.headers["X-Gateway-Reason"]) == (503, "consent_not_recorded")
            assert "Location" not in response.headers and b"could not be recorded" in body
            assert set_cookie_value(response.headers.getall("Set-Cookie"), "pgw_consent")
