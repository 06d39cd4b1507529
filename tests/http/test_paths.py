"""Path and host normalisation: what rules match, and what is refused outright."""

from __future__ import annotations

import pytest

from gateway.http.paths import BadPath, normalize_host, normalize_path


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
