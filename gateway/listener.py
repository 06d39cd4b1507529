"""The public listener: aiohttp's low-level server with a proxy's limits.

aiohttp's defaults suit an application, not a proxy: it decompresses request
bodies, has no deadline for a slowly sent request head, accepts any number of
connections, answers HTTP/0.9 and "HTTP/2.0" request lines, skips chunk
extensions of any size, and echoes the offending request bytes in its 400
bodies. This module sets those limits.

Once a connection's framing is in doubt (a parse error, an unsupported
version, a body whose framing overhead is absurd) nothing more is parsed from
it: the error is answered (when no response has started) and the connection
closes. The framing rules themselves are :mod:`gateway.http.framing`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.http import RawRequestMessage
from aiohttp.streams import EMPTY_PAYLOAD, StreamReader
from aiohttp.web_protocol import RequestHandler, RequestPayloadError, _ErrInfo

from .exchange import LocalReply
from .http.framing import (
    CHUNK_OVERHEAD_PER_BYTE,
    ERROR_MESSAGES,
    FramingOverhead,
    HeadTooLarge,
    error_reason,
    framing_error,
    head_size,
)
from .http.replies import render
from .metrics import Metrics
from .policy.schema import Limits

log = logging.getLogger("gateway.listener")

_TOO_MANY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    b"Retry-After: 1\r\nX-Gateway-Reason: too_many_connections\r\nContent-Length: 42\r\n\r\n"
    b"503 Service Unavailable: too many clients\n"
)
_TOO_MANY_PER_IP = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    b"Retry-After: 1\r\nX-Gateway-Reason: too_many_connections_per_ip\r\nContent-Length: 55\r\n\r\n"
    b"503 Service Unavailable: too many connections from you\n"
)

def _finished(body: StreamReader) -> bool:
    return body.is_eof() or body.exception() is not None


class _LingeringClose:
    """A transport whose close() half-closes first and closes for real a little later.

    Closing a socket with request bytes still arriving makes the kernel answer
    with a reset, and a reset can destroy the error answer before the client
    reads it (a client still sending a 1 MiB head never sees its 431). So an
    error connection sends its answer and FIN, keeps reading (and discarding)
    for up to ``linger`` seconds, and closes when the client does.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop, linger: float) -> None:
        self._transport = transport
        self._loop = loop
        self._linger = linger
        self._closer: asyncio.TimerHandle | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def close(self) -> None:
        transport = self._transport
        if self._closer is not None or transport.is_closing():
            return
        if not transport.can_write_eof():
            transport.close()
            return
        try:
            transport.write_eof()
        except (OSError, RuntimeError):
            transport.close()
            return
        self._closer = self._loop.call_later(self._linger, transport.close)

    def cancel(self) -> None:
        if self._closer is not None:
            self._closer.cancel()


class _ProxyRequestHandler(RequestHandler):
    """aiohttp's connection handler with deadlines and stricter framing.

    - Every request head must be complete within ``header_timeout`` of its
      first byte (of the connection, for the first request): slowloris.
    - A head is refused with 431 while it is being received once it exceeds
      twice ``max_header_bytes`` on the wire (request line plus headers);
      the proxy checks the exact header size of what gets through.
    - Only HTTP/1.0 and HTTP/1.1 are accepted (llhttp also parses HTTP/0.9
      request lines and "HTTP/2.0"): 505. Transfer-Encoding must be exactly
      ``chunked`` (501 for other codings), and never on HTTP/1.0 (400).
    - A chunked body's framing overhead is bounded (llhttp skips chunk
      extensions of any length): 400.
    - Error answers never echo request bytes, and count in the metrics.

    The byte accounting is per ``data_received`` call: the call in which a
    head completes is not counted (its split between head, body and the next
    head is unknown), which bounds what slips through to one socket read.
    """

    def __init__(
        self, manager: web.Server, *, header_timeout: float, max_head: int, metrics: Metrics, **kwargs: Any
    ) -> None:
        super().__init__(manager, **kwargs)
        self._header_timeout = header_timeout
        self._max_head = max_head
        self._metrics = metrics
        self._head_deadline_armed = False
        self._refused = False
        # The body of the last request head, while it is being received.
        self._receiving: StreamReader | None = None
        self._receiving_chunked = False
        self._body_base = 0  # its size when the accounting started
        self._head_bytes = 0  # wire bytes of the head in progress
        self._framing_bytes = 0  # wire bytes of the chunked body that were not body data
        self._linger_time = float(kwargs.get("lingering_time", 1.0))
        self._lingering: _LingeringClose | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # aiohttp closes a connection that waits idle past this time; use the
        # (shorter) head deadline for the first request. Later requests on a
        # kept-alive connection get the keep-alive timeout until their first
        # byte arrives, then the head deadline (see data_received).
        self._head_deadline_armed = True
        self._set_close_time(self._loop.time() + self._header_timeout)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._lingering is not None:
            self._lingering.cancel()
        super().connection_lost(exc)

    def _set_close_time(self, when: float) -> None:
        self._next_keepalive_close_time = when
        if self._keepalive_handle is not None:
            self._keepalive_handle.cancel()
        self._keepalive_handle = self._loop.call_at(when, self._process_keepalive)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # framing is in doubt: parse nothing more from this connection
        if self._upgraded or self._payload_parser is not None:
            super().data_received(data)
            return
        body = self._receiving
        in_head = body is None or _finished(body)
        head_before = self._head_bytes
        data_before = 0 if body is None else body.total_bytes
        queued = len(self._messages)
        super().data_received(data)
        new = self._inspect_new_messages(queued)
        if not self._refused and data:
            if not new:
                if in_head:
                    self._count_head(len(data))
                elif body is not None:
                    self._count_body(body, len(data), body.total_bytes - data_before)
            elif len(new) == 1 and in_head and self._receiving_chunked:
                # One head completed in this call: what followed it is body framing.
                message, payload = new[0]
                wire = head_before + len(data) - head_size(message)
                self._body_base = 0
                self._count_body(payload, wire, payload.total_bytes)
        self._arm_head_deadline(data)

    def _inspect_new_messages(self, queued: int) -> list[tuple[RawRequestMessage, StreamReader]]:
        """Vet the messages the parser produced in this call; return the good ones."""
        new: list[tuple[RawRequestMessage, StreamReader]] = []
        for index in range(queued, len(self._messages)):
            message, payload = self._messages[index]
            if isinstance(message, _ErrInfo):
                # llhttp failed; a body still being received is broken too.
                self._refuse(index, message)
                return new
            if not isinstance(message, RawRequestMessage):
                continue
            error = framing_error(message)
            if error is not None:
                self._refuse(index, error)
                return new
            new.append((message, payload))
            self._receiving = payload if payload is not EMPTY_PAYLOAD else None
            self._receiving_chunked = bool(message.chunked)
            self._body_base = payload.total_bytes
            self._head_bytes = 0
            self._framing_bytes = 0
        return new

    def _count_head(self, received: int) -> None:
        self._head_bytes += received
        if self._head_bytes > 2 * self._max_head:
            exc = HeadTooLarge("request head too large")
            self._refuse(len(self._messages), _ErrInfo(status=431, exc=exc, message=exc.message))

    def _count_body(self, body: StreamReader, wire: int, data: int) -> None:
        """Account ``wire`` bytes received for ``body``, ``data`` of them body data."""
        finished = _finished(body)
        if self._receiving_chunked:
            self._framing_bytes += wire - data
            allowance = self._max_head + CHUNK_OVERHEAD_PER_BYTE * (body.total_bytes - self._body_base)
            if finished:
                allowance += 2 * self._max_head  # the call may hold the start of the next head too
            if self._framing_bytes > allowance:
                exc = FramingOverhead("chunked framing overhead too large")
                self._refuse(len(self._messages), _ErrInfo(status=400, exc=exc, message=exc.message), body)
                return
        if finished:
            # The body ended within this call; what followed is the next head.
            self._receiving = None
            self._head_bytes = 0

    def _refuse(self, index: int, error: _ErrInfo, body: StreamReader | None = None) -> None:
        """Stop parsing; answer ``error`` in place of the message at ``index``.

        Messages queued from ``index`` on are dropped. The body still being
        received (or ``body``, whose own framing is the problem) fails: a
        handler streaming it upstream aborts instead of completing a request
        whose framing is in doubt; if its message is still queued, it is
        dropped (never forwarded) and the error answered. Complete requests
        before the error are answered normally.
        """
        self._refused = True
        if self.transport is not None and not isinstance(self.transport, _LingeringClose):
            self._lingering = _LingeringClose(self.transport, self._loop, self._linger_time)
            self.transport = self._lingering  # type: ignore[assignment]
        kept = list(self._messages)[:index]
        if body is None and self._receiving is not None and not _finished(self._receiving):
            body = self._receiving  # cut off mid-body by the error
        self._receiving = None
        if body is not None and body.exception() is None:
            # Also a complete ``body`` that is itself the problem: a handler
            # that has not read all of it yet aborts.
            body.set_exception(RequestPayloadError(error.message))
            for position, (_, payload) in enumerate(kept):
                if payload is body:
                    del kept[position:]
                    break
        self._messages.clear()
        self._messages.extend(kept)
        self._messages.append((error, EMPTY_PAYLOAD))
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _arm_head_deadline(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            # A request is being handled, or a complete head is queued.
            self._head_deadline_armed = False
            return
        if data and not self._head_deadline_armed:
            # The first bytes of a new request head after an idle keep-alive wait.
            self._head_deadline_armed = True
            deadline = self._loop.time() + self._header_timeout
            if deadline < self._next_keepalive_close_time or self._keepalive_handle is None:
                self._set_close_time(deadline)

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """aiohttp's error answer, minus the request bytes it would echo back."""
        if status == 500 and isinstance(exc, ConnectionError):
            # The handler's way of saying the client is gone: nobody to answer.
            # aiohttp's request loop closes the connection on ConnectionError.
            raise exc
        status, reason = error_reason(status, exc)
        if reason in ("internal_error", "handler_timeout"):
            log.error(
                "request handling failed",
                exc_info=exc if reason == "internal_error" else None,
                extra={"fields": {"status": status, "reason": reason}},
            )
        else:
            # The exception's message quotes request bytes: only its type is logged.
            # Debug level: scanners send these all day; the metric counts them.
            log.debug(
                "malformed request refused",
                extra={"fields": {"status": status, "reason": reason,
                                  "error": type(exc).__name__ if exc else None}},
            )
        if request.writer.output_size > 0:
            # The response head is out: nothing can be answered any more.
            raise ConnectionError("response already started; closing the connection")
        self._metrics.local_replies.labels(reason).inc()
        response = render(LocalReply(status, reason, ERROR_MESSAGES[reason]))
        response.force_close()
        return response


class ProxyServer(web.Server):
    """A low-level server that caps connections, in all and per peer address, and builds hardened handlers.

    The per-address cap can only see the socket peer (the client address a
    trusted proxy forwards is in a request not yet read); ``trusted_peer``
    exempts the proxies the policy trusts, which carry many clients' connections.
    """

    def __init__(
        self, handler: Any, *, limits: Limits, metrics: Metrics,
        trusted_peer: Callable[[str], bool] | None = None, **kwargs: Any,
    ) -> None:
        header_cap = int(limits.max_header_bytes)
        super().__init__(
            handler,
            # The request body is forwarded as received: never decompress it.
            auto_decompress=False,
            keepalive_timeout=limits.keepalive_timeout,
            max_line_size=header_cap,
            max_field_size=header_cap,
            max_headers=256,
            lingering_time=1.0,
            access_log=None,
            **kwargs,
        )
        self.limits = limits
        self.metrics = metrics
        self._trusted_peer = trusted_peer or (lambda ip: False)
        self._per_peer: dict[str, int] = {}
        self._peer_of: dict[RequestHandler, str] = {}

    def __call__(self) -> RequestHandler:
        return _ProxyRequestHandler(
            self, loop=self._loop, header_timeout=self.limits.header_timeout,
            max_head=int(self.limits.max_header_bytes), metrics=self.metrics, **self._kwargs,
        )

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        if len(self._connections) >= self.limits.max_connections:
            self._refuse(transport, "too_many_connections", _TOO_MANY)
            return
        cap = self.limits.max_connections_per_ip
        if cap:
            peer = transport.get_extra_info("peername")
            ip = peer[0] if isinstance(peer, tuple) and peer else ""
            if not self._trusted_peer(ip):
                count = self._per_peer.get(ip, 0)
                if count >= cap:
                    self._refuse(transport, "too_many_connections_per_ip", _TOO_MANY_PER_IP)
                    return
                self._per_peer[ip] = count + 1
                self._peer_of[handler] = ip
        super().connection_made(handler, transport)

    async def drain(self, timeout: float) -> int:
        """Let requests in progress finish within ``timeout``, then cut off the rest; how many were cut.

        Call it once the sites stopped accepting. Idle keep-alive connections
        close now, busy ones after their response. aiohttp's own shutdown
        would wait ``timeout`` twice (once for the handlers, once more after
        asking them to stop, which a handler waiting on the upstream ignores).
        """
        loop = asyncio.get_running_loop()
        self.pre_shutdown()
        waiters: list[asyncio.Future[None]] = []
        for handler in self._connections:
            if handler._request_in_progress:
                # aiohttp's hook: resolved when the request's handling ends.
                if handler._handler_waiter is None:
                    handler._handler_waiter = loop.create_future()
                waiters.append(handler._handler_waiter)
        if waiters:
            await asyncio.wait(waiters, timeout=timeout)
        cut = [
            handler._task_handler for handler in self._connections
            if handler._request_in_progress and handler._task_handler is not None and not handler._task_handler.done()
        ]
        for task in cut:
            task.cancel()  # the handler's cleanup runs: its access-log line says "shutdown"
        if cut:
            await asyncio.wait(cut, timeout=1.0)
        return len(cut)

    def _refuse(self, transport: asyncio.Transport, reason: str, answer: bytes) -> None:
        self.metrics.local_replies.labels(reason).inc()
        transport.write(answer)
        transport.close()

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        ip = self._peer_of.pop(handler, None)
        if ip is not None:
            left = self._per_peer[ip] - 1
            if left:
                self._per_peer[ip] = left
            else:
                del self._per_peer[ip]
        if handler in self._connections:
            super().connection_lost(handler, exc)
