"""Forwarding: the request handler of the public listener.

One request: head checks → client IP → route → request filters → (bounded
body phase) → upstream over the shared pool → response-header filters →
body streamed back through the rewriters. Bodies stream both ways with
memory bounded by the chunk size; every wait has a deadline.

It is the one story of a request and stays whole; what it calls is in
:mod:`gateway.http` (headers, paths, upload, upstream client) and :mod:`gateway.chain`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator

from aiohttp import web

from .chain import FilterError, RewriteError, finish, rewrite
from .exchange import BodyRewriter, Exchange, LocalReply
from .http import headers as hdr
from .http.clientip import ClientIPError
from .http.encoding import decoder_for
from .http.paths import BadHost, BadPath, normalize_path, parse_host
from .http.replies import render
from .http.upload import BODY_TOO_LARGE, BodyFailure, client_body
from .http.upstream_client import UpstreamResponse
from .http.upstream_errors import UpstreamError, classify_upstream_error
from .websocket import proxy_websocket

if TYPE_CHECKING:
    from .metrics import Metrics
    from .runtime import Runtime

log = logging.getLogger("gateway.proxy")

# A response body this small that arrived whole with its head is written without deadlines.
# (Half the transport's 64 KiB high-water mark: writing it cannot block.)
_SMALL_BODY = 32 * 1024


def _reply(status: int, reason: str, message: str) -> LocalReply:
    return LocalReply(status, reason, message)


HEADERS_TOO_LARGE = _reply(431, "headers_too_large", "The request headers are too large.")
BAD_HOST = _reply(400, "bad_host", "The request needs exactly one Host header with a host name or address.")
BAD_HEADER = _reply(400, "bad_header", "Header names with '_' are not accepted here.")
BAD_TARGET = _reply(400, "bad_target", "The request target must be a path.")
BAD_EXPECT = _reply(417, "bad_expect", "Only 'Expect: 100-continue' is supported.")


@dataclass(slots=True)
class Outcome:
    """What the access log and metrics need to know about one request."""

    route: str = "default"
    status: int = 0
    reason: str | None = None
    upstream_seconds: float = 0.0
    bytes_in: int = 0
    bytes_out: int = 0
    client_ip: str = ""
    ex: Exchange | None = None


class Proxy:
    """The public listener's handler; reads the current Runtime once per request."""

    def __init__(self, gateway: Any, metrics: Metrics) -> None:
        # ``gateway`` owns the current runtime, the upstream pools and the WebSocket client.
        self.gateway = gateway
        self.metrics = metrics

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        rt: Runtime = self.gateway.runtime
        loop = asyncio.get_running_loop()
        started = loop.time()
        outcome = Outcome()
        self.metrics.in_flight.inc()
        try:
            response = await self._handle(rt, request, outcome, loop)
            if not outcome.status:
                outcome.status = response.status
            return response
        except asyncio.CancelledError:
            outcome.reason = "shutdown"  # still running at the end of the drain: cut off
            raise
        finally:
            self.metrics.in_flight.dec()
            self._account(rt, request, outcome, loop.time() - started)

    def _local(self, outcome: Outcome, reply: LocalReply, request: web.BaseRequest) -> web.Response:
        outcome.status = reply.status
        outcome.reason = reply.reason
        self.metrics.local_replies.labels(reply.reason).inc()
        return render(reply, request.headers.get("Accept", ""))

    async def _handle(
        self, rt: Runtime, request: web.BaseRequest, outcome: Outcome, loop: asyncio.AbstractEventLoop
    ) -> web.StreamResponse:
        if hdr.head_size(request.raw_headers) > rt.limits.max_header_bytes:
            return self._close_after(self._local(outcome, HEADERS_TOO_LARGE, request))
        # Exactly one valid Host, on HTTP/1.0 too: without one, no host rule or server name could decide.
        hosts = request.headers.getall("Host", ())
        if len(hosts) != 1:
            return self._close_after(self._local(outcome, BAD_HOST, request))
        try:
            authority, host = parse_host(hosts[0])
        except BadHost:
            return self._close_after(self._local(outcome, BAD_HOST, request))
        raw_target = request.raw_path
        if not raw_target.startswith("/"):
            return self._close_after(self._local(outcome, BAD_TARGET, request))
        try:
            path = normalize_path(raw_target.partition("?")[0])
        except BadPath as exc:
            return self._local(outcome, _reply(400, "bad_path", f"The request path is not acceptable ({exc.reason})."), request)

        peer = request.remote or ""
        try:
            client_ip = rt.client_ip.resolve(peer, request.headers.getall("X-Forwarded-For", []))
        except ClientIPError as exc:
            outcome.client_ip = peer
            return self._local(outcome, _reply(400, exc.reason, "The X-Forwarded-For header is not acceptable."), request)
        outcome.client_ip = client_ip
        trusted_peer = rt.client_ip.is_trusted(peer)
        if trusted_peer:
            # The host a trusted proxy says the client asked for is what the helpdesk will see as
            # X-Forwarded-Host, so it is the one decided on; held to the same syntax as Host.
            claimed = request.headers.getall("X-Forwarded-Host", ())
            if claimed:
                try:
                    if len(claimed) > 1:
                        raise BadHost("several X-Forwarded-Host headers")
                    authority, host = parse_host(claimed[0])
                except BadHost:
                    return self._close_after(self._local(outcome, BAD_HOST, request))
        if rt.serves_host is not None and not rt.serves_host(host):
            return self._close_after(self._local(outcome, rt.unknown_host, request))
        route = rt.routes.lookup(request.method, host, path)
        outcome.route = route.name
        ex = Exchange(
            request=request, method=request.method, path=path, host=host,
            peer_ip=peer, client_ip=client_ip, route=route,
        )
        outcome.ex = ex

        # Built before the filters run: a request filter may edit what goes upstream.
        ex.upstream_headers, underscored = hdr.upstream_request_headers(
            request.headers,
            client_ip=client_ip,
            proto=hdr.forwarded_proto(request.headers, trusted_peer=trusted_peer, secure=request.secure),
            forwarded_host=authority,
            host=authority if rt.pass_client_host else rt.upstream_host,
            via=rt.via,
            keep_length=True,
            rules=rt.request_headers,
            underscores=route.underscores,
        )
        if underscored:
            self.metrics.underscore_headers.labels(route.name, route.underscores).inc(underscored)
            if route.underscores == "reject":
                return self._close_after(self._local(outcome, BAD_HEADER, request))
        reply = await rt.chain.request(ex)
        if reply is not None:
            return self._local(outcome, reply, request)
        if hdr.is_websocket_upgrade(request.headers):
            self.metrics.websockets.inc()
            try:
                return await proxy_websocket(self.gateway.session, rt, request, ex, outcome, self._local)
            finally:
                self.metrics.websockets.dec()

        expect = request.headers.get("Expect")
        if expect is not None and expect.lower() != "100-continue":
            return self._close_after(self._local(outcome, BAD_EXPECT, request))
        if rt.narrow_accept_encoding:
            # A rewriting filter may need this body: ask for all of it, in a coding it can decode.
            ex.upstream_headers.popall("Range", None)
            ex.upstream_headers.popall("If-Range", None)
            ex.upstream_headers["Accept-Encoding"] = rt.narrow_accept_encoding(
                request.headers.get("Accept-Encoding", "")
            )
        return await self._forward(rt, request, ex, outcome, loop, expect is not None)

    async def _forward(
        self, rt: Runtime, request: web.BaseRequest, ex: Exchange, outcome: Outcome,
        loop: asyncio.AbstractEventLoop, expect_continue: bool,
    ) -> web.StreamResponse:
        cap = ex.route.max_body_bytes
        length = request.content_length
        if length is not None and length > cap:
            return self._close_after(self._local(outcome, BODY_TOO_LARGE, request))
        # Deadline for the upstream's response head. A streamed upload moves it
        # when its last byte is sent; otherwise it runs from now.
        head_deadline = asyncio.timeout(None)
        data: Any = None
        try:
            body_filters = rt.chain.body_filters(ex)
            if request.body_exists and body_filters:
                body = await self._read_body(rt, request, cap, expect_continue, outcome)
                body = await rt.chain.request_body(ex, body_filters, body)
                ex.upstream_headers["Content-Length"] = str(len(body))
                ex.upstream_headers.popall("Transfer-Encoding", None)
                data = body
            elif request.body_exists:
                data = self._stream_body(rt, request, ex, expect_continue, outcome, head_deadline, loop)
        except FilterError as exc:
            return self._close_after(self._local(outcome, exc.reply, request))
        except BodyFailure as exc:
            return self._body_failed(exc, outcome, request)
        upstream_started = loop.time()
        try:
            async with head_deadline:
                if data is None or isinstance(data, bytes):
                    head_deadline.reschedule(loop.time() + ex.route.first_byte_timeout)
                pool = rt.upstream_pool or self.gateway.upstream_pool(rt)
                upstream = await pool.request(
                    ex.method, ex.upstream_target or request.raw_path, ex.upstream_headers, data
                )
        except BodyFailure as exc:
            return self._body_failed(exc, outcome, request)
        except Exception as exc:
            kind, reply = classify_upstream_error(exc)
            self.metrics.upstream_errors.labels(kind).inc()
            log.warning("upstream request failed", extra={"fields": {"kind": kind, "route": ex.route.name}})
            return self._close_after(self._local(outcome, reply, request)) if request.body_exists else self._local(outcome, reply, request)
        try:
            return await self._respond(rt, request, ex, upstream, outcome, loop)
        finally:
            upstream.release()
            outcome.upstream_seconds = loop.time() - upstream_started

    def _body_failed(self, exc: BodyFailure, outcome: Outcome, request: web.BaseRequest) -> web.StreamResponse:
        if exc.reply is None:  # the client went away mid-upload: nobody to answer
            outcome.status = 499
            outcome.reason = "client_gone"
            raise ConnectionResetError("client closed the connection during the upload")
        return self._close_after(self._local(outcome, exc.reply, request))

    async def _client_chunks(
        self, rt: Runtime, request: web.BaseRequest, cap: int, expect_continue: bool, outcome: Outcome
    ) -> AsyncIterator[bytes]:
        async for chunk in client_body(
            request, cap=cap, idle=rt.limits.body_timeout, expect_continue=expect_continue,
            total=rt.limits.body_total_timeout,
        ):
            outcome.bytes_in += len(chunk)
            yield chunk
        self.metrics.upload_bytes.inc(outcome.bytes_in)

    async def _stream_body(
        self, rt: Runtime, request: web.BaseRequest, ex: Exchange, expect_continue: bool,
        outcome: Outcome, head_deadline: asyncio.Timeout, loop: asyncio.AbstractEventLoop,
    ) -> AsyncIterator[bytes]:
        """The upload streamed upstream; the first-byte deadline starts when it is complete."""
        async for chunk in self._client_chunks(rt, request, ex.route.max_body_bytes, expect_continue, outcome):
            yield chunk
        # (Unless the upstream already answered early and the deadline is gone.)
        if head_deadline.expired() is False and head_deadline.when() is None:
            try:
                head_deadline.reschedule(loop.time() + ex.route.first_byte_timeout)
            except RuntimeError:
                pass

    async def _read_body(
        self, rt: Runtime, request: web.BaseRequest, cap: int, expect_continue: bool, outcome: Outcome
    ) -> bytes:
        """The bounded body phase for filters that need the whole body."""
        return b"".join([chunk async for chunk in self._client_chunks(rt, request, cap, expect_continue, outcome)])

    async def _respond(
        self, rt: Runtime, request: web.BaseRequest, ex: Exchange, upstream: UpstreamResponse,
        outcome: Outcome, loop: asyncio.AbstractEventLoop,
    ) -> web.StreamResponse:
        ex.response_status = upstream.status
        ex.response_headers = hdr.downstream_response_headers(upstream.headers, via=rt.via)
        try:
            rewriters = await rt.chain.response_headers(ex)
        except FilterError as exc:
            return self._local(outcome, exc.reply, request)
        if rewriters:
            decoder = decoder_for(ex.response_headers.get("Content-Encoding", ""))
            if decoder is None:
                self.metrics.upstream_errors.labels("unsupported_encoding").inc()
                return self._local(outcome, _reply(502, "unsupported_encoding", "The helpdesk sent a body encoding the gateway cannot filter."), request)
            if decoder.active:
                ex.response_headers.popall("Content-Encoding", None)
                rewriters.insert(0, decoder)
            ex.response_headers.popall("Content-Length", None)
            # The body is no longer the upstream's bytes: byte ranges do not apply, and
            # the validator may only claim semantic equivalence.
            ex.response_headers.popall("Accept-Ranges", None)
            etag = ex.response_headers.get("ETag")
            if etag is not None and not etag.startswith("W/"):
                ex.response_headers["ETag"] = "W/" + etag

        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        response.headers.extend(ex.response_headers)
        outcome.status = upstream.status
        transport = request.transport
        body = upstream.whole_body(_SMALL_BODY)
        if body is not None and transport is not None and transport.get_write_buffer_size() == 0:
            # The common case: the whole small body came with the head.
            if rewriters:
                try:
                    body = rewrite(rewriters, body, self.metrics) + finish(rewriters, self.metrics)
                except RewriteError:
                    return self._local(outcome, _reply(502, "rewrite_error", "The gateway could not filter this page."), request)
            sent = await self._send_whole(rt, request, ex, response, body, outcome)
        else:
            await response.prepare(request)
            sent = await self._pump(rt, request, upstream, response, rewriters, outcome, loop, body)
        outcome.bytes_out = sent
        self.metrics.download_bytes.inc(sent)
        return response

    async def _send_whole(
        self, rt: Runtime, request: web.BaseRequest, ex: Exchange, response: web.StreamResponse,
        body: bytes, outcome: Outcome,
    ) -> int:
        """Send a complete body in one write with an exact Content-Length (no chunked framing).

        Nothing below half the transport's buffer can stall, so the send
        deadline is armed only for a body that grew larger (rewritten links).
        """
        if ex.method != "HEAD" and ex.response_status not in (204, 304) and ex.response_status >= 200:
            response.content_length = len(body)
        try:
            if len(body) > _SMALL_BODY:
                async with asyncio.timeout(rt.limits.send_timeout):
                    await response.prepare(request)
                    await response.write_eof(body)
            else:
                await response.prepare(request)
                await response.write_eof(body)
        except TimeoutError:
            self._abort(request, outcome, "client_send_timeout", upstream=False)
            return 0
        except ConnectionError:
            self._abort(request, outcome, "client_gone", upstream=False)
            return 0
        return len(body)

    async def _pump(
        self, rt: Runtime, request: web.BaseRequest, upstream: UpstreamResponse,
        response: web.StreamResponse, rewriters: list[BodyRewriter], outcome: Outcome,
        loop: asyncio.AbstractEventLoop, first: bytes | None,
    ) -> int:
        """Stream the upstream body to the client; abort the connection on any failure.

        Once the head is sent the status cannot change: a failure must cut the
        connection so a truncated body is never mistaken for a complete one.
        """
        idle = rt.timeouts.idle
        send = rt.limits.send_timeout
        sent = 0
        reading = True
        try:
            async with asyncio.timeout(None) as deadline:
                while True:
                    reading = True
                    if first is not None:  # a whole body taken already (the client was slow to read)
                        chunk, first = first, b""
                    else:
                        deadline.reschedule(loop.time() + idle)
                        chunk = await upstream.read()
                    if not chunk:
                        break
                    if rewriters:
                        chunk = rewrite(rewriters, chunk, self.metrics)
                        if not chunk:
                            continue
                    reading = False
                    deadline.reschedule(loop.time() + send)
                    await response.write(chunk)
                    sent += len(chunk)
                if rewriters:
                    tail = finish(rewriters, self.metrics)
                    if tail:
                        reading = False
                        deadline.reschedule(loop.time() + send)
                        await response.write(tail)
                        sent += len(tail)
                deadline.reschedule(loop.time() + send)
                await response.write_eof()
        except TimeoutError:
            kind = "idle_timeout" if reading else "client_send_timeout"
            self._abort(request, outcome, kind, upstream=reading)
        except RewriteError:
            self._abort(request, outcome, "rewrite_error", upstream=False)
        except (UpstreamError, ConnectionError) as exc:
            upstream_side = isinstance(exc, UpstreamError)
            self._abort(request, outcome, "upstream_reset" if upstream_side else "client_gone", upstream=upstream_side)
        return sent

    def _abort(self, request: web.BaseRequest, outcome: Outcome, kind: str, *, upstream: bool) -> None:
        outcome.reason = kind
        if upstream:
            self.metrics.upstream_errors.labels(kind).inc()
        else:
            self.metrics.local_replies.labels(kind).inc()
        transport = request.transport
        if transport is not None:
            transport.abort()

    @staticmethod
    def _close_after(response: web.StreamResponse) -> web.StreamResponse:
        """Close the connection after this answer: an unread body must not be parsed as the next request."""
        response.force_close()
        return response

    def _account(self, rt: Runtime, request: web.BaseRequest, outcome: Outcome, duration: float) -> None:
        total, upstream_h, overhead = self.metrics.route_histograms(outcome.route)
        total.observe(duration)
        if outcome.upstream_seconds:
            upstream_h.observe(outcome.upstream_seconds)
        overhead.observe(max(duration - outcome.upstream_seconds, 0.0))
        self.metrics.count_request(outcome.route, outcome.status or 499)
        access_log = rt.access_log
        if not access_log.enabled:
            return
        entry: dict[str, Any] = {
            "event": "access",
            "method": request.method,
            "path": outcome.ex.path if outcome.ex else "-",
            "route": outcome.route,
            "status": outcome.status or 499,
            "client": access_log.mask_ip(outcome.client_ip),
            "peer": access_log.mask_ip(request.remote or ""),
            "duration_ms": round(duration * 1000, 3),
            "upstream_ms": round(outcome.upstream_seconds * 1000, 3),
            "bytes_in": outcome.bytes_in,
            "bytes_out": outcome.bytes_out,
        }
        if outcome.reason:
            entry["reason"] = outcome.reason
        if outcome.ex is not None and outcome.ex.decisions:
            entry["decisions"] = [
                {"filter": d.filter, "decision": d.decision, "rule": d.rule, "mode": d.mode}
                for d in outcome.ex.decisions
            ]
        access_log.write(entry)

