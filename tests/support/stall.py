"""Servers that stop answering, on loopback: a database that hangs without refusing anything.

``stalled_server()`` accepts TCP connections and never sends a byte.
``StallableProxy`` forwards to a real server (PostgreSQL) until ``stall()``:
from then on nothing more passes either way on the open connections, and new
ones are accepted and left unanswered, as a hung database host behaves.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


async def _swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, held: set[asyncio.StreamWriter]) -> None:
    held.add(writer)
    with contextlib.suppress(ConnectionError):
        while await reader.read(65536):
            pass  # read and drop: never a reply


@contextlib.asynccontextmanager
async def stalled_server() -> AsyncIterator[int]:
    """The port of a server that accepts and never answers."""
    held: set[asyncio.StreamWriter] = set()
    server = await asyncio.start_server(lambda r, w: _swallow(r, w, held), "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in held:
            writer.close()


class StallableProxy:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.stalled = asyncio.Event()
        self._closed = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> StallableProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closed.set()
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()

    def stall(self) -> None:
        self.stalled.set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        if self.stalled.is_set():
            await _swallow(reader, writer, self._writers)
            return
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers.add(up_writer)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            if self.stalled.is_set():
                await self._closed.wait()  # hold the connection open, pass nothing
                return
            writer.write(data)
            await writer.drain()
        writer.close()


@contextlib.asynccontextmanager
async def stallable_postgres(dsn: str) -> AsyncIterator[tuple[str, StallableProxy]]:
    """``dsn`` rewritten to go through a StallableProxy in front of its server, and the proxy."""
    from urllib.parse import urlsplit

    parts = urlsplit(dsn)
    async with StallableProxy(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        user = parts.netloc.rpartition("@")[0]
        netloc = f"{user}@127.0.0.1:{proxy.port}" if user else f"127.0.0.1:{proxy.port}"
        yield parts._replace(netloc=netloc).geturl(), proxy
