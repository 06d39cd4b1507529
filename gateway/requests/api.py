"""The operators' API on the admin listener: the CLI's ``requests`` verbs as JSON over HTTP.

Every call needs ``Authorization: Bearer <token>`` with one of
``requests.api_tokens`` (the text its secret file or variable holds; compared
in constant time); anything else is 401,
whatever the path, so the API is never anonymous and says nothing to a
caller without a token. The token's id is who the audit log names
(``api:<id>``).

- ``GET  /requests`` (``?all=1`` for closed ones too) and ``GET /requests/{id}``
- ``POST /requests/{id}/approve``, ``/refuse`` ``{"reason"}``, ``/extend`` ``{"days", "reason"}``
- ``POST /requests/{id}/export``: the ZIP, assembled now

404 for an unknown request, 409 for a change that does not apply (closed,
changed meanwhile, too long an extension), 400 for a malformed body, 503
when the store or the helpdesk does not answer.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson
from aiohttp import web

from ..helpdesks.base import HelpdeskAdapter, HelpdeskError
from ..lib.keyring import decode_secret
from ..store import Store, StoreError, store_for
from . import lifecycle, operations
from .compiled import CompiledRequests
from .worker import RequestsWorker, default_adapter, portal_of

Handler = Callable[[web.Request, CompiledRequests, Store, str], Awaitable[web.StreamResponse]]


class Served(Protocol):
    @property
    def runtime(self) -> Any: ...


def _error(status: int, error: str, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": error, "message": message}, status=status, headers=headers or None)


def _actor(request: web.Request, compiled: CompiledRequests | None) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if compiled is None or scheme.lower() != "bearer" or not given.strip():
        return None
    presented = given.strip().encode("utf-8", "surrogateescape")
    found = None
    for token in compiled.settings.api_tokens:  # every token compared: the time says nothing of which matched
        # The token as the secret file or variable holds it (e.g. `openssl rand -base64 32`), or its raw: text.
        written = token.secret.strip().encode("utf-8", "surrogateescape")
        matches = hmac.compare_digest(written, presented) | hmac.compare_digest(decode_secret(token.secret), presented)
        if matches and found is None:
            found = token.id
    return f"api:{found}" if found is not None else None


class RequestsApi:
    """The routes, reading the policy serving now (its compiled portal and store) on every call."""

    def __init__(self, gateway: Served) -> None:
        self.gateway = gateway
        self._own_store: Store | None = None  # `serve --workers N`: the supervisor opens one of its own

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/requests", self._wrap(self._list))
        app.router.add_get("/requests/{request_id}", self._wrap(self._show))
        for action in operations.ACTIONS:
            app.router.add_post(f"/requests/{{request_id}}/{action}", self._wrap(self._act))
        app.router.add_post("/requests/{request_id}/export", self._wrap(self._export))
        app.on_cleanup.append(self._cleanup)

    async def _cleanup(self, _: web.Application) -> None:
        if self._own_store is not None:
            await self._own_store.close()
            self._own_store = None

    async def _portal(self) -> tuple[CompiledRequests, Store] | tuple[CompiledRequests, None] | None:
        runtime = self.gateway.runtime
        found = portal_of(runtime)
        if found is not None:
            return found
        from .compiled import compile_requests

        compiled = compile_requests(runtime.policy)
        if compiled is None:
            return None
        if self._own_store is None:
            store = store_for(runtime.policy.store)
            await store.open()
            self._own_store = store
        return compiled, self._own_store

    def _wrap(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            runtime = self.gateway.runtime
            from .compiled import compile_requests

            found = portal_of(runtime)
            compiled = found[0] if found is not None else (
                compile_requests(runtime.policy) if runtime.policy.requests.enabled else None)
            actor = _actor(request, compiled)
            if actor is None:
                return _error(401, "unauthorized", "Send Authorization: Bearer <one of requests.api_tokens>.",
                              **{"WWW-Authenticate": 'Bearer realm="privacy-gateway"'})
            try:
                portal = await self._portal()
                if portal is None or portal[1] is None:
                    return _error(404, "no_portal", "requests.enabled is false")
                return await handler(request, portal[0], portal[1], actor)
            except StoreError:
                return _error(503, "store_unavailable", "The state store does not answer.")
            except operations.NotFound as exc:
                return _error(404, "not_found", str(exc))
            except (operations.Conflict, lifecycle.NotAllowed) as exc:
                return _error(409, "not_allowed", str(exc))
            except HelpdeskError as exc:
                return _error(503 if exc.retryable else 502, "helpdesk_error", str(exc))

        return handle

    async def _list(self, request: web.Request, compiled: CompiledRequests, store: Store, actor: str
                    ) -> web.StreamResponse:
        rows = await operations.list_requests(store, open_only=request.query.get("all", "") not in ("1", "true"))
        return web.json_response({"requests": rows}, dumps=lambda d: orjson.dumps(d).decode())

    async def _show(self, request: web.Request, compiled: CompiledRequests, store: Store, actor: str
                    ) -> web.StreamResponse:
        doc = await operations.show(compiled, store, request.match_info["request_id"], actor=actor)
        return web.json_response(doc, dumps=lambda d: orjson.dumps(d).decode())

    async def _act(self, request: web.Request, compiled: CompiledRequests, store: Store, actor: str
                   ) -> web.StreamResponse:
        action = request.path.rpartition("/")[2]
        body: dict[str, Any] = {}
        if request.can_read_body:
            try:
                parsed = orjson.loads(await request.read())
            except orjson.JSONDecodeError:
                return _error(400, "bad_body", "The body must be a JSON object.")
            if not isinstance(parsed, dict):
                return _error(400, "bad_body", "The body must be a JSON object.")
            body = parsed
        reason, days = body.get("reason", ""), body.get("days", 0)
        if not isinstance(reason, str) or isinstance(days, bool) or not isinstance(days, int):
            return _error(400, "bad_body", "reason is a text and days a whole number.")
        doc = await operations.act(store, request.match_info["request_id"], action, actor=actor, reason=reason,
                                   days=days, erase=compiled.erasure is not None)
        worker = getattr(self.gateway, "requests_worker", None)
        if isinstance(worker, RequestsWorker):
            worker.wake.set()  # its mail (and export) now, not at the next poll
        return web.json_response(doc, dumps=lambda d: orjson.dumps(d).decode())

    async def _export(self, request: web.Request, compiled: CompiledRequests, store: Store, actor: str
                      ) -> web.StreamResponse:
        worker = getattr(self.gateway, "requests_worker", None)
        settings = compiled.settings.helpdesk
        own: HelpdeskAdapter | None = None
        if isinstance(worker, RequestsWorker):
            adapter = worker.adapter(settings)
        else:
            adapter = own = default_adapter(settings) if settings is not None else None
        try:
            archive = await operations.export_now(compiled, store, request.match_info["request_id"], adapter,
                                                  actor=actor)
        finally:
            if own is not None:
                await own.close()
        request_id = request.match_info["request_id"]
        return web.Response(body=archive, content_type="application/zip", headers={
            "Content-Disposition": f'attachment; filename="privacy-export-{request_id}.zip"',
            "Cache-Control": "no-store"})


def add_request_routes(app: web.Application, gateway: Served) -> None:
    RequestsApi(gateway).add_routes(app)
