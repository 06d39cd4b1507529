"""The public listener: aiohttp's low-level server with a proxy's limits.

aiohttp's defaults suit an application, not a proxy: it decompresses request
bodies, has no deadline for a slowly sent request head, and accepts any number
of connections. This module sets those limits.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from aiohttp import http_parser, web
from aiohttp.web_protocol import RequestHandler

from .metrics import Metrics
from .policy.schema import Limits

_TOO_MANY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    b"Retry-After: 1\r\nX-Gateway-Reason: too_many_connections\r\nContent-Length: 42\r\n\r\n"
    b"503 Service Unavailable: too many clients\n"
)


class ParserError(RuntimeError):
    pass


def require_compiled_parser() -> None:
    """Refuse to serve on aiohttp's pure-Python HTTP parser.

    The C (llhttp) and Python parsers disagree on edge cases of framing;
    a proxy whose parser disagrees with its upstream's is how requests get
    smuggled. One strict parser, always.
    """
    compiled = getattr(http_parser, "HttpRequestParserC", None)
    if compiled is None or http_parser.HttpRequestParser is not compiled or os.environ.get("AIOHTTP_NO_EXTENSIONS"):
        raise ParserError(
            "aiohttp's compiled llhttp parser is not available (AIOHTTP_NO_EXTENSIONS set, or a "
            "wheel without C extensions); refusing to start on the pure-Python parser"
        )


class _ProxyRequestHandler(RequestHandler):
    """Closes a connection whose first request head is not complete in time (slowloris)."""

    def __init__(self, manager: web.Server, *, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._header_timeout = header_timeout

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # aiohttp closes a connection that waits idle past this time; use the
        # (shorter) head deadline for the first request. Later requests on a
        # kept-alive connection get the keep-alive timeout.
        self._next_keepalive_close_time = self._loop.time() + self._header_timeout
        if self._keepalive_handle is not None:
            self._keepalive_handle.cancel()
        self._keepalive_handle = self._loop.call_at(self._next_keepalive_close_time, self._process_keepalive)


class ProxyServer(web.Server):
    """A low-level server that caps connections and builds hardened handlers."""

    def __init__(self, handler: Any, *, limits: Limits, metrics: Metrics, **kwargs: Any) -> None:
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

    def __call__(self) -> RequestHandler:
        return _ProxyRequestHandler(self, loop=self._loop, header_timeout=self.limits.header_timeout, **self._kwargs)

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        if len(self._connections) >= self.limits.max_connections:
            self.metrics.local_replies.labels("too_many_connections").inc()
            transport.write(_TOO_MANY)
            transport.close()
            return
        super().connection_made(handler, transport)

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        if handler in self._connections:
            super().connection_lost(handler, exc)
