"""Prometheus collectors of cookie consent, registered once per registry.

Label values stay bounded: categories come from the policy (plus
``unclassified``), methods and choices from fixed vocabularies. Unclassified
cookie names are labels too, so admins learn what to classify, but only the
first ``MAX_UNCLASSIFIED_NAMES`` distinct names of plausible shape get their
own series; every other name is counted as ``_other``.

A policy reload builds a new filter; the collectors (and the set of names
already labelled) belong to the registry and survive it.
"""

from __future__ import annotations

import logging
import re

from prometheus_client import CollectorRegistry, Counter

from ..metrics import PREFIX, Metrics, feature_collectors

log = logging.getLogger("gateway.consent")

MAX_UNCLASSIFIED_NAMES = 100
OTHER = "_other"
_PLAUSIBLE = re.compile(r"[A-Za-z0-9_.\-\[\]]{1,64}")



class ConsentMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.cookies_removed = Counter(
            f"{PREFIX}_consent_cookies_removed", "Cookies removed for lack of consent, by category, direction "
            "(request: Cookie, response: Set-Cookie) and mode (shadow: would have been removed).",
            ["category", "direction", "mode"], registry=r,
        )
        self.unclassified = Counter(
            f"{PREFIX}_consent_unclassified_cookies", "Cookies no category claims, by name (bounded; _other "
            "beyond the bound) and direction.", ["name", "direction"], registry=r,
        )
        self.decisions = Counter(
            f"{PREFIX}_consent_decisions", "Consent decisions by method (banner, api, gpc) and choice "
            "(accept_all, reject_all, custom).", ["method", "choice"], registry=r,
        )
        self.cookies_expired = Counter(
            f"{PREFIX}_consent_cookies_expired", "Expiring Set-Cookie headers sent after a withdrawal, by category.",
            ["category"], registry=r,
        )
        self.banners = Counter(
            f"{PREFIX}_consent_banners_injected", "HTML responses the banner (or the settings link) was injected "
            "into, by kind.", ["kind"], registry=r,
        )
        self.rejected_states = Counter(
            f"{PREFIX}_consent_cookie_invalid", "Requests whose consent cookie was not usable (tampered, expired, "
            "unknown key or an old consent version): counted as no decision.", registry=r,
        )
        self.receipt_failures = Counter(
            f"{PREFIX}_consent_receipt_failures", "Consent receipts that could not be written, by method.",
            ["method"], registry=r,
        )
        self._names: set[str] = set()

    def unclassified_name(self, name: str, direction: str) -> None:
        """Count one unclassified cookie under its own name while the bound allows."""
        if name in self._names:
            label = name
        elif len(self._names) < MAX_UNCLASSIFIED_NAMES and _PLAUSIBLE.fullmatch(name):
            self._names.add(name)
            label = name
            log.info("unclassified cookie seen", extra={"fields": {"cookie": name, "direction": direction}})
        else:
            label = OTHER
        self.unclassified.labels(label, direction).inc()


def consent_metrics(metrics: Metrics) -> ConsentMetrics:
    """The collectors on ``metrics.registry``, created on first use (they survive reloads)."""
    return feature_collectors(metrics, ConsentMetrics)
