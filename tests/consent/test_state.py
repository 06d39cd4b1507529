"""The consent cookie: encryption, tampering, key rotation, expiry, and reading it from Cookie headers."""

from __future__ import annotations

import base64

import pytest
from cryptography.fernet import Fernet

from gateway.consent.state import (
    MAX_TOKEN_CHARS,
    ConsentState,
    StateCodec,
    cookie_values,
    derive_fernet_key,
    new_consent_id,
    state_cookie,
)

A = b"a" * 32
B = b"b" * 40
NOW = 1_700_000_000.0
STATE = ConsentState("abcdefghijklmnopqrstuv", "v1", {"analytics": True, "marketing": False}, "banner")


def codec(*keys: bytes, max_age: float = 3600) -> StateCodec:
    return StateCodec(list(keys or (A,)), max_age=max_age)


def test_round_trip_keeps_every_field_and_records_the_time() -> None:
    c = codec()
    token = c.encode(STATE, now=NOW)
    assert token.isascii() and ";" not in token and " " not in token
    decoded = c.decode(token, now=NOW + 10)
    assert decoded == STATE
    assert decoded is not None and decoded.issued_at == NOW


def test_the_cookie_is_encrypted_not_just_signed() -> None:
    token = codec().encode(STATE, now=NOW)
    raw = base64.urlsafe_b64decode(token)
    assert b"analytics" not in raw and b"abcdefghij" not in raw


def test_rotation_first_key_encrypts_every_key_decrypts() -> None:
    old = codec(A).encode(STATE, now=NOW)
    ring = codec(B, A)
    assert ring.decode(old, now=NOW) == STATE
    new = ring.encode(STATE, now=NOW)
    assert codec(B).decode(new, now=NOW) == STATE
    assert codec(A).decode(new, now=NOW) is None  # made with B
    assert codec(B).decode(old, now=NOW) is None  # A was removed from the ring


def test_keys_are_stretched_not_used_raw() -> None:
    key = derive_fernet_key(A)
    assert len(base64.urlsafe_b64decode(key)) == 32 and key != base64.urlsafe_b64encode(A)
    assert derive_fernet_key(A) == key and derive_fernet_key(B) != key


def test_expired_cookies_are_no_consent_even_from_the_cache() -> None:
    c = codec(max_age=100)
    token = c.encode(STATE, now=NOW)
    assert c.decode(token, now=NOW + 50) == STATE  # now cached
    assert c.decode(token, now=NOW + 101) is None
    fresh = codec(max_age=100)
    assert fresh.decode(token, now=NOW + 101) is None


def _flip(token: str, index: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[index] ^= 1
    return base64.urlsafe_b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("index", [0, 1, 9, 25, 40, -33, -1])
def test_any_flipped_bit_makes_the_cookie_worthless(index: int) -> None:
    c = codec()
    assert c.decode(_flip(c.encode(STATE, now=NOW), index), now=NOW) is None


@pytest.mark.parametrize(
    "token",
    ["", "x", "gAAAAA", "not base64 !!!", "é" * 10, "A" * (MAX_TOKEN_CHARS + 1), "\x00", "gAAAAAB" + "=" * 100],
)
def test_garbage_is_no_consent_never_an_error(token: str) -> None:
    assert codec().decode(token, now=NOW) is None


def _sealed(plain: bytes) -> tuple[StateCodec, str]:
    c = codec()
    return c, Fernet(derive_fernet_key(A)).encrypt_at_time(plain, int(NOW)).decode()


@pytest.mark.parametrize(
    "plain",
    [
        b"not json",
        b"[1, 2]",
        b'{"i": "short", "v": "v1", "c": {}, "m": "banner"}',
        b'{"i": "abcdefghijklmnopqrstuv", "v": 1, "c": {}, "m": "banner"}',
        b'{"i": "abcdefghijklmnopqrstuv", "v": "v1", "c": {"a": "yes"}, "m": "banner"}',
        b'{"i": "abcdefghijklmnopqrstuv", "v": "v1", "c": [], "m": "banner"}',
        b'{"i": "abcdefghijklmnopqrstuv", "v": "v1", "c": {}, "m": "cmp"}',
        b'{"i": "abcdefghijklmnopqrstuv", "v": "v1", "c": {}}',
    ],
)
def test_authentic_but_malformed_content_is_no_consent(plain: bytes) -> None:
    c, token = _sealed(plain)
    assert c.decode(token, now=NOW) is None


def test_too_many_choices_are_refused() -> None:
    choices = ",".join(f'"c{i}": true' for i in range(65))
    c, token = _sealed(b'{"i": "abcdefghijklmnopqrstuv", "v": "v1", "c": {' + choices.encode() + b'}, "m": "api"}')
    assert c.decode(token, now=NOW) is None


def test_the_cache_is_bounded() -> None:
    c = StateCodec([A], max_age=3600, cache_size=3)
    tokens = [c.encode(ConsentState(new_consent_id(), "v1", {}, "api"), now=NOW) for _ in range(10)]
    for token in tokens:
        assert c.decode(token, now=NOW) is not None
    assert len(c._cache) <= 3


def test_first_valid_skips_broken_duplicates() -> None:
    c = codec()
    good = c.encode(STATE, now=NOW)
    assert c.first_valid(["junk", _flip(good, 30), good], now=NOW) == STATE
    assert c.first_valid(["junk"], now=NOW) is None


def test_a_codec_needs_a_key() -> None:
    with pytest.raises(ValueError):
        StateCodec([], max_age=1)


def test_consent_ids_are_random_and_url_safe() -> None:
    ids = {new_consent_id() for _ in range(100)}
    assert len(ids) == 100 and all(len(i) == 22 and i.replace("-", "").replace("_", "").isalnum() for i in ids)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], []),
        (["a=1; b=2"], []),
        (["pgw=abc"], ["abc"]),
        (["a=1;pgw=abc; b=2"], ["abc"]),
        (["pgw=one", "x=1; pgw=two"], ["one", "two"]),
        (['pgw="quoted"'], ["quoted"]),
        (["  pgw  =  spaced  "], ["spaced"]),
        (["pgwx=no; xpgw=no; pgw"], []),
        (["other=pgw=1"], []),
        (["pgw=a=b"], ["a=b"]),
        (["pgw="], [""]),
    ],
)
def test_cookie_values(headers: list[str], expected: list[str]) -> None:
    assert cookie_values(headers, "pgw") == expected


def test_state_cookie_attributes() -> None:
    assert state_cookie("c", "T", max_age=60, path="/", domain=None, secure=False, same_site="lax") == (
        "c=T; Max-Age=60; Path=/; SameSite=Lax; HttpOnly"
    )
    assert state_cookie("c", "T", max_age=1, path="/x", domain="example.com", secure=True, same_site="strict") == (
        "c=T; Max-Age=1; Path=/x; Domain=example.com; SameSite=Strict; HttpOnly; Secure"
    )
