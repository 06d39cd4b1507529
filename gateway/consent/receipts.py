"""Receipts: proof of every consent decision (GDPR Art. 7(1)), written to the state store.

A receipt holds the consent id, the time, the choice for every category, the
consent version, the SHA-256 of the banner text shown, the method (banner,
api, gpc), the client address truncated to /24 (IPv4) or /48 (IPv6), a
coarse user-agent family and the page path without query. Never a raw
address, a full user agent or a query string.

Old receipts are deleted after ``store.receipt_retention``: by
``privacy-gateway consent expire`` (run it daily), and opportunistically by
the gateway itself, at most once an hour per process, after writing one.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Mapping

from ..logs import IPMasker
from ..policy.consent import NECESSARY
from ..store import ConsentMethod, ConsentReceipt, Store

log = logging.getLogger("gateway.consent")

EXPIRY_INTERVAL = 3600.0
MAX_PATH_CHARS = 512

_mask = IPMasker("truncated")
_last_expiry: weakref.WeakKeyDictionary[Store, float] = weakref.WeakKeyDictionary()

# Checked in order: Edge and Opera also say Chrome, Chrome also says Safari.
_FAMILIES = (
    ("Edg/", "Edge"), ("EdgA/", "Edge"), ("EdgiOS/", "Edge"), ("OPR/", "Opera"), ("SamsungBrowser/", "Samsung"),
    ("Firefox/", "Firefox"), ("FxiOS/", "Firefox"), ("CriOS/", "Chrome"), ("Chrome/", "Chrome"),
    ("Chromium/", "Chrome"), ("Safari/", "Safari"),
)


def user_agent_family(user_agent: str) -> str:
    """A coarse browser family (Chrome, Firefox, Safari, Edge, Opera, Samsung) or ``other``; never the UA itself."""
    head = user_agent[:512]
    for marker, family in _FAMILIES:
        if marker in head:
            return family
    return "other"


def page_path(path: str) -> str:
    """A path fit for a receipt: no query or fragment, bounded; empty when not a path."""
    path = path.partition("?")[0].partition("#")[0]
    if not path.startswith("/") or not path.isprintable():
        return ""
    return path[:MAX_PATH_CHARS]


def make_receipt(
    *,
    consent_id: str,
    choices: Mapping[str, bool],
    version: str,
    text_hash: str,
    method: ConsentMethod,
    client_ip: str,
    user_agent: str,
    path: str,
    now: float | None = None,
) -> ConsentReceipt:
    return ConsentReceipt(
        consent_id=consent_id,
        created_at=time.time() if now is None else now,
        choices={NECESSARY: True, **choices},
        consent_version=version,
        text_hash=text_hash,
        method=method,
        ip_truncated=_mask(client_ip),
        user_agent_family=user_agent_family(user_agent),
        page_path=page_path(path),
    )


async def record(store: Store | None, receipt: ConsentReceipt, retention: float | None) -> bool:
    """Write ``receipt``; False (logged) when the store is missing or fails. Expires old receipts hourly."""
    if store is None:
        log.error("consent receipt not written: no state store")
        return False
    try:
        await store.add_receipt(receipt)
    except Exception as exc:  # any backend failure: the caller decides what an unproven decision means
        log.error("consent receipt not written", extra={"fields": {"error": type(exc).__name__}})
        return False
    if retention is not None:
        now = time.time()
        if now - _last_expiry.get(store, 0.0) >= EXPIRY_INTERVAL:
            _last_expiry[store] = now
            try:
                removed = await store.expire_receipts(now - retention)
            except Exception as exc:
                log.warning("expiring old consent receipts failed", extra={"fields": {"error": type(exc).__name__}})
            else:
                if removed:
                    log.info("old consent receipts expired", extra={"fields": {"removed": removed}})
    return True
