"""explain: the derived client IP, the matching rule and the decision, for admins."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.explain import Explainer, explain
from gateway.filters.firewall import Firewall
from gateway.http.clientip import ClientIPResolver, Hop
from gateway.metrics import Metrics
from tests.support.policy import make_policy

POLICY = make_policy({
    "ip_lists": {"office": ["192.0.2.0/24"], "lb": ["10.0.0.0/24"]},
    "client_ip": {"trusted_proxies": ["lb"]},
    "firewall": {"rules": [
        {"name": "trial", "path": "/agent/", "deny": ["203.0.113.0/24"], "shadow": True},
        {"name": "agent", "path": "/agent/", "allow": ["office"], "status": 404},
        {"name": "writes", "methods": ["POST"], "host": "admin.example", "allow": ["office"]},
    ]},
})


def test_text_for_a_denied_request_behind_proxies() -> None:
    e = explain(POLICY, peer="10.0.0.1", xff=["1.1.1.1, 203.0.113.7, 10.0.0.2:443"], path="/agent//x",
                host="helpdesk.example")
    assert e.to_text().splitlines() == [
        "request:      GET /agent//x  Host: helpdesk.example",
        "peer:         10.0.0.1",
        "X-Forwarded-For: 1.1.1.1, 203.0.113.7, 10.0.0.2:443",
        "hops (socket peer, then X-Forwarded-For from the right):",
        "  peer                 10.0.0.1                                trusted proxy",
        "  X-Forwarded-For[2]   10.0.0.2                                trusted proxy",
        "  X-Forwarded-For[1]   203.0.113.7                             not trusted",
        "client IP:    203.0.113.7",
        "matched path: /agent/x",
        "shadow rule:  'trial' would deny (403), not enforced",
        "rule:         'agent'",
        "decision:     deny, the gateway answers 404 (firewall_denied)",
    ]


def test_dict_is_json_and_complete() -> None:
    e = explain(POLICY, peer="10.0.0.1", xff=["192.0.2.5"], path="/agent/", method="get")
    d = e.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d == {
        "request": {"peer": "10.0.0.1", "xff": ["192.0.2.5"], "method": "GET", "host": "", "path": "/agent/"},
        "hops": [{"source": "peer", "address": "10.0.0.1", "trusted": True},
                 {"source": "X-Forwarded-For[0]", "address": "192.0.2.5", "trusted": False}],
        "client_ip": "192.0.2.5", "client_ip_error": None, "client_ip_detail": None,
        "normalized_path": "/agent/", "path_error": None, "path_detail": None,
        "firewall_enabled": True, "rule": "agent", "decision": "allow", "mode": "enforce",
        "shadow": [{"rule": "trial", "decision": "allow", "status": None}],
        "status": None, "reason": None,
    }


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        # Spoofed XFF from an untrusted peer is ignored.
        ({"peer": "198.51.100.1", "xff": ["192.0.2.1"], "path": "/agent/"},
         {"client_ip": "198.51.100.1", "rule": "agent", "decision": "deny", "status": 404}),
        ({"peer": "::ffff:10.0.0.1", "xff": ["[::ffff:192.0.2.1]:1"], "path": "/agent/"},
         {"client_ip": "192.0.2.1", "rule": "agent", "decision": "allow", "status": None}),
        ({"peer": "10.0.0.1", "xff": ["10.0.0.9"], "path": "/x"},
         {"client_ip": "10.0.0.9", "rule": "default", "decision": "allow", "status": None}),
        ({"peer": "203.0.113.1", "xff": [], "path": "/", "method": "POST", "host": "Admin.Example:443"},
         {"client_ip": "203.0.113.1", "rule": "writes", "decision": "deny", "status": 403}),
        # Refused before the firewall: 400 with the stable reason word.
        ({"peer": "10.0.0.1", "xff": ["unknown"], "path": "/agent/"},
         {"client_ip": None, "client_ip_error": "xff_invalid", "rule": None, "decision": None, "status": 400,
          "reason": "xff_invalid"}),
        ({"peer": "10.0.0.1", "xff": ["1.1.1.1", "2.2.2.2"], "path": "/"},
         {"client_ip_error": "xff_multiple", "status": 400, "reason": "xff_multiple"}),
        ({"peer": "192.0.2.1", "xff": [], "path": "/agent/%2e%2e/admin"},
         {"client_ip": "192.0.2.1", "path_error": "dot_segment", "normalized_path": None, "rule": None,
          "status": 400, "reason": "dot_segment"}),
        ({"peer": "", "xff": [], "path": "/"},
         {"client_ip_error": "peer_invalid", "hops": (), "status": 400}),
    ],
)
def test_cases(kwargs: dict[str, Any], expected: dict[str, Any]) -> None:
    e = explain(POLICY, **kwargs)
    for key, value in expected.items():
        assert getattr(e, key) == value, key


def test_both_errors_keep_their_own_detail() -> None:
    e = explain(POLICY, peer="10.0.0.1", xff=["unknown"], path="/a/../b")
    assert (e.client_ip_detail, e.path_detail) == ("X-Forwarded-For[0] is not an address",
                                                   "path has a '.' or '..' segment")
    text = e.to_text()
    assert "client IP:    none (xff_invalid: X-Forwarded-For[0] is not an address)" in text
    assert "matched path: none (dot_segment: path has a '.' or '..' segment)" in text
    assert text.endswith("decision:     refused, the gateway answers 400 (xff_invalid)")


def test_text_notes() -> None:
    ignored = explain(POLICY, peer="198.51.100.1", xff=["192.0.2.1"], path="/").to_text()
    assert "  X-Forwarded-For ignored: the peer is not a trusted proxy" in ignored
    assert "rule:         none matched, the default decides" in ignored
    assert ignored.endswith("decision:     allow, forwarded upstream")
    leftmost = explain(POLICY, peer="10.0.0.1", xff=["10.0.0.5, 10.0.0.6"], path="/").to_text()
    assert "  every hop is trusted: the leftmost is the client" in leftmost


def test_disabled_firewall() -> None:
    e = explain(make_policy({"firewall": {"enabled": False}}), peer="203.0.113.1", xff=[], path="/")
    assert (e.firewall_enabled, e.rule, e.decision, e.status) == (False, None, "allow", None)
    assert "firewall:     disabled" in e.to_text()


def test_uses_the_compiled_objects_it_is_given() -> None:
    # The admin endpoint hands over the live chain's objects; their answer is the answer.
    metrics = Metrics()
    strict = make_policy({"firewall": {"default": "deny", "status": 451}})
    firewall = Firewall(strict, metrics)
    resolver = ClientIPResolver(strict)
    explainer = Explainer(POLICY, resolver=resolver, firewall=firewall)
    assert explainer.firewall is firewall and explainer.resolver is resolver
    e = explainer.explain(peer="10.0.0.1", xff=["192.0.2.1"], path="/agent/")
    assert (e.client_ip, e.hops) == ("10.0.0.1", (Hop("peer", "10.0.0.1", False),))
    assert (e.rule, e.decision, e.status) == ("default", "deny", 451)
    # Explaining counts nothing on the live registry.
    assert metrics.registry.get_sample_value(
        "privacy_gateway_firewall_decisions_total", {"rule": "default", "decision": "deny", "mode": "enforce"}
    ) == 0.0


async def test_agrees_with_the_filter() -> None:
    from tests.filters.test_firewall import make_exchange

    firewall = Firewall(POLICY, Metrics())
    explainer = Explainer(POLICY, firewall=firewall)
    for ip, path in [("192.0.2.1", "/agent/"), ("203.0.113.7", "/agent/x"), ("198.51.100.1", "/x")]:
        ex = make_exchange(ip, path)
        reply = await firewall.on_request(ex)
        e = explainer.explain(peer=ip, xff=[], path=path)
        assert e.status == (reply.status if reply else None)
        assert [(d.rule, d.decision, d.mode) for d in ex.decisions] == [
            *((v.rule, v.decision, v.mode) for v in e.shadow), (e.rule, e.decision, e.mode)
        ]
