"""What proves a submission's legal basis without keeping the person's data: keyed e-mail hashes, and the
signed cookie that lets the same browser withdraw what it gave.

``email_hash`` is ``kid:`` and 32 hex digits of an HMAC-SHA256 over the
address (trimmed, case-folded) with that key: the same address gives the same
hash, so records can be found by address (``legal-basis show --email``), and
the address cannot be read back without the key. Lookups try every key of
the ring, so records made before a rotation are still found.

The *withdrawal cookie* holds the ids of the consent records this browser
made (the newest :data:`MAX_IDS`), signed with the ring's current key:
``kid.payload.signature``. A cookie that does not verify is ignored, never
trusted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from ..lib.keyring import KeyRing

MAX_IDS = 10
COOKIE = "pgw_legal_basis"
_ID = re.compile(r"[0-9a-f]{32}")


def email_hashes(ring: KeyRing, email: str) -> list[str]:
    """The address's hash under every key of the ring, the current key's first."""
    return [_email_hash(ring, kid, email) for kid in ring.kids]


def email_hash(ring: KeyRing, email: str) -> str:
    return _email_hash(ring, ring.current.kid, email)


def _email_hash(ring: KeyRing, kid: str, email: str) -> str:
    key = ring.get(kid)
    assert key is not None
    digest = hmac.new(key.secret, email.strip().casefold().encode("utf-8", "surrogateescape"), hashlib.sha256)
    return f"{kid}:{digest.hexdigest()[:32]}"


def sign_ids(ring: KeyRing, ids: list[str]) -> str:
    payload = base64.urlsafe_b64encode(",".join(ids[-MAX_IDS:]).encode("ascii")).rstrip(b"=").decode("ascii")
    key = ring.current
    return f"{key.kid}.{payload}.{_signature(key.secret, payload)}"


def verified_ids(ring: KeyRing, value: str | None) -> list[str]:
    """The record ids a withdrawal cookie holds; [] when it is absent or does not verify."""
    if not value or value.count(".") != 2:
        return []
    kid, payload, signature = value.split(".")
    key = ring.get(kid)
    if key is None or not hmac.compare_digest(_signature(key.secret, payload), signature):
        return []
    try:
        text = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return []
    return [i for i in text.split(",") if _ID.fullmatch(i)][-MAX_IDS:]


def csrf_token(ring: KeyRing, cookie: str) -> str:
    """The token a withdrawal form must send back: bound to this browser's cookie."""
    return _signature(ring.current.secret, "csrf:" + cookie)


def csrf_ok(ring: KeyRing, cookie: str, token: str) -> bool:
    return any(hmac.compare_digest(_signature(ring.get(kid).secret, "csrf:" + cookie), token)  # type: ignore[union-attr]
               for kid in ring.kids)


def _signature(secret: bytes, payload: str) -> str:
    mac = hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:24]).rstrip(b"=").decode("ascii")
