"""Signed links: bound to a purpose, a subject and an expiry; anything else is forged. The form's CSRF token."""

from __future__ import annotations

import pytest

from gateway.lib.keyring import KeyRing
from gateway.requests.keys import PortalKeys
from gateway.requests.tokens import TokenError, csrf_ok, csrf_token, make_token, read_token

NOW = 1_700_000_000.0
KEYS = PortalKeys(KeyRing.from_config([("r1", "raw:" + "a-data-subject-request-key-000001")], "r1"))
OTHER = PortalKeys(KeyRing.from_config([("r1", "raw:" + "a-data-subject-request-key-000002")], "r1"))


def test_a_token_gives_back_its_subject_until_it_expires() -> None:
    token = make_token(KEYS, "verify", "ab" * 16, NOW + 60)
    assert read_token(KEYS, token, "verify", NOW) == "ab" * 16
    with pytest.raises(TokenError) as info:
        read_token(KEYS, token, "verify", NOW + 60)
    assert info.value.reason == "expired"


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature
    lambda t: t.split(".")[0] + "." + t.split(".")[1][:-2] + "xx." + t.split(".")[2],  # payload
    lambda t: "r9." + t.split(".", 1)[1],  # unknown key
    lambda t: t + ".x",
    lambda t: "",
    lambda t: "é" + t,
])
def test_a_damaged_token_is_forged(mangle) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TokenError) as info:
        read_token(KEYS, mangle(make_token(KEYS, "status", "DSR-ABCDE-12345", NOW + 60)), "status", NOW)
    assert info.value.reason == "forged"


def test_a_token_works_for_its_own_purpose_and_ring_only() -> None:
    token = make_token(KEYS, "download", "cd" * 16, NOW + 60)
    for purpose in ("verify", "status"):
        with pytest.raises(TokenError, match="forged"):
            read_token(KEYS, token, purpose, NOW)
    with pytest.raises(TokenError, match="forged"):
        read_token(OTHER, token, "download", NOW)
    with pytest.raises(ValueError):
        make_token(KEYS, "verify", "a|b", NOW)


def test_the_csrf_token_is_bound_to_the_browsers_cookie() -> None:
    token = csrf_token(KEYS, "cookie-value-of-24-chars")
    assert csrf_ok(KEYS, "cookie-value-of-24-chars", token)
    assert not csrf_ok(KEYS, "another-cookie-value-xyz", token)
    assert not csrf_ok(KEYS, "", token) and not csrf_ok(KEYS, "cookie-value-of-24-chars", "")
    assert not csrf_ok(OTHER, "cookie-value-of-24-chars", token)
