"""The portal's signed links and its form's CSRF token.

A link token is ``kid.payload.signature``: the payload (base64url) names
what the link is for (``verify``, ``status``, ``download``), the subject it
is bound to (a verification nonce, a request id, an export id) and when it
stops working; the signature is the ring's (see :mod:`.keys`). A token for
one purpose never works for another. Whether a verification or a download
link was already used is the store's to say; a token only says that the
gateway made it and until when.

The form's CSRF token is a signature over a random value the form page puts
in an HttpOnly cookie (double submit, bound to the browser that loaded the
form).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from typing import Literal

from .keys import PortalKeys

Purpose = Literal["verify", "status", "download"]
_PURPOSES = frozenset({"verify", "status", "download"})
_SUBJECT = re.compile(r"[A-Za-z0-9-]{1,64}")
_MAX_TOKEN = 300


class TokenError(Exception):
    """A token that does not work; ``reason``: forged (not ours, damaged, another purpose) or expired."""

    def __init__(self, reason: Literal["forged", "expired"]) -> None:
        super().__init__(reason)
        self.reason = reason


def make_token(keys: PortalKeys, purpose: Purpose, subject: str, expires_at: float) -> str:
    if purpose not in _PURPOSES or not _SUBJECT.fullmatch(subject):
        raise ValueError("a token needs a known purpose and a plain subject")
    text = f"{purpose}|{subject}|{int(expires_at)}"
    payload = base64.urlsafe_b64encode(text.encode("ascii")).rstrip(b"=").decode("ascii")
    signature = keys.mac(keys.current, f"{keys.current}.{payload}")
    return f"{keys.current}.{payload}.{signature}"


def read_token(keys: PortalKeys, token: str, purpose: Purpose, now: float) -> str:
    """The subject of a ``purpose`` token that the ring signed and that has not expired (TokenError else)."""
    if not token or len(token) > _MAX_TOKEN or token.count(".") != 2 or not token.isascii():
        raise TokenError("forged")
    kid, payload, signature = token.split(".")
    expected = keys.mac(kid, f"{kid}.{payload}")
    if expected is None or not hmac.compare_digest(expected, signature):
        raise TokenError("forged")
    try:
        text = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("ascii")
        kind, subject, expires = text.split("|")
        expires_at = int(expires)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise TokenError("forged") from None
    if kind != purpose or not _SUBJECT.fullmatch(subject):
        raise TokenError("forged")
    if expires_at <= now:
        raise TokenError("expired")
    return subject


def csrf_token(keys: PortalKeys, cookie: str) -> str:
    return f"{keys.current}.{keys.mac(keys.current, 'csrf|' + cookie)}"


def csrf_ok(keys: PortalKeys, cookie: str, token: str) -> bool:
    if not cookie or token.count(".") != 1:
        return False
    kid, signature = token.split(".")
    expected = keys.mac(kid, "csrf|" + cookie)
    return expected is not None and hmac.compare_digest(expected, signature)
