"""The HTTP client all adapters share, against a real aiohttp server that misbehaves on purpose."""

from __future__ import annotations

import asyncio
import email.utils
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from gateway.helpdesks import client as client_module
from gateway.helpdesks.base import HelpdeskError
from gateway.helpdesks.client import HelpdeskClient, retry_after_seconds
from gateway.policy.helpdesks import HelpdeskSettings
from tests.support.tls import make_ca

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Waits(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Server:
    """One route per test, every request counted by path."""

    def __init__(self) -> None:
        self.handler: Handler | None = None
        self.hits: dict[str, int] = {}
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1
        assert self.handler is not None
        return await self.handler(request)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    found = Server()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", found.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield found
    await runner.cleanup()


def settings_for(url: str, **changes: object) -> HelpdeskSettings:
    values: dict[str, object] = {"adapter": "zammad", "url": url, "token": "t", "queue": "Users", "retries": 1,
                                 "backoff": 0.1, "max_wait": 5}
    return HelpdeskSettings.model_validate({**values, **changes})


@pytest.fixture
async def client(server: Server) -> AsyncIterator[tuple[HelpdeskClient, Waits]]:
    waits = Waits()
    made = HelpdeskClient(settings_for(server.url, timeout=0.5), adapter="test", headers={"X-Key": "k"}, sleep=waits)
    yield made, waits
    await made.close()


async def test_json_in_and_out_with_the_adapters_headers(server: Server, client: tuple[HelpdeskClient, Waits]) -> None:
    seen: list[tuple[str, str, str, bytes]] = []

    async def echo(request: web.Request) -> web.Response:
        seen.append((request.method, request.headers["X-Key"], request.headers.get("Content-Type", ""),
                     await request.read()))
        if request.path == "/empty":
            return web.Response(status=204)
        return web.json_response({"ok": True, "q": request.query.get("q")})

    server.handler = echo
    made, _ = client
    assert await made.get("/a", operation="read", params={"q": "a b"}) == {"ok": True, "q": "a b"}
    assert await made.post("/b", {"name": "Åse"}, operation="write") == {"ok": True, "q": None}
    assert await made.request("DELETE", "/empty", operation="delete") is None
    assert seen[1] == ("POST", "k", "application/json", '{"name": "Åse"}'.encode())


async def test_an_answer_that_is_not_json_is_not_retryable(
    server: Server, client: tuple[HelpdeskClient, Waits]
) -> None:
    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<h1>Log in</h1>", content_type="text/html")

    server.handler = html
    made, waits = client
    with pytest.raises(HelpdeskError) as info:
        await made.get("/api", operation="find cases")
    assert str(info.value) == "test: find cases: answered 200 with something other than JSON"
    assert (info.value.retryable, info.value.status, waits) == (False, 200, [])
    # Unless JSON is only welcome, not required (the webhook's receiver may answer text).
    assert await made.request("POST", "/api", operation="deliver", want_json=False) is None


async def test_redirects_are_not_followed(server: Server, client: tuple[HelpdeskClient, Waits]) -> None:
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/login")

    server.handler = moved
    made, _ = client
    with pytest.raises(HelpdeskError) as info:
        await made.get("/api", operation="find cases")
    assert str(info.value) == "test: find cases: answered 302 (redirected: check url)"
    assert (info.value.retryable, server.hits) == (False, {"/api": 1})


async def test_a_timeout_is_retried_then_retryable(server: Server, client: tuple[HelpdeskClient, Waits]) -> None:
    async def stall(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({})

    server.handler = stall
    made, waits = client
    with pytest.raises(HelpdeskError) as info:
        await made.get("/slow", operation="read case")
    assert str(info.value) == "test: read case: timed out after 2 tries"
    assert (info.value.retryable, info.value.status, len(waits), server.hits) == (True, None, 1, {"/slow": 2})
    assert info.value.__context__ is None  # aiohttp's exception (which names the URL) is not chained
    with pytest.raises(HelpdeskError) as posted:  # a POST that timed out may have been acted on
        await made.post("/slow", {}, operation="open case")
    assert (posted.value.retryable, len(waits), server.hits["/slow"]) == (True, 1, 3)


async def test_a_connection_lost_mid_answer_is_retryable(server: Server, client: tuple[HelpdeskClient, Waits]) -> None:
    async def hang_up(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "100", "Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"partial": ')
        assert request.transport is not None
        request.transport.close()
        return response

    server.handler = hang_up
    made, waits = client
    with pytest.raises(HelpdeskError) as info:
        await made.get("/cut", operation="read case")
    assert str(info.value) == "test: read case: connection lost after 2 tries"
    assert (info.value.retryable, len(waits)) == (True, 1)


async def test_answers_beyond_the_limit_are_refused(
    server: Server, client: tuple[HelpdeskClient, Waits], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "MAX_ANSWER_BYTES", 1000)

    async def big(request: web.Request) -> web.StreamResponse:
        if request.path == "/declared":
            return web.json_response({"x": "y" * 2000})
        response = web.StreamResponse(headers={"Content-Type": "application/json"})  # chunked: no length
        await response.prepare(request)
        for _ in range(20):
            await response.write(b" " * 100)
        await response.write_eof()
        return response

    server.handler = big
    made, _ = client
    for path in ("/declared", "/chunked"):
        with pytest.raises(HelpdeskError) as info:
            await made.get(path, operation="read case")
        assert str(info.value) == "test: read case: answer larger than 1000 bytes"
        assert info.value.retryable is False


async def test_logs_and_errors_hold_no_address_url_or_body(
    server: Server, client: tuple[HelpdeskClient, Waits], caplog: pytest.LogCaptureFixture
) -> None:
    async def busy(request: web.Request) -> web.Response:
        return web.json_response({"error": "busy", "echo": request.query.get("query")}, status=503)

    server.handler = busy
    made, _ = client
    caplog.set_level(logging.WARNING, logger="gateway.helpdesks")
    with pytest.raises(HelpdeskError) as info:
        await made.get("/api/v1/tickets/search", operation="find cases",
                       params={"query": 'customer.email:"jane.doe@example.com"'})
    [record] = caplog.records
    fields = record.fields  # type: ignore[attr-defined]
    assert fields == {"adapter": "test", "operation": "find cases", "problem": "answered 503", "attempt": 1,
                      "wait_seconds": fields["wait_seconds"]}
    for text in (record.getMessage(), repr(fields), str(info.value), repr(info.value.__cause__)):
        for secret in ("jane.doe", "example.com", "search", "127.0.0.1", "busy"):
            assert secret not in text, (secret, text)
    assert info.value.__cause__ is None and info.value.__context__ is None


async def test_a_session_given_is_used_and_left_open(server: Server) -> None:
    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"cookie": request.headers.get("Cookie")})

    server.handler = ok
    async with aiohttp.ClientSession() as session:
        made = HelpdeskClient(settings_for(server.url), adapter="test", headers={}, session=session)
        assert await made.get("/", operation="read") == {"cookie": None}
        await made.close()
        assert not session.closed


async def test_a_private_ca_is_trusted_only_when_given(tmp_path: Path) -> None:
    ca = make_ca(tmp_path)

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"tls": True})

    app = web.Application()
    app.router.add_get("/", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ca.server_context)
    await site.start()
    url = f"https://127.0.0.1:{runner.addresses[0][1]}"
    try:
        trusting = HelpdeskClient(settings_for(url, tls_ca=ca.ca_pem), adapter="test", headers={})
        assert await trusting.get("/", operation="read") == {"tls": True}
        await trusting.close()
        waits = Waits()
        strict = HelpdeskClient(settings_for(url), adapter="test", headers={}, sleep=waits)
        with pytest.raises(HelpdeskError) as info:
            await strict.get("/", operation="read")
        await strict.close()
        assert str(info.value) == "test: read: its TLS certificate is not trusted (tls_ca?)"
        assert (info.value.retryable, waits) == (False, [])
    finally:
        await runner.cleanup()


def test_retry_after_is_seconds_or_an_http_date() -> None:
    now = 1_700_000_000.0
    assert retry_after_seconds("7") == 7.0 and retry_after_seconds(" 0 ") == 0.0
    assert retry_after_seconds(email.utils.formatdate(now + 30, usegmt=True), now=now) == 30.0
    assert retry_after_seconds(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0  # already past
    for unreadable in (None, "", "soon", "-5", "1.5e3", "Wed, 21 Oct 2015 07:28:00"):  # the last has no zone
        assert retry_after_seconds(unreadable, now=now) is None, unreadable


def test_authorization_values() -> None:
    from gateway.helpdesks.client import basic_auth, token_or_basic

    assert basic_auth("agent@acme.example/token", "t0k") == "Basic YWdlbnRAYWNtZS5leGFtcGxlL3Rva2VuOnQwaw=="
    assert token_or_basic("abc", None, None, token_format="Token token={token}") == "Token token=abc"
    assert token_or_basic(None, "staff", "pw", token_format="Token {token}") == basic_auth("staff", "pw")
