"""Keyed e-mail hashes, and the signed cookie of this browser's consent records."""

from __future__ import annotations

from gateway.legal import proof
from gateway.lib.keyring import KeyRing

OLD = KeyRing.from_config([("k1", "raw:" + "x" * 40)], "k1")
RING = KeyRing.from_config([("k2", "raw:" + "y" * 40), ("k1", "raw:" + "x" * 40)], "k2")
IDS = ["a" * 32, "b" * 32]


def test_the_same_address_gives_the_same_hash_under_each_key() -> None:
    assert proof.email_hash(RING, " Kari@Example.NO ") == proof.email_hash(RING, "kari@example.no")
    assert proof.email_hash(RING, "kari@example.no").startswith("k2:")
    assert proof.email_hashes(RING, "kari@example.no")[1] == proof.email_hash(OLD, "kari@example.no")
    assert "kari" not in proof.email_hash(RING, "kari@example.no")


def test_the_cookie_verifies_after_rotation_and_a_forgery_does_not() -> None:
    cookie = proof.sign_ids(OLD, IDS)
    assert proof.verified_ids(RING, cookie) == IDS
    kid, payload, signature = cookie.split(".")
    assert proof.verified_ids(RING, f"{kid}.{payload}.{'A' * len(signature)}") == []
    assert proof.verified_ids(RING, "nonsense") == [] and proof.verified_ids(RING, None) == []
    assert len(proof.verified_ids(RING, proof.sign_ids(RING, [f"{i:032x}" for i in range(30)]))) == proof.MAX_IDS


def test_the_csrf_token_is_bound_to_the_cookie() -> None:
    token = proof.csrf_token(RING, "cookie-a")
    assert proof.csrf_ok(RING, "cookie-a", token) and not proof.csrf_ok(RING, "cookie-b", token)
