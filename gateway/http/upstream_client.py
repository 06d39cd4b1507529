"""The HTTP/1.1 client the proxy talks to the helpdesk with: a keep-alive pool on asyncio protocols.

aiohttp's ClientSession is general (redirects, cookies, tracing, auth, URL
objects, per-request timeouts); under load its per-request machinery cost
more than half of a minimal pass-through's CPU. A proxy needs far less: send
one request head (and body) on a pooled connection, parse the response with
llhttp (``httptools``), hand the body over chunk by chunk with back-pressure.

Deadlines stay with the caller (the proxy wraps the wait for the head and
each body read in its own timeouts); the pool only bounds the TCP connect.
A connection goes back to the pool only after a complete response that
allows keep-alive, with the request body fully sent; anything else closes it.
A request on a reused connection that the server closed while it was idle
is retried once on a new connection when that is safe (idempotent method,
body not streamed).

The pool, its connections (asyncio protocols fed by llhttp) and the response
they fill are one state machine and stay in one module; what can fail, and
what each failure means, is :mod:`gateway.http.upstream_errors`.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterable
from typing import Any, cast
from urllib.parse import urlsplit

import httptools
from multidict import CIMultiDict

from .upstream_errors import BadResponse, BodyTruncated, ConnectFailed, ConnectTimeout, Disconnected, UpstreamError

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
# Methods that are sent without "Content-Length: 0" when they have no body.
_NO_BODY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_HIGH_WATER = 256 * 1024  # buffered response bytes before the socket stops being read
_LOW_WATER = 64 * 1024


class UpstreamResponse:
    """Status, headers and the body as it arrives; ``release()`` when done (always)."""

    __slots__ = ("status", "reason", "headers", "_conn", "_chunks", "_buffered", "_complete", "_error",
                 "_waiter", "_released")

    def __init__(self, conn: _Connection, status: int, reason: str, headers: CIMultiDict[str]) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self._conn = conn
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._complete = False
        self._error: UpstreamError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._released = False

    def whole_body(self, limit: int) -> bytes | None:
        """The complete body if all of it has already arrived and is at most ``limit`` bytes."""
        if not self._complete or self._buffered > limit:
            return None
        data = b"".join(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        return data

    async def read(self) -> bytes:
        """All body bytes buffered so far (waiting for some); b"" at the end. Raises BodyTruncated."""
        while not self._chunks:
            if self._complete:
                return b""
            if self._error is not None:
                raise self._error
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        data = self._chunks.popleft() if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        self._conn.resume_if_paused()
        return data

    def release(self) -> None:
        """Give the connection back (complete, reusable response) or close it."""
        if not self._released:
            self._released = True
            self._conn.finished(self)

    # Called by the connection as bytes arrive.
    def _feed(self, data: bytes) -> int:
        self._chunks.append(data)
        self._buffered += len(data)
        self._wake()
        return self._buffered

    def _end(self, error: UpstreamError | None) -> None:
        if error is None:
            self._complete = True
        else:
            self._error = error
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class _Connection(asyncio.Protocol):
    """One keep-alive connection; httptools calls the ``on_*`` methods while parsing."""

    def __init__(self, pool: UpstreamPool) -> None:
        self._pool = pool
        self._loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._parser: Any = None
        self._head: asyncio.Future[UpstreamResponse] | None = None
        self._response: UpstreamResponse | None = None
        self._head_only = False
        self._reason: list[bytes] = []
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_bytes = 0
        self._until_close = False
        self._keep_alive = False
        self._got_bytes = False
        self._paused = False
        self._drain: asyncio.Future[None] | None = None
        self._writer: asyncio.Task[None] | None = None

    # -- asyncio.Protocol ----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it

    def data_received(self, data: bytes) -> None:
        if self._parser is None:  # bytes while idle: not a response to anything of ours
            self.close()
            return
        self._got_bytes = True
        if self._response is None:
            # llhttp buffers a header line for as long as it lasts, so the bound is ours, and it
            # is exact: a read that goes past it is cut there, and the head must end within it.
            room = self._pool.max_head_bytes - self._head_bytes
            if len(data) > room:
                if room > 0 and not self._parse(data[:room]):
                    return
                if self._response is None:
                    self._fail(BadResponse("response head too large"))
                    return
                data = data[room:]  # what follows the head: body bytes
            else:
                self._head_bytes += len(data)
        self._parse(data)

    def _parse(self, data: bytes) -> bool:
        """Feed llhttp; False (the request failed) on a parse or callback error."""
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(BadResponse("unexpected protocol switch"))
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            self._fail(cause if isinstance(cause, UpstreamError) else BadResponse(str(exc)))
        except httptools.HttpParserError as exc:
            self._fail(BadResponse(f"invalid response: {exc}"))
        else:
            return True
        return False

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._pool.forget(self)
        response = self._response
        if self._head is not None and not self._head.done():
            self._head.set_exception(Disconnected("the helpdesk closed the connection before answering"))
        elif response is not None and not response._complete and response._error is None:
            if self._until_close:
                response._end(None)
            else:
                response._end(BodyTruncated("the helpdesk closed the connection mid-body"))
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_exception(ConnectionResetError("upstream connection lost"))

    def pause_writing(self) -> None:
        if self._drain is None or self._drain.done():
            self._drain = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    # -- parser callbacks ----------------------------------------------------

    def on_message_begin(self) -> None:
        if self._response is not None:  # one request, one response: more bytes are not ours to read
            raise BadResponse("bytes after the end of the response")

    def on_status(self, status: bytes) -> None:
        self._reason.append(status)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # interim responses (100 Continue, 103 Early Hints) are dropped
            self._reason.clear()
            self._headers.clear()
            return
        headers: CIMultiDict[str] = CIMultiDict(
            (name.decode("latin-1"), value.decode("utf-8", "surrogateescape")) for name, value in self._headers
        )
        reason = b"".join(self._reason).decode("latin-1")
        self._headers.clear()
        self._reason.clear()
        response = self._response = UpstreamResponse(self, status, reason, headers)
        framed = "content-length" in headers or "transfer-encoding" in headers
        no_body = self._head_only or status in (204, 304)
        self._until_close = not framed and not no_body
        if self._head_only:
            # llhttp would wait for a body a HEAD answer never has: end here, reuse only if nothing was announced.
            self._keep_alive = not framed and self._parser.should_keep_alive()
            response._end(None)
        if self._head is not None and not self._head.done():
            self._head.set_result(response)

    def on_body(self, body: bytes) -> None:
        response = self._response
        if response is None or self._head_only:
            raise BadResponse("body bytes where none may be")
        if response._feed(body) > _HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        response = self._response
        if response is None:  # the end of an interim response
            return
        if not self._head_only:
            self._keep_alive = self._parser.should_keep_alive()
            response._end(None)

    # -- used by the pool and the response -----------------------------------

    def send(self, method: str, head: bytes, body: bytes | AsyncIterable[bytes] | None,
             chunked: bool) -> asyncio.Future[UpstreamResponse]:
        """Write the request; the future resolves with the response head."""
        assert self.transport is not None
        self._parser = httptools.HttpResponseParser(self)
        self._head = self._loop.create_future()
        self._response = None
        self._head_only = method == "HEAD"
        self._head_bytes = 0
        self._keep_alive = False
        self._got_bytes = False
        if body is None or isinstance(body, bytes):
            self.transport.write(head + body if body else head)
        else:
            self.transport.write(head)
            self._writer = self._loop.create_task(self._send_body(body, chunked))
        return self._head

    async def _send_body(self, body: AsyncIterable[bytes], chunked: bool) -> None:
        transport = self.transport
        assert transport is not None
        try:
            async for chunk in body:
                if not chunk:
                    continue
                transport.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk)
                if self._drain is not None and not self._drain.done():
                    await self._drain
            if chunked:
                transport.write(b"0\r\n\r\n")
        except BaseException as exc:
            # The upload failed (client gone, too large, too slow): the upstream saw a partial body.
            if self._head is not None and not self._head.done():
                self._head.set_exception(exc if isinstance(exc, Exception) else ConnectionResetError())
            self.close()
            if not isinstance(exc, Exception):
                raise

    def resume_if_paused(self) -> None:
        response = self._response
        if self._paused and self.transport is not None and (response is None or response._buffered < _LOW_WATER):
            self._paused = False
            self.transport.resume_reading()

    def finished(self, response: UpstreamResponse) -> None:
        reusable = (
            not self.closed and response._complete and self._keep_alive and not response._chunks
            and (self._writer is None or self._writer.done())
        )
        self._parser = None
        self._response = None
        self._head = None
        if self._writer is not None:
            if not self._writer.done():
                self._writer.cancel()
            self._writer = None
        if reusable:
            self._pool.put_back(self)
        else:
            self.close()
            self._pool.slot_free()

    def _fail(self, error: UpstreamError) -> None:
        if self._head is not None and not self._head.done():
            self._head.set_exception(error)
        elif self._response is not None and not self._response._complete:
            self._response._end(error)
        self.close()

    def close(self) -> None:
        self.closed = True
        self._pool.forget(self)
        if self.transport is not None:
            self.transport.abort()


class UpstreamPool:
    """Keep-alive connections to one origin, at most ``max_connections`` in use at once."""

    def __init__(self, url: str, *, max_connections: int, connect_timeout: float, max_head_bytes: int,
                 keepalive_timeout: float = 30.0, ssl_context: ssl.SSLContext | None = None) -> None:
        parts = urlsplit(url)
        self.loop = asyncio.get_running_loop()
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.base_path = parts.path.rstrip("/")
        self.ssl: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self.ssl = ssl_context or ssl.create_default_context()
        self.connect_timeout = connect_timeout
        self.max_head_bytes = max_head_bytes
        self.keepalive_timeout = keepalive_timeout
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: deque[_Connection] = deque()
        self._open: set[_Connection] = set()
        self._sweeper: asyncio.TimerHandle | None = None
        self._retired = False

    @property
    def open_connections(self) -> int:
        return len(self._open)

    @property
    def idle_connections(self) -> int:
        return sum(1 for conn in self._idle if not conn.closed)

    async def request(self, method: str, target: str, headers: CIMultiDict[str],
                      body: bytes | AsyncIterable[bytes] | None = None) -> UpstreamResponse:
        """Send ``method target`` and wait for the response head.

        ``target`` is the path and query as the client sent it (the base
        URL's path is put in front). A bytes body needs its Content-Length
        in ``headers``; a streamed one is sent chunked unless it has one.
        """
        chunked = body is not None and not isinstance(body, bytes) and "Content-Length" not in headers
        head = self._head(method, target, headers, body, chunked)
        replayable = method in _IDEMPOTENT and (body is None or isinstance(body, bytes))
        await self._slots.acquire()
        conn: _Connection | None = None
        try:
            conn = self._idle_connection()
            reused = conn is not None
            if conn is None:
                conn = await self._connect()
            try:
                return await conn.send(method, head, body, chunked)
            except (Disconnected, ConnectionError) as exc:
                if not (reused and replayable and not conn._got_bytes):
                    raise Disconnected(str(exc) or "the helpdesk closed the connection") from exc
            # A kept-alive connection the server had closed while idle: once more, on a new one.
            conn.close()
            conn = await self._connect()
            return await conn.send(method, head, body, chunked)
        except BaseException:
            if conn is not None:
                conn.close()
            self._slots.release()
            raise

    def _head(self, method: str, target: str, headers: CIMultiDict[str],
              body: bytes | AsyncIterable[bytes] | None, chunked: bool) -> bytes:
        fields = "".join([f"{name}: {value}\r\n" for name, value in headers.items()])
        lines = len(headers) + 1
        if chunked:
            fields += "Transfer-Encoding: chunked\r\n"
            lines += 1
        elif body is None and method not in _NO_BODY_METHODS and "Content-Length" not in headers:
            fields += "Content-Length: 0\r\n"
            lines += 1
        head = f"{method} {self.base_path}{target} HTTP/1.1\r\n{fields}\r\n"
        # Values come from parsed requests and from filters: a line break inside one would smuggle
        # a header, so every CR and LF must be one of the line ends written here.
        if head.count("\n") != lines + 1 or head.count("\r") != lines + 1:
            raise ValueError("a line break inside the request line or a header value")
        return head.encode("utf-8", "surrogateescape")

    def _idle_connection(self) -> _Connection | None:
        idle = self._idle
        horizon = self.loop.time() - self.keepalive_timeout
        while idle:
            conn = idle.pop()  # the most recently used: its server-side timer is the freshest
            if conn.closed or conn.transport is None or conn.transport.is_closing():
                continue
            if conn.idle_since < horizon:
                conn.close()
                continue
            return conn
        return None

    async def _connect(self) -> _Connection:
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await self.loop.create_connection(
                    lambda: _Connection(self), self.host, self.port, ssl=self.ssl,
                    server_hostname=self.host if self.ssl else None,
                )
        except TimeoutError as exc:
            raise ConnectTimeout(f"no connection to {self.host}:{self.port} within {self.connect_timeout:g}s") from exc
        except OSError as exc:
            raise ConnectFailed(f"cannot connect to {self.host}:{self.port}: {exc.strerror or exc}") from exc
        self._open.add(conn)
        return conn

    # -- called by connections -----------------------------------------------

    def retire(self) -> None:
        """No more requests will come (a reload replaced this pool): close idle connections now and
        every other one when its response is done."""
        self._retired = True
        while self._idle:
            self._idle.pop().close()

    def put_back(self, conn: _Connection) -> None:
        if self._retired:
            conn.close()
            self._slots.release()
            return
        conn.idle_since = self.loop.time()
        self._idle.append(conn)
        self._slots.release()
        if self._sweeper is None:
            self._sweeper = self.loop.call_later(self.keepalive_timeout, self._sweep)

    def slot_free(self) -> None:
        self._slots.release()

    def forget(self, conn: _Connection) -> None:
        self._open.discard(conn)

    def _sweep(self) -> None:
        """Close connections idle longer than the keep-alive timeout, even when no request comes."""
        self._sweeper = None
        horizon = self.loop.time() - self.keepalive_timeout
        while self._idle and self._idle[0].idle_since < horizon:
            self._idle.popleft().close()
        if self._idle:
            self._sweeper = self.loop.call_later(self.keepalive_timeout, self._sweep)

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conn in list(self._open):
            conn.close()
        self._idle.clear()
        await asyncio.sleep(0)  # let the transports run connection_lost
