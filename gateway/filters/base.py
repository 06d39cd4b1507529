"""The filter interface.

A filter compiles its part of the policy once in ``__init__`` and keeps only
that compiled configuration. Hooks are named after the phases of a request;
the defaults do nothing, so a filter overrides only the phases it needs.
A filter that runs after a decision was taken respects it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from ..exchange import BodyRewriter, Exchange, LocalReply
    from ..metrics import Metrics
    from ..policy.schema import Policy
    from ..store import Store


class Filter:
    name: ClassVar[str]
    # True when on_response_headers may return a body rewriter; the proxy then
    # asks the upstream only for encodings it can decode.
    rewrites_responses: ClassVar[bool] = False
    # True when the filter keeps durable state; the gateway then opens policy.store.
    uses_store: ClassVar[bool] = False

    def __init__(self, policy: Policy, metrics: Metrics, *, store: Store | None = None) -> None:
        """Compile the policy once. ``store`` is opened by the gateway before serving;
        it may be None when a policy is only checked."""
        self.metrics = metrics
        self.store = store

    @classmethod
    def enabled_in(cls, policy: Policy) -> bool:
        """Whether the policy turns this filter on; disabled filters are not built."""
        return True

    async def on_request(self, ex: Exchange) -> LocalReply | None:
        """Headers known, body not read. Return a LocalReply to answer locally."""
        return None

    def wants_request_body(self, ex: Exchange) -> bool:
        """Opt in to the bounded request-body phase for this request."""
        return False

    async def on_request_body(self, ex: Exchange, body: bytes) -> bytes:
        return body

    async def on_response_headers(self, ex: Exchange) -> BodyRewriter | None:
        """Response head known; may edit ``ex.response_headers`` and return a rewriter.

        Return None when ``ex.rewrite_body`` is false (a download, a route with
        ``rewrite: false``): the chain drops a rewriter then anyway."""
        return None

    def log_path(self, path: str) -> str | None:
        """The request path as the access log may show it, when it carries a secret
        this filter knows (a link token); None when it carries none. Runs for every
        logged request, whether or not the filter's request hook ran."""
        return None
