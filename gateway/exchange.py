"""Per-request state shared by the filters of one request.

A filter holds only compiled configuration; everything that belongs to one
request lives here, and everything that belongs to one response body lives in
that response's BodyRewriter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from multidict import CIMultiDict

if TYPE_CHECKING:
    from aiohttp.web import BaseRequest

    from .routing import CompiledRoute


@dataclass(frozen=True, slots=True)
class LocalReply:
    """An answer given by the gateway itself; stops the request chain.

    ``reason`` is a stable machine word (``firewall_denied``) used as a metric
    label and log field; ``message`` is a short human sentence for the default
    body. A filter serving its own page (an interstitial, a JSON API) sets
    ``body`` and ``content_type`` instead. ``conceal`` answers as a plain
    status with its standard phrase and no reason header (a hidden area must
    look like any 404); the reason still goes to logs and metrics.
    """

    status: int
    reason: str
    message: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    content_type: str = "text/html"
    conceal: bool = False


class BodyRewriter(Protocol):
    """Rewrites one response body while it streams.

    ``feed`` must be correct across arbitrary chunk boundaries and keep memory
    bounded by a constant, not by the body size.
    """

    def feed(self, chunk: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


@dataclass(slots=True)
class Decision:
    """One decision a filter took, for the access log."""

    filter: str
    decision: str
    rule: str | None = None
    mode: str = "enforce"


@dataclass(slots=True)
class Exchange:
    """One request/response pair as it crosses the gateway.

    ``path`` is the normalised path used for matching (percent-decoded,
    repeated slashes merged); the raw target is forwarded unchanged.
    """

    request: BaseRequest
    method: str
    path: str
    host: str
    peer_ip: str
    client_ip: str
    route: CompiledRoute
    upstream_headers: CIMultiDict[str] = field(default_factory=CIMultiDict)
    # Request target sent upstream; None forwards the client's raw target unchanged.
    upstream_target: str | None = None
    response_status: int = 0
    response_headers: CIMultiDict[str] = field(default_factory=CIMultiDict)
    # Whether the response body may be rewritten at all; the chain settles it before the
    # response-header filters run (a download or a route with rewrite: false is never rewritten).
    rewrite_body: bool = True
    decisions: list[Decision] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def decide(self, filter_name: str, decision: str, rule: str | None = None, mode: str = "enforce") -> None:
        self.decisions.append(Decision(filter_name, decision, rule, mode))
