"""The demo helpdesk (gateway.demo: helpdesk, pages, tools, data), tested directly."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from gateway.demo import tools
from gateway.demo.data import TICKETS
from gateway.demo.helpdesk import make_app, runner_url, start_helpdesk

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(aiohttp_client: AiohttpClient) -> Client:
    return await aiohttp_client(make_app())


async def _body(total: int, chunk: int = 100_000) -> AsyncIterator[bytes]:
    block = b"x" * chunk
    sent = 0
    while sent < total:
        n = min(chunk, total - sent)
        yield block[:n]
        sent += n


def _set_cookies(resp: aiohttp.ClientResponse) -> dict[str, str]:
    """Raw Set-Cookie lines by cookie name."""
    return {line.split("=", 1)[0]: line for line in resp.headers.getall("Set-Cookie", [])}


async def _login(client: Client, user: str = "alice") -> str:
    resp = await client.post("/login", data={"username": user, "password": "pw"}, allow_redirects=False)
    return resp.cookies["sessionid"].value


# -- pages ---------------------------------------------------------------------------------------


async def test_home_has_external_and_internal_links_and_a_strict_csp(client: Client) -> None:
    resp = await client.get("/")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    html = await resp.text()
    for link in ('href="https://example.org/docs/', 'href="https://www.youtube.com/watch?v=', 'href="mailto:',
                 "utm_source=helpdesk&amp;utm_medium=", 'href="/tickets/1"', 'href="/login"'):
        assert link in html
    assert "<img" not in html and "<iframe" not in html  # nothing is loaded from other sites


async def test_pages_set_the_analytics_cookie_until_the_browser_has_one(client: Client) -> None:
    first = await client.get("/")
    assert "_ga=GA1.1." in _set_cookies(first)["_ga"]
    again = await client.get("/", headers={"Cookie": "_ga=GA1.1.1.1"})
    assert "Set-Cookie" not in again.headers


async def test_ticket_page_links_and_plain_text_export(client: Client) -> None:
    html = await (await client.get("/tickets/2")).text()
    assert 'href="https://billing.example.com/invoices/INV-0042?fbclid=IwAR0demo&amp;gclid=demo123"' in html
    text_resp = await client.get("/tickets/1.txt")
    assert text_resp.content_type == "text/plain"
    text = await text_resp.text()
    assert "https://www.youtube.com/watch?v=aqz-KE-bpKQ&t=42s\n" in text
    assert "the reset guide <https://example.org/docs/account/reset-password?utm_source=newsletter&" in text
    assert "<a " not in text


@pytest.mark.parametrize(
    "path", ["/tickets/99", "/tickets/99.txt", "/agent/tickets/0", "/api/tickets/7", "/tickets/" + "9" * 5000]
)
async def test_unknown_ticket_is_404(client: Client, path: str) -> None:
    assert (await client.get(path)).status == 404


async def test_html_is_compressed_when_the_client_accepts_it(client: Client) -> None:
    resp = await client.get("/tickets/1", headers={"Accept-Encoding": "gzip"})
    assert resp.headers["Content-Encoding"] == "gzip"
    assert "Cannot reset my password" in await resp.text()
    plain = await client.get("/tickets/1", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers


async def test_static_files(client: Client) -> None:
    css = await client.get("/static/helpdesk.css")
    js = await client.get("/static/live.js")
    assert (css.content_type, js.content_type) == ("text/css", "text/javascript")
    assert "/ws" in await js.text()


# -- login, session, agent area ------------------------------------------------------------------


async def test_login_sets_session_and_analytics_cookies_and_redirects(client: Client) -> None:
    form = await client.get("/login")
    assert 'action="/login"' in await form.text()
    resp = await client.post("/login", data={"username": "alice", "password": "pw"}, allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/agent/"
    cookies = _set_cookies(resp)
    session, analytics = cookies["sessionid"], cookies["_ga"]
    assert "HttpOnly" in session and "SameSite=Lax" in session and "Path=/" in session
    assert "HttpOnly" not in analytics and "Max-Age=63072000" in analytics


@pytest.mark.parametrize("username", ["", "   ", "x" * 65])
async def test_login_rejects_a_bad_user_name(client: Client, username: str) -> None:
    resp = await client.post("/login", data={"username": username}, allow_redirects=False)
    assert resp.status == 400
    assert "sessionid" not in _set_cookies(resp)


async def test_agent_dashboard_lists_fictional_customers(client: Client) -> None:
    html = await (await client.get("/agent/")).text()
    assert "Not signed in" in html
    for ticket in TICKETS:
        assert f'href="mailto:{ticket.customer.email}"' in html
        assert "(fictional)" in ticket.customer.name
        assert ticket.customer.email.rsplit(".", 1)[0].endswith("example")
    assert '<script src="/static/live.js" defer>' in html
    agent_ticket = await (await client.get("/agent/tickets/4")).text()
    assert "max.mustermann@example.com" in agent_ticket


async def test_agent_dashboard_greets_the_signed_in_agent_escaped(client: Client) -> None:
    session = await _login(client, "<b>eve</b>")
    html = await (await client.get("/agent/", headers={"Cookie": f"sessionid={session}"})).text()
    assert "Signed in as <strong>&lt;b&gt;eve&lt;/b&gt;</strong>" in html


async def test_logout_ends_the_session(client: Client) -> None:
    session = await _login(client)
    resp = await client.post("/logout", headers={"Cookie": f"sessionid={session}"}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/"
    assert "Max-Age=0" in _set_cookies(resp)["sessionid"]
    html = await (await client.get("/agent/", headers={"Cookie": f"sessionid={session}"})).text()
    assert "Not signed in" in html


async def test_agent_without_slash_redirects(client: Client) -> None:
    resp = await client.get("/agent", allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (301, "/agent/")


async def test_language_cookie(client: Client) -> None:
    resp = await client.get("/lang/nb", allow_redirects=False)
    assert resp.status == 303 and "lang=nb" in _set_cookies(resp)["lang"]
    html = await (await client.get("/", headers={"Cookie": "lang=nb"})).text()
    assert '<html lang="nb">' in html and "Hvordan kan vi hjelpe?" in html
    assert (await client.get("/lang/xx")).status == 404


async def test_api_tickets(client: Client) -> None:
    listing = await (await client.get("/api/tickets")).json()
    assert [t["id"] for t in listing["tickets"]] == [1, 2, 3, 4, 5, 6]
    assert listing["tickets"][0]["message_count"] == 2
    detail = await (await client.get("/api/tickets/3")).json()
    assert detail["customer"]["email"] == "jane.doe@example.org"
    assert len(detail["messages"]) == 2


# -- tools: echo, streaming, websocket -----------------------------------------------------------


async def test_echo_reports_what_arrived(client: Client) -> None:
    resp = await client.post(
        "/echo/a/b?x=1&x=2&token=t", data=_body(250_000),
        headers=[("X-Demo", "one"), ("X-Demo", "two")],
    )
    got = await resp.json()
    assert got["method"] == "POST"
    assert (got["path"], got["raw_path"]) == ("/echo/a/b", "/echo/a/b?x=1&x=2&token=t")
    assert got["query"] == [["x", "1"], ["x", "2"], ["token", "t"]]
    assert [v for k, v in got["headers"] if k == "X-Demo"] == ["one", "two"]
    assert ["Transfer-Encoding", "chunked"] in got["headers"]
    assert got["body_length"] == 250_000
    assert got["remote"] == "127.0.0.1"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
async def test_echo_any_method(client: Client, method: str) -> None:
    got = await (await client.request(method, "/echo")).json()
    assert (got["method"], got["path"], got["body_length"]) == (method, "/echo", 0)


@pytest.mark.parametrize("size", [0, 1, 255, tools.CHUNK, tools.CHUNK + 1, 300_001])
async def test_download_streams_the_pattern(client: Client, size: int) -> None:
    resp = await client.get(f"/download/{size}")
    assert resp.status == 200
    assert resp.headers["Content-Length"] == str(size)
    body = await resp.read()
    assert body == (bytes(range(256)) * (size // 256 + 1))[:size]


async def test_download_chunked_head_and_limit(client: Client) -> None:
    chunked = await client.get("/download/100000?chunked=1")
    assert "Content-Length" not in chunked.headers
    assert chunked.headers["Transfer-Encoding"] == "chunked"
    assert len(await chunked.read()) == 100_000
    head = await client.head("/download/5000")
    assert head.headers["Content-Length"] == "5000" and await head.read() == b""
    assert (await client.get(f"/download/{tools.MAX_DOWNLOAD + 1}")).status == 400
    assert (await client.get("/download/-1")).status == 404
    assert (await client.get("/download/" + "9" * 5000)).status == 404


async def test_upload_counts_a_streamed_body(client: Client) -> None:
    size = 32 * 1024 * 1024 + 7
    got = await (await client.post("/upload", data=_body(size))).json()
    assert got["bytes"] == size and "sha256" not in got


async def test_upload_digest_and_put(client: Client) -> None:
    payload = bytes(range(256)) * 1000
    got = await (await client.put("/upload?sha256=1", data=payload,
                                  headers={"Content-Type": "application/pdf"})).json()
    assert got == {"bytes": len(payload), "content_type": "application/pdf",
                   "sha256": hashlib.sha256(payload).hexdigest()}
    form = await (await client.get("/upload")).text()
    assert 'enctype="multipart/form-data"' in form


async def test_websocket_echoes_text_and_binary(client: Client) -> None:
    async with client.ws_connect("/ws") as ws:
        await ws.send_str("ping 1")
        assert await ws.receive_str() == "ping 1"
        await ws.send_bytes(b"\x00\xffbinary")
        assert await ws.receive_bytes() == b"\x00\xffbinary"


async def test_events_stream(client: Client) -> None:
    resp = await client.get("/events?count=3&interval=0")
    assert resp.content_type == "text/event-stream"
    frames = (await resp.text()).strip().split("\n\n")
    assert len(frames) == 3
    assert json.loads(frames[2].split("data: ", 1)[1]) == {"ticket": 3, "event": "updated", "seq": 2}


@pytest.mark.parametrize("query", ["count=x", "count=-1", "count=100000", "interval=61"])
async def test_events_bad_parameters(client: Client, query: str) -> None:
    assert (await client.get(f"/events?{query}")).status == 400


async def test_delay(client: Client) -> None:
    resp = await client.get("/delay/0.01")
    assert (resp.status, await resp.text()) == (200, "answered after 0.01s\n")
    assert (await client.get("/delay/301")).status == 400
    assert (await client.get("/delay/" + "9" * 5000)).status == 404


# -- running it on a real socket -----------------------------------------------------------------


async def test_start_helpdesk_on_loopback_and_shutdown_closes_websockets() -> None:
    runner = await start_helpdesk("127.0.0.1", 0)
    url = runner_url(runner)
    assert url.startswith("http://127.0.0.1:")
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/echo") as resp:
                assert (await resp.json())["path"] == "/echo"
            async with session.ws_connect(f"{url}/ws") as ws:
                await runner.cleanup()
                msg = await ws.receive()
                assert msg.type is aiohttp.WSMsgType.CLOSE
                assert msg.data == aiohttp.WSCloseCode.GOING_AWAY
    finally:
        await runner.cleanup()


async def test_runner_url_brackets_ipv6() -> None:
    try:
        runner = await start_helpdesk("::1", 0)
    except OSError:
        pytest.skip("no IPv6 loopback")
    try:
        assert runner_url(runner).startswith("http://[::1]:")
    finally:
        await runner.cleanup()


# -- the queue of data-subject requests (the portal's webhook) -----------------------------------------


async def test_the_portals_webhook_opens_a_case_once_and_refuses_unsigned_ones(aiohttp_client: AiohttpClient) -> None:
    from gateway.helpdesks.base import NewCase
    from gateway.helpdesks.registry import adapter_for
    from gateway.policy.helpdesks import HelpdeskSettings

    secret = "a-webhook-secret-of-32-bytes-000001"
    client = await aiohttp_client(make_app(webhook_secret=secret.encode()))
    url = str(client.make_url("/webhooks/privacy"))
    adapter = adapter_for(HelpdeskSettings(adapter="webhook", url=url, secret=secret, retries=0))
    case = NewCase("[DSR-ABCDE-12345] Data-subject request: Access", "Requester: kari@example.com",
                   "kari@example.com", idempotency_key="DSR-ABCDE-12345")
    try:
        first = await adapter.open_case(case)
        again = await adapter.open_case(case)  # a retry of the same delivery
    finally:
        await adapter.close()
    assert (first.id, first.reference) == ("1", "dsar-1") and again == first
    queue = await (await client.get("/agent/privacy-requests")).text()
    assert queue.count("<h2>dsar-") == 1 and "DSR-ABCDE-12345" in queue
    unsigned = await client.post("/webhooks/privacy", data=b'{"event":"case.open"}')
    assert unsigned.status == 401
    wrong = await client.post("/webhooks/privacy", data=b"{}", headers={
        "X-Privacy-Gateway-Signature": "t=1,v1=" + "0" * 64})
    assert wrong.status == 401
    without = await aiohttp_client(make_app())
    assert (await without.post("/webhooks/privacy", data=b"{}")).status == 404
