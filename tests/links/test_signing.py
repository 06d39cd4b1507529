"""Link tokens: round trip, each classic JWT attack, key rotation, the token cache."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.lib.keyring import KeyRing, SigningKey
from gateway.links.signing import (
    INVALID_REASONS,
    LinkClaims,
    LinkSigner,
    TokenError,
    TokenExpired,
    TokenInvalid,
    is_link_url,
    recipient_hash,
)

SECRET_1 = bytes(range(32))
SECRET_2 = bytes(range(100, 148))
NOW = 1_700_000_000.0
URL = "https://example.com/path?q=1"

PUBLIC_KEY_PEM = b"""-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=
-----END PUBLIC KEY-----
"""


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def ring(*kids: str, current: str | None = None) -> KeyRing:
    secrets = {"k1": SECRET_1, "k2": SECRET_2}
    kids = kids or ("k1",)
    return KeyRing([SigningKey(kid, secrets[kid]) for kid in kids], current or kids[-1])


def signer(clock: Clock | None = None, **kwargs: Any) -> LinkSigner:
    kwargs.setdefault("ttl", 3600)
    return LinkSigner(kwargs.pop("ring", None) or ring(), clock=clock or Clock(), **kwargs)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def craft(
    header: dict[str, Any],
    payload: Any,
    key: bytes | None = SECRET_1,
    digest: Callable[..., Any] = hashlib.sha256,
) -> str:
    """A token assembled by hand, independent of pyjwt: what an attacker sends."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(body)}"
    signature = b"" if key is None else hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(signature)}"


HEADER = {"alg": "HS256", "kid": "k1", "typ": "JWT"}


def claims(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"u": URL, "exp": int(NOW) + 600, "iat": int(NOW), "jti": "AAAAAAAAAAAAAAAA"}
    for name, value in changes.items():
        if value is ...:
            base.pop(name, None)
        else:
            base[name] = value
    return base


def reason_of(token: Any, s: LinkSigner | None = None) -> str:
    with pytest.raises(TokenInvalid) as info:
        (s or signer()).verify(token)
    assert info.value.reason in INVALID_REASONS
    if isinstance(token, str) and len(token) > 8:
        assert token not in str(info.value) and token not in repr(info.value)
    return info.value.reason


# -- the happy path ----------------------------------------------------------


def test_round_trip_with_bindings() -> None:
    s = signer()
    rcp = recipient_hash("Kari@Example.no", b"salt" * 8)
    token = s.sign(URL, case="4711", recipient=rcp)
    got = s.verify(token)
    assert got == LinkClaims(url=URL, exp=got.exp, iat=int(NOW), jti=got.jti, case="4711", recipient=rcp, kid="k1")
    assert got.exp >= NOW + 3600
    assert len(got.jti) == 16  # 96 bits, base64url
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "HS256", "kid": "k1", "typ": "JWT"}
    payload = jwt.decode(token, SECRET_1, algorithms=["HS256"], options={"verify_exp": False})
    assert set(payload) == {"u", "exp", "iat", "jti", "c", "r"}


def test_tokens_are_urlsafe_and_jti_random() -> None:
    s = signer(cache_size=0)
    tokens = {s.sign(URL) for _ in range(50)}
    assert len(tokens) == 50
    assert len({s.verify(t).jti for t in tokens}) == 50
    for token in tokens:
        assert all(ch.isalnum() or ch in "-_." for ch in token)


def test_unbound_token_has_no_bindings() -> None:
    s = signer()
    got = s.verify(s.sign("http://example.org/"))
    assert got.case is None and got.recipient is None


# -- the classic attacks -----------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", ""])
def test_alg_none_is_refused(alg: str) -> None:
    token = craft({**HEADER, "alg": alg}, claims(), key=None)
    assert reason_of(token) == "bad_alg"
    assert reason_of(token.rstrip(".")) in ("bad_alg", "malformed")


def test_alg_missing_is_refused() -> None:
    header = {"kid": "k1", "typ": "JWT"}
    assert reason_of(craft(header, claims())) == "bad_alg"


@pytest.mark.parametrize(("alg", "digest"), [("HS384", hashlib.sha384), ("HS512", hashlib.sha512)])
def test_other_hmac_algorithms_are_refused(alg: str, digest: Callable[..., Any]) -> None:
    # Correctly signed with the real key, but not with the one algorithm we pin.
    token = craft({**HEADER, "alg": alg}, claims(), digest=digest)
    assert reason_of(token) == "bad_alg"


@pytest.mark.parametrize("alg", ["RS256", "RS512", "PS256", "ES256", "ES512", "EdDSA", "Ed25519", "hs256"])
def test_asymmetric_algorithm_headers_are_refused(alg: str) -> None:
    assert reason_of(craft({**HEADER, "alg": alg}, claims())) == "bad_alg"


def test_public_key_as_hmac_secret_is_refused() -> None:
    # The algorithm-confusion trick: HMAC "signed" with a public key the attacker knows.
    token = craft(HEADER, claims(), key=PUBLIC_KEY_PEM)
    assert reason_of(token) == "bad_signature"
    with pytest.raises(ValueError, match="looks like a public or private key"):
        SigningKey("pem", PUBLIC_KEY_PEM)
    with pytest.raises(ValueError, match="looks like a public or private key"):
        SigningKey("ssh", b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE")


def test_unknown_kid_is_refused_without_trying_other_keys() -> None:
    s = signer(ring=ring("k1", "k2"))
    assert reason_of(craft({**HEADER, "kid": "k9"}, claims()), s) == "unknown_key"
    # A kid that names nothing in the ring is never resolved elsewhere (no path, no URL).
    for kid in ["../k1", "https://evil.example/jwks.json", "k1 ", "K1", ""]:
        assert reason_of(craft({**HEADER, "kid": kid}, claims()), s) == "unknown_key"


def test_missing_kid_is_refused() -> None:
    header = {"alg": "HS256", "typ": "JWT"}
    assert reason_of(craft(header, claims())) == "unknown_key"


@pytest.mark.parametrize("kid", [1, None, ["k1"], {"k": "k1"}, True])
def test_non_string_kid_is_refused(kid: Any) -> None:
    assert reason_of(craft({**HEADER, "kid": kid}, claims())) in ("malformed", "unknown_key")


def test_right_kid_wrong_secret_is_bad_signature() -> None:
    assert reason_of(craft(HEADER, claims(), key=SECRET_2)) == "bad_signature"
    assert reason_of(craft(HEADER, claims(), key=b"")) == "bad_signature"


@pytest.mark.parametrize("name", ["exp", "iat", "jti", "u"])
def test_missing_required_claim(name: str) -> None:
    assert reason_of(craft(HEADER, claims(**{name: ...}))) == "missing_claim"
    assert reason_of(craft(HEADER, claims(**{name: None}))) == "missing_claim"


def test_expired_token() -> None:
    clock = Clock()
    s = signer(clock, leeway=30)
    token = s.sign(URL)
    exp = s.verify(token).exp
    clock.now = exp + 29  # inside the leeway
    assert s.verify(token).url == URL
    clock.now = exp + 30
    with pytest.raises(TokenExpired) as info:
        s.verify(token)
    assert info.value.reason == "expired"
    assert info.value.claims.url == URL and info.value.claims.exp == exp
    assert token not in str(info.value)
    assert isinstance(info.value, TokenError) and not isinstance(info.value, TokenInvalid)


def test_leeway_zero() -> None:
    clock = Clock()
    s = signer(clock, leeway=0)
    token = s.sign(URL)
    clock.now = s.verify(token).exp - 0.001
    s.verify(token)
    clock.now += 0.001
    with pytest.raises(TokenExpired):
        s.verify(token)


def test_issued_in_the_future_beyond_leeway() -> None:
    assert reason_of(craft(HEADER, claims(iat=int(NOW) + 31))) == "bad_claim"
    assert signer().verify(craft(HEADER, claims(iat=int(NOW) + 30))).iat == int(NOW) + 30


def test_tampered_payload_keeps_old_signature() -> None:
    s = signer()
    token = s.sign(URL)
    head, _, sig = token.split(".")
    forged = b64(json.dumps(claims(u="https://evil.example/")).encode())
    assert reason_of(f"{head}.{forged}.{sig}", s) == "bad_signature"
    # Changing the header (e.g. the kid) breaks the signature too.
    other = b64(json.dumps({"alg": "HS256", "kid": "k1"}).encode())
    assert reason_of(f"{other}.{token.split('.')[1]}.{sig}", s) == "bad_signature"


def test_tampered_signature() -> None:
    s = signer()
    token = s.sign(URL)
    head, body, sig = token.split(".")
    flipped = ("B" if sig[0] == "A" else "A") + sig[1:]
    assert reason_of(f"{head}.{body}.{flipped}", s) == "bad_signature"
    raw = base64.urlsafe_b64decode(sig + "=")
    assert reason_of(f"{head}.{body}.{b64(raw[:-3])}", s) == "bad_signature"  # truncated
    assert reason_of(f"{head}.{body}.{b64(raw + raw)}", s) == "bad_signature"  # doubled
    assert reason_of(f"{head}.{body}.{sig[:-2]}", s) == "malformed"  # not even base64
    assert reason_of(f"{head}.{body}.", s) == "bad_signature"


def test_oversized_token_is_refused_before_parsing() -> None:
    s = signer(max_token_bytes=512)
    assert reason_of("x" * 513, s) == "too_large"  # garbage, but refused for size first
    big = craft(HEADER, claims(u="https://example.com/" + "a" * 600))
    assert reason_of(big, s) == "too_large"
    assert reason_of("x" * 512, s) == "malformed"


def test_signing_refuses_to_mint_oversized_tokens() -> None:
    with pytest.raises(ValueError, match="exceed 512 bytes"):
        signer(max_token_bytes=512).sign("https://example.com/" + "a" * 600)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "....",
        "eyJhbGciOiJIUzI1NiJ9",
        "!!!.@@@.###",
        "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIn0.ééé.abc",
        "W10.e30.",  # header is a JSON list
        "bnVsbA.e30.",  # header is JSON null
    ],
)
def test_malformed_tokens(token: str) -> None:
    assert reason_of(token) == "malformed"


@pytest.mark.parametrize("token", [b"a.b.c", None, 42, ["a.b.c"]])
def test_non_string_tokens(token: Any) -> None:
    assert reason_of(token) == "malformed"


def test_payload_that_is_not_a_json_object() -> None:
    assert reason_of(craft(HEADER, b"[1, 2, 3]")) == "malformed"
    assert reason_of(craft(HEADER, b"not json")) == "malformed"


@pytest.mark.parametrize(
    "changes",
    [
        {"u": 42},
        {"u": ["https://example.com/"]},
        {"u": "javascript:alert(1)"},
        {"u": "ftp://example.com/file"},
        {"u": "//evil.example/"},
        {"u": "/relative/path"},
        {"u": "https://"},
        {"u": "https://example.com/\r\nSet-Cookie: x=1"},
        {"u": " https://example.com/"},
        {"u": "https://[::1/"},
        {"exp": "1700000600"},
        {"exp": 1700000600.5},
        {"exp": True},
        {"exp": -1},
        {"exp": 2**60},
        {"iat": "now"},
        {"iat": int(NOW) + 10_000, "exp": int(NOW) + 20_000},
        {"iat": int(NOW), "exp": int(NOW) - 1},
        {"jti": 7},
        {"jti": ""},
        {"jti": "x" * 65},
        {"c": 4711},
        {"c": ""},
        {"r": ["hash"]},
        {"aud": "someone"},
        {"nbf": int(NOW)},
        {"admin": True},
    ],
)
def test_claims_of_the_wrong_type_or_value(changes: dict[str, Any]) -> None:
    assert reason_of(craft(HEADER, claims(**changes))) == "bad_claim"


@pytest.mark.parametrize(
    "header",
    [
        {**HEADER, "jku": "https://evil.example/keys"},
        {**HEADER, "jwk": {"kty": "oct", "k": "AAAA"}},
        {**HEADER, "x5u": "https://evil.example/cert"},
        {**HEADER, "crit": ["exp"]},
        {**HEADER, "b64": False},
        {**HEADER, "typ": "JWE"},
    ],
)
def test_unexpected_header_fields(header: dict[str, Any]) -> None:
    assert reason_of(craft(header, claims())) == "malformed"


def test_header_without_typ_is_accepted() -> None:
    got = signer().verify(craft({"alg": "HS256", "kid": "k1"}, claims()))
    assert got.url == URL and got.kid == "k1"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300) | st.from_regex(r"[A-Za-z0-9_-]{0,60}\.[A-Za-z0-9_-]{0,60}\.[A-Za-z0-9_-]{0,60}"))
def test_arbitrary_input_only_ever_raises_token_errors(token: str) -> None:
    with pytest.raises(TokenError):
        signer().verify(token)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["http", "https", "HTTPS"]),
    st.from_regex(r"[a-z0-9-]{1,20}(\.[a-z]{2,6}){1,2}", fullmatch=True),
    st.text(alphabet=st.characters(min_codepoint=0x21, codec="utf-8"), max_size=80),
)
def test_any_http_url_round_trips(scheme: str, host: str, rest: str) -> None:
    url = f"{scheme}://{host}/{rest}"
    if not is_link_url(url):
        return
    s = signer()
    assert s.verify(s.sign(url)).url == url


# -- keys and rotation -------------------------------------------------------


def test_key_rotation() -> None:
    clock = Clock()
    old = signer(clock, ring=ring("k1"))
    token_k1 = old.sign(URL)
    rotated = signer(clock, ring=ring("k1", "k2", current="k2"))
    assert rotated.verify(token_k1).kid == "k1"  # the old key still verifies while in the ring
    token_k2 = rotated.sign(URL)
    assert jwt.get_unverified_header(token_k2)["kid"] == "k2"
    assert rotated.verify(token_k2).kid == "k2"
    assert reason_of(token_k2, old) == "unknown_key"  # a replica that has not got the new key yet
    retired = signer(clock, ring=ring("k2"))
    assert reason_of(token_k1, retired) == "unknown_key"  # removed key: no longer accepted
    assert retired.verify(token_k2).kid == "k2"


def test_same_kid_other_secret_is_bad_signature() -> None:
    token = signer().sign(URL)
    impostor = signer(ring=KeyRing([SigningKey("k1", SECRET_2)], "k1"))
    assert reason_of(token, impostor) == "bad_signature"


def test_recipient_hash() -> None:
    salt = b"s" * 32
    first = recipient_hash("Kari.Nordmann@Example.NO ", salt)
    assert first == recipient_hash("kari.nordmann@example.no", salt)
    assert first != recipient_hash("kari.nordmann@example.no", b"t" * 32)
    assert "@" not in first and "kari" not in first and len(first) == 22


# -- sign() arguments ----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "ftp://example.com/", "/local", "https://", "", "https://example.com/\n", " http://x.org"],
)
def test_sign_refuses_non_http_urls(url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        signer().sign(url)


def test_sign_refuses_addresses_and_bad_bindings() -> None:
    s = signer()
    with pytest.raises(ValueError, match="never the address"):
        s.sign(URL, recipient="kari@example.no")
    with pytest.raises(ValueError, match="case"):
        s.sign(URL, case="")
    with pytest.raises(ValueError, match="case"):
        s.sign(URL, case="x" * 257)
    with pytest.raises(ValueError, match="ttl"):
        s.sign(URL, ttl=0)
    with pytest.raises(ValueError, match="ttl"):
        s.sign(URL, ttl=float("nan"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ttl": 0}, "ttl"),
        ({"ttl": -5}, "ttl"),
        ({"ttl": float("inf")}, "ttl"),
        ({"leeway": -1}, "leeway"),
        ({"max_token_bytes": 100}, "max_token_bytes"),
        ({"bucket": 0}, "bucket"),
        ({"cache_size": -1}, "cache_size"),
    ],
)
def test_signer_validation(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        signer(**kwargs)


# -- the token cache -----------------------------------------------------------


def test_same_url_within_a_bucket_gets_the_same_token() -> None:
    clock = Clock(NOW)
    s = signer(clock, ttl=3600, bucket=600)
    first = s.sign(URL)
    exp = s.verify(first).exp
    assert exp % 600 == 0 and NOW + 3600 <= exp < NOW + 3600 + 600
    clock.now = exp - 3600 - 0.5  # still the same bucket
    assert s.sign(URL) == first
    clock.now = exp - 3600 + 0.5  # the next bucket
    second = s.sign(URL)
    assert second != first
    claims2 = s.verify(second)
    assert claims2.exp == exp + 600 and claims2.jti != s.verify(first).jti


def test_expiry_never_shorter_than_ttl() -> None:
    clock = Clock(NOW)
    s = signer(clock, ttl=7 * 86400)
    for step in range(0, 200_000, 997):
        clock.now = NOW + step + 0.37
        exp = s.verify(s.sign(URL)).exp
        assert clock.now + 7 * 86400 <= exp < clock.now + 7 * 86400 + 60  # the bucket is capped at 60 s


@pytest.mark.parametrize(
    ("ttl", "bucket"),
    [(1, 1), (19, 1), (39, 1), (40, 2), (300, 15), (600, 30), (1200, 60), (86400, 60), (7 * 86400, 60)],
)
def test_default_bucket_is_a_twentieth_of_the_ttl_at_most_60_s(ttl: float, bucket: int) -> None:
    clock = Clock(NOW + 0.5)
    s = signer(clock, ttl=ttl)
    exp = s.verify(s.sign(URL)).exp
    assert exp % bucket == 0
    assert NOW + 0.5 + ttl <= exp < NOW + 0.5 + ttl + bucket
    # A per-call TTL gets its own bucket and its own token.
    per_call = s.verify(s.sign(URL, ttl=ttl * 2)).exp
    assert NOW + 0.5 + ttl * 2 <= per_call < NOW + 0.5 + ttl * 2 + min(60, max(1, ttl * 2 // 20))


@pytest.mark.parametrize(("ttl", "longest"), [(1, 2), (10, 11), (600, 630), (7 * 86400, 7 * 86400 + 60)])
def test_a_link_is_refused_soon_after_its_ttl(ttl: float, longest: float) -> None:
    """Was: a 1 s link stayed valid ~60 s (a 60 s minimum bucket); a 7-day one ~8 h longer."""
    clock = Clock(NOW + 0.25)
    s = signer(clock, ttl=ttl, leeway=0)
    token = s.sign(URL)
    clock.now = NOW + 0.25 + ttl - 0.01
    assert s.verify(token).url == URL
    clock.now = NOW + 0.25 + longest
    with pytest.raises(TokenExpired):
        s.verify(token)


def test_short_ttls_share_a_token_only_within_one_second() -> None:
    clock = Clock(NOW + 0.1)
    s = signer(clock, ttl=10)
    first = s.sign(URL)
    assert s.verify(first).exp == NOW + 11  # ceil(now + ttl): the exact expiry in whole seconds
    clock.now = NOW + 0.9
    assert s.sign(URL) == first
    clock.now = NOW + 1.1
    assert s.sign(URL) != first


def test_exact_signer_has_no_bucket_and_no_sharing() -> None:
    """What the command line signs with: each link on its own, expiry exactly its TTL."""
    clock = Clock(NOW + 0.5)
    s = signer(clock, ttl=7 * 86400, bucket=1, cache_size=0)
    first, second = s.sign(URL), s.sign(URL)
    assert first != second
    assert s.verify(first).exp == NOW + 7 * 86400 + 1
    assert s.verify(s.sign(URL, ttl=1)).exp == NOW + 2


def test_cache_key_includes_bindings() -> None:
    s = signer()
    plain = s.sign(URL)
    assert s.sign(URL, case="1") != plain
    assert s.sign(URL, case="1") == s.sign(URL, case="1")
    assert s.sign(URL, recipient="abc") != s.sign(URL, case="abc")
    assert s.sign(URL + "&x") != plain


def test_cache_is_a_bounded_lru() -> None:
    s = signer(cache_size=2)
    a, b = s.sign("https://a.example/"), s.sign("https://b.example/")
    assert s.sign("https://a.example/") == a  # a is now the most recent
    s.sign("https://c.example/")  # evicts b
    assert s.sign("https://a.example/") == a
    assert s.sign("https://b.example/") != b
    assert len(s._cache) == 2


def test_cache_off() -> None:
    s = signer(cache_size=0)
    assert s.sign(URL) != s.sign(URL)


def test_cached_token_still_verifies_after_clear() -> None:
    s = signer()
    token = s.sign(URL)
    s.clear_cache()
    assert s.verify(token).url == URL
    assert s.sign(URL) != token
