"""Which external links to keep, sign or strip, compiled once from the policy.

A link is external when it is an absolute http(s) URL (or protocol-relative
``//host``) whose host is neither the request's own host nor one of
``links.internal_hosts``. Relative links, fragments, mailto: and other
schemes are not web links to another site and are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from ..policy.links import Links
from ..routing import glob_to_regex
from .tracking import compile_names, strip_tracking

Action = Literal["keep", "sign", "strip"]


@dataclass(frozen=True, slots=True)
class LinkDecision:
    action: Action
    url: str  # the URL to sign (tracking parameters already removed)
    ttl: float
    direct: bool


def _host_regex(globs: tuple[str, ...]) -> re.Pattern[str] | None:
    if not globs:
        return None
    return re.compile("|".join(f"(?:{glob_to_regex(g.lower(), segment_char='.')})" for g in globs), re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Rule:
    hosts: re.Pattern[str]
    action: Action
    ttl: float
    direct: bool
    strip_tracking: bool


class LinkPolicy:
    def __init__(self, config: Links) -> None:
        self._internal = _host_regex(config.internal_hosts)
        self._tracking = compile_names(config.tracking_params)
        self._rules = tuple(
            _Rule(
                hosts=_host_regex(rule.hosts) or re.compile("(?!)"),
                action=rule.action,
                ttl=rule.ttl if rule.ttl is not None else config.ttl,
                direct=rule.direct or not config.interstitial,
                strip_tracking=config.strip_tracking if rule.strip_tracking is None else rule.strip_tracking,
            )
            for rule in config.rules
        )
        self._default = _Rule(
            re.compile(""), config.default_action, config.ttl, not config.interstitial, config.strip_tracking
        )

    def external_host(self, url: str, own_host: str) -> str | None:
        """The host of ``url`` when it leads to another site, else None.

        Browsers read ``\\`` as ``/`` in web URLs, so ``/\\evil.org`` is
        protocol-relative and ``https://evil.org\\@own`` leads to evil.org.
        """
        url = url.replace("\\", "/")
        if url.startswith("//"):
            url = "https:" + url
        elif not url[:6].lower().startswith("http"):
            return None
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").rstrip(".")
        except ValueError:
            return ""  # unparsable absolute URL: treat as external, never keep it blindly
        if parts.scheme.lower() not in ("http", "https"):
            return None
        if host == own_host or (self._internal is not None and self._internal.fullmatch(host)):
            return None
        return host

    def decide(self, url: str, own_host: str) -> LinkDecision | None:
        """None for internal links (kept as they are)."""
        host = self.external_host(url, own_host)
        if host is None:
            return None
        if host == "":  # an absolute URL with no readable host cannot be signed or trusted
            return LinkDecision("strip", url, self._default.ttl, False)
        rule = next((r for r in self._rules if r.hosts.fullmatch(host)), self._default)
        target = url.replace("\\", "/")
        if target.startswith("//"):
            target = "https:" + target  # never downgrade a protocol-relative link to http
        if rule.strip_tracking:
            target = strip_tracking(target, self._tracking)
        return LinkDecision(rule.action, target, rule.ttl, rule.direct)

    def is_direct(self, url: str) -> bool:
        """Whether the redirect endpoint may skip the interstitial for ``url``."""
        decision = self.decide(url, own_host="")
        return decision is not None and decision.direct
