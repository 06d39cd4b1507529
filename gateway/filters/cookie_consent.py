"""Cookie consent enforced on the wire, both ways, whatever the page's scripts do.

Request: the consent that applies is resolved (the gateway's consent cookie,
a consent manager's cookie, defaults and Global Privacy Control); requests
under the consent prefix are answered by the gateway; every other request
loses the cookies of categories without consent before it reaches the
helpdesk, the rest of the Cookie header byte for byte.

Response: each Set-Cookie of a category without consent is dropped. On an
HTML page (GET, 200, ``text/html``, a top-level navigation) the banner is
injected before ``</body>`` until the visitor decides, afterwards a small
"Cookie settings" link. A browser sending ``Sec-GPC: 1`` that has not
decided gets a recorded GPC decision on its first page view.

Shadow mode counts and logs what would be removed and removes nothing; the
banner, the endpoints and receipts work as usual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..consent.banner import banner_fragment, settings_link_fragment
from ..consent.compiled import compile_consent
from ..consent.csp import plan
from ..consent.decide import Decider
from ..consent.endpoints import Endpoints
from ..consent.enforce import Report, default_path
from ..consent.inject import Injector, charset_compatible
from ..consent.metrics import consent_metrics
from ..consent.resolve import Resolution
from ..consent.submission import safe_return
from ..http.encoding import decoder_for
from ..http.language import pick_language
from ..lib.bounded import remember
from .base import Filter

if TYPE_CHECKING:
    from ..exchange import BodyRewriter, Exchange, LocalReply
    from ..lib.metric_batches import BatchedCounter
    from ..metrics import Metrics
    from ..policy.schema import Policy
    from ..store import Store

NAME = "consent"
NOTE = "consent"
_CACHE_SIZE = 512  # Accept-Language values and built fragments kept per filter
_CACHED_VALUE_LENGTH = 256
_REMOVED = {direction: f"{direction}_cookies_removed" for direction in ("request", "response")}  # decision names


def _remember(cache: dict[str, bool], key: str, verdict: bool) -> None:
    """Keep a header value's verdict; bounded, and long values (never repeated in practice) are not kept."""
    if len(key) <= _CACHED_VALUE_LENGTH:
        remember(cache, key, verdict, _CACHE_SIZE)


class CookieConsent(Filter):
    name = NAME
    rewrites_responses = True
    uses_store = True

    def __init__(self, policy: Policy, metrics: Metrics, *, store: Store | None = None) -> None:
        super().__init__(policy, metrics, store=store)
        config = policy.consent
        self.c = compile_consent(config)
        self.m = consent_metrics(metrics)
        self.shadow = config.shadow
        self.mode = "shadow" if config.shadow else "enforce"
        self.prefix = config.prefix
        self.banner = config.banner
        self.languages = config.banner.languages
        self.decider = Decider(
            self.c, self.m, store=store, retention=policy.store.receipt_retention, shadow=config.shadow
        )
        self.endpoints = Endpoints(self.c, self.decider, policy.organisation)
        # Bound once: the hooks below run on every request.
        self._resolver = self.c.resolver
        self._enforcer = self.c.enforcer
        self._inject = config.banner.enabled
        self._exclude = tuple(config.banner.exclude_paths)
        # Response header values -> verdict; a site sends a handful of distinct ones.
        self._html_types: dict[str, bool] = {}  # Content-Type -> HTML the injector can handle
        self._decodable: dict[str, bool] = {}  # Content-Encoding -> the gateway can decode it
        # Counter children per direction, bound on first use (categories come from the policy: bounded).
        self._removed: dict[str, dict[str, BatchedCounter]] = {"request": {}, "response": {}}
        self._injected = {kind: self.m.banners.labels(kind) for kind in ("banner", "settings_link")}
        self._languages: dict[str, str] = {}  # Accept-Language -> offered language
        self._fragments: dict[tuple[object, ...], bytes] = {}

    @classmethod
    def enabled_in(cls, policy: Policy) -> bool:
        return policy.consent.enabled

    def _account(self, ex: Exchange, report: Report, direction: str) -> None:
        if report.unclassified:
            for name in report.unclassified[:32]:
                self.m.unclassified_name(name, direction)
        removed = report.removed
        if removed:
            counters = self._removed[direction]
            for category, count in removed.items():
                child = counters.get(category)
                if child is None:
                    child = counters[category] = self.metrics.batches.counter(
                        self.m.cookies_removed.labels(category, direction, self.mode)
                    )
                child.inc(count)
            rule = next(iter(removed)) if len(removed) == 1 else ",".join(sorted(removed))
            ex.decide(NAME, _REMOVED[direction], rule, self.mode)

    # -- request ----------------------------------------------------------------

    async def on_request(self, ex: Exchange) -> LocalReply | None:
        headers = ex.upstream_headers
        cookies = headers.getall("Cookie", [])
        gpc = headers.get("Sec-GPC", "").strip() == "1"
        resolution = self._resolver.resolve(cookies, gpc)
        if resolution.invalid:
            self.m.rejected_states.inc()
        ex.notes[NOTE] = resolution
        path = ex.path
        prefix = self.prefix
        if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
            return await self.endpoints.handle(ex, resolution)
        if cookies:
            kept, report = self._enforcer.filter_request(cookies, resolution.granted, shadow=self.shadow)
            if kept != cookies:
                headers.popall("Cookie", None)
                for value in kept:
                    headers.add("Cookie", value)
            self._account(ex, report, "request")
        return None

    # -- response ---------------------------------------------------------------

    async def on_response_headers(self, ex: Exchange) -> BodyRewriter | None:
        resolution: Resolution | None = ex.notes.get(NOTE)
        if resolution is None:
            return None
        headers = ex.response_headers
        set_cookies = headers.getall("Set-Cookie", [])
        if set_cookies:
            kept, report = self._enforcer.filter_set_cookies(
                set_cookies, resolution.granted, host=ex.host, request_path=ex.path, shadow=self.shadow
            )
            if len(kept) != len(set_cookies):
                headers.popall("Set-Cookie", None)
                for value in kept:
                    headers.add("Set-Cookie", value)
            if report.passed:
                where = default_path(ex.path)
                for category, name, value in report.passed:
                    self.c.seen.note_header(category, name, value, where)
            self._account(ex, report, "response")
        if not self._inject or not self._is_page(ex):
            return None
        if "cookie" not in headers.get("Vary", "").lower():
            headers.add("Vary", "Cookie")
        language = self._language(ex)
        if resolution.gpc and not resolution.decided:
            decision = await self.decider.decide(
                ex, explicit={}, method="gpc", language=language, page=ex.path, previous=resolution
            )
            if decision is not None:
                # Unrecorded (store down): the refusal applies, but without the consent cookie,
                # so the next page view records it again instead of the receipt being lost.
                for value in decision.set_cookies if decision.recorded else decision.set_cookies[1:]:
                    headers.add("Set-Cookie", value)
                resolution = decision.resolution
        return self._injector(ex, resolution, language)

    def _is_page(self, ex: Exchange) -> bool:
        """A complete HTML document for a top-level navigation, in a form the injector can handle."""
        if ex.method != "GET" or ex.response_status != 200 or not ex.rewrite_body:
            return False
        headers = ex.response_headers
        content_type = headers.get("Content-Type", "")
        html = self._html_types.get(content_type)
        if html is None:
            html = content_type.lower().startswith("text/html") and charset_compatible(content_type)
            _remember(self._html_types, content_type, html)
        if not html:
            return False
        encoding = headers.get("Content-Encoding", "")
        decodable = self._decodable.get(encoding)
        if decodable is None:  # decoder_for builds a decompressor: ask once per value
            decodable = decoder_for(encoding) is not None
            _remember(self._decodable, encoding, decodable)
        if not decodable:
            return False
        if headers.get("Content-Disposition", "").lower().startswith("attachment"):
            return False
        destination = ex.request.headers.get("Sec-Fetch-Dest")
        if destination is not None and destination != "document":
            return False
        return not ex.path.startswith(self._exclude)

    def _language(self, ex: Exchange) -> str:
        header = ex.request.headers.get("Accept-Language", "")
        language = self._languages.get(header)
        if language is None:
            language = remember(self._languages, header, pick_language(header, self.languages), _CACHE_SIZE)
        return language

    def _injector(self, ex: Exchange, resolution: Resolution, language: str) -> Injector | None:
        if resolution.decided and not self.banner.settings_link:
            return None
        headers = ex.response_headers
        policies = headers.getall("Content-Security-Policy", [])
        csp = plan(policies)
        if list(csp.headers) != policies:
            headers.popall("Content-Security-Policy", None)
            for value in csp.headers:
                headers.add("Content-Security-Policy", value)
        return_to = safe_return(ex.request.raw_path)
        kind = "settings_link" if resolution.decided else "banner"
        self._injected[kind].inc()
        # Without a per-response nonce the fragment depends on few things: reuse it.
        key = (language, return_to, kind, tuple(resolution.choices.values()), resolution.gpc, csp.script_nonce, csp.style_nonce)
        cacheable = csp.script_nonce in ("", None) and csp.style_nonce in ("", None)
        fragment = self._fragments.get(key) if cacheable else None
        if fragment is None:
            copy = self.c.copies[language]
            if resolution.decided:
                fragment = settings_link_fragment(copy, prefix=self.prefix, return_to=return_to, style_nonce=csp.style_nonce)
            else:
                fragment = banner_fragment(
                    copy, prefix=self.prefix, choices=resolution.choices, return_to=return_to,
                    gpc=resolution.gpc, privacy_url=self.banner.privacy_url,
                    script_nonce=csp.script_nonce, style_nonce=csp.style_nonce,
                )
            if cacheable:
                remember(self._fragments, key, fragment, _CACHE_SIZE)
        return Injector(fragment)
