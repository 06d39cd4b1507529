"""The portal's key ring, put to three uses: signing, e-mail hashes, and encryption at rest (AES-GCM).

Each policy key is stretched with HKDF-SHA256 into one subkey per use, so no
key signs with the bytes it encrypts with. What is signed, hashed or sealed
names the key id that made it; every key of the ring reads, the current one
writes, so keys rotate like the other rings of the policy.

- ``email_hash``: ``kid:`` and 32 hex digits of an HMAC over the address
  (trimmed, case-folded): the store finds a requester's requests by it and
  cannot read the address back.
- ``seal``: AES-256-GCM with a random 96-bit nonce; ``aad`` binds a sealed
  value to what it belongs to (a request id, an export id), so a value cannot
  be moved to another row and still open.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..lib.keyring import KeyRing

_INFO = b"privacy-gateway data-subject requests v1 "
_NONCE_BYTES = 12


class Unsealable(Exception):
    """A sealed value that does not open: another key, another binding, or damaged."""


@dataclass(frozen=True, slots=True)
class _Subkeys:
    sign: bytes = field(repr=False)
    hash: bytes = field(repr=False)
    seal: AESGCM = field(repr=False)


def _derive(secret: bytes, use: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO + use.encode()).derive(secret)


class PortalKeys:
    """The ring's subkeys by key id; the ring's current key writes."""

    def __init__(self, ring: KeyRing) -> None:
        self.current = ring.current.kid
        self._keys: dict[str, _Subkeys] = {}
        for kid in ring.kids:
            key = ring.get(kid)
            assert key is not None
            self._keys[kid] = _Subkeys(_derive(key.secret, "sign"), _derive(key.secret, "email-hash"),
                                       AESGCM(_derive(key.secret, "seal")))

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    # -- signing --------------------------------------------------------------------------------------------

    def mac(self, kid: str, message: str) -> str | None:
        """The signature of ``message`` with key ``kid`` (24 bytes, base64url); None for an unknown key."""
        keys = self._keys.get(kid)
        if keys is None:
            return None
        digest = hmac.new(keys.sign, message.encode("utf-8"), hashlib.sha256).digest()[:24]
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    # -- e-mail hashes ----------------------------------------------------------------------------------------

    def email_hash(self, email: str) -> str:
        return self._email_hash(self.current, email)

    def email_hashes(self, email: str) -> list[str]:
        """The address's hash under every key, the current key's first (lookups across a rotation)."""
        return [self._email_hash(kid, email) for kid in self._keys]

    def _email_hash(self, kid: str, email: str) -> str:
        normal = email.strip().casefold().encode("utf-8", "surrogateescape")
        return f"{kid}:{hmac.new(self._keys[kid].hash, normal, hashlib.sha256).hexdigest()[:32]}"

    # -- sealing ----------------------------------------------------------------------------------------------

    def seal(self, plain: bytes, aad: bytes) -> bytes:
        """``kid`` (length-prefixed), nonce, ciphertext and tag."""
        kid = self.current.encode("ascii")
        nonce = os.urandom(_NONCE_BYTES)
        return bytes([len(kid)]) + kid + nonce + self._keys[self.current].seal.encrypt(nonce, plain, aad)

    def open(self, sealed: bytes, aad: bytes) -> bytes:
        if not sealed:
            raise Unsealable("empty")
        size = sealed[0]
        kid = sealed[1:1 + size].decode("ascii", "replace")
        keys = self._keys.get(kid)
        body = sealed[1 + size:]
        if keys is None or len(body) < _NONCE_BYTES + 16:
            raise Unsealable("unknown key" if keys is None else "truncated")
        try:
            return keys.seal.decrypt(body[:_NONCE_BYTES], body[_NONCE_BYTES:], aad)
        except InvalidTag:
            raise Unsealable("does not open") from None

    def seal_text(self, plain: bytes, aad: bytes) -> str:
        """:meth:`seal` as base64url text, for a TEXT column."""
        return base64.urlsafe_b64encode(self.seal(plain, aad)).decode("ascii")

    def open_text(self, sealed: str, aad: bytes) -> bytes:
        try:
            raw = base64.urlsafe_b64decode(sealed.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise Unsealable("not base64") from None
        return self.open(raw, aad)
