"""Legal basis at sign-up, through the real gateway on loopback: the injected notice, active consent, records."""

from __future__ import annotations

import asyncio
import base64
import re
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from gateway.legal.notice import version_of
from gateway.server import Gateway
from tests.conftest import StartGateway

KEY = "raw:" + "a-legal-basis-record-key-00000001"
NOTICE_EN = "I agree that Example AS stores my request and e-mail address to answer it."
NOTICE_NB = "Jeg samtykker i at Example AS lagrer henvendelsen og e-postadressen min for å svare på den."
FORM_PAGE = (
    "<!doctype html><html><body><h1>New ticket</h1>"
    '<form method="post" action="/echo-body/signup"><input name="csrf" type="hidden" value="t0k">'
    '<input name="email"><textarea name="message"></textarea><button class="send">Send</button></form>'
    '<form method="get" action="/search"><input name="q"><button>Search</button></form></body></html>'
)


def policy(tmp_path: Path, **route: Any) -> dict[str, Any]:
    return {
        "store": {"url": f"sqlite:///{tmp_path}/state.sqlite3"},
        "organisation": {"name": "Example AS", "dpo": {"email": "dpo@example.org"}},
        "legal_basis": {"enabled": True, "keys": [{"id": "l1", "secret": KEY}], "routes": [{
            "name": "new-ticket", "path": "/echo-body/signup", "pages": ["/cookie-page"], "basis": "consent",
            "purpose": "Answering your support request", "notice": {"en": NOTICE_EN, "nb": NOTICE_NB},
            "email_field": "email", **route,
        }]},
    }


async def form_page(gw: Gateway, **query: str) -> str:
    async with aiohttp.ClientSession() as session:
        params = {"nocookies": "1", "body": FORM_PAGE, **query}
        async with session.get(f"{gw.base_url}/cookie-page", params=params,  # type: ignore[attr-defined]
                               headers={"Accept-Language": query.pop("lang", "en")}) as resp:
            assert resp.status == 200
            return await resp.text()


async def submit(gw: Gateway, data: Any, *, accept: str = "text/html", cookies: dict[str, str] | None = None,
                 **headers: str) -> tuple[int, bytes, Any]:
    async with aiohttp.ClientSession(cookies=cookies) as session:
        kwargs: dict[str, Any] = {"json": data} if isinstance(data, dict) and headers.pop("as_json", "") else {"data": data}
        async with session.post(f"{gw.base_url}/echo-body/signup", headers={"Accept": accept, **headers},  # type: ignore[attr-defined]
                                **kwargs) as resp:
            return resp.status, await resp.read(), resp


def received(body: bytes) -> bytes:
    return base64.b64decode(orjson.loads(body)["body_b64"])


def metric(gw: Gateway, result: str, mode: str = "enforce") -> float:
    value = gw.metrics.registry.get_sample_value(
        "privacy_gateway_legal_basis_submissions_total", {"route": "new-ticket", "result": result, "mode": mode})
    return value or 0.0


@pytest.mark.parametrize("chunk", ["", "1", "7", "64"])
async def test_the_consent_checkbox_is_injected_unticked_before_the_submit_button(
    start_gateway: StartGateway, tmp_path: Path, chunk: str
) -> None:
    gw = await start_gateway(policy(tmp_path))
    page = await form_page(gw, **({"chunk": chunk} if chunk else {}))
    checkbox = (f'<p class="privacy-gateway-legal-basis"><label><input type="checkbox" name="privacy_consent" '
                f'value="{version_of(NOTICE_EN)}" required> {NOTICE_EN}</label>')
    assert page.count(checkbox) == 1
    assert page.index("<textarea") < page.index(checkbox) < page.index('<button class="send">')
    assert "checked" not in page
    assert 'Example AS · Data protection officer: <a href="mailto:dpo@example.org">' in page
    assert page.replace(page[page.index(checkbox):page.index('<button class="send">')], "") == FORM_PAGE


async def test_the_notice_follows_the_visitors_language(start_gateway: StartGateway, tmp_path: Path) -> None:
    gw = await start_gateway(policy(tmp_path))
    assert NOTICE_NB in await form_page(gw, lang="nb-NO,nb;q=0.9") and NOTICE_NB not in await form_page(gw)


async def test_a_submission_without_consent_gets_a_page_that_keeps_what_was_typed(
    start_gateway: StartGateway, tmp_path: Path
) -> None:
    gw = await start_gateway(policy(tmp_path))
    status, body, resp = await submit(gw, {"csrf": "t0k", "email": "kari@example.no", "message": "Hei <b>&"})
    assert status == 422 and resp.headers["X-Gateway-Reason"] == "consent_required"
    page = body.decode()
    assert '<input type="hidden" name="message" value="Hei &lt;b&gt;&amp;">' in page
    assert '<input type="hidden" name="csrf" value="t0k">' in page
    assert f'name="privacy_consent" value="{version_of(NOTICE_EN)}" required>' in page
    assert '<form method="post" action="/echo-body/signup">' in page
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    assert metric(gw, "consent_missing") == 1
    if gw.runtime.store is not None:
        assert [r async for r in gw.runtime.store.export_legal_records()] == []


async def test_with_consent_the_helpdesk_gets_its_own_fields_and_a_record_is_kept(
    start_gateway: StartGateway, tmp_path: Path
) -> None:
    gw = await start_gateway(policy(tmp_path))
    version = version_of(NOTICE_EN)
    status, body, resp = await submit(gw, f"csrf=t0k&email=Kari%40Example.no&privacy_consent={version}&message=hi",
                                      **{"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200
    assert received(body) == b"csrf=t0k&email=Kari%40Example.no&message=hi"
    assert gw.runtime.store is not None
    (record,) = [r async for r in gw.runtime.store.export_legal_records()]
    assert (record.route, record.basis, record.event, record.notice_version, record.language) == (
        "new-ticket", "consent", "given", version, "en")
    assert record.email_hash.startswith("l1:") and "kari" not in record.email_hash.lower()
    assert record.ip_truncated == "127.0.0.0/24"
    assert "pgw_legal_basis=" in resp.headers["Set-Cookie"] and "HttpOnly" in resp.headers["Set-Cookie"]
    assert metric(gw, "recorded") == 1


async def test_a_stale_notice_version_is_asked_again_and_json_gets_json(
    start_gateway: StartGateway, tmp_path: Path
) -> None:
    gw = await start_gateway(policy(tmp_path))
    status, body, _ = await submit(gw, {"email": "a@b.example", "privacy_consent": "0" * 16}, accept="application/json",
                                   as_json="1")
    assert status == 422
    doc = orjson.loads(body)
    assert doc["error"] == "consent_required" and doc["stale"] is True
    assert doc["versions"] == {"en": version_of(NOTICE_EN), "nb": version_of(NOTICE_NB)}
    status, body, _ = await submit(gw, {"email": "a@b.example", "privacy_consent": version_of(NOTICE_NB)},
                                   accept="application/json", as_json="1")
    assert status == 200 and orjson.loads(received(body))["privacy_consent"] == version_of(NOTICE_NB)  # JSON unchanged


async def test_multipart_keeps_files_and_can_forward_the_consent_as_a_helpdesk_field(
    start_gateway: StartGateway, tmp_path: Path
) -> None:
    gw = await start_gateway(policy(tmp_path, helpdesk_field="gdpr_consent"))
    form = aiohttp.FormData()
    form.add_field("privacy_consent", version_of(NOTICE_EN))
    form.add_field("message", "hello")
    form.add_field("file", b"\x00\x01binary", filename="a.bin", content_type="application/octet-stream")
    status, body, _ = await submit(gw, form)
    assert status == 200
    sent = received(body)
    assert b'name="privacy_consent"' not in sent and b"\x00\x01binary" in sent
    assert b'name="gdpr_consent"\r\n\r\n' + version_of(NOTICE_EN).encode() + b"\r\n" in sent
    form = aiohttp.FormData()
    form.add_field("message", "hello")
    form.add_field("file", b"data", filename="a.bin")
    status, page, _ = await submit(gw, form)
    assert status == 422 and b"cannot be kept here: go back" in page


async def test_a_shadow_route_counts_and_forwards_and_other_bases_only_record(
    start_gateway: StartGateway, tmp_path: Path
) -> None:
    gw = await start_gateway(policy(tmp_path, shadow=True))
    status, body, _ = await submit(gw, {"message": "no consent"})
    assert status == 200 and received(body) == b"message=no+consent" and metric(gw, "consent_missing", "shadow") == 1
    gw2 = await start_gateway(policy(tmp_path, basis="contract"))
    page = await form_page(gw2)
    assert f'<input type="hidden" name="privacy_consent" value="{version_of(NOTICE_EN)}">{NOTICE_EN}' in page
    status, body, _ = await submit(gw2, {"message": "hi", "email": "x@y.example"})
    assert status == 200
    assert gw2.runtime.store is not None
    events = [r.event async for r in gw2.runtime.store.export_legal_records()]
    assert events == ["informed"]


async def test_withdrawal_by_the_same_browser(start_gateway: StartGateway, tmp_path: Path) -> None:
    gw = await start_gateway(policy(tmp_path))
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        data = {"email": "kari@example.no", "privacy_consent": version_of(NOTICE_EN), "message": "hi"}
        async with session.post(f"{gw.base_url}/echo-body/signup", data=data) as resp:  # type: ignore[attr-defined]
            assert resp.status == 200
        async with session.get(f"{gw.base_url}/_privacy/legal-basis") as resp:  # type: ignore[attr-defined]
            page = await resp.text()
        assert resp.status == 200 and "Answering your support request" in page and "Withdraw</button>" in page
        token = re.search(r'name="token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        record = re.search(r'name="record" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        async with session.post(f"{gw.base_url}/_privacy/legal-basis",  # type: ignore[attr-defined]
                                data={"record": record, "token": "forged"}) as resp:
            assert resp.status == 403
        async with session.post(f"{gw.base_url}/_privacy/legal-basis",  # type: ignore[attr-defined]
                                data={"record": record, "token": token}) as resp:
            page = await resp.text()
        assert resp.status == 200 and "Your consent was withdrawn." in page and "<strong>withdrawn</strong>" in page
    async with aiohttp.ClientSession() as other:  # another browser sees nothing
        async with other.get(f"{gw.base_url}/_privacy/legal-basis") as resp:  # type: ignore[attr-defined]
            assert "has given no consent" in await resp.text()
    assert gw.runtime.store is not None
    records = [r async for r in gw.runtime.store.export_legal_records()]
    assert [r.event for r in records] == ["given", "withdrawn"] and records[1].withdraws == records[0].record_id
    assert metric(gw, "withdrawn") == 1


async def test_the_helpdesk_is_told_of_a_withdrawal_and_can_match_it(start_gateway: StartGateway, tmp_path: Path) -> None:
    from aiohttp import web

    from gateway.helpdesks.webhook import SIGNATURE_HEADER, verify_signature

    secret = "a-webhook-signing-secret-0000000001"
    told: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        if not verify_signature(secret.encode(), request.headers.get(SIGNATURE_HEADER, ""), body):
            return web.Response(status=401)
        told.append(orjson.loads(body))
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        doc = policy(tmp_path, record_field="gdpr_record")
        doc["legal_basis"]["webhook"] = {"adapter": "webhook", "url": f"http://127.0.0.1:{port}/hook", "secret": secret}
        gw = await start_gateway(doc)
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as session:
            data = {"email": "kari@example.no", "privacy_consent": version_of(NOTICE_EN), "message": "hi"}
            async with session.post(f"{gw.base_url}/echo-body/signup", data=data) as resp:  # type: ignore[attr-defined]
                sent = dict(p.split("=", 1) for p in received(await resp.read()).decode().split("&"))
            record_id = sent["gdpr_record"]  # the helpdesk keeps it with the person's case
            async with session.get(f"{gw.base_url}/_privacy/legal-basis") as resp:  # type: ignore[attr-defined]
                page = await resp.text()
            token = re.search(r'name="token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            async with session.post(f"{gw.base_url}/_privacy/legal-basis",  # type: ignore[attr-defined]
                                    data={"record": record_id, "token": token}) as resp:
                assert resp.status == 200
        for _ in range(100):
            if told:
                break
            await asyncio.sleep(0.05)
        (event,) = told
        assert event["event"] == "consent.withdrawn" and event["consent"]["record"] == record_id
        assert event["consent"]["route"] == "new-ticket" and "kari" not in orjson.dumps(event).decode()
    finally:
        await runner.cleanup()
