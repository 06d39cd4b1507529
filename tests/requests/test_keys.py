"""The portal's ring: one subkey per use, sealing bound to what it belongs to, hashes that rotate."""

from __future__ import annotations

import pytest

from gateway.lib.keyring import KeyRing
from gateway.requests.keys import PortalKeys, Unsealable

A = "raw:" + "a-data-subject-request-key-000001"
B = "raw:" + "a-data-subject-request-key-000002"


def keys(*entries: tuple[str, str], current: str = "r1") -> PortalKeys:
    return PortalKeys(KeyRing.from_config(list(entries), current))


def test_sealed_values_open_only_with_their_binding() -> None:
    ring = keys(("r1", A))
    sealed = ring.seal(b"kari@example.no", b"DSR-1")
    assert b"kari" not in sealed and sealed[1:3] == b"r1"
    assert ring.open(sealed, b"DSR-1") == b"kari@example.no"
    with pytest.raises(Unsealable):
        ring.open(sealed, b"DSR-2")  # moved to another row
    with pytest.raises(Unsealable):
        ring.open(sealed[:-1] + bytes([sealed[-1] ^ 1]), b"DSR-1")
    with pytest.raises(Unsealable):
        ring.open(b"", b"DSR-1")
    assert ring.seal(b"x", b"a") != ring.seal(b"x", b"a")  # a fresh nonce each time
    assert ring.open_text(ring.seal_text(b"text", b"n"), b"n") == b"text"
    with pytest.raises(Unsealable):
        ring.open_text("not base64 at all!", b"n")


def test_a_rotated_ring_reads_what_the_old_key_sealed_and_another_ring_does_not() -> None:
    old = keys(("r1", A))
    sealed = old.seal(b"data", b"x")
    rotated = keys(("r1", A), ("r2", B), current="r2")
    assert rotated.open(sealed, b"x") == b"data" and rotated.seal(b"d", b"x")[1:3] == b"r2"
    with pytest.raises(Unsealable):
        keys(("r2", B), current="r2").open(sealed, b"x")
    with pytest.raises(Unsealable):
        keys(("r1", B)).open(sealed, b"x")  # same id, another secret


def test_email_hashes_ignore_case_and_space_and_are_made_under_every_key() -> None:
    ring = keys(("r1", A), ("r2", B), current="r2")
    assert ring.email_hash(" Kari@Example.NO ") == ring.email_hash("kari@example.no")
    assert ring.email_hash("kari@example.no").startswith("r2:") and "kari" not in ring.email_hash("kari@example.no")
    assert [h.split(":")[0] for h in ring.email_hashes("kari@example.no")] == ["r1", "r2"]
    assert ring.email_hash("kari@example.no") != ring.email_hash("ola@example.no")
    assert keys(("r1", A)).email_hash("a@b.no") != keys(("r1", B)).email_hash("a@b.no")


def test_the_signing_subkey_is_not_the_policy_secret() -> None:
    import base64
    import hashlib
    import hmac

    ring = keys(("r1", A))
    plain = base64.urlsafe_b64encode(hmac.new(A[4:].encode(), b"m", hashlib.sha256).digest()[:24]).rstrip(b"=")
    assert ring.mac("r1", "m") != plain.decode() and ring.mac("r9", "m") is None
