"""A policy whose features need the state store: signed links (revocations) and cookie consent (receipts)."""

from __future__ import annotations

from typing import Any

from gateway.lib.keyring import KeyRing
from gateway.links.signing import LinkClaims, LinkSigner
from tests.consent.support import section as consent_section
from tests.consent.support import set_cookie_value

LINK_KEY = "raw:" + "shared-state-link-signing-key-0001"
CONSENT = "/_privacy/consent"
LINK_TARGET = "https://docs.example.org/guide"


def stateful_policy(store_url: str, **store: Any) -> dict[str, Any]:
    """Links and consent on, both backed by ``store_url``; secrets inline (write them with ``secrets_to_files``)."""
    return {
        "links": {"enabled": True, "keys": [{"id": "k1", "secret": LINK_KEY}]},
        "consent": consent_section(),
        "store": {"url": store_url, **store},
    }


def link_signer() -> LinkSigner:
    return LinkSigner(KeyRing.from_config([("k1", LINK_KEY)], "k1"), ttl=3600, bucket=1, cache_size=0)


def signed_link(url: str = LINK_TARGET) -> tuple[str, LinkClaims]:
    """The gateway path of a fresh link to ``url``, and its claims (the token id to revoke)."""
    signer = link_signer()
    token = signer.sign(url)
    return f"/_l/{token}", signer.verify(token)


def consent_cookie(set_cookies: list[str]) -> str | None:
    """``pgw_consent=...`` for a Cookie header, from a response's Set-Cookie values."""
    value = set_cookie_value(set_cookies, "pgw_consent")
    return None if value is None else f"pgw_consent={value}"
