"""The consent cookie: the visitor's choices, signed and encrypted (Fernet, with a key ring).

The cookie holds a small JSON document encrypted with Fernet (AES-128-CBC and
HMAC-SHA-256, from ``cryptography``). Each policy key is stretched with HKDF
into a Fernet key; a :class:`~cryptography.fernet.MultiFernet` encrypts with
the first key and decrypts with any, so keys rotate by putting a new key
first and removing the old one once every cookie made with it has expired.

Decoding never raises: a tampered, truncated, expired, oversized or
undecryptable cookie, or one made with a removed key, is simply no consent.
Decrypting costs about 7 µs, so decoded cookies are kept in a bounded dict
keyed by the token (only authentic tokens get there; the age is checked on
every use).
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..lib.bounded import remember

StateMethod = Literal["banner", "api", "gpc"]
METHODS: frozenset[str] = frozenset({"banner", "api", "gpc"})
MAX_TOKEN_CHARS = 4096
MAX_CHOICES = 64
_HKDF_INFO = b"privacy-gateway consent cookie v1"
_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
_WS = " \t"


def new_consent_id() -> str:
    """A random consent id: 128 bits, base64url (22 characters)."""
    return secrets.token_urlsafe(16)


@dataclass(frozen=True, slots=True)
class ConsentState:
    """One visitor's decision as the cookie carries it.

    ``choices`` holds the categories the visitor was asked about (necessary
    is never in it); ``issued_at`` is the encryption time (epoch seconds).
    """

    consent_id: str
    version: str
    choices: Mapping[str, bool]
    method: StateMethod
    issued_at: float = field(default=0.0, compare=False)


def derive_fernet_key(secret: bytes) -> bytes:
    """The Fernet key (urlsafe base64 of 32 bytes) stretched from a policy secret."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(secret)
    return base64.urlsafe_b64encode(raw)


def _parse(plain: bytes, issued_at: float) -> ConsentState | None:
    try:
        doc = orjson.loads(plain)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    consent_id, version, choices, method = doc.get("i"), doc.get("v"), doc.get("c"), doc.get("m")
    if not (isinstance(consent_id, str) and _ID.fullmatch(consent_id)):
        return None
    if not isinstance(version, str) or method not in METHODS or not isinstance(choices, dict):
        return None
    if len(choices) > MAX_CHOICES or not all(
        isinstance(k, str) and isinstance(v, bool) for k, v in choices.items()
    ):
        return None
    return ConsentState(consent_id, version, dict(choices), method, issued_at)


class StateCodec:
    """Encrypts and decrypts consent states with the policy's key ring (first key encrypts)."""

    def __init__(self, secrets_: Sequence[bytes], *, max_age: float, cache_size: int = 4096) -> None:
        if not secrets_:
            raise ValueError("the consent cookie needs at least one key")
        self._fernet = MultiFernet([Fernet(derive_fernet_key(s)) for s in secrets_])
        self.max_age = max_age
        self._cache: dict[str, ConsentState] = {}
        self._cache_size = cache_size

    def encode(self, state: ConsentState, *, now: float | None = None) -> str:
        doc = {"i": state.consent_id, "v": state.version, "c": dict(state.choices), "m": state.method}
        at = int(time.time() if now is None else now)
        return self._fernet.encrypt_at_time(orjson.dumps(doc), at).decode("ascii")

    def decode(self, token: str, *, now: float | None = None) -> ConsentState | None:
        """The state in ``token``, or None if it is not an authentic, unexpired cookie of ours."""
        current = time.time() if now is None else now
        state = self._cache.get(token)
        if state is None:
            state = self._decrypt(token, current)
            if state is None:
                return None
            remember(self._cache, token, state, self._cache_size)
        if current - state.issued_at > self.max_age:
            return None
        return state

    def _decrypt(self, token: str, now: float) -> ConsentState | None:
        if not token or len(token) > MAX_TOKEN_CHARS or not token.isascii():
            return None
        data = token.encode("ascii")
        try:
            plain = self._fernet.decrypt_at_time(data, int(self.max_age), int(now))
            issued = self._fernet.extract_timestamp(data)
        except (InvalidToken, InvalidSignature, ValueError, TypeError):
            return None
        return _parse(plain, float(issued))

    def first_valid(self, tokens: Iterable[str], *, now: float | None = None) -> ConsentState | None:
        """The first authentic state among several cookies of our name (browsers send the most specific first)."""
        for token in tokens:
            state = self.decode(token, now=now)
            if state is not None:
                return state
        return None


def cookie_values(headers: Iterable[str], name: str) -> list[str]:
    """Values of every cookie called ``name`` in Cookie headers, in order; quotes around a value removed."""
    found: list[str] = []
    for header in headers:
        if name not in header:
            continue
        for pair in header.split(";"):
            key, sep, value = pair.partition("=")
            if sep and key.strip(_WS) == name:
                value = value.strip(_WS)
                if len(value) >= 2 and value[0] == value[-1] == '"':
                    value = value[1:-1]
                found.append(value)
    return found


def state_cookie(
    name: str, token: str, *, max_age: int, path: str, domain: str | None, secure: bool, same_site: str
) -> str:
    """The Set-Cookie value that stores ``token``: HttpOnly, with the policy's attributes."""
    parts = [f"{name}={token}", f"Max-Age={max_age}", f"Path={path}"]
    if domain:
        parts.append(f"Domain={domain}")
    parts.append(f"SameSite={same_site.capitalize()}")
    parts.append("HttpOnly")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)
