"""Per-request state: decisions, defaults that are never shared, LocalReply."""

from __future__ import annotations

import dataclasses
from typing import cast

import pytest
from aiohttp.web import BaseRequest

from gateway.exchange import Decision, Exchange, LocalReply
from gateway.routing import CompiledRoute


def make_exchange() -> Exchange:
    return Exchange(
        request=cast(BaseRequest, None),
        method="GET",
        path="/agent/",
        host="helpdesk.example",
        peer_ip="10.0.0.1",
        client_ip="203.0.113.7",
        route=CompiledRoute("default", 1 << 20, 60.0),
    )


def test_decide_appends_in_order() -> None:
    ex = make_exchange()
    assert ex.decisions == []
    ex.decide("firewall", "allow", "office", "shadow")
    ex.decide("firewall", "deny", "agent")
    ex.decide("consent", "missing")
    assert ex.decisions == [
        Decision("firewall", "allow", "office", "shadow"),
        Decision("firewall", "deny", "agent", "enforce"),
        Decision("consent", "missing", None, "enforce"),
    ]


def test_mutable_defaults_are_per_exchange() -> None:
    a, b = make_exchange(), make_exchange()
    a.decide("firewall", "deny")
    a.upstream_headers["X-A"] = "1"
    a.response_headers["X-B"] = "2"
    a.notes["k"] = "v"
    assert b.decisions == [] and not b.upstream_headers and not b.response_headers and b.notes == {}


def test_exchange_defaults() -> None:
    ex = make_exchange()
    assert ex.response_status == 0
    assert ex.route.name == "default"


def test_local_reply_is_frozen_and_comparable() -> None:
    reply = LocalReply(403, "firewall_denied", "msg")
    assert reply == LocalReply(403, "firewall_denied", "msg")
    assert reply.headers == ()
    assert LocalReply(413, "body_too_large").message == ""
    with pytest.raises(dataclasses.FrozenInstanceError):
        reply.status = 200  # type: ignore[misc]
    assert hash(reply) == hash(LocalReply(403, "firewall_denied", "msg"))
