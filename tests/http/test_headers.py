"""Header handling between client and upstream: hop-by-hop removal and forwarding headers."""

from __future__ import annotations

from typing import Any

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.http.headers import (
    FORWARDING,
    HOP_BY_HOP,
    STRIPPED_PREFIXES,
    RequestHeaderRules,
    connection_tokens,
    downstream_response_headers,
    head_size,
    upstream_request_headers,
)


def headers(*pairs: tuple[str, str]) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict(pairs))


def upstream(incoming: CIMultiDictProxy[str], **kwargs: Any) -> CIMultiDict[str]:
    options: dict[str, Any] = {
        "client_ip": "203.0.113.7",
        "proto": "https",
        "forwarded_host": "helpdesk.example",
        "host": "helpdesk.example",
        "via": False,
        "keep_length": True,
    }
    options.update(kwargs)
    return upstream_request_headers(incoming, **options)[0]


def names(h: CIMultiDict[str]) -> list[str]:
    return [name.lower() for name, _ in h.items()]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], frozenset()),
        (["close"], {"close"}),
        (["X-Secret, Keep-Alive"], {"x-secret", "keep-alive"}),
        (["  X-A ,, x-b  ", "X-C"], {"x-a", "x-b", "x-c"}),
        ([",", " "], frozenset()),
    ],
)
def test_connection_tokens(values: list[str], expected: set[str]) -> None:
    assert connection_tokens(values) == frozenset(expected)


HOP_HEADERS = (
    ("Connection", "keep-alive, X-Named-Hop"),
    ("Keep-Alive", "timeout=5"),
    ("TE", "trailers"),
    ("Trailer", "X-Checksum"),
    ("Transfer-Encoding", "chunked"),
    ("Upgrade", "h2c"),
    ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
    ("Proxy-Connection", "keep-alive"),
    ("X-Named-Hop", "connection-scoped"),
)


def test_request_hop_by_hop_removed_including_connection_named() -> None:
    incoming = headers(*HOP_HEADERS, ("Accept", "text/html"), ("Cookie", "a=1"))
    out = upstream(incoming)
    for name, _ in HOP_HEADERS:
        assert name not in out, name
    assert out.getall("Accept") == ["text/html"]
    assert out.getall("Cookie") == ["a=1"]


def test_several_connection_headers_all_count() -> None:
    incoming = headers(("Connection", "X-One"), ("Connection", "x-two"), ("X-One", "1"), ("X-Two", "2"), ("X-Three", "3"))
    out = upstream(incoming)
    assert "X-One" not in out and "X-Two" not in out
    assert out["X-Three"] == "3"


@pytest.mark.parametrize("name", sorted(FORWARDING | {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"}))
def test_request_forwarding_headers_from_the_client_are_replaced(name: str) -> None:
    incoming = headers((name, "198.51.100.66"), (name.upper(), "198.51.100.67"))
    out = upstream(incoming, client_ip="203.0.113.7", proto="http", forwarded_host="public.example")
    assert "198.51.100.66" not in out.values()
    assert "198.51.100.67" not in out.values()
    assert out.getall("X-Forwarded-For") == ["203.0.113.7"]
    assert out.getall("X-Forwarded-Proto") == ["http"]
    assert out.getall("X-Forwarded-Host") == ["public.example"]


def test_request_host_and_expect_are_the_gateways() -> None:
    incoming = headers(("Host", "evil.example"), ("Expect", "100-continue"), ("X-Other", "kept"))
    out = upstream(incoming, host="upstream.internal:8081")
    assert out.getall("Host") == ["upstream.internal:8081"]
    assert "Expect" not in out
    assert out["X-Other"] == "kept"


@pytest.mark.parametrize(("keep_length", "present"), [(True, True), (False, False)])
def test_request_content_length(keep_length: bool, present: bool) -> None:
    out = upstream(headers(("Content-Length", "12")), keep_length=keep_length)
    assert ("Content-Length" in out) is present


def test_request_end_to_end_order_and_repeats_preserved() -> None:
    incoming = headers(("X-A", "1"), ("Cookie", "a=1"), ("X-A", "2"), ("Cookie", "b=2"))
    out = upstream(incoming)
    assert out.getall("X-A") == ["1", "2"]
    assert out.getall("Cookie") == ["a=1", "b=2"]
    assert names(out)[:4] == ["x-a", "cookie", "x-a", "cookie"]


def test_request_via() -> None:
    assert "Via" not in upstream(headers(), via=False)
    out = upstream(headers(("Via", "1.0 corporate-proxy")), via=True)
    assert out.getall("Via") == ["1.0 corporate-proxy", "1.1 privacy-gateway"]
    # Without via, an incoming Via passes as an end-to-end header.
    assert upstream(headers(("Via", "1.0 corporate-proxy")), via=False).getall("Via") == ["1.0 corporate-proxy"]


def test_request_incoming_is_not_modified() -> None:
    base = CIMultiDict([("Connection", "X-Hop"), ("X-Hop", "1"), ("X-Forwarded-For", "1.2.3.4")])
    incoming = CIMultiDictProxy(base)
    upstream(incoming)
    assert list(base.items()) == [("Connection", "X-Hop"), ("X-Hop", "1"), ("X-Forwarded-For", "1.2.3.4")]


def test_response_hop_by_hop_removed_including_connection_named() -> None:
    incoming = headers(
        *HOP_HEADERS,
        ("Proxy-Authenticate", "Basic"),
        ("Content-Type", "text/html"),
        ("Content-Length", "5"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
    )
    out = downstream_response_headers(incoming, via=False)
    for name, _ in (*HOP_HEADERS, ("Proxy-Authenticate", "")):
        assert name not in out, name
    assert out.getall("Set-Cookie") == ["a=1", "b=2"]
    assert out["Content-Type"] == "text/html"
    assert out["Content-Length"] == "5"  # the response keeps its length


def test_response_forwarding_like_headers_pass() -> None:
    # Forwarding headers are only a request-side concern.
    out = downstream_response_headers(headers(("X-Real-IP", "x")), via=False)
    assert out["X-Real-IP"] == "x"


def test_response_via() -> None:
    out = downstream_response_headers(headers(("Via", "1.1 upstream-cache")), via=True)
    assert out.getall("Via") == ["1.1 upstream-cache", "1.1 privacy-gateway"]
    assert "Via" not in downstream_response_headers(headers(), via=False)


def test_vocabularies_are_lower_case() -> None:
    for name in HOP_BY_HOP | FORWARDING:
        assert name == name.lower()
    assert {"connection", "transfer-encoding", "upgrade", "te", "trailer", "keep-alive"} <= HOP_BY_HOP
    assert {"forwarded", "x-real-ip", "x-original-url", "remote-user"} <= FORWARDING


@pytest.mark.parametrize(
    ("raw", "size"),
    [
        ([], 0),
        ([(b"Host", b"a")], len(b"Host: a\r\n")),
        ([(b"A", b""), (b"Cookie", b"x=1")], len(b"A: \r\nCookie: x=1\r\n")),
    ],
)
def test_head_size(raw: list[tuple[bytes, bytes]], size: int) -> None:
    assert head_size(raw) == size


def _h(**values: str) -> "CIMultiDictProxy[str]":
    from multidict import CIMultiDict, CIMultiDictProxy

    return CIMultiDictProxy(CIMultiDict({k.replace("_", "-"): v for k, v in values.items()}))


def test_forwarded_proto_believes_only_a_trusted_peer() -> None:
    from gateway.http.headers import forwarded_proto

    claimed = _h(X_Forwarded_Proto="HTTPS")
    assert forwarded_proto(claimed, trusted_peer=True, secure=False) == "https"
    assert forwarded_proto(claimed, trusted_peer=False, secure=False) == "http"
    assert forwarded_proto(_h(X_Forwarded_Proto="gopher"), trusted_peer=True, secure=True) == "https"


# --- names with '_' -----------------------------------------------------------------

UNDERSCORED = (("X_Forwarded_For", "6.6.6.6"), ("X_Forwarded_Proto", "https"), ("SCRIPT_NAME", "/pfx"), ("My_Header", "1"))


@pytest.mark.parametrize("action", ["drop", "reject"])
def test_underscore_names_are_left_out_and_counted(action: Any) -> None:
    out, count = upstream_request_headers(
        headers(*UNDERSCORED, ("X-Kept", "yes")), client_ip="203.0.113.7", proto="http",
        forwarded_host="h", host="h", via=False, keep_length=True, underscores=action,
    )
    assert count == 4
    assert "6.6.6.6" not in out.values() and "/pfx" not in out.values()
    assert out["X-Kept"] == "yes"
    assert out.getall("X-Forwarded-For") == ["203.0.113.7"]


def test_allowed_underscore_names_pass_unless_they_read_as_a_stripped_name() -> None:
    out, count = upstream_request_headers(
        headers(*UNDERSCORED, ("X_Original_URL", "/admin/"), ("Connection", "X_Hop"), ("X_Hop", "1")),
        client_ip="203.0.113.7", proto="http", forwarded_host="h", host="h", via=False,
        keep_length=True, underscores="allow",
    )
    assert count == 0
    assert out["SCRIPT_NAME"] == "/pfx" and out["My_Header"] == "1"
    for name in ("X_Forwarded_For", "X_Forwarded_Proto", "X_Original_URL", "X_Hop"):
        assert name not in out, name
    assert out.getall("X-Forwarded-For") == ["203.0.113.7"]


# --- identity and override headers ------------------------------------------------------

SPOOFED = [
    "X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Client-Cert", "X-Forwarded-Protocol",
    "X-Forwarded-Uri", "X-Forwarded-Preferred-Username", "X-Original-URL", "X-Rewrite-URL",
    "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override", "X-Host", "X-Real-IP",
    "True-Client-IP", "CF-Connecting-IP", "X-Client-IP", "X-Cluster-Client-IP", "Forwarded",
    "X-Remote-User", "Remote-User", "X-Auth-Request-User", "X-Auth-Request-Email", "X-User",
    "X-Email", "X-Amzn-Oidc-Identity", "X-SSL-Client-Cert",
]


@pytest.mark.parametrize("name", SPOOFED)
def test_identity_and_override_headers_never_pass(name: str) -> None:
    out = upstream(headers((name, "spoofed"), ("X-Kept", "yes")))
    assert "spoofed" not in out.values()
    assert out["X-Kept"] == "yes"


def test_prefixes_and_lists_are_lower_case() -> None:
    assert all(p == p.lower() and p.endswith("-") for p in STRIPPED_PREFIXES)
    assert not FORWARDING.intersection(name for name in FORWARDING if name.startswith(STRIPPED_PREFIXES))


def test_policy_names_and_prefixes_are_stripped_too() -> None:
    rules = RequestHeaderRules(["X-Acme-User", "X-Sso-*"])
    out = upstream(headers(("X-ACME-USER", "a"), ("X-Sso-Name", "b"), ("X-Ssox", "kept")), rules=rules)
    assert names(out)[:1] == ["x-ssox"]
    assert "a" not in out.values() and "b" not in out.values()


def test_set_headers_take_only_the_gateways_values() -> None:
    rules = RequestHeaderRules((), {"X-Client-Address": "client_ip", "X-Scheme-Used": "proto", "X-Served-Host": "host"})
    out = upstream(
        headers(("X-Client-Address", "6.6.6.6"), ("x-scheme-used", "gopher")),
        rules=rules, client_ip="203.0.113.7", proto="https", forwarded_host="help.example:8443",
    )
    assert out.getall("X-Client-Address") == ["203.0.113.7"]
    assert out.getall("X-Scheme-Used") == ["https"]
    assert out.getall("X-Served-Host") == ["help.example:8443"]


def test_websocket_upgrade_needs_both_headers() -> None:
    from gateway.http.headers import is_websocket_upgrade

    assert is_websocket_upgrade(_h(Upgrade="WebSocket", Connection="keep-alive, Upgrade"))
    assert not is_websocket_upgrade(_h(Upgrade="websocket"))
    assert not is_websocket_upgrade(_h(Connection="upgrade", Upgrade="h2c"))


def test_the_verdict_memo_stays_bounded() -> None:
    rules = RequestHeaderRules()
    for index in range(3000):
        upstream(headers((f"X-Random-{index}", "v")), rules=rules)
    assert 0 < len(rules.kinds) <= 1024


def test_the_readme_lists_every_removed_header() -> None:
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = readme.index("**What the helpdesk receives.**")
    section = readme[start : readme.index("**Header names with `_`.**", start)]
    listed = {name.lower() for name in re.findall(r"`([A-Za-z-]+)`", section)}
    assert FORWARDING <= listed, sorted(FORWARDING - listed)
    for prefix in STRIPPED_PREFIXES:
        assert f"`{prefix}*`" in section.lower(), prefix
