"""The IP firewall filter, on Exchange objects built without a server."""

from __future__ import annotations

from typing import Any, cast

import pytest
from aiohttp.web import BaseRequest

from gateway.exchange import Decision, Exchange, LocalReply
from gateway.filters.firewall import Evaluation, Firewall, Verdict
from gateway.http.addresses import AddressError
from gateway.metrics import Metrics
from gateway.routing import CompiledRoute
from tests.support.policy import make_policy

OFFICE = "192.0.2.0/24"
DENIED = LocalReply(403, "firewall_denied", "Access from your network is not allowed here.")


def make_exchange(
    client_ip: str = "203.0.113.7", path: str = "/", method: str = "GET", host: str = "helpdesk.example"
) -> Exchange:
    return Exchange(
        request=cast(BaseRequest, None),  # the firewall never touches the request
        method=method,
        path=path,
        host=host,
        peer_ip=client_ip,
        client_ip=client_ip,
        route=CompiledRoute("default", 1 << 20, 60.0),
    )


def make_firewall(firewall: dict[str, Any], ip_lists: dict[str, Any] | None = None) -> tuple[Firewall, Metrics]:
    metrics = Metrics()
    policy = make_policy({"firewall": firewall, "ip_lists": ip_lists or {}})
    return Firewall(policy, metrics), metrics


def count(metrics: Metrics, rule: str, decision: str, mode: str) -> float:
    value = metrics.registry.get_sample_value(
        "privacy_gateway_firewall_decisions_total", {"rule": rule, "decision": decision, "mode": mode}
    )
    return 0.0 if value is None else value


AGENT = {"name": "agent", "path": "/agent/", "allow": [OFFICE]}


@pytest.mark.parametrize(
    ("rules", "default", "ip", "path", "method", "host", "rule", "decision"),
    [
        # allow list
        ([AGENT], "allow", "192.0.2.9", "/agent/x", "GET", "h", "agent", "allow"),
        ([AGENT], "allow", "203.0.113.7", "/agent/x", "GET", "h", "agent", "deny"),
        ([AGENT], "allow", "203.0.113.7", "/public", "GET", "h", "default", "allow"),
        # deny is checked before allow
        ([{"name": "r", "allow": [OFFICE], "deny": ["192.0.2.66"]}], "allow", "192.0.2.66", "/", "GET", "h", "r", "deny"),
        ([{"name": "r", "allow": [OFFICE], "deny": ["192.0.2.66"]}], "allow", "192.0.2.65", "/", "GET", "h", "r", "allow"),
        # no allow: everyone not denied passes; empty allow: nobody
        ([{"name": "r", "deny": ["198.51.100.0/24"]}], "deny", "203.0.113.7", "/", "GET", "h", "r", "allow"),
        ([{"name": "r", "deny": ["198.51.100.0/24"]}], "deny", "198.51.100.1", "/", "GET", "h", "r", "deny"),
        ([{"name": "r", "allow": []}], "allow", "192.0.2.9", "/", "GET", "h", "r", "deny"),
        # first match wins
        ([{"name": "open", "path": "/agent/login"}, AGENT], "allow", "203.0.113.7", "/agent/login", "GET", "h",
         "open", "allow"),
        ([AGENT, {"name": "open", "path": "/agent/login"}], "allow", "203.0.113.7", "/agent/login", "GET", "h",
         "agent", "deny"),
        # default deny
        ([AGENT], "deny", "192.0.2.9", "/public", "GET", "h", "default", "deny"),
        ([], "deny", "192.0.2.9", "/", "GET", "h", "default", "deny"),
        ([], "allow", "192.0.2.9", "/", "GET", "h", "default", "allow"),
        # methods
        ([{"name": "w", "methods": ["POST", "PUT"], "allow": [OFFICE]}], "allow", "203.0.113.7", "/", "POST", "h",
         "w", "deny"),
        ([{"name": "w", "methods": ["POST", "PUT"], "allow": [OFFICE]}], "allow", "203.0.113.7", "/", "GET", "h",
         "default", "allow"),
        # host: case, port and trailing dot do not dodge a rule
        ([{"name": "adm", "host": "admin.example", "allow": [OFFICE]}], "allow", "203.0.113.7", "/", "GET",
         "ADMIN.example:8443", "adm", "deny"),
        ([{"name": "adm", "host": "admin.example", "allow": [OFFICE]}], "allow", "203.0.113.7", "/", "GET",
         "admin.example.", "adm", "deny"),
        ([{"name": "adm", "host": "*.example", "allow": [OFFICE]}], "allow", "203.0.113.7", "/", "GET",
         "www.example", "adm", "deny"),
        ([{"name": "adm", "host": "admin.example", "allow": [OFFICE]}], "allow", "203.0.113.7", "/", "GET",
         "www.example", "default", "allow"),
        # an IPv6 literal host, bracketed with a port or already cleaned by the proxy
        ([{"name": "v6", "host": "2001:db8::1", "allow": [OFFICE]}], "allow", "203.0.113.7", "/", "GET",
         "[2001:DB8::1]:443", "v6", "deny"),
        ([{"name": "v6", "host": "2001:db8::1", "allow": [OFFICE]}], "allow", "203.0.113.7", "/", "GET",
         "2001:db8::1", "v6", "deny"),
        # globs
        ([{"name": "g", "path": "/t/*/attachments/**", "allow": [OFFICE]}], "allow", "203.0.113.7",
         "/t/42/attachments/a/b.pdf", "GET", "h", "g", "deny"),
        ([{"name": "g", "path": "/t/*/attachments/**", "allow": [OFFICE]}], "allow", "203.0.113.7",
         "/t/42/x/attachments/a", "GET", "h", "default", "allow"),
        # ranges, IPv6, mapped IPv6
        ([{"name": "r", "allow": ["10.0.0.5-10.0.0.40"]}], "allow", "10.0.0.40", "/", "GET", "h", "r", "allow"),
        ([{"name": "r", "allow": ["10.0.0.5-10.0.0.40"]}], "allow", "10.0.0.41", "/", "GET", "h", "r", "deny"),
        ([{"name": "r", "allow": ["2001:db8::/32"]}], "allow", "2001:db8::1", "/", "GET", "h", "r", "allow"),
        ([{"name": "r", "allow": ["2001:db8::/32"]}], "allow", "2001:db9::1", "/", "GET", "h", "r", "deny"),
        ([{"name": "r", "allow": [OFFICE]}], "allow", "::ffff:192.0.2.9", "/", "GET", "h", "r", "allow"),
        ([{"name": "r", "deny": [OFFICE]}], "allow", "::ffff:192.0.2.9", "/", "GET", "h", "r", "deny"),
    ],
)
async def test_decisions(
    rules: list[dict[str, Any]], default: str, ip: str, path: str, method: str, host: str, rule: str, decision: str
) -> None:
    firewall, metrics = make_firewall({"rules": rules, "default": default})
    ex = make_exchange(ip, path, method, host)
    reply = await firewall.on_request(ex)
    assert ex.decisions == [Decision("firewall", decision, rule, "enforce")]
    assert reply == (DENIED if decision == "deny" else None)
    assert count(metrics, rule, decision, "enforce") == 1


async def test_named_lists() -> None:
    firewall, _ = make_firewall(
        {"rules": [{"name": "agent", "path": "/agent/", "allow": ["staff"], "deny": ["blocked"]}]},
        {"staff": ["office", "vpn"], "office": [OFFICE], "vpn": ["198.51.100.10-198.51.100.20"],
         "blocked": ["192.0.2.13"]},
    )
    for ip, expected in [("192.0.2.9", None), ("198.51.100.15", None), ("198.51.100.21", DENIED),
                         ("192.0.2.13", DENIED)]:
        assert await firewall.on_request(make_exchange(ip, "/agent/")) == expected, ip


async def test_status_override() -> None:
    firewall, _ = make_firewall(
        {"status": 451, "default": "deny", "rules": [
            {"name": "admin", "path": "/admin/", "allow": [OFFICE], "status": 404},
            {"name": "agent", "path": "/agent/", "allow": [OFFICE]},
        ]}
    )
    replies = [await firewall.on_request(make_exchange("203.0.113.7", p)) for p in ("/admin/", "/agent/", "/x")]
    assert [r.status if r else None for r in replies] == [404, 451, 451]
    assert {r.reason for r in replies if r} == {"firewall_denied"}
    # Only the 404 hides its area; the reason word stays for logs and metrics.
    assert [r.conceal if r else None for r in replies] == [True, False, False]


async def test_path_exact_matches_the_one_path() -> None:
    firewall, _ = make_firewall({"rules": [{"name": "login", "path_exact": "/agent/login", "allow": [OFFICE]}]})
    denied = [p for p in ("/agent/login", "/agent/login/", "/agent/login/x", "/agent", "/agent/logins")
              if await firewall.on_request(make_exchange("203.0.113.7", p))]
    assert denied == ["/agent/login"]


async def test_shadow_rule_counts_but_does_not_enforce() -> None:
    firewall, metrics = make_firewall(
        {"rules": [{"name": "trial", "path": "/agent/", "allow": [OFFICE], "shadow": True}]}
    )
    ex = make_exchange("203.0.113.7", "/agent/x")
    assert await firewall.on_request(ex) is None
    assert ex.decisions == [
        Decision("firewall", "deny", "trial", "shadow"),
        Decision("firewall", "allow", "default", "enforce"),
    ]
    assert count(metrics, "trial", "deny", "shadow") == 1
    assert count(metrics, "trial", "deny", "enforce") == 0
    ok = make_exchange("192.0.2.9", "/agent/x")
    assert await firewall.on_request(ok) is None
    assert ok.decisions[0] == Decision("firewall", "allow", "trial", "shadow")
    assert count(metrics, "default", "allow", "enforce") == 2


async def test_shadow_rule_never_loosens_enforcement() -> None:
    # A shadow allowlist in front of a default deny must not open the door.
    firewall, _ = make_firewall(
        {"default": "deny", "rules": [{"name": "trial", "path": "/agent/", "allow": ["0.0.0.0/0"], "shadow": True}]}
    )
    ex = make_exchange("203.0.113.7", "/agent/x")
    assert await firewall.on_request(ex) == DENIED
    assert ex.decisions == [
        Decision("firewall", "allow", "trial", "shadow"),
        Decision("firewall", "deny", "default", "enforce"),
    ]


async def test_shadow_then_enforcing_rule() -> None:
    firewall, metrics = make_firewall({"rules": [
        {"name": "trial", "path": "/agent/", "allow": ["198.51.100.0/24"], "shadow": True},
        {"name": "also-trial", "path": "/agent/", "deny": [OFFICE], "shadow": True, "status": 404},
        AGENT,
    ]})
    ex = make_exchange("192.0.2.9", "/agent/x")
    assert await firewall.on_request(ex) is None
    assert [(d.rule, d.decision, d.mode) for d in ex.decisions] == [
        ("trial", "deny", "shadow"), ("also-trial", "deny", "shadow"), ("agent", "allow", "enforce"),
    ]
    assert firewall.evaluate("GET", "h", "/agent/x", "192.0.2.9") == Evaluation(
        Verdict("agent", "allow", "enforce", None),
        (Verdict("trial", "deny", "shadow", 403), Verdict("also-trial", "deny", "shadow", 404)),
    )
    assert count(metrics, "also-trial", "deny", "shadow") == 1


async def test_metrics_children_exist_from_the_start_and_accumulate() -> None:
    firewall, metrics = make_firewall({"rules": [AGENT]})
    # Pre-bound: the series are exported at 0 before the first request.
    assert metrics.registry.get_sample_value(
        "privacy_gateway_firewall_decisions_total", {"rule": "agent", "decision": "deny", "mode": "enforce"}
    ) == 0.0
    for _ in range(3):
        await firewall.on_request(make_exchange("203.0.113.7", "/agent/"))
    await firewall.on_request(make_exchange("192.0.2.1", "/agent/"))
    await firewall.on_request(make_exchange("192.0.2.1", "/"))
    assert count(metrics, "agent", "deny", "enforce") == 3
    assert count(metrics, "agent", "allow", "enforce") == 1
    assert count(metrics, "default", "allow", "enforce") == 1
    assert count(metrics, "default", "deny", "enforce") == 0


def test_evaluate_counts_nothing() -> None:
    firewall, metrics = make_firewall({"rules": [AGENT]})
    assert firewall.evaluate("GET", "h", "/agent/", "203.0.113.7") == Evaluation(
        Verdict("agent", "deny", "enforce", 403)
    )
    assert count(metrics, "agent", "deny", "enforce") == 0


def test_enabled_in() -> None:
    assert Firewall.enabled_in(make_policy({}))
    assert not Firewall.enabled_in(make_policy({"firewall": {"enabled": False}}))
    assert Firewall.name == "firewall"


async def test_invalid_client_ip_fails_closed() -> None:
    firewall, _ = make_firewall({"rules": [AGENT]})
    with pytest.raises(ValueError):
        await firewall.on_request(make_exchange("not-an-ip", "/agent/"))


def test_unknown_list_fails_the_compile() -> None:
    # The loader rejects this first; a Firewall built from such a policy anyway must not start.
    with pytest.raises(AddressError):
        make_firewall({"rules": [{"name": "r", "allow": ["nosuch"]}]})


async def test_reloaded_firewall_continues_the_counters() -> None:
    # A hot reload builds a new Firewall on the same Metrics.
    metrics = Metrics()
    policy = make_policy({"firewall": {"rules": [AGENT]}})
    for _ in range(2):
        await Firewall(policy, metrics).on_request(make_exchange("203.0.113.7", "/agent/"))
    assert count(metrics, "agent", "deny", "enforce") == 2
