"""A compiled policy: filters built only when enabled, encodings, upstream addresses, timeouts."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.exchange import BodyRewriter, Exchange
from gateway.filters.base import Filter
from gateway.filters.firewall import Firewall
from gateway.http.encoding import narrow_accept_encoding
from gateway.metrics import Metrics
from gateway.policy.schema import Policy
from gateway.runtime import Runtime
from tests.support.policy import make_policy


def runtime(doc: dict[str, Any] | None = None, checksum: str = "") -> Runtime:
    return Runtime(make_policy(doc or {}), Metrics(), checksum)


def test_firewall_built_when_enabled() -> None:
    rt = runtime()
    assert [type(f) for f in rt.chain.filters] == [Firewall]
    assert rt.chain.reverse == rt.chain.filters[::-1]


def test_disabled_filter_not_built() -> None:
    assert runtime({"firewall": {"enabled": False}}).chain.filters == ()


def test_no_rewriting_filter_keeps_accept_encoding() -> None:
    assert runtime().narrow_accept_encoding is None


class Rewriting(Filter):
    name = "rewriting"
    rewrites_responses = True

    async def on_response_headers(self, ex: Exchange) -> BodyRewriter | None:
        return None


class Disabled(Rewriting):
    name = "disabled"

    @classmethod
    def enabled_in(cls, policy: Policy) -> bool:
        return False


def test_rewriting_filter_narrows_accept_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gateway.runtime.FILTER_CLASSES", (Firewall, Rewriting))
    rt = runtime()
    assert [type(f) for f in rt.chain.filters] == [Firewall, Rewriting]
    assert rt.narrow_accept_encoding is narrow_accept_encoding


def test_disabled_rewriting_filter_does_not_narrow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gateway.runtime.FILTER_CLASSES", (Firewall, Disabled))
    rt = runtime()
    assert [type(f) for f in rt.chain.filters] == [Firewall]
    assert rt.narrow_accept_encoding is None


@pytest.mark.parametrize(
    ("url", "base", "ws_base", "host"),
    [
        ("http://127.0.0.1:8081", "http://127.0.0.1:8081", "ws://127.0.0.1:8081", "127.0.0.1:8081"),
        ("https://helpdesk.internal", "https://helpdesk.internal", "wss://helpdesk.internal", "helpdesk.internal"),
        ("https://helpdesk.internal/", "https://helpdesk.internal", "wss://helpdesk.internal", "helpdesk.internal"),
        ("http://helpdesk.internal:8080/base", "http://helpdesk.internal:8080/base",
         "ws://helpdesk.internal:8080/base", "helpdesk.internal:8080"),
        ("https://user:secret@helpdesk.internal:8443", "https://user:secret@helpdesk.internal:8443",
         "wss://user:secret@helpdesk.internal:8443", "helpdesk.internal:8443"),
        ("http://[2001:db8::1]:8080", "http://[2001:db8::1]:8080", "ws://[2001:db8::1]:8080", "[2001:db8::1]:8080"),
    ],
)
def test_upstream_addresses(url: str, base: str, ws_base: str, host: str) -> None:
    rt = runtime({"upstream": {"url": url}})
    assert rt.upstream_base == base
    assert rt.upstream_ws_base == ws_base
    assert rt.upstream_host == host  # never the credentials


def test_upstream_settings_and_timeouts() -> None:
    rt = runtime(
        {
            "upstream": {"host_header": "upstream", "via": True,
                         "timeouts": {"connect": "2s", "first_byte": "30s", "idle": "15s"}},
            "limits": {"max_body_bytes": "1MiB"},
        },
        checksum="abc123",
    )
    assert rt.checksum == "abc123"
    assert rt.pass_client_host is False
    assert rt.via is True
    assert rt.limits.max_body_bytes == 1024 * 1024
    assert rt.timeouts.idle == 15.0
    timeout = rt.client_timeout
    assert timeout.sock_connect == 2.0
    # Only the connect is bounded by aiohttp; first byte and idle are enforced by the proxy.
    assert (timeout.total, timeout.connect, timeout.sock_read) == (None, None, None)
    assert rt.routes.default.first_byte_timeout == 30.0


def test_defaults() -> None:
    rt = runtime()
    assert rt.pass_client_host is True
    assert rt.via is False
    assert rt.access_log.enabled is True
    assert rt.access_log.mask_ip.mode == "truncated"


def test_access_log_follows_policy() -> None:
    rt = runtime({"logging": {"access_log": False, "client_ip": "hashed"}})
    assert rt.access_log.enabled is False
    assert rt.access_log.mask_ip.mode == "hashed"


def test_client_ip_and_routes_compiled() -> None:
    rt = runtime(
        {"client_ip": {"trusted_proxies": ["10.0.0.0/8"]}, "routes": [{"name": "agent", "path": "/agent/"}]}
    )
    assert rt.client_ip.resolve("10.1.2.3", ["203.0.113.7"]) == "203.0.113.7"
    assert rt.client_ip.resolve("198.51.100.1", ["203.0.113.7"]) == "198.51.100.1"
    assert rt.routes.lookup("GET", "h", "/agent/x").name == "agent"


def test_two_runtimes_share_one_metrics() -> None:
    # A reload builds a new Runtime on the same Metrics: building it twice must not raise.
    metrics = Metrics()
    policy = make_policy({"firewall": {"rules": [{"name": "r", "allow": ["192.0.2.0/24"]}]}})
    first = Runtime(policy, metrics)
    second = Runtime(policy, metrics)
    assert first.chain.filters[0] is not second.chain.filters[0]
