"""The admin listener: metrics, health, readiness, the firewall explainer, and the operators' API of
data-subject requests (``/requests``, bearer tokens only: see ``gateway.requests.api``).

It runs on its own address (127.0.0.1:9100 by default) so nothing here is
reachable through the public port. ``/readyz`` is 503 when the upstream is
unreachable; it reports the state store (``store_reachable``) without
failing on it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol
from urllib.parse import urlsplit

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .explain import Explainer
from .filters.firewall import Firewall
from .metrics import PREFIX, Metrics
from .requests.api import add_request_routes
from .runtime import Runtime

_READY_CACHE_SECONDS = 2.0


class Served(Protocol):
    """What the admin listener reads of the running gateway: its metrics and the policy serving now."""

    @property
    def metrics(self) -> Metrics: ...

    @property
    def runtime(self) -> Runtime: ...


class _UpstreamProbe:
    """TCP-connects to the upstream, caching the answer briefly so probes stay cheap."""

    def __init__(self) -> None:
        self._checked_at = 0.0
        self._url = ""
        self._ok = False

    async def reachable(self, url: str) -> bool:
        now = time.monotonic()
        if url == self._url and now - self._checked_at < _READY_CACHE_SECONDS:
            return self._ok
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            async with asyncio.timeout(1.0):
                _, writer = await asyncio.open_connection(parts.hostname, port)
            writer.close()
            self._ok = True
        except (OSError, TimeoutError):
            self._ok = False
        self._url, self._checked_at = url, now
        return self._ok


def _store_reachable(gateway: Served) -> bool | None:
    """Whether the state store answers; None without one. No round trip: requests and the probe keep it current."""
    store = gateway.runtime.store
    if store is not None:
        return store.up is not False
    # `serve --workers N`: the supervisor has no store; its workers' gauge (the lowest of them) tells.
    values = [
        sample.value for family in gateway.metrics.registry.collect() if family.name == f"{PREFIX}_store_up"
        for sample in family.samples
    ]
    return all(value == 1 for value in values) if values else None


def make_admin_app(gateway: Served) -> web.Application:
    probe = _UpstreamProbe()

    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(gateway.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        runtime = gateway.runtime
        upstream_ok = await probe.reachable(runtime.policy.upstream.url)
        body: dict[str, object] = {"policy": runtime.checksum[:12], "upstream_reachable": upstream_ok}
        # Reported, not required: every replica shares the database, so failing readiness on it would
        # take the whole helpdesk offline, while only link checks and consent posts need it (they fail
        # closed with 503).
        store_ok = _store_reachable(gateway)
        if store_ok is not None:
            body["store_reachable"] = store_ok
        return web.json_response(body, status=200 if upstream_ok else 503)

    async def explain_view(request: web.Request) -> web.Response:
        query = request.query
        peer = query.get("peer", "")
        if not peer:
            return web.json_response({"error": "the 'peer' parameter is required"}, status=400)
        runtime = gateway.runtime
        firewall = next((f for f in runtime.chain.filters if isinstance(f, Firewall)), None)
        # Explain with the compiled objects that are serving, not a fresh compile.
        explainer = Explainer(runtime.policy, resolver=runtime.client_ip, firewall=firewall)
        result = explainer.explain(
            peer=peer,
            xff=query.getall("xff", []),
            path=query.get("path", "/"),
            method=query.get("method", "GET"),
            host=query.get("host", ""),
        )
        return web.json_response(result.to_dict())

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/explain", explain_view)
    add_request_routes(app, gateway)  # /requests: the operators' API, bearer tokens only
    return app
