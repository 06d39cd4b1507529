"""Link tokens: sign a URL with an expiry, verify it, with a key ring (pure: no aiohttp).

A token is a compact JWT made and read by pyjwt, the one implementation of the
format: HMAC-SHA-256 (``HS256``), the signing key's id in the header (``kid``),
and these claims:

========  ==========================================================
``u``     the target URL (http or https, nothing else)
``exp``   expiry, integer epoch seconds (always present, always checked)
``iat``   issue time, integer epoch seconds
``jti``   token id: 96 random bits, base64url (what a token revocation names)
``c``     optional case id the link is bound to
``r``     optional recipient binding: a hash (see :func:`recipient_hash`), never an address
========  ==========================================================

Verification trusts nothing in the token before the signature is checked: the
length is capped before anything is parsed; the header must say ``HS256`` and
name a key id that is in the ring (the ring is the only place keys come from);
``jwt.decode`` runs with the algorithm list pinned to ``["HS256"]`` and compares
signatures in constant time; then every claim is checked for presence and type.
Time checks (``exp``, ``iat``) use the signer's clock and leeway, so they are
done here rather than by pyjwt, which would read the wall clock.

Each failure is a :class:`TokenExpired` or a :class:`TokenInvalid` whose
``reason`` is a stable word for metrics and logs; no message ever repeats the
token.

Token cache (speed): pyjwt's encode costs about 15 µs, and a helpdesk page
carries the same links on every view. :meth:`LinkSigner.sign` therefore rounds
``exp`` UP to the next boundary of an expiry bucket and keeps the token per
``(url, case, recipient, exp)`` in a bounded LRU. The bucket is whole seconds,
by default ``ttl / 20`` capped at 60 s and at least 1 s: a 7-day link lives
at most 60 s longer, a 10-minute link 30 s, and a TTL under 40 s gets a
1-second bucket, its exact expiry (``exp`` is whole seconds). Within one
bucket the same URL gets the same token, same ``jti`` included: a link is
valid for at least ``ttl`` and at most ``ttl + bucket`` seconds (plus the
verifier's leeway for clock skew), and **revoking that jti revokes every copy
of the shared token** (every page view in that bucket that received it).
Revoke by case or recipient to reach links regardless of how they were shared.
A signer made with ``bucket=1, cache_size=0`` (the command line's) signs each
link on its own with its exact expiry.

Keys and their rotation are :mod:`gateway.lib.keyring`'s; the consent cookie
uses the same ring.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt

from ..lib.keyring import KeyRing

ALGORITHM = "HS256"
DEFAULT_CACHE_SIZE = 10_000
MAX_BUCKET_SECONDS = 60
BUCKET_FRACTION = 20  # the default bucket is at most this fraction (1/20) of the TTL
MAX_BINDING_CHARS = 256
MAX_JTI_CHARS = 64

_HEADER_FIELDS = frozenset({"alg", "kid", "typ"})
_CLAIMS = frozenset({"u", "exp", "iat", "jti", "c", "r"})
_REQUIRED = ["exp", "iat", "jti", "u"]
_DECODE_OPTIONS: Any = {
    "require": _REQUIRED,
    # Time is checked below with the signer's own clock and leeway.
    "verify_exp": False,
    "verify_iat": False,
    "verify_nbf": False,
}

#: Reason words of :class:`TokenInvalid`, with what each means.
INVALID_REASONS: dict[str, str] = {
    "malformed": "not a well-formed token",
    "too_large": "token longer than allowed",
    "bad_alg": "algorithm other than HS256 (none, HS384, RS256 ...)",
    "unknown_key": "key id missing or not in the key ring",
    "bad_signature": "signature does not match",
    "missing_claim": "a required claim is missing",
    "bad_claim": "a claim has the wrong type or value",
}


class TokenError(Exception):
    """A link token was refused; ``reason`` is a stable word for metrics and logs."""

    reason: str

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class TokenExpired(TokenError):
    """The token is authentic and well-formed but past ``exp`` (plus leeway).

    ``claims`` are the verified claims, for a friendly page or an inspection.
    """

    def __init__(self, claims: LinkClaims) -> None:
        super().__init__("expired", "link token expired")
        self.claims = claims


class TokenInvalid(TokenError):
    """The token is not one we issued, or not any more (see ``INVALID_REASONS``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, f"link token invalid: {INVALID_REASONS[reason]}")


@dataclass(frozen=True, slots=True)
class LinkClaims:
    """What a verified token says. ``recipient`` is a hash, never an address."""

    url: str
    exp: int
    iat: int
    jti: str
    case: str | None = None
    recipient: str | None = None
    kid: str = ""  # the key that signed it (for inspection; not a claim)


def recipient_hash(address: str, salt: bytes) -> str:
    """The recipient binding for an e-mail address: keyed, so it cannot be reversed
    by hashing a list of addresses. Case-insensitive; 128 bits, base64url.

    Use one stable salt for the deployment (not the rotating link key), so
    that recipient revocations keep matching after a key rotation.
    """
    digest = hmac.new(salt, address.strip().lower().encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


def is_link_url(url: object) -> bool:
    """True for an absolute http(s) URL with a host and no control characters."""
    if not isinstance(url, str) or not url or url != url.strip():
        return False
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc) and bool(parts.hostname)


def _is_binding(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_BINDING_CHARS and value.isprintable()


def _is_time(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds")
    return float(value)


CacheKey = tuple[str, "str | None", "str | None", int]


class LinkSigner:
    """Signs URLs into tokens and verifies tokens back into :class:`LinkClaims`.

    ``ttl``: default lifetime in seconds; ``leeway``: clock skew tolerated on
    ``exp`` and ``iat``; ``clock``: epoch seconds; ``max_token_bytes``: longer
    tokens are refused unread (and never issued); ``bucket``: expiry bucket in
    whole seconds (default ``ttl / 20``, at most 60 and at least 1, for each TTL
    used; 1 is the exact expiry);
    ``cache_size``: tokens kept (LRU), 0 turns the cache off.
    Not thread-safe: one signer per event loop (workers are processes).
    """

    def __init__(
        self,
        ring: KeyRing,
        *,
        ttl: float,
        leeway: float = 30,
        clock: Callable[[], float] = time.time,
        max_token_bytes: int = 4096,
        bucket: float | None = None,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self._ring = ring
        self._ttl = _positive("ttl", ttl)
        if isinstance(leeway, bool) or not isinstance(leeway, (int, float)) or not 0 <= leeway < math.inf:
            raise ValueError("leeway must be zero or a positive number of seconds")
        self._leeway = float(leeway)
        self._clock = clock
        if isinstance(max_token_bytes, bool) or not isinstance(max_token_bytes, int) or max_token_bytes < 256:
            raise ValueError("max_token_bytes must be an integer of at least 256")
        self._max_token_bytes = max_token_bytes
        self._fixed_bucket = None if bucket is None else max(1, math.ceil(_positive("bucket", bucket)))
        self._default_bucket = self._bucket_for(self._ttl)
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise ValueError("cache_size must be a non-negative integer")
        self._cache_size = cache_size
        self._cache: OrderedDict[CacheKey, str] = OrderedDict()

    @property
    def ring(self) -> KeyRing:
        return self._ring

    @property
    def ttl(self) -> float:
        return self._ttl

    def _bucket_for(self, ttl: float) -> int:
        if self._fixed_bucket is not None:
            return self._fixed_bucket
        return max(1, min(MAX_BUCKET_SECONDS, math.floor(ttl / BUCKET_FRACTION)))

    def sign(
        self,
        url: str,
        *,
        ttl: float | None = None,
        case: str | None = None,
        recipient: str | None = None,
    ) -> str:
        """A token for ``url`` valid for at least ``ttl`` seconds (at most ``ttl + bucket``).

        Within one expiry bucket the same ``(url, case, recipient)`` gets the same
        token. ValueError for a URL that is not absolute http(s), a binding that
        is not a short printable string, a recipient that looks like an address,
        or a token that would be longer than ``max_token_bytes``.
        """
        now = self._clock()
        if ttl is None:
            ttl, bucket = self._ttl, self._default_bucket
        else:
            ttl = _positive("ttl", ttl)
            bucket = self._bucket_for(ttl)
        deadline = math.ceil(now + ttl)
        exp = -(-deadline // bucket) * bucket  # next bucket boundary, exp >= now + ttl
        key: CacheKey = (url, case, recipient, exp)
        cache = self._cache
        token = cache.get(key)
        if token is not None:
            cache.move_to_end(key)
            return token
        token = self._encode(url, exp, int(now), case, recipient)
        if self._cache_size:
            cache[key] = token
            if len(cache) > self._cache_size:
                cache.popitem(last=False)
        return token

    def _encode(self, url: str, exp: int, iat: int, case: str | None, recipient: str | None) -> str:
        if not is_link_url(url):
            raise ValueError("only absolute http(s) URLs without control characters can be signed")
        payload: dict[str, Any] = {"u": url, "exp": exp, "iat": iat, "jti": secrets.token_urlsafe(12)}
        if case is not None:
            if not _is_binding(case):
                raise ValueError(f"case must be 1-{MAX_BINDING_CHARS} printable characters")
            payload["c"] = case
        if recipient is not None:
            if not _is_binding(recipient) or "@" in recipient:
                raise ValueError("recipient must be a hash of the address (recipient_hash), never the address")
            payload["r"] = recipient
        current = self._ring.current
        token = jwt.encode(payload, current.secret, algorithm=ALGORITHM, headers={"kid": current.kid})
        if len(token) > self._max_token_bytes:
            raise ValueError(f"the token for this URL would exceed {self._max_token_bytes} bytes")
        return token

    def clear_cache(self) -> None:
        self._cache.clear()

    def verify(self, token: str) -> LinkClaims:
        """The claims of a token we issued; TokenExpired or TokenInvalid otherwise."""
        if not isinstance(token, str):
            raise TokenInvalid("malformed")
        if len(token) > self._max_token_bytes:
            raise TokenInvalid("too_large")
        if not token.isascii():
            raise TokenInvalid("malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenInvalid("malformed") from None
        if header.get("alg") != ALGORITHM:
            raise TokenInvalid("bad_alg")
        kid = header.get("kid")
        key = self._ring.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise TokenInvalid("unknown_key")
        if not header.keys() <= _HEADER_FIELDS or header.get("typ", "JWT") != "JWT":
            raise TokenInvalid("malformed")
        try:
            payload = jwt.decode(
                token, key.secret, algorithms=[ALGORITHM], options=_DECODE_OPTIONS, leeway=self._leeway
            )
        except jwt.InvalidSignatureError:
            raise TokenInvalid("bad_signature") from None
        except jwt.MissingRequiredClaimError:
            raise TokenInvalid("missing_claim") from None
        except jwt.InvalidAlgorithmError:
            raise TokenInvalid("bad_alg") from None
        except jwt.DecodeError:
            raise TokenInvalid("malformed") from None
        except jwt.PyJWTError:
            raise TokenInvalid("bad_claim") from None
        return self._claims(payload, key.kid)

    def _claims(self, payload: dict[str, Any], kid: str) -> LinkClaims:
        url, exp, iat, jti = payload["u"], payload["exp"], payload["iat"], payload["jti"]
        case, recipient = payload.get("c"), payload.get("r")
        if (
            not payload.keys() <= _CLAIMS
            or not is_link_url(url)
            or not _is_time(exp)
            or not _is_time(iat)
            or iat > exp
            or not isinstance(jti, str)
            or not 0 < len(jti) <= MAX_JTI_CHARS
            or (case is not None and not _is_binding(case))
            or (recipient is not None and not _is_binding(recipient))
        ):
            raise TokenInvalid("bad_claim")
        now = self._clock()
        if iat > now + self._leeway:
            raise TokenInvalid("bad_claim")
        claims = LinkClaims(url=url, exp=exp, iat=iat, jti=jti, case=case, recipient=recipient, kid=kid)
        if exp <= now - self._leeway:
            raise TokenExpired(claims)
        return claims
