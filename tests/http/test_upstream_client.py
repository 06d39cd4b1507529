"""The upstream client against real servers on loopback: scripted raw HTTP ones and an aiohttp app."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from multidict import CIMultiDict

from gateway.http.upload import BODY_TOO_LARGE, BodyFailure
from gateway.http.upstream_client import _HIGH_WATER, UpstreamPool
from gateway.http.upstream_errors import BadResponse, BodyTruncated, ConnectFailed, ConnectTimeout, Disconnected
from tests.support.upstream import make_upstream

pytestmark = pytest.mark.timeout(20)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Scripted:
    """A raw TCP server: each connection runs ``handler``; counts connections and keeps request heads."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.active = 0
        self.most_active = 0
        self.heads: list[bytes] = []
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.active -= 1
            writer.close()

    async def read_head(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        self.heads.append(head)
        return head


@asynccontextmanager
async def scripted(handler: Callable[[Scripted, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
                   ) -> AsyncIterator[Scripted]:
    box = Scripted(lambda r, w: handler(box, r, w))
    server = await asyncio.start_server(box._serve, "127.0.0.1", 0)
    box.port = server.sockets[0].getsockname()[1]
    try:
        yield box
    finally:
        server.close()


@asynccontextmanager
async def pool_for(port: int, **kwargs: object) -> AsyncIterator[UpstreamPool]:
    options: dict[str, object] = {"max_connections": 10, "connect_timeout": 2.0, "max_head_bytes": 8192}
    options.update(kwargs)
    pool = UpstreamPool(f"http://127.0.0.1:{port}", **options)  # type: ignore[arg-type]
    try:
        yield pool
    finally:
        await pool.close()


def headers(**values: str) -> CIMultiDict[str]:
    return CIMultiDict({"Host": "help.example", **values})


async def read_all(pool: UpstreamPool, method: str = "GET", target: str = "/", **kwargs: object) -> tuple[int, bytes]:
    response = await pool.request(method, target, headers(), **kwargs)  # type: ignore[arg-type]
    try:
        parts = []
        while chunk := await response.read():
            parts.append(chunk)
        return response.status, b"".join(parts)
    finally:
        response.release()


def answer(*raw: bytes) -> Callable[[Scripted, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """A keep-alive server that sends the next of ``raw`` for each request head."""
    async def handler(box: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for reply in raw:
            await box.read_head(reader)
            writer.write(reply)
            await writer.drain()
        await reader.read()
    return handler


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


# -- framing ------------------------------------------------------------------

async def test_keep_alive_reuses_one_connection_and_sends_the_head_as_built() -> None:
    async with scripted(answer(OK, OK)) as server, pool_for(server.port) as pool:
        assert await read_all(pool, target="/a?x=1") == (200, b"hello")
        assert await read_all(pool, "POST", "/b") == (200, b"hello")
    assert server.connections == 1
    assert server.heads[0] == b"GET /a?x=1 HTTP/1.1\r\nHost: help.example\r\n\r\n"
    # A body-less POST says so, as servers that insist on a length expect.
    assert server.heads[1] == b"POST /b HTTP/1.1\r\nHost: help.example\r\nContent-Length: 0\r\n\r\n"


async def test_the_base_url_path_goes_in_front_of_the_target() -> None:
    async with scripted(answer(OK)) as server:
        pool = UpstreamPool(f"http://127.0.0.1:{server.port}/helpdesk/", max_connections=1,
                            connect_timeout=1, max_head_bytes=8192)
        try:
            await read_all(pool, target="/tickets")
        finally:
            await pool.close()
    assert server.heads[0].startswith(b"GET /helpdesk/tickets HTTP/1.1\r\n")


@pytest.mark.parametrize("value", ["a\r\nX-Evil: 1", "a\nX-Evil: 1", "a\rb"])
async def test_a_line_break_in_a_header_value_is_refused_before_anything_is_sent(value: str) -> None:
    async with scripted(answer(OK)) as server, pool_for(server.port) as pool:
        with pytest.raises(ValueError, match="line break"):
            await pool.request("GET", "/", headers(**{"X-Note": value}))
        assert await read_all(pool) == (200, b"hello")  # the slot was given back
    assert all(b"X-Evil" not in head for head in server.heads)


async def test_bytes_that_are_not_utf8_pass_through_as_they_came() -> None:
    raw_value = b"caf\xe9".decode("utf-8", "surrogateescape")  # how aiohttp hands over a latin-1 byte
    async with scripted(answer(OK)) as server, pool_for(server.port) as pool:
        response = await pool.request("GET", "/", headers(**{"X-Name": raw_value}))
        response.release()
    assert b"X-Name: caf\xe9\r\n" in server.heads[0]


async def test_chunked_and_until_close_bodies_are_read_to_their_end() -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    until_close = b"HTTP/1.0 200 OK\r\n\r\nall of it"

    async def handler(box: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await box.read_head(reader)
        writer.write(chunked)
        await box.read_head(reader)
        writer.write(until_close)
        await writer.drain()

    async with scripted(handler) as server, pool_for(server.port) as pool:
        assert await read_all(pool) == (200, b"hello world")
        assert await read_all(pool) == (200, b"all of it")
        assert pool.open_connections == 0  # an until-close body ends the connection
    assert server.connections == 1


async def test_interim_responses_are_dropped_and_the_final_one_returned() -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
    async with scripted(answer(interim + OK)) as server, pool_for(server.port) as pool:
        response = await pool.request("GET", "/", headers())
        assert (response.status, response.reason) == (200, "OK")
        assert "Link" not in response.headers
        assert await response.read() == b"hello"
        response.release()


async def test_head_answers_end_at_their_head_and_announced_bodies_are_not_reused() -> None:
    announced = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"

    async def handler(box: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await box.read_head(reader)
            writer.write(announced if head.startswith(b"HEAD ") else OK)
            await writer.drain()

    async with scripted(handler) as server, pool_for(server.port) as pool:
        assert await read_all(pool, "HEAD") == (200, b"")
        assert await read_all(pool) == (200, b"hello")
    assert server.connections == 2


async def test_no_content_and_not_modified_have_no_body_and_keep_the_connection() -> None:
    replies = (b"HTTP/1.1 204 No Content\r\n\r\n", b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", OK)
    async with scripted(answer(*replies)) as server, pool_for(server.port) as pool:
        assert await read_all(pool) == (204, b"")
        assert await read_all(pool) == (304, b"")
        assert await read_all(pool) == (200, b"hello")
    assert server.connections == 1


async def test_connection_close_from_the_server_is_honoured() -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"

    async def handler(box: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await box.read_head(reader)
        writer.write(closing)
        await writer.drain()
        await reader.read()

    async with scripted(handler) as server, pool_for(server.port) as pool:
        assert await read_all(pool) == (200, b"ok")
        assert await read_all(pool) == (200, b"ok")
    assert server.connections == 2


# -- failures -------------------------------------------------------------------

async def test_a_body_cut_short_raises_and_the_connection_is_dropped() -> None:
    async def handler(box: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await box.read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
        await writer.drain()

    async with scripted(handler) as server, pool_for(server.port) as pool:
        response = await pool.request("GET", "/", headers())
        with pytest.raises(BodyTruncated):
            while await response.read():
                pass
        response.release()
        assert pool.open_connections == 0


async def test_a_server_that_closes_without_answering_is_disconnected() -> None:
    async def handler(box: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await box.read_head(reader)

    async with scripted(handler) as server, pool_for(server.port) as pool:
        with pytest.raises(Disconnected):
            await pool.request("GET", "/", headers())
    assert server.connections == 1  # a new connection is not retried


@pytest.mark.parametrize("reply", [b"SPAM\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
                                   b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n"])
async def test_invalid_responses_are_bad_responses(reply: bytes) -> None:
    async with scripted(answer(reply)) as server, pool_for(server.port) as pool:
        with pytest.raises(BadResponse):
            await pool.request("GET", "/", headers())
        assert pool.open_connections == 0


async def test_an_endless_response_head_is_cut_off_at_the_limit() -> None:
    async def handler(box: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await box.read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nX-Long: ")
        for _ in range(100):
            writer.write(b"a" * 4096)
            await writer.drain()
        await reader.read()

    async with scripted(handler) as server, pool_for(server.port, max_head_bytes=8192) as pool:
        with pytest.raises(BadResponse, match="head too large"):
            await pool.request("GET", "/", headers())


def _head_of(size: int, body: bytes = b"hello") -> bytes:
    """A response head of exactly ``size`` bytes (its blank line included), then ``body``."""
    start = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Pad: " % len(body)
    return start + b"p" * (size - len(start) - 4) + b"\r\n\r\n" + body


@pytest.mark.parametrize(("size", "limit"), [(8192, 8192), (8193, 8192), (100_000, 32 * 1024)])
async def test_the_head_limit_is_exact_even_within_one_read(size: int, limit: int) -> None:
    # Written at once, head and body arrive in one socket read: the limit cuts inside it.
    async with scripted(answer(_head_of(size))) as server, pool_for(server.port, max_head_bytes=limit) as pool:
        if size <= limit:
            assert await read_all(pool) == (200, b"hello")
        else:
            with pytest.raises(BadResponse, match="head too large"):
                await pool.request("GET", "/", headers())
            assert pool.open_connections == 0


async def test_a_body_in_the_read_that_ends_the_head_is_kept_whole() -> None:
    body = bytes(range(256)) * 200  # far more than the head limit, in the same read as the head
    async with scripted(answer(_head_of(8000, body))) as server, pool_for(server.port, max_head_bytes=8192) as pool:
        assert await read_all(pool) == (200, body)


async def test_nothing_listening_is_a_connect_failure() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with pool_for(port) as pool:
        with pytest.raises(ConnectFailed):
            await pool.request("GET", "/", headers())


async def test_a_connect_that_hangs_times_out() -> None:
    # A listener whose backlog is full and that never accepts: further handshakes are not answered.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(8):
                filler = socket.socket()
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
                fillers.append(filler)
            async with pool_for(port, connect_timeout=0.3) as pool:
                with pytest.raises(ConnectTimeout):
                    await pool.request("GET", "/", headers())
        finally:
            for filler in fillers:
                filler.close()


async def test_bytes_arriving_on_an_idle_connection_close_it() -> None:
    async def handler(box: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await box.read_head(reader)
        writer.write(OK + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra")
        await writer.drain()
        await box.read_head(reader)
        writer.write(OK)
        await reader.read()

    async with scripted(handler) as server, pool_for(server.port) as pool:
        assert await read_all(pool) == (200, b"hello")
        await asyncio.sleep(0.05)
        # The unasked-for answer must not be taken for the next request's.
        assert await read_all(pool) == (200, b"hello")
    assert server.connections == 2


# -- the pool -------------------------------------------------------------------

async def test_a_connection_the_server_closed_while_idle_is_retried_once_for_a_safe_request() -> None:
    async def handler(box: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await box.read_head(reader)
        writer.write(OK)
        await writer.drain()
        # Closes right after, without saying so: the client learns only when it sends the next request.
        await box.read_head(reader)

    async with scripted(handler) as server, pool_for(server.port) as pool:
        assert await read_all(pool) == (200, b"hello")
        assert await read_all(pool) == (200, b"hello")
        assert server.connections == 2
        # A POST is not replayed: it may have been acted on.
        assert await read_all(pool) == (200, b"hello")
        with pytest.raises(Disconnected):
            await pool.request("POST", "/", CIMultiDict({"Content-Length": "2"}), b"hi")


async def test_at_most_max_connections_are_in_use_at_once() -> None:
    async def handler(box: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await box.read_head(reader)
            await asyncio.sleep(0.05)
            writer.write(OK)
            await writer.drain()

    async with scripted(handler) as server, pool_for(server.port, max_connections=2) as pool:
        results = await asyncio.gather(*(read_all(pool) for _ in range(6)))
    assert results == [(200, b"hello")] * 6
    assert server.most_active == 2
    assert server.connections == 2


async def test_idle_connections_are_closed_after_the_keep_alive_timeout() -> None:
    async with scripted(answer(OK)) as server, pool_for(server.port, keepalive_timeout=0.1) as pool:
        await read_all(pool)
        assert pool.open_connections == 1
        for _ in range(50):
            await asyncio.sleep(0.05)
            if pool.open_connections == 0:
                break
        assert pool.open_connections == 0


async def test_a_response_released_unread_closes_its_connection() -> None:
    async with scripted(answer(OK, OK)) as server, pool_for(server.port) as pool:
        response = await pool.request("GET", "/", headers())
        response.release()
        response.release()  # twice is harmless
        assert await read_all(pool) == (200, b"hello")
    assert server.connections == 2


async def test_a_whole_small_body_is_there_with_the_head() -> None:
    async with scripted(answer(OK)) as server, pool_for(server.port) as pool:
        response = await pool.request("GET", "/", headers())
        try:
            assert response.whole_body(4) is None  # larger than asked for
            assert response.whole_body(5) == b"hello"
            assert await response.read() == b""
        finally:
            response.release()
        assert pool.open_connections == 1


# -- bodies, against a real aiohttp upstream -----------------------------------

@asynccontextmanager
async def aiohttp_upstream() -> AsyncIterator[int]:
    runner = web.AppRunner(make_upstream())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def chunks(count: int, size: int) -> AsyncIterator[bytes]:
    for index in range(count):
        await asyncio.sleep(0)
        yield bytes([65 + index % 26]) * size


@pytest.mark.parametrize("with_length", [True, False])
async def test_a_streamed_upload_arrives_whole(with_length: bool) -> None:
    async with aiohttp_upstream() as port, pool_for(port) as pool:
        sent = CIMultiDict({"Host": "x", "Content-Length": str(40 * 10_000)}) if with_length else headers()
        response = await pool.request("PUT", "/echo", sent, chunks(40, 10_000))
        body = b""
        while chunk := await response.read():
            body += chunk
        response.release()
    seen = json.loads(body)
    assert seen["body_size"] == 400_000
    framing = {k.lower(): v for k, v in seen["headers"]}
    assert ("content-length" in framing) is with_length
    assert (framing.get("transfer-encoding") == "chunked") is not with_length


async def test_an_upload_that_fails_fails_the_request_with_its_own_error() -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        raise BodyFailure(BODY_TOO_LARGE)

    async with aiohttp_upstream() as port, pool_for(port) as pool:
        with pytest.raises(BodyFailure) as caught:
            await pool.request("POST", "/echo", headers(), failing())
        assert caught.value.reply is BODY_TOO_LARGE
        assert pool.open_connections == 0


async def test_a_large_body_is_read_with_bounded_buffering() -> None:
    size = 8 * 2**20
    async with aiohttp_upstream() as port, pool_for(port) as pool:
        response = await pool.request("GET", f"/download/{size}", headers())
        total = 0
        most = 0
        while True:
            await asyncio.sleep(0.001)  # a slow reader: the socket must stop being read
            most = max(most, response._buffered)
            chunk = await response.read()
            if not chunk:
                break
            total += len(chunk)
        response.release()
    assert total == size
    assert most <= _HIGH_WATER + 2 * 2**20  # the high-water mark plus what one socket read may bring


async def test_idle_connections_are_counted_as_idle_until_taken() -> None:
    async with scripted(answer(OK, OK)) as server, pool_for(server.port) as pool:
        assert (pool.open_connections, pool.idle_connections) == (0, 0)
        response = await pool.request("GET", "/", headers())
        assert (pool.open_connections, pool.idle_connections) == (1, 0)
        assert await response.read() == b"hello"
        response.release()
        assert (pool.open_connections, pool.idle_connections) == (1, 1)


async def test_a_retired_pool_lets_requests_finish_and_keeps_no_connection() -> None:
    async with scripted(answer(OK, OK, OK)) as server, pool_for(server.port) as pool:
        assert await read_all(pool) == (200, b"hello")
        in_flight = await pool.request("GET", "/", headers())  # on the idle connection
        assert await read_all(pool) == (200, b"hello")  # a second connection, now idle
        pool.retire()
        assert pool.open_connections == 1  # the idle one is closed, the busy one is not
        assert await in_flight.read() == b"hello"
        in_flight.release()
        assert pool.open_connections == 0
