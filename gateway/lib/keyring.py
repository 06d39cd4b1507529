"""Secret keys with ids, and a ring of them that rotates (pure: no aiohttp).

Link tokens and the consent cookie are both keyed from a ring: one current key
signs (or encrypts), every key in the ring verifies, so a key can be rotated
without cutting off what the previous key made. Key material comes from policy
text (:func:`decode_secret`) and is never shown by ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from jwt.utils import is_pem_format, is_ssh_key

MIN_SECRET_BYTES = 32

_KID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_B64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One HMAC key: an id that goes in the token header, and the secret (never shown)."""

    kid: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.kid, str) or not _KID.fullmatch(self.kid):
            raise ValueError("key id must be 1-64 characters of A-Z a-z 0-9 . _ -")
        if not isinstance(self.secret, bytes):
            raise ValueError(f"key {self.kid!r}: secret must be bytes")
        if len(self.secret) < MIN_SECRET_BYTES:
            raise ValueError(f"key {self.kid!r}: secret must be at least {MIN_SECRET_BYTES} bytes")
        if is_pem_format(self.secret) or is_ssh_key(self.secret):
            raise ValueError(f"key {self.kid!r}: secret looks like a public or private key, not an HMAC secret")


def decode_secret(text: str) -> bytes:
    """Key material from configuration text, as bytes.

    - ``base64:<b64>``, ``hex:<hex>``, ``raw:<text>`` say explicitly how to read it;
    - otherwise text made only of base64 or base64url characters (padding
      optional) that decodes to at least 32 bytes is decoded (``openssl rand
      -base64 32``); a hex string counts as base64 here, which keeps all its entropy;
    - otherwise the text's UTF-8 bytes are the secret (a passphrase of 32+ characters).

    The 32-byte minimum is enforced by :class:`SigningKey`.
    """
    prefix, colon, rest = text.partition(":")
    if colon and prefix == "base64":
        return _b64decode(rest.strip())
    if colon and prefix == "hex":
        try:
            return bytes.fromhex(rest.strip())
        except ValueError:
            raise ValueError("secret marked hex: is not hexadecimal") from None
    if colon and prefix == "raw":
        return rest.encode("utf-8")
    stripped = text.strip()
    if _B64.fullmatch(stripped):
        try:
            decoded = _b64decode(stripped)
        except ValueError:
            decoded = b""
        if len(decoded) >= MIN_SECRET_BYTES:
            return decoded
    return text.encode("utf-8")


def _b64decode(text: str) -> bytes:
    if "-" in text or "_" in text:
        if "+" in text or "/" in text:
            raise ValueError("secret mixes the base64 and base64url alphabets")
        text = text.replace("-", "+").replace("_", "/")
    text = text.rstrip("=")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("secret marked base64: is not base64") from None


class KeyRing:
    """Signing keys by id: one current key signs, every key in the ring verifies.

    Rotation: add the new key, make it current, keep the old one until the
    longest TTL (plus bucket) has passed, then remove it; its tokens then fail
    with ``unknown_key``.
    """

    __slots__ = ("_current", "_keys")

    def __init__(self, keys: Sequence[SigningKey], current: str) -> None:
        by_id: dict[str, SigningKey] = {}
        for key in keys:
            if key.kid in by_id:
                raise ValueError(f"key id {key.kid!r} appears more than once in the key ring")
            by_id[key.kid] = key
        if current not in by_id:
            raise ValueError(f"current key {current!r} is not in the key ring")
        self._keys = by_id
        self._current = by_id[current]

    @classmethod
    def from_config(cls, entries: Sequence[tuple[str, str]], current: str) -> KeyRing:
        """A ring from ``(kid, secret text)`` pairs; see :func:`decode_secret` for the text."""
        return cls([SigningKey(kid, decode_secret(secret)) for kid, secret in entries], current)

    @property
    def current(self) -> SigningKey:
        return self._current

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def get(self, kid: str) -> SigningKey | None:
        return self._keys.get(kid)

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"KeyRing(kids={list(self._keys)!r}, current={self._current.kid!r})"
