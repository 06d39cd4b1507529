"""HTTP/2 to Apple: one kept-open connection (h2 over TLS with ALPN), and the plumbing the listener shares.

``Upstream`` sends each push as one stream on a connection it keeps open (Apple
asks providers not to open one per push), respecting flow control, and opens
a new connection after a GOAWAY or an error. ``send_body`` and ``flush_to``
are the sending side of an h2 connection on asyncio streams, used by the
listener (gateway/notify/apns.py) for its answers too.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.events
import h2.exceptions

from ..policy.notifications import EgressRoute
from ..policy.schema import upstream_ssl_context

MAX_RESPONSE_BYTES = 1024 * 1024  # Apple answers with a few bytes of JSON
_RESPONSE_DROP = frozenset({"content-length", "connection", "keep-alive", "transfer-encoding", "upgrade"})
Headers = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: Headers
    body: bytes


class UpstreamError(Exception):
    """The upstream could not be reached or answered badly; ``reason`` is the gateway's reason word."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def load_chain(context: ssl.SSLContext, cert: str, key: str) -> None:
    """Load a PEM certificate chain and key given as text (policy references), via a private temp dir."""
    with tempfile.TemporaryDirectory() as directory:  # 0700: the key is readable by this user only
        cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
        for path, text in ((cert_path, cert), (key_path, key)):
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as out:
                out.write(text)
        context.load_cert_chain(cert_path, key_path)


async def send_body(conn: h2.connection.H2Connection, stream_id: int, body: bytes, flush: Callable[[], None],
                     window: asyncio.Event) -> None:
    """Send ``body`` on a stream as flow control allows, ending the stream with its last byte."""
    view = memoryview(body)
    while view:
        size = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size, len(view))
        if size <= 0:
            window.clear()
            await window.wait()
            continue
        conn.send_data(stream_id, bytes(view[:size]), end_stream=size == len(view))
        view = view[size:]
        flush()


def flush_to(conn: h2.connection.H2Connection, writer: asyncio.StreamWriter) -> None:
    if not writer.is_closing():
        data = conn.data_to_send()
        if data:
            writer.write(data)


@dataclass
class _Pending:
    done: asyncio.Future[None]
    conn: h2.connection.H2Connection
    headers: Headers = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)


class Upstream:
    """One HTTP/2 connection to the push service, shared by every request and reopened when it ends."""

    def __init__(self, route: EgressRoute) -> None:
        parts = urlsplit(route.upstream)
        self.scheme = parts.scheme
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.authority = parts.netloc
        self.ssl: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self.ssl = upstream_ssl_context(route.tls_ca)
            if "cert" in route.credentials and "key" in route.credentials:
                load_chain(self.ssl, route.credentials["cert"], route.credentials["key"])
            self.ssl.set_alpn_protocols(["h2"])
        self._conn: h2.connection.H2Connection | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._readers: set[asyncio.Task[None]] = set()
        self._pending: dict[tuple[int, int], _Pending] = {}  # (id of the connection, stream id)
        self._window = asyncio.Event()
        self._lock = asyncio.Lock()
        self._usable = False
        self._retired = False

    async def request(self, path: str, headers: Headers, body: bytes) -> Answer:
        async with self._lock:
            if not self._usable:
                await self._connect()
        conn, writer = self._conn, self._writer
        if conn is None or writer is None:
            raise UpstreamError("upstream_unreachable")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        try:
            stream_id = conn.get_next_available_stream_id()
        except h2.exceptions.H2Error:
            raise UpstreamError("upstream_unreachable") from None
        key = (id(conn), stream_id)
        pending = self._pending[key] = _Pending(done, conn)
        request_headers = [(":method", "POST"), (":scheme", self.scheme), (":authority", self.authority),
                           (":path", path), *headers, ("content-length", str(len(body)))]
        try:
            conn.send_headers(stream_id, request_headers, end_stream=not body)
            flush = functools.partial(flush_to, conn, writer)  # this stream's connection, not the newest
            flush()
            await send_body(conn, stream_id, body, flush, self._window)
            await writer.drain()
            await done
        except (h2.exceptions.H2Error, OSError):
            raise UpstreamError("upstream_unreachable") from None
        finally:
            if not done.done():  # a timeout or a cancellation: free the stream at the upstream
                done.cancel()
                with contextlib.suppress(h2.exceptions.H2Error, OSError):
                    conn.reset_stream(stream_id)
                    flush_to(conn, writer)
            self._pending.pop(key, None)
            if self._retired and not self._pending:
                self.close()
        status = next((int(v) for k, v in pending.headers if k == ":status"), 0)
        kept = [(k, v) for k, v in pending.headers if not k.startswith(":") and k not in _RESPONSE_DROP]
        return Answer(status, kept, bytes(pending.body))

    async def _connect(self) -> None:
        if not any(pending.conn is self._conn for pending in self._pending.values()):
            self.close()  # else (after a GOAWAY) its streams finish and the upstream closes it
        try:
            reader, writer = await asyncio.open_connection(
                self.host, self.port, ssl=self.ssl, server_hostname=self.host if self.ssl is not None else None)
        except (OSError, ssl.SSLError):
            raise UpstreamError("upstream_unreachable") from None
        ssl_object = writer.get_extra_info("ssl_object")
        if ssl_object is not None and ssl_object.selected_alpn_protocol() != "h2":
            writer.close()
            raise UpstreamError("upstream_bad_response")  # no HTTP/2 at the other end
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        conn.initiate_connection()
        self._conn, self._writer, self._usable = conn, writer, True
        flush_to(conn, writer)
        task = asyncio.create_task(self._read(reader, writer, conn))
        self._readers.add(task)
        task.add_done_callback(self._readers.discard)

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    conn: h2.connection.H2Connection) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                for event in conn.receive_data(data):
                    self._on_event(conn, event)
                flush_to(conn, writer)
        except (OSError, ssl.SSLError, h2.exceptions.H2Error):
            pass
        finally:
            if self._conn is conn:
                self._usable = False
            writer.close()
            self._fail(conn, lambda stream_id: True, "upstream_unreachable")

    def _on_event(self, conn: h2.connection.H2Connection, event: h2.events.Event) -> None:
        stream_id = getattr(event, "stream_id", None)
        pending = self._pending.get((id(conn), stream_id)) if isinstance(stream_id, int) else None
        if isinstance(event, h2.events.ResponseReceived) and pending is not None:
            pending.headers = [(str(k), str(v)) for k, v in event.headers or ()]
        elif isinstance(event, h2.events.DataReceived):
            conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            if pending is not None:
                pending.body += event.data or b""
                if len(pending.body) > MAX_RESPONSE_BYTES and not pending.done.done():
                    pending.done.set_exception(UpstreamError("upstream_bad_response"))
        elif isinstance(event, h2.events.StreamEnded) and pending is not None and not pending.done.done():
            pending.done.set_result(None)
        elif isinstance(event, h2.events.StreamReset) and pending is not None and not pending.done.done():
            pending.done.set_exception(UpstreamError("upstream_unreachable"))
        elif isinstance(event, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
            self._window.set()
        elif isinstance(event, h2.events.ConnectionTerminated):  # GOAWAY: no new streams on this connection
            self._usable = False
            last = event.last_stream_id or 0
            self._fail(conn, lambda sid: sid > last, "upstream_unreachable")

    def _fail(self, conn: h2.connection.H2Connection, which: Callable[[int], bool], reason: str) -> None:
        for (_, stream_id), pending in list(self._pending.items()):
            if pending.conn is conn and which(stream_id) and not pending.done.done():
                pending.done.set_exception(UpstreamError(reason))
        self._window.set()

    def retire(self) -> None:
        """Take no new requests; close once the ones in flight are answered."""
        self._retired = True
        if not self._pending:
            self.close()

    def close(self) -> None:
        self._usable = False
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for task in list(self._readers):
            task.cancel()
        self._conn = None
