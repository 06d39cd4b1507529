"""Request matching: segment-boundary prefixes, globs, hosts, methods; the route table."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.policy.schema import RouteMatch
from gateway.routing import CompiledRoute, Matcher, RouteTable, glob_to_regex
from tests.support.policy import make_policy


def matcher(**match: Any) -> Matcher:
    return Matcher(RouteMatch.model_validate(match))


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        # A prefix matches on segment boundaries, with or without the trailing slash.
        ("/agent", "/agent", True),
        ("/agent", "/agent/", True),
        ("/agent", "/agent/tickets/42", True),
        ("/agent", "/agents", False),
        ("/agent", "/agent.json", False),
        ("/agent", "/", False),
        ("/agent/", "/agent", True),
        ("/agent/", "/agent/", True),
        ("/agent/", "/agent/x", True),
        ("/agent/", "/agents", False),
        ("/agent/", "/agentx/y", False),
        ("/agent/", "/x/agent/", False),
        ("/a/b", "/a/b/c", True),
        ("/a/b", "/a/bc", False),
        ("/a/b", "/a", False),
        # "/" is no restriction at all.
        ("/", "/", True),
        ("/", "/anything/below", True),
        # Prefixes are case-sensitive (paths are).
        ("/agent", "/Agent", False),
        # Globs match the whole path: * within a segment, ** across segments.
        ("/upload*", "/upload", True),
        ("/upload*", "/uploads", True),
        ("/upload*", "/upload/x", False),
        ("/api/*/tickets", "/api/v1/tickets", True),
        ("/api/*/tickets", "/api/v1/v2/tickets", False),
        ("/api/*/tickets", "/api//tickets", True),
        ("/api/*/tickets", "/api/v1/tickets/42", False),  # fullmatch, not a prefix
        ("/api/**", "/api/", True),
        ("/api/**", "/api/a/b/c", True),
        ("/api/**", "/api", False),
        ("/api/**", "/apix/a", False),
        ("/**/secret", "/a/b/secret", True),
        ("/**/secret", "/secret", False),
        ("/**.pdf", "/docs/a/report.pdf", True),
        ("/*.pdf", "/docs/report.pdf", False),
        ("/file?.txt", "/file1.txt", True),
        ("/file?.txt", "/file12.txt", False),
        ("/a?b", "/a/b", False),  # ? does not match the separator
        ("/v[12]/x", "/v1/x", True),
        ("/v[12]/x", "/v3/x", False),
        ("/v[!12]/x", "/v3/x", True),
        ("/v[!12]/x", "/v1/x", False),
        ("/v[0-9]/x", "/v7/x", True),
        # Regex metacharacters in a glob are literal.
        ("/a.b*", "/a.bc", True),
        ("/a.b*", "/aXbc", False),
        ("/a+(b)*", "/a+(b)c", True),
        ("/a$*", "/a$", True),
        # A path may hold a newline after percent-decoding: DOTALL keeps ** honest.
        ("/api/**", "/api/a\nb", True),
        ("/a/*", "/a/x\ny", True),
    ],
)
def test_path(pattern: str, path: str, expected: bool) -> None:
    assert matcher(path=pattern).matches("GET", "h", path) is expected


@pytest.mark.parametrize(
    ("pattern", "regex"),
    [
        ("", ""),
        ("/a", "/a"),
        ("*", "[^/]*"),
        ("**", ".*"),
        ("***", ".*[^/]*"),
        ("?", "[^/]"),
        ("[ab]", "[ab]"),
        ("[!ab]", "[^ab]"),
        ("[!]", re.escape("[!]")),  # an empty negated class is taken literally  # degenerate; kept as written
        ("a[", re.escape("a[")),  # an unclosed [ is a literal
        ("a[b", "a" + re.escape("[") + "b"),
        ("[a\\]", "[a\\\\]"),  # a backslash inside a class is literal
        ("a.b", re.escape("a.b")),
        ("a]", re.escape("a]")),
    ],
)
def test_glob_to_regex(pattern: str, regex: str) -> None:
    assert glob_to_regex(pattern) == regex


def test_glob_segment_char_for_hosts() -> None:
    assert glob_to_regex("*.example", segment_char=".") == "[^\\.]*\\.example"


def test_unclosed_bracket_is_a_literal_glob() -> None:
    m = matcher(path="/a[")
    assert m.matches("GET", "h", "/a[")
    assert not m.matches("GET", "h", "/a")
    assert not m.matches("GET", "h", "/ab")


@pytest.mark.parametrize("glob", ["/a[]b]", "/x[z-a]"])
def test_glob_accepted_by_the_schema_compiles(glob: str) -> None:
    try:
        policy = make_policy({"routes": [{"name": "r", "path": glob}]})
    except ValidationError:
        return  # refused with a policy error: fine
    RouteTable(policy)


@pytest.mark.parametrize(
    ("pattern", "host", "expected"),
    [
        ("helpdesk.example", "helpdesk.example", True),
        ("helpdesk.example", "other.example", False),
        ("helpdesk.example", "helpdesk.example.evil", False),
        ("HelpDesk.Example", "helpdesk.example", True),  # the policy may use any case
        ("*.example", "admin.example", True),
        ("*.example", "ADMIN.EXAMPLE", True),
        ("*.example", "example", False),
        ("*.example", "a.b.example", False),  # * stays within one label
        ("**.example", "a.b.example", True),
        ("*.Example", "admin.example", True),
        ("admin-?.example", "admin-1.example", True),
        ("admin-?.example", "admin-12.example", False),
        ("*.example", "evilexample", False),
    ],
)
def test_host(pattern: str, host: str, expected: bool) -> None:
    assert matcher(host=pattern).matches("GET", host, "/") is expected


@pytest.mark.parametrize(
    ("methods", "method", "expected"),
    [
        (["POST", "PUT"], "POST", True),
        (["POST", "PUT"], "PUT", True),
        (["POST", "PUT"], "GET", False),
        (["POST"], "post", False),  # methods are case-sensitive tokens
        (None, "DELETE", True),
    ],
)
def test_methods(methods: list[str] | None, method: str, expected: bool) -> None:
    assert matcher(methods=methods).matches(method, "h", "/") is expected


def test_all_conditions_must_hold() -> None:
    m = matcher(path="/agent/", host="admin.example", methods=["POST"])
    assert m.matches("POST", "admin.example", "/agent/x")
    assert not m.matches("GET", "admin.example", "/agent/x")
    assert not m.matches("POST", "other.example", "/agent/x")
    assert not m.matches("POST", "admin.example", "/public")


def test_empty_match_matches_everything() -> None:
    m = matcher()
    assert m.matches("PATCH", "any.host", "/deep/path")
    assert m.matches("GET", "", "/")


def _table(routes: list[dict[str, Any]], **extra: Any) -> RouteTable:
    return RouteTable(make_policy({"routes": routes, **extra}))


def test_route_table_first_match_wins() -> None:
    table = _table(
        [
            {"name": "upload", "path": "/agent/upload", "max_body_bytes": "100MiB"},
            {"name": "agent", "path": "/agent/", "first_byte_timeout": "5s"},
            {"name": "agent-again", "path": "/agent/", "max_body_bytes": 1},
        ]
    )
    assert table.lookup("POST", "h", "/agent/upload/x") == CompiledRoute("upload", 100 * 1024 * 1024, 60.0)
    agent = table.lookup("GET", "h", "/agent/tickets")
    assert agent.name == "agent"
    assert agent.first_byte_timeout == 5.0
    assert agent.max_body_bytes == 10 * 1024 * 1024  # inherited from limits


def test_route_table_default_takes_limits_and_timeouts() -> None:
    table = _table(
        [{"name": "agent", "path": "/agent/"}],
        limits={"max_body_bytes": "2MiB"},
        upstream={"timeouts": {"first_byte": "7s"}},
    )
    assert table.lookup("GET", "h", "/agents") is table.default
    assert table.default == CompiledRoute("default", 2 * 1024 * 1024, 7.0)
    agent = table.lookup("GET", "h", "/agent")
    assert (agent.name, agent.max_body_bytes, agent.first_byte_timeout) == ("agent", 2 * 1024 * 1024, 7.0)


def test_route_table_without_routes() -> None:
    table = _table([])
    assert table.lookup("GET", "h", "/x") is table.default
    assert table.default.name == "default"


def test_route_table_zero_override_is_kept() -> None:
    # 0 is a value, not "absent": it must not fall back to the default limit.
    table = _table([{"name": "readonly", "path": "/ro/", "max_body_bytes": 0}])
    assert table.lookup("POST", "h", "/ro/x").max_body_bytes == 0


def test_route_table_by_method_and_host() -> None:
    table = _table(
        [
            {"name": "writes", "methods": ["POST"], "host": "*.example"},
            {"name": "admin", "host": "admin.example"},
        ]
    )
    assert table.lookup("POST", "admin.example", "/").name == "writes"
    assert table.lookup("GET", "admin.example", "/").name == "admin"
    assert table.lookup("POST", "other.test", "/").name == "default"


def test_route_table_carries_the_rewrite_switch() -> None:
    table = RouteTable(make_policy({
        "upstream": {"url": "http://127.0.0.1:1"},
        "routes": [{"name": "media", "path": "/media/", "rewrite": False}, {"name": "pages", "path": "/p/"}],
    }))
    assert table.lookup("GET", "h", "/media/a.txt").rewrite is False
    assert table.lookup("GET", "h", "/p/1").rewrite is True
    assert table.default.rewrite is True


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/agent/login", True), ("/agent/login/", False), ("/agent/login/x", False), ("/agent", False), ("/agent/logins", False)],
)
def test_path_exact(path: str, expected: bool) -> None:
    assert matcher(path_exact="/agent/login").matches("GET", "h", path) is expected


def test_route_table_carries_the_underscore_action() -> None:
    table = _table(
        [{"name": "legacy", "path": "/legacy/", "headers_with_underscores": "allow"}, {"name": "api", "path": "/api/"}],
        listen={"headers_with_underscores": "reject"},
    )
    assert table.lookup("GET", "h", "/legacy/x").underscores == "allow"
    assert table.lookup("GET", "h", "/api/x").underscores == "reject"
    assert table.lookup("GET", "h", "/x").underscores == "reject"
    assert _table([]).default.underscores == "drop"
