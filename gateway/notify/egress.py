"""The egress listener: the helpdesk's mail and push SDKs point here instead of at the provider.

``notifications.egress.listen`` binds an internal address; only clients in
``allow`` are served (403 for others: it is never an open relay to a mail
API). A route per provider maps a path prefix (``/sendgrid/``) to the
provider's real base URL. The request body is read with the route's cap
(413), rewritten by the provider's module, and forwarded over TLS with
verification; credentials pass untouched. The provider's status, headers and
body come back as they are, so the SDK's retry logic works.

Fail closed: bad input is a 4xx in the provider's error shape, a rule that
blocks is 403, a rewrite that fails is 502 ``notification_rewrite_failed``
(both in the provider's shape: an SDK that parses its errors must not choke);
a half-rewritten payload is never forwarded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from ..http.addresses import AddressBook, AddressSet
from ..http.headers import HOP_BY_HOP
from ..logs import AccessLog
from ..metrics import Metrics
from ..policy.notifications import Egress, EgressRoute
from ..policy.schema import Policy, upstream_ssl_context
from .metrics import NotifyMetrics, notify_metrics
from .providers.base import ApiRefusal, ApiRequest, Provider, Rewritten
from .providers.registry import PROVIDERS
from .rewriter import Notifier, Refusal

log = logging.getLogger("gateway.notify.egress")

# Not forwarded: hop-by-hop, and what the gateway sets for the rewritten body and the upstream host.
_REQUEST_DROP = HOP_BY_HOP | {"host", "content-length", "forwarded", "x-forwarded-for", "x-forwarded-proto",
                              "x-forwarded-host", "x-real-ip"}
_RESPONSE_DROP = HOP_BY_HOP | {"content-length"}
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
# A Content-Type the SDK did not send (or a rewrite removed) is not made up: a payload-less push has none.
_NO_AUTO_HEADERS = ("Content-Type",)


@dataclass(frozen=True, slots=True)
class CompiledRoute:
    route: EgressRoute
    provider: Provider
    max_body: int


@dataclass(frozen=True, slots=True)
class CompiledEgress:
    """What one policy makes of the egress listener; swapped whole on reload."""

    settings: Egress
    routes: tuple[CompiledRoute, ...]
    notifier: Notifier
    allow: AddressSet
    metrics: NotifyMetrics
    access_log: AccessLog
    apns: CompiledRoute | None = None  # served by the HTTP/2 listener (gateway/notify/apns.py), not here

    def route_for(self, path: str) -> tuple[CompiledRoute, str] | None:
        for compiled in self.routes:
            prefix = compiled.route.path_prefix
            if path.startswith(prefix):
                return compiled, "/" + path[len(prefix):]
        return None


def compile_egress(policy: Policy, notifier: Notifier | None, metrics: Metrics,
                   access_log: AccessLog) -> CompiledEgress | None:
    config = policy.notifications
    if not config.enabled or config.egress is None:
        return None
    notifier = notifier or Notifier(config, policy.links)
    routes = []
    apns = None
    for route in config.egress.routes:
        cls = PROVIDERS[route.provider]
        compiled = CompiledRoute(route, cls(route), route.max_body_bytes or cls.max_body_bytes)
        if route.provider == "apns":
            apns = compiled
        else:
            routes.append(compiled)
    routes.sort(key=lambda compiled: len(compiled.route.path_prefix), reverse=True)  # the longest prefix wins
    allow = AddressBook(policy.ip_lists).compile(config.egress.allow)
    return CompiledEgress(config.egress, tuple(routes), notifier, allow, notify_metrics(metrics), access_log, apns)


def _json_error(status: int, message: str, reason: str) -> web.Response:
    return web.json_response({"error": message, "reason": reason}, status=status,
                             headers={"X-Gateway-Reason": reason})


class EgressServer:
    """The listener and its one client session to the providers."""

    def __init__(self, current: Any) -> None:
        self.current = current  # () -> CompiledEgress: the policy in force
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ssl: dict[str | None, Any] = {}
        self.port = 0

    async def start(self, *, reuse_port: bool = False) -> None:
        settings = self.current().settings
        self._session = aiohttp.ClientSession(auto_decompress=False, trust_env=False,
                                              cookie_jar=aiohttp.DummyCookieJar())
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, settings.listen.host, settings.listen.port, reuse_port=reuse_port or None)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _ssl_for(self, route: EgressRoute) -> Any:
        if not route.upstream.startswith("https://"):
            return None
        context = self._ssl.get(route.tls_ca)
        if context is None:
            context = self._ssl[route.tls_ca] = upstream_ssl_context(route.tls_ca)
        return context

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        egress = self.current()
        started = time.perf_counter()
        entry: dict[str, Any] = {"channel": "egress", "method": request.method,
                                 "client": egress.access_log.mask_ip(request.remote or "")}
        response = await self._answer(egress, request, entry)
        entry.update(status=response.status, duration_ms=round((time.perf_counter() - started) * 1000, 2))
        egress.metrics.egress.labels(entry.get("provider", "none"), f"{response.status // 100}xx").inc()
        egress.access_log.write(entry)
        return response

    async def _answer(self, egress: CompiledEgress, request: web.Request, entry: dict[str, Any]) -> web.StreamResponse:
        if not egress.allow.contains(request.remote or ""):
            entry["reason"] = "not_allowed"
            return _json_error(403, "this client may not send through the gateway", "not_allowed")
        found = egress.route_for(request.path)
        if found is None:
            entry["reason"] = "unknown_provider"
            return _json_error(404, "no provider route for this path", "unknown_provider")
        compiled, path = found
        provider = compiled.provider
        entry["provider"] = provider.name
        if request.content_length is not None and request.content_length > compiled.max_body:
            entry["reason"] = "body_too_large"
            return _refusal(provider.error(413, f"request body over {compiled.max_body} bytes", "body_too_large"))
        try:
            body = await _read_capped(request, compiled.max_body)
        except ApiRefusal:
            entry["reason"] = "body_too_large"
            return _refusal(provider.error(413, f"request body over {compiled.max_body} bytes", "body_too_large"))
        api = ApiRequest(request.method, path, request.query_string, request.headers, body)
        try:
            rewritten = rewrite_call(egress, provider, api, entry)
        except ApiRefusal as exc:
            return _refusal(exc)
        headers = CIMultiDict((k, v) for k, v in request.headers.items() if k.lower() not in _REQUEST_DROP)
        if rewritten is None:
            out_body = body
        else:
            out_body = rewritten.body
            for name in rewritten.drop_headers:
                headers.popall(name, None)
            if rewritten.content_type is not None:
                headers["Content-Type"] = rewritten.content_type
            headers.update(rewritten.headers)
            path = rewritten.path or path
        return await self._forward(egress, compiled, request, path, headers, out_body, entry)

    async def _forward(self, egress: CompiledEgress, compiled: CompiledRoute, request: web.Request, path: str,
                       headers: CIMultiDict[str], body: bytes, entry: dict[str, Any]) -> web.StreamResponse:
        if self._session is None:
            raise RuntimeError("the egress listener is not started")
        route = compiled.route
        url = route.upstream + path + (f"?{request.query_string}" if request.query_string else "")
        try:
            async with asyncio.timeout(egress.settings.timeout):
                async with self._session.request(request.method, url, headers=headers, data=body,
                                                 ssl=self._ssl_for(route), allow_redirects=False,
                                                 skip_auto_headers=_NO_AUTO_HEADERS) as upstream:
                    data = await upstream.content.read(MAX_RESPONSE_BYTES + 1)
                    if len(data) > MAX_RESPONSE_BYTES:
                        entry["reason"] = "upstream_bad_response"
                        return _refusal(compiled.provider.error(502, "the provider's answer is too large",
                                                                "upstream_bad_response"))
                    out = CIMultiDict((k, v) for k, v in upstream.headers.items() if k.lower() not in _RESPONSE_DROP)
                    return web.Response(status=upstream.status, body=data, headers=out)
        except TimeoutError:
            entry["reason"] = "upstream_timeout"
            return _refusal(compiled.provider.error(504, "the provider did not answer in time", "upstream_timeout"))
        except aiohttp.ClientError:
            entry["reason"] = "upstream_unreachable"
            return _refusal(compiled.provider.error(502, "the provider could not be reached", "upstream_unreachable"))


def rewrite_call(egress: CompiledEgress, provider: Provider, api: ApiRequest,
                 entry: dict[str, Any]) -> Rewritten | None:
    """The provider's rewrite, its decisions counted; every failure an ApiRefusal in the provider's shape.

    Shared by the HTTP/1.1 listener and the APNs listener: a block is 403, a
    rewrite that cannot be done safely (or a bug in the module) is 502, and
    nothing half-rewritten leaves. ``entry`` (the access-log line) gets the
    reason, or the rules and actions taken.
    """
    try:
        rewritten = provider.rewrite(api, egress.notifier)
    except ApiRefusal as exc:
        entry["reason"] = exc.reason
        egress.metrics.rewrite_failures.labels(provider.name, exc.reason).inc()
        raise
    except Refusal as exc:
        entry["reason"] = exc.reason
        if exc.reason == "blocked":
            egress.metrics.notifications.labels(provider.name, "blocked", "block", "enforce").inc()
            raise provider.error(403, "the notification is refused by the privacy policy",
                                 "notification_blocked") from None
        egress.metrics.rewrite_failures.labels(provider.name, exc.reason).inc()
        raise provider.error(502, "the notification could not be rewritten safely",
                             "notification_rewrite_failed") from None
    except Exception:  # a bug in a provider module must not let the payload through
        log.exception("provider rewrite failed", extra={"fields": {"provider": provider.name}})
        entry["reason"] = "internal"
        egress.metrics.rewrite_failures.labels(provider.name, "internal").inc()
        raise provider.error(502, "the notification could not be rewritten safely",
                             "notification_rewrite_failed") from None
    if rewritten is not None:
        for decision in rewritten.decisions:
            egress.metrics.notifications.labels(provider.name, decision.rule, decision.action, "enforce").inc()
            for rule, action in decision.shadowed:
                egress.metrics.notifications.labels(provider.name, rule, action, "shadow").inc()
        entry["rules"] = sorted({d.rule for d in rewritten.decisions})
        entry["actions"] = sorted({d.action for d in rewritten.decisions})
    return rewritten


async def _read_capped(request: web.Request, cap: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > cap:
            raise ApiRefusal(413, b"", "body_too_large")
        chunks.append(chunk)
    return b"".join(chunks)


def _refusal(exc: ApiRefusal) -> web.Response:
    return web.Response(status=exc.status, body=exc.body, content_type=exc.content_type.split(";")[0],
                        headers={**exc.headers, "X-Gateway-Reason": exc.reason})
