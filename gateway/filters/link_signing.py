"""External links: stripped or re-signed with an expiry, checked at the gateway's endpoint.

Responses (HTML, plain text) stream through a link rewriter that replaces each
external link by ``{proto}://{host}{endpoint}{token}`` or removes it. The
endpoint only ever sends a visitor to a URL inside a valid, unrevoked token,
so it is not an open redirect; GET never consumes a token. Paths listed in
``links.require_token`` open only with a valid token in the query.

Downloads (``Content-Disposition: attachment``), routes with ``rewrite: false``
and ``links.exclude_paths`` are never rewritten. The access log shows an
endpoint path with its token replaced by the token id (``~jti:<id>``) or, for
a token that does not verify, a short hash (``~h:<12 hex>``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import TYPE_CHECKING, Callable
from urllib.parse import unquote_plus, urlsplit

from ..exchange import LocalReply
from ..http.encoding import response_charset
from ..http.organisation import organisation_block
from ..lib.bounded import remember
from ..lib.keyring import KeyRing
from ..links import pages
from ..links.decide import LinkDecision, LinkPolicy
from ..links.signing import LinkClaims, LinkSigner, TokenExpired, TokenInvalid
from ..policy.schema import RouteMatch
from ..rewrite.html import STRIP, HtmlLinkRewriter, TextLinkRewriter, UrlDecision
from ..routing import Matcher
from ..store import StoreError
from .base import Filter

if TYPE_CHECKING:
    from ..exchange import BodyRewriter, Exchange
    from ..metrics import Metrics
    from ..policy.schema import Policy
    from ..store import Store

log = logging.getLogger("gateway.links")

_DECISION_CACHE = 20_000


def _reply(status: int, reason: str, body: bytes, *extra: tuple[str, str]) -> LocalReply:
    return LocalReply(
        status, reason, body=body, content_type="text/html; charset=utf-8",
        headers=pages.SECURITY_HEADERS + (("Cache-Control", "no-store"),) + extra,
    )


EXPIRED = _reply(410, "link_expired", pages.expired())
REFUSED = _reply(403, "link_invalid", pages.refused())
UNAVAILABLE = _reply(503, "link_check_unavailable", pages.unavailable())
WRONG_METHOD = _reply(405, "link_method", pages.refused(), ("Allow", "GET, HEAD"))


class LinkSigning(Filter):
    name = "links"
    rewrites_responses = True
    uses_store = True

    def __init__(self, policy: Policy, metrics: Metrics, *, store: Store | None = None) -> None:
        super().__init__(policy, metrics, store=store)
        config = policy.links
        self.links = LinkPolicy(config)
        ring = KeyRing.from_config([(k.id, k.secret) for k in config.keys], config.current_key or config.keys[0].id)
        self.signer = LinkSigner(ring, ttl=config.ttl, leeway=config.leeway)
        self.endpoint = config.endpoint
        self.organisation = organisation_block(policy.organisation)  # the interstitial names the controller
        self.content_types = frozenset(t.lower() for t in config.content_types)
        self.rewrite_in_scripts = config.rewrite_in_scripts
        self.protected = tuple((Matcher(RouteMatch(path=r.path)), r.param) for r in config.require_token)
        self.excluded = tuple(Matcher(RouteMatch(path=p)) for p in config.exclude_paths)
        self._counted = {a: metrics.batches.counter(metrics.links_rewritten.labels(a)) for a in ("sign", "strip", "keep")}
        # Decisions are pure (url, host) -> action: kept across responses, bounded.
        self._decisions: dict[tuple[str, str], LinkDecision | None] = {}
        self._results_cache: dict[tuple[str, str, str], tuple[int, str | None, UrlDecision]] = {}
        self._results = {
            r: metrics.link_redirects.labels(r)
            for r in ("interstitial", "redirect", "passed", "expired", "invalid", "revoked", "missing", "unavailable")
        }

    @classmethod
    def enabled_in(cls, policy: Policy) -> bool:
        return policy.links.enabled

    # -- requests -------------------------------------------------------------

    async def on_request(self, ex: Exchange) -> LocalReply | None:
        if ex.path.startswith(self.endpoint):
            return await self._follow(ex)
        for matcher, param in self.protected:
            if matcher.matches(ex.method, ex.host, ex.path):
                return await self._check_protected(ex, param)
        return None

    async def _follow(self, ex: Exchange) -> LocalReply:
        if ex.method not in ("GET", "HEAD"):
            return WRONG_METHOD
        token = ex.request.raw_path[len(self.endpoint):].partition("?")[0]
        claims, failure = await self._verify(token)
        if failure is not None:
            return failure
        assert claims is not None
        if self.links.is_direct(claims.url):
            self._results["redirect"].inc()
            return _reply(302, "link_redirect", b"", ("Location", claims.url))
        self._results["interstitial"].inc()
        return _reply(200, "link_interstitial", pages.interstitial(claims.url, self.organisation))

    async def _verify(self, token: str) -> tuple[LinkClaims | None, LocalReply | None]:
        try:
            claims = self.signer.verify(token)
        except TokenExpired:
            self._results["expired"].inc()
            return None, EXPIRED
        except TokenInvalid as exc:
            self._results["invalid"].inc()
            log.info("link token refused", extra={"fields": {"reason": exc.reason}})
            return None, REFUSED
        if self.store is None:
            return claims, None  # checked without serving (explain, check)
        try:
            revoked = await self.store.is_revoked(
                jti=claims.jti, case=claims.case, recipient=claims.recipient, now=time.time(), issued_at=claims.iat
            )
        except StoreError:
            log.exception("revocation check failed")
            self._results["unavailable"].inc()
            return None, UNAVAILABLE
        if revoked:
            self._results["revoked"].inc()
            return None, REFUSED
        return claims, None

    async def _check_protected(self, ex: Exchange, param: str) -> LocalReply | None:
        raw_path, _, query = ex.request.raw_path.partition("?")
        pieces = query.split("&") if query else []
        tokens = [p.partition("=")[2] for p in pieces if unquote_plus(p.partition("=")[0]) == param]
        if len(tokens) != 1:
            self._results["missing"].inc()
            return REFUSED
        claims, failure = await self._verify(unquote_plus(tokens[0]))
        if failure is not None:
            return failure
        assert claims is not None
        target = urlsplit(claims.url)
        if target.path != raw_path or (target.hostname or "") != ex.host:
            self._results["invalid"].inc()
            return REFUSED  # a valid token for another page does not open this one
        self._results["passed"].inc()
        kept = [p for p in pieces if unquote_plus(p.partition("=")[0]) != param]
        ex.upstream_target = raw_path + ("?" + "&".join(kept) if kept else "")
        return None

    def log_path(self, path: str) -> str | None:
        # A token is a bearer link valid for days, and its payload holds the destination
        # with its query: the log gets the token id, or a hash when it does not verify.
        if not path.startswith(self.endpoint) or len(path) == len(self.endpoint):
            return None
        token = path[len(self.endpoint):]
        try:
            jti = self.signer.verify(token).jti
        except TokenExpired as exc:
            jti = exc.claims.jti
        except TokenInvalid:
            digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
            return f"{self.endpoint}~h:{digest[:12]}"
        return f"{self.endpoint}~jti:{jti}"

    # -- responses ------------------------------------------------------------

    async def on_response_headers(self, ex: Exchange) -> BodyRewriter | None:
        if ex.method == "HEAD" or ex.response_status in (204, 304) or ex.response_status < 200:
            return None
        if not ex.rewrite_body:
            return None
        content_type = ex.response_headers.get("Content-Type", "")
        mime, _, params = content_type.partition(";")
        mime = mime.strip().lower()
        if mime not in self.content_types:
            return None
        if any(m.matches(ex.method, ex.host, ex.path) for m in self.excluded):
            return None
        charset = response_charset(params)
        proto = ex.upstream_headers.get("X-Forwarded-Proto", "http")
        host = ex.upstream_headers.get("X-Forwarded-Host", ex.host)
        decide = self._decider(ex.host, f"{proto}://{host}{self.endpoint}")
        if mime == "text/html":
            return HtmlLinkRewriter(decide, rewrite_in_scripts=self.rewrite_in_scripts, encoding=charset)
        return TextLinkRewriter(decide)

    def _decider(self, own_host: str, base: str) -> Callable[[str], UrlDecision]:
        # What a link becomes is cached across responses for one second: within
        # it the signer would mostly hand out the same token anyway (its expiry
        # bucket, at least a second), and a helpdesk repeats the same links on
        # every page view. A link handed out from here is at most a second old.
        second = int(time.monotonic())
        results = self._results_cache

        def decide(url: str) -> UrlDecision:
            key = (url, own_host, base)
            cached = results.get(key)
            if cached is not None and cached[0] == second:
                action, result = cached[1], cached[2]
            else:
                action, result = self._decide(url, own_host, base)
                remember(results, key, (second, action, result), _DECISION_CACHE)
            if action is not None:
                self._counted[action].inc()
            return result

        return decide

    def _decide(self, url: str, own_host: str, base: str) -> tuple[str | None, UrlDecision]:
        key = (url, own_host)
        try:
            decision = self._decisions[key]
        except KeyError:
            decision = remember(self._decisions, key, self.links.decide(url, own_host), _DECISION_CACHE)
        if decision is None:
            return None, None
        if decision.action == "strip":
            return "strip", STRIP
        if decision.action == "sign":
            return "sign", base + self.signer.sign(decision.url, ttl=decision.ttl)
        return "keep", None
