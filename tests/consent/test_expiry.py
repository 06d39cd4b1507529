"""Expiring withdrawn cookies: where they were seen, what the policy hints, the header limit."""

from __future__ import annotations

import pytest

from gateway.consent import expiry
from gateway.consent.cookies import parse_set_cookie
from gateway.consent.expiry import SeenCookies, expiry_headers

EPOCH = "Expires=Thu, 01 Jan 1970 00:00:00 GMT"


def test_seen_cookies_remember_path_and_domain() -> None:
    seen = SeenCookies()
    seen.note("analytics", parse_set_cookie("_ga=1; Path=/; Domain=.Example.com"), "/")
    seen.note("analytics", parse_set_cookie("_ga=1; Path=/; Domain=example.com"), "/")  # same place
    seen.note("analytics", parse_set_cookie("_gid=1"), "/help")  # no Path: the request's default path
    seen.note("preferences", parse_set_cookie("lang=nb; Path=/x"), "/")
    assert list(seen.places("_ga")) == [("/", "example.com")]
    assert list(seen.places("_gid")) == [("/help", None)]
    assert list(seen.places("unknown")) == []
    assert sorted(seen.names_in(frozenset({"analytics"}))) == ["_ga", "_gid"]
    assert len(seen) == 3


def test_raw_headers_are_parsed_once_per_set_of_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = SeenCookies()
    parsed: list[str] = []
    monkeypatch.setattr(expiry, "parse_set_cookie", lambda v: parsed.append(v) or parse_set_cookie(v))
    for value in ("_ga=1; Path=/", "_ga=2; Path=/", "_ga=3; Path=/x", "_ga=4; Path=/"):
        seen.note_header("analytics", "_ga", value, "/")
    assert parsed == ["_ga=1; Path=/", "_ga=3; Path=/x"]
    assert list(seen.places("_ga")) == [("/", None), ("/x", None)]


def test_seen_cookies_are_bounded() -> None:
    seen = SeenCookies(max_names=3, places_per_name=2)
    for i in range(10):
        seen.note("analytics", parse_set_cookie(f"c{i}=1; Path=/"), "/")
        seen.note("analytics", parse_set_cookie(f"c0=1; Path=/p{i}"), "/")
    assert len(seen) == 3
    assert len(seen.places("c0")) == 2


def test_every_known_place_gets_an_expiring_header() -> None:
    seen = SeenCookies()
    seen.note("analytics", parse_set_cookie("_ga=1; Path=/app; Domain=example.com"), "/")
    headers = expiry_headers(
        ["_ga", "_ga", "lang"], seen=seen, hinted={"lang": [("/prefs", None)]}, expire_domains=["example.com"],
        secure=False,
    )
    assert headers == [
        f"_ga=; Max-Age=0; {EPOCH}; Path=/app; Domain=example.com",
        f"_ga=; Max-Age=0; {EPOCH}; Path=/",
        f"_ga=; Max-Age=0; {EPOCH}; Path=/; Domain=example.com",
        f"lang=; Max-Age=0; {EPOCH}; Path=/prefs",
        f"lang=; Max-Age=0; {EPOCH}; Path=/",
        f"lang=; Max-Age=0; {EPOCH}; Path=/; Domain=example.com",
    ]


def test_secure_requests_and_cookie_prefixes() -> None:
    headers = expiry_headers(["__Host-id", "_ga"], seen=SeenCookies(), hinted={}, expire_domains=["example.com"], secure=True)
    assert headers[0] == f"__Host-id=; Max-Age=0; {EPOCH}; Path=/; Secure"
    assert headers[-1].endswith("Domain=example.com; Secure")


def test_unwritable_names_are_skipped_and_the_count_is_limited() -> None:
    assert expiry_headers(["a\x01b", "ok"], seen=SeenCookies(), hinted={}, expire_domains=[], secure=False) == [
        f"ok=; Max-Age=0; {EPOCH}; Path=/"
    ]
    many = expiry_headers([f"c{i}" for i in range(100)], seen=SeenCookies(), hinted={}, expire_domains=[], secure=False, limit=10)
    assert len(many) == 10
