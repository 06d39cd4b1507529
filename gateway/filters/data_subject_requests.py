"""The data-subject request portal on the public listener: ``requests.prefix`` is answered by the gateway.

GET (and HEAD) is answered at the request phase, POST after its body is read
(capped like any body; a POST without a body at once); other methods get 405. Nothing under the prefix is
ever forwarded to the helpdesk. The tokens in its paths are bearer secrets:
the access log shows ``{prefix}/verify/-`` instead. The pages and flow are
``gateway.requests.portal``; the work after verification (the helpdesk
case, mails, the export) is done by ``gateway.requests.worker``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..chain import RejectBody
from ..exchange import LocalReply
from ..requests.compiled import compile_requests
from ..requests.metrics import request_metrics
from ..requests.portal import Portal
from .base import Filter

if TYPE_CHECKING:
    from ..exchange import Exchange
    from ..metrics import Metrics
    from ..policy.schema import Policy
    from ..store import Store

NAME = "requests"


class DataSubjectRequests(Filter):
    name = NAME
    uses_store = True

    def __init__(self, policy: Policy, metrics: Metrics, *, store: Store | None = None) -> None:
        super().__init__(policy, metrics, store=store)
        compiled = compile_requests(policy)
        assert compiled is not None  # built only when enabled (enabled_in)
        self.compiled = compiled
        self.portal = Portal(compiled, request_metrics(metrics), store)

    @classmethod
    def enabled_in(cls, policy: Policy) -> bool:
        return policy.requests.enabled

    async def on_request(self, ex: Exchange) -> LocalReply | None:
        if not self.portal.owns(ex.path):
            return None
        if ex.method in ("GET", "HEAD"):
            reply = await self.portal.get(ex)
            ex.decide(NAME, reply.reason)
            return reply
        if ex.method != "POST":
            return LocalReply(405, "method_not_allowed", "Use GET or POST.", headers=(("Allow", "GET, POST"),))
        if not ex.request.body_exists:  # no body phase follows: answered here, never forwarded
            reply = await self.portal.post(ex, b"")
            ex.decide(NAME, reply.reason)
            return reply
        return None

    def wants_request_body(self, ex: Exchange) -> bool:
        return ex.method == "POST" and self.portal.owns(ex.path)

    async def on_request_body(self, ex: Exchange, body: bytes) -> bytes:
        reply = await self.portal.post(ex, body)
        ex.decide(NAME, reply.reason)
        raise RejectBody(reply)

    def log_path(self, path: str) -> str | None:
        return self.portal.log_path(path)
