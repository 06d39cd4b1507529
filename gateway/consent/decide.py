"""Recording a consent decision: the receipt, the new consent cookie, and expiry of withdrawn cookies.

Every decision (banner, API, or Global Privacy Control) is written to the
store as a receipt before it takes effect. If the receipt cannot be written,
a decision that grants anything new is refused (consent that cannot be
proven is not consent); one that only refuses or withdraws still takes
effect, because withdrawing must always work, and the failure is logged and
counted.

On a decision the gateway expires, in the browser, the cookies of every
refused category that the request carried, and for categories that were
granted before and are withdrawn now also every name the policy lists or the
gateway saw set (see :mod:`gateway.consent.expiry` for paths and domains).
In shadow mode nothing is expired.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from ..exchange import Exchange
from ..store import Store
from .compiled import Compiled
from .cookies import cookie_names
from .expiry import expiry_headers
from .metrics import ConsentMetrics
from .receipts import make_receipt, record
from .resolve import Resolution
from .state import ConsentState, StateMethod, new_consent_id, state_cookie

log = logging.getLogger("gateway.consent")


@dataclass(frozen=True, slots=True)
class Decision:
    state: ConsentState
    resolution: Resolution
    set_cookies: tuple[str, ...]  # the consent cookie, then the expiring headers
    choice: str  # accept_all, reject_all or custom
    recorded: bool  # the receipt was written


def choice_kind(choices: Mapping[str, bool]) -> str:
    values = list(choices.values())
    if all(values):
        return "accept_all"
    if not any(values):
        return "reject_all"
    return "custom"


def request_is_secure(ex: Exchange) -> bool:
    """The visitor reached the site over https (directly, or per a trusted proxy)."""
    return ex.upstream_headers.get("X-Forwarded-Proto", "") == "https"


class Decider:
    def __init__(
        self, compiled: Compiled, metrics: ConsentMetrics, *, store: Store | None, retention: float | None, shadow: bool,
    ) -> None:
        self.c = compiled
        self.metrics = metrics
        self.store = store
        self.retention = retention
        self.shadow = shadow

    def _cookie(self, token: str, secure_request: bool) -> str:
        cookie = self.c.config.cookie
        secure = cookie.secure == "always" or (cookie.secure == "auto" and secure_request)
        return state_cookie(
            cookie.name, token, max_age=int(cookie.max_age), path=cookie.path, domain=cookie.domain,
            secure=secure, same_site=cookie.same_site,
        )

    def _expiries(self, ex: Exchange, choices: Mapping[str, bool], previous: Resolution, secure: bool) -> list[str]:
        refused = frozenset(c for c, given in choices.items() if not given)
        if not refused or self.shadow:
            return []
        category_of = self.c.classifier.category_of
        names: list[str] = []
        per_category: dict[str, int] = {}
        for header in ex.request.headers.getall("Cookie", ()):
            names += [n for n in cookie_names(header) if n and category_of(n) in refused]
        withdrawn = frozenset(c for c in refused if previous.choices.get(c))
        for category in withdrawn:
            names += self.c.exact_names.get(category, ())
        names += self.c.seen.names_in(withdrawn)
        headers = expiry_headers(
            names, seen=self.c.seen, hinted=self.c.hinted, expire_domains=self.c.config.expire_domains, secure=secure,
        )
        for name in dict.fromkeys(names):
            category = category_of(name)
            per_category[category] = per_category.get(category, 0) + 1
        for category, count in per_category.items():
            self.metrics.cookies_expired.labels(category).inc(count)
        return headers

    async def decide(
        self, ex: Exchange, *, explicit: Mapping[str, bool], method: StateMethod, language: str | None,
        page: str, previous: Resolution,
    ) -> Decision | None:
        """Record and apply one decision; None when it grants something and no receipt could be written."""
        resolver = self.c.resolver
        choices = resolver.effective(explicit, previous.gpc)
        consent_id = previous.state.consent_id if previous.state is not None else new_consent_id()
        state = ConsentState(consent_id, resolver.version, choices, method)
        copy = self.c.copy_for(language)
        receipt = make_receipt(
            consent_id=consent_id, choices=choices, version=resolver.version, text_hash=copy.text_hash,
            method=method, client_ip=ex.client_ip, user_agent=ex.request.headers.get("User-Agent", ""), path=page,
        )
        recorded = await record(self.store, receipt, self.retention)
        kind = choice_kind(choices)
        if not recorded:
            self.metrics.receipt_failures.labels(method).inc()
            grants_more = any(given and not previous.choices.get(c) for c, given in choices.items())
            if grants_more or (previous.method is None and any(choices.values())):
                return None
        secure = request_is_secure(ex)
        token = self.c.codec.encode(state)
        set_cookies = (self._cookie(token, secure), *self._expiries(ex, choices, previous, secure))
        self.metrics.decisions.labels(method, kind).inc()
        log.info("consent decision", extra={"fields": {"method": method, "choice": kind, "recorded": recorded}})
        resolution = resolver.from_state(state, previous.gpc)
        return Decision(state, resolution, set_cookies, kind, recorded)
