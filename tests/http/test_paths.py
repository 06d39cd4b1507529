"""Path and host normalisation: what rules match, and what is refused outright."""

from __future__ import annotations

import pytest

from gateway.http.paths import BadHost, BadPath, normalize_host, normalize_path, parse_host, server_name_matcher


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/", "/"),
        ("/agent/", "/agent/"),
        ("/agent/tickets/42", "/agent/tickets/42"),
        ("/.well-known/security.txt", "/.well-known/security.txt"),
        ("/a/b.", "/a/b."),
        ("/a/...", "/a/..."),  # three dots is a name, not a dot segment
        ("/a/.hidden/..x", "/a/.hidden/..x"),
        # Percent-decoding (either case of hex digit).
        ("/%61gent/", "/agent/"),
        ("/%41%42", "/AB"),
        ("/t%C3%A9st", "/tést"),
        ("/t%c3%a9st", "/tést"),
        ("/a%20b", "/a b"),
        ("/%25", "/%"),  # a lone escaped percent: one decode can't build a new escape
        ("/100%25x", "/100%x"),
        ("/a%3Fb", "/a?b"),
        # Raw UTF-8 as aiohttp hands it over (decoded with surrogateescape).
        ("/tést", "/tést"),
        ("/t\udcc3\udca9st", "/tést"),
        # Repeated slashes merge: servers do, and '//agent/' must match '/agent/'.
        ("//agent/", "/agent/"),
        ("/agent//tickets///42", "/agent/tickets/42"),
        ("//", "/"),
        ("/agent//", "/agent/"),
        # ;params are cut per segment: servlet containers route /agent;x/ to /agent/.
        ("/agent;jsessionid=ABC/tickets", "/agent/tickets"),
        ("/login;jsessionid=ABC", "/login"),
        ("/agent%3Bx/y", "/agent/y"),
        ("/;x/agent/", "/agent/"),
        # The query is not part of the path (aiohttp's raw_path carries it).
        ("/agent/?next=/../x%2F", "/agent/"),
        ("/a%3F?q", "/a?"),
    ],
)
def test_normalised(raw: str, expected: str) -> None:
    assert normalize_path(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        # A matcher needs an absolute path.
        ("", "not_absolute"),
        ("agent/", "not_absolute"),
        ("*", "not_absolute"),
        ("http://upstream/agent/", "not_absolute"),
        ("?x=1", "not_absolute"),
        # A raw '#' is cut by some servers, kept by others.
        ("/public#/agent/", "fragment"),
        # Broken escapes: servers repair them differently.
        ("/a%", "bad_escape"),
        ("/a%2", "bad_escape"),
        ("/a%zz", "bad_escape"),
        ("/a%%32e", "bad_escape"),
        # Dot segments resolve to somewhere the matcher never saw.
        ("/public/../agent/", "dot_segment"),
        ("/public/./x", "dot_segment"),
        ("/..", "dot_segment"),
        ("/.", "dot_segment"),
        ("/a/..", "dot_segment"),
        ("/public/%2e%2e/agent/", "dot_segment"),
        ("/public/%2E%2E/agent/", "dot_segment"),
        ("/public/.%2e/agent/", "dot_segment"),
        ("/public/%2e/agent/", "dot_segment"),
        ("/public/..;/agent/", "dot_segment"),  # Tomcat reads '..;' as '..'
        ("/public/..;x=1/agent/", "dot_segment"),
        ("/public/%2e%2e%3b/agent/", "dot_segment"),
        ("/public//../agent/", "dot_segment"),
        # Encoded slashes: decoded to a separator by some servers only.
        ("/public%2F..%2Fagent/", "encoded_slash"),
        ("/public/..%2fagent/", "encoded_slash"),
        ("/a%2Fb", "encoded_slash"),
        ("/public;%2f..%2fagent/x", "encoded_slash"),  # hidden in a ;param
        # Backslashes are separators on Windows and in some frameworks.
        ("/public\\..\\agent\\", "backslash"),
        ("/a\\b", "backslash"),
        ("/public%5C..%5Cagent", "backslash"),
        ("/a%5cb", "backslash"),
        # Control characters: NUL truncates in C servers, CR/LF splits logs and headers.
        ("/agent%00.css", "control_char"),
        ("/a\x00b", "control_char"),
        ("/a%0d%0aSet-Cookie:x", "control_char"),
        ("/a\tb", "control_char"),
        ("/a%7f", "control_char"),
        ("/a%c2%85", "control_char"),  # U+0085, a C1 control (NEL)
        ("/a;%00", "control_char"),
        # Not UTF-8, or overlong UTF-8 ('/' and '.' spelled in two bytes).
        ("/%ff", "not_utf8"),
        ("/%c0%af", "not_utf8"),
        ("/%c0%ae%c0%ae/", "not_utf8"),
        ("/%e0%80%af", "not_utf8"),
        ("/t%C3", "not_utf8"),
        ("/\udcff", "not_utf8"),
        ("/a\ud800", "not_utf8"),  # a lone surrogate that no bytes could have produced
        # Double encoding: a server decoding twice sees '..' or '/'.
        ("/public/%252e%252e/agent/", "double_escape"),
        ("/a%252fb", "double_escape"),
        ("/a%2500", "double_escape"),
    ],
)
def test_rejected(raw: str, reason: str) -> None:
    with pytest.raises(BadPath) as info:
        normalize_path(raw)
    assert info.value.reason == reason


def test_error_messages_are_stable() -> None:
    with pytest.raises(BadPath, match=r"^path has a '\.' or '\.\.' segment$"):
        normalize_path("/a/../b")
    with pytest.raises(BadPath, match=r"^path has an encoded '/' \(%2F\)$"):
        normalize_path("/a%2Fb")


def test_plain_path_is_returned_as_is() -> None:
    raw = "/agent/tickets/42"
    assert normalize_path(raw) is raw


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("Example.COM", "example.com"),
        ("example.com:8443", "example.com"),
        ("example.com.", "example.com"),
        ("example.com.:80", "example.com"),
        ("[2001:DB8::1]:443", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("10.0.0.1:8080", "10.0.0.1"),
        ("", ""),
    ],
)
def test_normalize_host(host: str, expected: str) -> None:
    assert normalize_host(host) == expected
    assert normalize_host(expected) == expected


@pytest.mark.parametrize(
    ("value", "authority", "name"),
    [
        ("gw.test", "gw.test", "gw.test"),
        ("GW.Test.:8080", "gw.test:8080", "gw.test"),
        ("localhost:65535", "localhost:65535", "localhost"),
        ("help_desk:1", "help_desk:1", "help_desk"),
        ("192.0.2.10", "192.0.2.10", "192.0.2.10"),
        ("[2001:DB8::1]:443", "[2001:db8::1]:443", "2001:db8::1"),
        ("[::ffff:192.0.2.1]", "[::ffff:192.0.2.1]", "::ffff:192.0.2.1"),
        ("a" * 63 + ".test", "a" * 63 + ".test", "a" * 63 + ".test"),
    ],
)
def test_parse_host_normalises_once(value: str, authority: str, name: str) -> None:
    assert parse_host(value) == (authority, name)
    assert parse_host(authority) == (authority, name)


@pytest.mark.parametrize(
    "value",
    [
        "", "gw.test, evil.test", "gw.test,evil.test", "user@gw.test", "gw.test:80:80", "gw.test/",
        "gw.test/x", "gw.test;x", "gw .test", "gw.test\t", "gw.test:0", "gw.test:65536", "gw.test:080",
        "gw.test:", ":80", "gw%2etest", "gw.test%00", "gw..test", ".gw.test", "gw.test..", "a" * 64 + ".test",
        ".".join(["a" * 63] * 4) + ".ab", "127.1", "0x7f.0.0.1", "010.0.0.1", "192.0.2.256", "1.2.3.4.5",
        "name.0x10", "name.42", "[::1", "::1", "[::1]x", "[fe80::1%25eth0]", "[v1.x]", "[1.2.3.4]",
        "[::1]:0", "\u212a.test", "gw.test\r\nx: y", "*.gw.test", "gw_test:8080:", "[gw.test]",
    ],
)
def test_parse_host_refuses_what_servers_read_differently(value: str) -> None:
    with pytest.raises(BadHost):
        parse_host(value)


def test_server_names_exact_and_wildcard() -> None:
    assert server_name_matcher(None) is None
    serves = server_name_matcher(("help.example.com", "*.example.org"))
    assert serves is not None
    assert serves("help.example.com") and serves("a.example.org") and serves("a.b.example.org")
    assert not serves("example.org") and not serves("evil.test") and not serves("xhelp.example.com")
    assert not serves("evilexample.org")
    exact = server_name_matcher(("10.0.0.1",))
    assert exact is not None and exact("10.0.0.1") and not exact("10.0.0.2")
