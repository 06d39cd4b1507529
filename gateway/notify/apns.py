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
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from ..policy.notifications import ApnsListen, EgressRoute
from .apns_upstream import Answer, Headers, Upstream, UpstreamError, load_chain, send_body
from .egress import CompiledEgress, rewrite_call
from .providers.base import ApiRefusal, ApiRequest

log = logging.getLogger("gateway.notify.apns")

MAX_STREAMS = 100  # concurrent requests per client connection


def _gateway_error(status: int, message: str, reason: str) -> Answer:
    body = orjson.dumps({"error": message, "reason": reason})
    return Answer(status, [("content-type", "application/json"), ("x-gateway-reason", reason)], body)


def _refusal(exc: ApiRefusal) -> Answer:
    headers = [("content-type", exc.content_type), ("x-gateway-reason", exc.reason)]
    return Answer(exc.status, headers + [(k.lower(), v) for k, v in exc.headers.items()], exc.body)


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
            await send_body(self.conn, stream_id, answer.body, self.flush, self.window)
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
            rewritten = rewrite_call(egress, provider, api, entry)
        except ApiRefusal as exc:
            return _refusal(exc)
        body = api.body if rewritten is None else rewritten.body
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
