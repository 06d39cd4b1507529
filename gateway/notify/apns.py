"""The HTTP/2 listener for Apple's push API: the helpdesk's APNs client points here instead of at Apple.

APNs speaks HTTP/2 only, which aiohttp does not, so the apns route has a
listener of its own (``notifications.egress.apns_listen``): TLS with ALPN
``h2``, or cleartext HTTP/2 with prior knowledge (``h2c``) for a client on
the same host or cluster network. It serves the egress listener's ``allow``
list and the policy's one apns route: ``POST /3/device/<token>`` is rewritten
by gateway/notify/providers/apns.py and forwarded over one kept-open HTTP/2
connection to the route's upstream (Apple asks providers to keep connections
open rather than open one per push), over TLS with verification.

Only ``authorization`` (the provider token) and the ``apns-*`` headers go on,
unchanged. Apple's status, headers (``apns-id``) and body (``{"reason":
"BadDeviceToken"}``) come back unchanged. Certificate authentication ends at
the gateway's TLS: the gateway presents the route's ``credentials.cert`` and
``credentials.key`` to Apple instead. Fail closed as the egress listener
does: bad input is a 4xx in Apple's shape, a blocking rule 403, a rewrite
that fails 502; a half-rewritten payload is never forwarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import ssl
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from ..policy.notifications import ApnsListen, EgressRoute
from ..policy.schema import upstream_ssl_context
from .egress import CompiledEgress
from .providers.base import ApiRefusal, ApiRequest
from .rewriter import Refusal

log = logging.getLogger("gateway.notify.apns")

MAX_STREAMS = 100  # concurrent requests per client connection
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


def _gateway_error(status: int, message: str, reason: str) -> Answer:
    body = orjson.dumps({"error": message, "reason": reason})
    return Answer(status, [("content-type", "application/json"), ("x-gateway-reason", reason)], body)


def _refusal(exc: ApiRefusal) -> Answer:
    headers = [("content-type", exc.content_type), ("x-gateway-reason", exc.reason)]
    return Answer(exc.status, headers + [(k.lower(), v) for k, v in exc.headers.items()], exc.body)


def load_chain(context: ssl.SSLContext, cert: str, key: str) -> None:
    """Load a PEM certificate chain and key given as text (policy references), via a private temp dir."""
    with tempfile.TemporaryDirectory() as directory:  # 0700: the key is readable by this user only
        cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
        for path, text in ((cert_path, cert), (key_path, key)):
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as out:
                out.write(text)
        context.load_cert_chain(cert_path, key_path)


def listener_ssl_context(settings: ApnsListen) -> ssl.SSLContext | None:
    if settings.tls == "h2c":
        return None
    if settings.cert is None or settings.key is None:
        raise ValueError("apns_listen: tls needs cert and key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    load_chain(context, settings.cert, settings.key)
    context.set_alpn_protocols(["h2"])
    return context


async def _send_body(conn: h2.connection.H2Connection, stream_id: int, body: bytes, flush: Callable[[], None],
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


def _flush(conn: h2.connection.H2Connection, writer: asyncio.StreamWriter) -> None:
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
            flush = functools.partial(_flush, conn, writer)  # this stream's connection, not the newest
            flush()
            await _send_body(conn, stream_id, body, flush, self._window)
            await writer.drain()
            await done
        except (h2.exceptions.H2Error, OSError):
            raise UpstreamError("upstream_unreachable") from None
        finally:
            if not done.done():  # a timeout or a cancellation: free the stream at the upstream
                done.cancel()
                with contextlib.suppress(h2.exceptions.H2Error, OSError):
                    conn.reset_stream(stream_id)
                    _flush(conn, writer)
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
        _flush(conn, writer)
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
                _flush(conn, writer)
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


@dataclass
class _Incoming:
    headers: Headers
    body: bytearray = field(default_factory=bytearray)
    cap: int = 0
    too_big: bool = False


class _ServerConnection(asyncio.Protocol):
    """One client connection: HTTP/2 frames in, one task per request, answers out."""

    def __init__(self, server: ApnsServer) -> None:
        self.server = server
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.streams: dict[int, _Incoming] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.window = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else ""
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None and ssl_object.selected_alpn_protocol() != "h2":
            transport.close()  # an HTTP/1.1 client over TLS: APNs is HTTP/2 only
            return
        self.server.connections.add(self)
        self.conn.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: MAX_STREAMS})
        self.conn.initiate_connection()
        self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        for task in self.tasks:
            task.cancel()
        self.window.set()

    def flush(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            data = self.conn.data_to_send()
            if data:
                self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.flush()
            if self.transport is not None:
                self.transport.close()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived) and event.stream_id is not None:
                compiled = self.server.current().apns
                headers = [(str(k), str(v)) for k, v in event.headers or ()]
                self.streams[event.stream_id] = _Incoming(headers, cap=compiled.max_body if compiled else 0)
            elif isinstance(event, h2.events.DataReceived) and event.stream_id is not None:
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                incoming = self.streams.get(event.stream_id)
                if incoming is not None and not incoming.too_big:
                    incoming.body += event.data or b""
                    if len(incoming.body) > incoming.cap:
                        incoming.too_big, incoming.body = True, bytearray()
            elif isinstance(event, h2.events.StreamEnded) and event.stream_id is not None:
                incoming = self.streams.pop(event.stream_id, None)
                if incoming is not None:
                    task = asyncio.create_task(self.handle(event.stream_id, incoming))
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)
            elif isinstance(event, h2.events.StreamReset) and event.stream_id is not None:
                self.streams.pop(event.stream_id, None)
                self.window.set()
            elif isinstance(event, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
                self.window.set()
            elif isinstance(event, h2.events.ConnectionTerminated) and self.transport is not None:
                self.flush()
                self.transport.close()
        self.flush()

    async def handle(self, stream_id: int, incoming: _Incoming) -> None:
        try:
            answer = await self.server.answer(self.peer, incoming)
        except Exception:  # a bug here must still answer, and never forward anything
            log.exception("apns request failed")
            answer = _gateway_error(502, "the notification could not be handled", "internal")
        try:
            headers = [(":status", str(answer.status)), *answer.headers, ("content-length", str(len(answer.body)))]
            self.conn.send_headers(stream_id, headers, end_stream=not answer.body)
            self.flush()
            await _send_body(self.conn, stream_id, answer.body, self.flush, self.window)
        except h2.exceptions.H2Error:  # the client reset the stream or went away meanwhile
            pass


class ApnsServer:
    """The HTTP/2 listener and its connection to the upstream."""

    def __init__(self, current: Callable[[], CompiledEgress]) -> None:
        self.current = current  # the policy in force
        self.connections: set[_ServerConnection] = set()
        self._server: asyncio.Server | None = None
        self._upstream: tuple[tuple[Any, ...], Upstream] | None = None
        self.port = 0

    async def start(self, *, reuse_port: bool = False) -> None:
        settings = self.current().settings.apns_listen
        if settings is None:
            raise RuntimeError("the apns listener runs without notifications.egress.apns_listen")
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _ServerConnection(self), settings.host, settings.port,
                                                ssl=listener_ssl_context(settings), reuse_port=reuse_port or None)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for connection in list(self.connections):
                if connection.transport is not None:
                    connection.transport.close()
            await self._server.wait_closed()
            self._server = None
        if self._upstream is not None:
            self._upstream[1].close()
            self._upstream = None

    def _upstream_for(self, route: EgressRoute) -> Upstream:
        key = (route.upstream, route.tls_ca, route.credentials.get("cert"), route.credentials.get("key"))
        if self._upstream is None or self._upstream[0] != key:
            if self._upstream is not None:
                self._upstream[1].retire()  # a reload changed the upstream
            self._upstream = (key, Upstream(route))
        return self._upstream[1]

    async def answer(self, peer: str, incoming: _Incoming) -> Answer:
        egress = self.current()
        started = time.perf_counter()
        method = next((v for k, v in incoming.headers if k == ":method"), "")
        entry: dict[str, Any] = {"channel": "egress", "method": method, "client": egress.access_log.mask_ip(peer)}
        answer = await self._answer(egress, peer, incoming, entry)
        entry.update(status=answer.status, duration_ms=round((time.perf_counter() - started) * 1000, 2))
        egress.metrics.egress.labels(entry.get("provider", "none"), f"{answer.status // 100}xx").inc()
        egress.access_log.write(entry)
        return answer

    async def _answer(self, egress: CompiledEgress, peer: str, incoming: _Incoming, entry: dict[str, Any]) -> Answer:
        if not egress.allow.contains(peer):
            entry["reason"] = "not_allowed"
            return _gateway_error(403, "this client may not send through the gateway", "not_allowed")
        compiled = egress.apns
        if compiled is None:
            entry["reason"] = "unknown_provider"
            return _gateway_error(404, "no apns route in the policy", "unknown_provider")
        provider = compiled.provider
        entry["provider"] = provider.name
        pseudo = {k: v for k, v in incoming.headers if k.startswith(":")}
        headers = CIMultiDict((k, v) for k, v in incoming.headers if not k.startswith(":"))
        if incoming.too_big:
            entry["reason"] = "body_too_large"
            return _refusal(provider.error(413, f"request body over {compiled.max_body} bytes", "body_too_large"))
        path, _, query = pseudo.get(":path", "").partition("?")
        api = ApiRequest(pseudo.get(":method", ""), path, query, CIMultiDictProxy(headers), bytes(incoming.body))
        try:
            rewritten = provider.rewrite(api, egress.notifier)
        except ApiRefusal as exc:
            entry["reason"] = exc.reason
            egress.metrics.rewrite_failures.labels(provider.name, exc.reason).inc()
            return _refusal(exc)
        except Refusal as exc:
            entry["reason"] = exc.reason
            if exc.reason == "blocked":
                egress.metrics.notifications.labels(provider.name, "blocked", "block", "enforce").inc()
                return _refusal(provider.error(403, "the notification is refused by the privacy policy",
                                               "notification_blocked"))
            egress.metrics.rewrite_failures.labels(provider.name, exc.reason).inc()
            return _refusal(provider.error(502, "the notification could not be rewritten safely",
                                           "notification_rewrite_failed"))
        except Exception:  # a bug in the provider module must not let the payload through
            log.exception("provider rewrite failed", extra={"fields": {"provider": provider.name}})
            entry["reason"] = "internal"
            egress.metrics.rewrite_failures.labels(provider.name, "internal").inc()
            return _refusal(provider.error(502, "the notification could not be rewritten safely",
                                           "notification_rewrite_failed"))
        body = api.body
        if rewritten is not None:
            body = rewritten.body
            for decision in rewritten.decisions:
                egress.metrics.notifications.labels(provider.name, decision.rule, decision.action, "enforce").inc()
                for rule, action in decision.shadowed:
                    egress.metrics.notifications.labels(provider.name, rule, action, "shadow").inc()
            entry["rules"] = sorted({d.rule for d in rewritten.decisions})
            entry["actions"] = sorted({d.action for d in rewritten.decisions})
        forwarded = [(k.lower(), v) for k, v in headers.items() if k.lower() == "authorization"
                     or k.lower().startswith("apns-")]
        try:
            async with asyncio.timeout(egress.settings.timeout):
                return await self._upstream_for(compiled.route).request(pseudo.get(":path", "/"), forwarded, body)
        except TimeoutError:
            entry["reason"] = "upstream_timeout"
            return _gateway_error(504, "the provider did not answer in time", "upstream_timeout")
        except UpstreamError as exc:
            entry["reason"] = exc.reason
            return _gateway_error(502, "the provider could not be reached", exc.reason)
