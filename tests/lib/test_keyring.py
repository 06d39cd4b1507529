"""Key ids, secrets from policy text, and the ring that rotates them."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from gateway.lib.keyring import KeyRing, SigningKey, decode_secret

SECRET_1 = bytes(range(32))
SECRET_2 = bytes(range(100, 148))


def test_key_ring_validation() -> None:
    with pytest.raises(ValueError, match="more than once"):
        KeyRing([SigningKey("k1", SECRET_1), SigningKey("k1", SECRET_2)], "k1")
    with pytest.raises(ValueError, match="not in the key ring"):
        KeyRing([SigningKey("k1", SECRET_1)], "k2")
    with pytest.raises(ValueError, match="not in the key ring"):
        KeyRing([], "k1")
    r = KeyRing([SigningKey("k1", SECRET_1), SigningKey("k2", SECRET_2)], "k1")
    assert r.current.kid == "k1" and r.kids == ("k1", "k2") and len(r) == 2
    assert r.get("k2") is not None and r.get("k3") is None and "k2" in r
    assert "secret" not in repr(r) and repr(SECRET_1) not in repr(r)


@pytest.mark.parametrize(
    ("kid", "secret", "message"),
    [
        ("k1", b"x" * 31, "at least 32 bytes"),
        ("k1", b"", "at least 32 bytes"),
        ("k1", "x" * 32, "must be bytes"),
        ("", SECRET_1, "key id"),
        ("a b", SECRET_1, "key id"),
        ("k" * 65, SECRET_1, "key id"),
        ("ké", SECRET_1, "key id"),
    ],
)
def test_signing_key_validation(kid: str, secret: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SigningKey(kid, secret)


def test_signing_key_repr_hides_secret() -> None:
    key = SigningKey("k1", SECRET_1)
    assert "k1" in repr(key) and repr(SECRET_1) not in repr(key) and "secret" not in repr(key)


def test_key_material_from_config() -> None:
    raw32 = bytes(range(200, 232))
    std = base64.b64encode(raw32).decode()
    url = base64.urlsafe_b64encode(raw32).decode().rstrip("=")
    assert decode_secret(std) == raw32
    assert decode_secret(url) == raw32
    assert decode_secret(f"base64:{url}") == raw32
    assert decode_secret(f"hex:{raw32.hex()}") == raw32
    assert decode_secret("raw:" + "p" * 40) == b"p" * 40
    passphrase = "correct horse battery staple, twice over"
    assert decode_secret(passphrase) == passphrase.encode()
    assert decode_secret("æøå" * 11) == ("æøå" * 11).encode()
    # Base64 text that decodes to fewer than 32 bytes is taken as a raw passphrase.
    short_b64 = base64.b64encode(b"y" * 24).decode()
    assert decode_secret(short_b64) == short_b64.encode()
    r = KeyRing.from_config([("old", std), ("new", passphrase)], current="new")
    assert r.get("old") == SigningKey("old", raw32)
    assert r.current == SigningKey("new", passphrase.encode())
    with pytest.raises(ValueError, match="at least 32 bytes"):
        KeyRing.from_config([("k1", "too-short")], current="k1")
    with pytest.raises(ValueError, match="at least 32 bytes"):
        KeyRing.from_config([("k1", "base64:" + base64.b64encode(b"z" * 16).decode())], current="k1")
    with pytest.raises(ValueError, match="not base64"):
        decode_secret("base64:!!!")
    with pytest.raises(ValueError, match="not hexadecimal"):
        decode_secret("hex:xyz")
