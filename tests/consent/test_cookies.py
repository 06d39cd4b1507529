"""Cookie and Set-Cookie handling: hostile headers with exact outputs, properties, deletion headers."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.consent.cookies import (
    EPOCH,
    MAX_AGE_LIMIT,
    SetCookieInfo,
    cookie_names,
    expire_cookie,
    filter_cookie_header,
    parse_set_cookie,
    set_cookie_name,
)


def without(*names: str) -> Callable[[str], bool]:
    removed = frozenset(names)
    return lambda name: name not in removed


# --- Cookie header ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "removed", "expected"),
    [
        # Plain cases: first, middle, last, everything.
        ("a=1; b=2; c=3", {"a"}, "b=2; c=3"),
        ("a=1; b=2; c=3", {"b"}, "a=1; c=3"),
        ("a=1; b=2; c=3", {"c"}, "a=1; b=2"),
        ("a=1; b=2; c=3", {"a", "c"}, "b=2"),
        ("a=1; b=2", {"a", "b"}, None),
        ("a=1", {"a"}, None),
        # Duplicates share their name's fate.
        ("a=1; b=2; a=3", {"a"}, "b=2"),
        ("a=1; b=2; a=3", {"b"}, "a=1; a=3"),
        ("a=1; a=1; a=1", {"a"}, None),
        # Names are case-sensitive.
        ("SID=1; sid=2; Sid=3", {"sid"}, "SID=1; Sid=3"),
        # '=' inside values belongs to the value.
        ("tok=a=b==; x=1", {"x"}, "tok=a=b=="),
        ("tok=a=b==; x=1", {"tok"}, "x=1"),
        ("x=1; a=b=c", {"b"}, "x=1; a=b=c"),  # "b" is no name here: nothing removed
        # ';' ends a cookie even inside quotes (as in browsers): q="x and y" are two pairs.
        ('q="x;y"; z=1', {"z"}, 'q="x; y"'),
        ('q="x;y"; z=1', {""}, 'q="x; z=1'),
        ('q="x;y"; z=1', {"q"}, 'y"; z=1'),
        ('a="1,2 3"; b=4', {"b"}, 'a="1,2 3"'),
        ('klaro={"analytics":true,"ads":false}; _ga=GA1.2.3', {"_ga"}, 'klaro={"analytics":true,"ads":false}'),
        # Name-less pairs: '=abc' and 'abc' both have the empty name.
        ("=abc; a=1", {""}, "a=1"),
        ("=abc; a=1", {"a"}, "=abc"),
        ("abc; a=1", {""}, "a=1"),
        ("abc; a=1", {"a"}, "abc"),
        ("=; a=1", {"a"}, "="),
        ("=; a=1", {""}, "a=1"),
        ("a=1; =; abc; =x", {""}, "a=1"),
        # Empty pairs are no cookies: dropped when rebuilding, never a reason to rebuild.
        (";;a=1;;b=2;;", {"b"}, "a=1"),
        ("a=1;;b=2;c=3", {"c"}, "a=1; b=2"),
        ("a=1; ; \t ;b=2", {"a"}, "b=2"),
        ("a=1;;; ", {"a"}, None),
        # Spaces and tabs around a pair are separators; inside the pair they are kept.
        ("  a=1 ;  b=2  ;c=3  ", {"c"}, "a=1; b=2"),
        ("a = 1 ; b=2", {"b"}, "a = 1"),
        ("a = 1 ; b=2", {"a"}, "b=2"),
        ("\ta\t=\t1\t;\tb=2", {"b"}, "a\t=\t1"),
        ("x y=1; x=2", {"x"}, "x y=1"),
        ("a=  spaced value  ; b=2", {"b"}, "a=  spaced value"),
        # Other characters, even other whitespace, are data.
        ("navn=blåbær; søk=1; 🍪=yes", {"søk"}, "navn=blåbær; 🍪=yes"),
        ("\xa0a=1; b=2", {"a"}, "\xa0a=1; b=2"),
        ("\xa0a=1; b=2", {"\xa0a"}, "b=2"),
        ("a=1\u2003; b=2", {"b"}, "a=1\u2003"),
        ("a=\x00\x01\x7f; b=2", {"b"}, "a=\x00\x01\x7f"),
        ("a=%3B%20; b=\\\"; c=2", {"c"}, "a=%3B%20; b=\\\""),
        ("a=1\r\n; b=2", {"b"}, "a=1\r\n"),
    ],
)
def test_filter_cookie_header(header: str, removed: set[str], expected: str | None) -> None:
    assert filter_cookie_header(header, without(*removed)) == expected


@pytest.mark.parametrize(
    "header",
    ["", ";", ";;;", " ; \t ;", "a=1", "a=1; b=2", "a=1;;b=2 ;", "abc", "=", '"x;y"', "a=1; a=1"],
)
def test_keep_all_returns_the_same_object(header: str) -> None:
    assert filter_cookie_header(header, lambda name: True) is header


@pytest.mark.parametrize("header", ["", ";", ";;;", " ; \t ;"])
def test_a_header_without_cookies_has_nothing_to_remove(header: str) -> None:
    assert filter_cookie_header(header, lambda name: False) is header


def test_keep_is_asked_once_per_pair_in_order_never_for_empty_pairs() -> None:
    asked: list[str] = []

    def keep(name: str) -> bool:
        asked.append(name)
        return name != "b"

    assert filter_cookie_header(" a=1;; b=2 ; abc ;a=3; =x;", keep) == "a=1; abc; a=3; =x"
    assert asked == ["a", "b", "", "a", ""]


@pytest.mark.parametrize(
    ("header", "names"),
    [
        ("", []),
        (";;; ; \t;", []),
        ("a=1; b=2", ["a", "b"]),
        ("a=1;a=2", ["a", "a"]),
        ("abc", [""]),
        ("=abc", [""]),
        ("=", [""]),
        (" a b =1", ["a b"]),
        ("\ta\t=1", ["a"]),
        ('q="x;y"', ["q", ""]),
        ("tok=a=b", ["tok"]),
        ("\xa0x=1", ["\xa0x"]),
    ],
)
def test_cookie_names(header: str, names: list[str]) -> None:
    assert cookie_names(header) == names


def test_large_headers_are_handled_in_linear_time() -> None:
    many = "; ".join(f"c{i}=v{i}" for i in range(10_000))  # about 110 KB
    assert len(many) > 100_000
    big_value = "big=" + "x" * 100_000 + "; drop=1; small=2"
    separators = ";" * 100_000
    started = time.perf_counter()
    odd_removed = filter_cookie_header(many, lambda name: int(name[1:]) % 2 == 0)
    assert filter_cookie_header(big_value, without("drop")) == "big=" + "x" * 100_000 + "; small=2"
    assert filter_cookie_header(separators, without("")) is separators
    assert filter_cookie_header("x" * 100_000, without("")) is None
    assert filter_cookie_header(many, lambda name: True) is many
    assert len(cookie_names(many)) == 10_000
    elapsed = time.perf_counter() - started
    assert odd_removed == "; ".join(f"c{i}=v{i}" for i in range(0, 10_000, 2))
    assert elapsed < 0.5  # milliseconds in practice; a quadratic rebuild would take seconds


# Headers built from the characters that matter to the parser, and a few that must not.
_header_text = st.text(alphabet=";= \t\"ab,A\x00é\xa0🍪\\", max_size=60)


@settings(max_examples=400, deadline=None)
@given(header=_header_text, data=st.data())
def test_filter_properties(header: str, data: st.DataObject) -> None:
    names = sorted(set(cookie_names(header)))
    kept_names = data.draw(st.sets(st.sampled_from(names)) if names else st.just(set()))
    keep = kept_names.__contains__
    result = filter_cookie_header(header, keep)
    pairs = [segment.strip(" \t") for segment in header.split(";")]
    expected_kept = [pair for pair, name in zip(pairs, map(cookie_names, pairs)) if name and keep(name[0])]
    if kept_names == set(names):
        # (c) keep-all: the very same object.
        assert result is header
        return
    if not expected_kept:
        assert result is None
        return
    assert result is not None
    # (a) the kept pairs, byte for byte, in their original order, joined with "; ".
    assert result == "; ".join(expected_kept)
    position = 0
    for pair in expected_kept:
        position = header.index(pair, position) + len(pair)
    # (b) no removed name is left as the name of a pair.
    assert set(cookie_names(result)) <= kept_names
    # And the result is stable: filtering it again keeps it all.
    assert filter_cookie_header(result, keep) is result


@settings(max_examples=200, deadline=None)
@given(header=st.text(max_size=80))
def test_any_text_is_tolerated(header: str) -> None:
    names = cookie_names(header)
    assert filter_cookie_header(header, lambda name: True) is header
    result = filter_cookie_header(header, lambda name: name == "")
    assert result is None or set(cookie_names(result)) <= {""}
    assert len(names) <= header.count(";") + 1


# --- Set-Cookie ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("sid=1", SetCookieInfo("sid")),
        ("SID=1", SetCookieInfo("SID")),
        (
            "sid=abc; Path=/; Domain=.Example.COM; Max-Age=3600; Secure; HttpOnly; SameSite=Lax; Partitioned",
            SetCookieInfo("sid", "example.com", "/", 3600, None, True, True, "lax", True),
        ),
        # Attribute names in any case.
        (
            "sid=1; pAtH=/x; DOMAIN=example.com; max-AGE=5; SECURE; httpONLY; samesite=STRICT; PARTITIONED",
            SetCookieInfo("sid", "example.com", "/x", 5, None, True, True, "strict", True),
        ),
        # Spaces and tabs around names, attributes and values.
        (
            " sid \t= 1 ;  Path = /p ;\tSecure \t; Domain =  .Example.org  ",
            SetCookieInfo("sid", "example.org", "/p", secure=True),
        ),
        # Expires keeps its comma: only ';' separates attributes.
        (
            "id=a3fWa; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Secure; HttpOnly",
            SetCookieInfo("id", expires_raw="Wed, 21 Oct 2015 07:28:00 GMT", secure=True, httponly=True),
        ),
        (
            "id=1; Expires=soon; Expires=Wed, 21 Oct 2015 07:28:00 GMT",
            SetCookieInfo("id", expires_raw="Wed, 21 Oct 2015 07:28:00 GMT"),
        ),
        # Missing values: empty Path means the default path, an empty Domain is ignored.
        ("sid=1; Path; Domain; Max-Age; Expires; SameSite", SetCookieInfo("sid", expires_raw="")),
        ("sid=1; Path=; Domain=; Max-Age=; SameSite=", SetCookieInfo("sid")),
        (
            "sid=1; Secure=; HttpOnly=yes; Partitioned=false",
            SetCookieInfo("sid", secure=True, httponly=True, partitioned=True),
        ),
        # Later duplicates win; an empty Domain does not replace an earlier one.
        ("a=1; Domain=a.example; Domain=B.example", SetCookieInfo("a", domain="b.example")),
        ("a=1; Domain=b.example; Domain=", SetCookieInfo("a", domain="b.example")),
        ("a=1; Domain=..example.com", SetCookieInfo("a", domain=".example.com")),
        ("a=1; Path=/a; Path=/b", SetCookieInfo("a", path="/b")),
        ("a=1; Path=/a; Path=relative", SetCookieInfo("a")),  # the last Path is the default path
        ("a=1; Path=/a; Path=", SetCookieInfo("a")),
        ("a=1; SameSite=Strict; SameSite=bogus", SetCookieInfo("a")),
        ("a=1; SameSite=bogus; SameSite=none", SetCookieInfo("a", samesite="none")),
        # Max-Age: digits with an optional '-', nothing else; zero or less deletes; capped at 400 days.
        ("a=1; Max-Age=0", SetCookieInfo("a", max_age=0)),
        ("a=1; Max-Age=-1", SetCookieInfo("a", max_age=0)),
        ("a=1; Max-Age=-99999999999999999999", SetCookieInfo("a", max_age=0)),
        ("a=1; Max-Age= 7 ", SetCookieInfo("a", max_age=7)),
        ("a=1; Max-Age=34560001", SetCookieInfo("a", max_age=MAX_AGE_LIMIT)),
        ("a=1; Max-Age=99999999999999999999999", SetCookieInfo("a", max_age=MAX_AGE_LIMIT)),
        ("a=1; Max-Age=" + "9" * 1000, SetCookieInfo("a", max_age=MAX_AGE_LIMIT)),  # no int() of it
        ("a=1; Max-Age=5; Max-Age=" + "9" * 5000, SetCookieInfo("a", max_age=5)),  # over 1024 octets
        ("a=1; Max-Age=12abc", SetCookieInfo("a")),
        ("a=1; Max-Age=+5", SetCookieInfo("a")),
        ("a=1; Max-Age=1_000", SetCookieInfo("a")),
        ("a=1; Max-Age=1.5", SetCookieInfo("a")),
        ("a=1; Max-Age=-", SetCookieInfo("a")),
        ("a=1; Max-Age=--1", SetCookieInfo("a")),
        ("a=1; Max-Age=\u0661\u0662", SetCookieInfo("a")),  # Arabic-Indic digits are no DIGIT
        ("a=1; Max-Age=5; Max-Age=oops", SetCookieInfo("a", max_age=5)),  # an invalid one is ignored
        ("a=1; Max-Age=5; Max-Age=0", SetCookieInfo("a", max_age=0)),
        # Attribute values over 1024 octets are ignored.
        ("a=1; Path=/ok; Path=/" + "x" * 1100, SetCookieInfo("a", path="/ok")),
        ("a=1; Path=/" + "x" * 1023, SetCookieInfo("a", path="/" + "x" * 1023)),
        ("a=1; Path=/ok; Path=/" + "é" * 600, SetCookieInfo("a", path="/ok")),  # 1201 octets in UTF-8
        # Values may hold '=' and quotes; names keep inner spaces.
        ("a=b=c; Path=/", SetCookieInfo("a", path="/")),
        ('q="x"; Secure', SetCookieInfo("q", secure=True)),
        (" name with spaces = v", SetCookieInfo("name with spaces")),
        # Garbage: never an error; a name from before '=' or the empty name.
        ("", SetCookieInfo("")),
        (";;;", SetCookieInfo("")),
        ("noequals", SetCookieInfo("")),
        ("noequals; Secure", SetCookieInfo("", secure=True)),
        ("=v", SetCookieInfo("")),
        ("=", SetCookieInfo("")),
        ("a=1;;;=;Secure;=x;;", SetCookieInfo("a", secure=True)),
        ("\x00garbage\x01=\x02; Secure\x00; HttpOnly", SetCookieInfo("\x00garbage\x01", httponly=True)),
        ("a=1; \u212aelvin=1; Pathé=/x; Unknown=1; Comment=x", SetCookieInfo("a")),
        ("a=1; Domain=Exämple.COM", SetCookieInfo("a", domain="exämple.com")),
    ],
)
def test_parse_set_cookie(value: str, expected: SetCookieInfo) -> None:
    assert parse_set_cookie(value) == expected
    assert set_cookie_name(value) == expected.name


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=80) | st.text(alphabet="a=; \tPathDomainMx-AgSecur/.-19", max_size=80))
def test_parse_set_cookie_never_raises(value: str) -> None:
    info = parse_set_cookie(value)
    assert info.name == set_cookie_name(value)
    assert info.max_age is None or 0 <= info.max_age <= MAX_AGE_LIMIT
    assert info.path is None or info.path.startswith("/")
    assert info.domain is None or info.domain == info.domain.lower()


# --- Deleting a cookie in the browser --------------------------------------------------------

_GONE = f"Max-Age=0; Expires={EPOCH}"


@pytest.mark.parametrize(
    ("name", "path", "domain", "secure", "expected"),
    [
        ("sid", "/", None, False, f"sid=; {_GONE}; Path=/"),
        ("sid", None, None, False, f"sid=; {_GONE}"),
        ("_ga", "/", "example.com", True, f"_ga=; {_GONE}; Path=/; Domain=example.com; Secure"),
        ("_ga", "/app/x", ".example.com", False, f"_ga=; {_GONE}; Path=/app/x; Domain=.example.com"),
        # __Secure-: Secure whatever was asked for; path and domain as given. Prefixes ignore case.
        ("__Secure-id", "/app", "example.com", False, f"__Secure-id=; {_GONE}; Path=/app; Domain=example.com; Secure"),
        ("__secure-id", None, None, False, f"__secure-id=; {_GONE}; Secure"),
        ("__SECURE-", "/", None, True, f"__SECURE-=; {_GONE}; Path=/; Secure"),
        # __Host-: Secure, Path=/ and no Domain, whatever was asked for.
        ("__Host-id", "/app", "example.com", False, f"__Host-id=; {_GONE}; Path=/; Secure"),
        ("__HOST-id", None, None, False, f"__HOST-id=; {_GONE}; Path=/; Secure"),
        ("__host-id", "/", None, True, f"__host-id=; {_GONE}; Path=/; Secure"),
        # Not prefixes.
        ("_Secure-id", "/", None, False, f"_Secure-id=; {_GONE}; Path=/"),
        ("__Hostid", "/", None, False, f"__Hostid=; {_GONE}; Path=/"),
        # A name-less cookie: an empty name and an empty value together would be ignored.
        ("", "/", None, False, f"=deleted; {_GONE}; Path=/"),
        # Names that are data, not syntax.
        ("navn ø", "/", None, False, f"navn ø=; {_GONE}; Path=/"),
        ("cart[items]", "/", None, False, f"cart[items]=; {_GONE}; Path=/"),
    ],
)
def test_expire_cookie(name: str, path: str | None, domain: str | None, secure: bool, expected: str) -> None:
    header = expire_cookie(name, path=path, domain=domain, secure=secure)
    assert header == expected
    info = parse_set_cookie(header)
    assert info.name == name
    assert info.max_age == 0
    assert info.expires_raw == EPOCH


@pytest.mark.parametrize(
    ("name", "path", "domain", "message"),
    [
        ("a;b", "/", None, "cookie name 'a;b' cannot be written into a Set-Cookie header"),
        ("a=b", "/", None, "cookie name 'a=b' cannot be written into a Set-Cookie header"),
        ("a\nb", "/", None, "cookie name 'a\\nb' cannot be written into a Set-Cookie header"),
        ("a\x7f", "/", None, "cookie name 'a\\x7f' cannot be written into a Set-Cookie header"),
        (" a", "/", None, "cookie name ' a' cannot be written into a Set-Cookie header"),
        ("a\t", "/", None, "cookie name 'a\\t' cannot be written into a Set-Cookie header"),
        ("a", "x", None, "path 'x' does not start with '/'"),
        ("a", "", None, "path '' does not start with '/'"),
        ("a", "/a;b", None, "path '/a;b' cannot be written into a Set-Cookie header"),
        ("a", "/a\r\n", None, "path '/a\\r\\n' cannot be written into a Set-Cookie header"),
        ("a", "/", "", "empty domain"),
        ("a", "/", "ex;ample.com", "domain 'ex;ample.com' cannot be written into a Set-Cookie header"),
    ],
)
def test_expire_cookie_refuses_what_it_cannot_write(name: str, path: str, domain: str | None, message: str) -> None:
    with pytest.raises(ValueError) as error:
        expire_cookie(name, path=path, domain=domain, secure=False)
    assert str(error.value) == message
