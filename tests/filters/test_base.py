"""The Filter base class: every hook defaults to a no-op."""

from __future__ import annotations

from typing import cast

from aiohttp.web import BaseRequest

from gateway.exchange import Exchange
from gateway.filters.base import Filter
from gateway.metrics import Metrics
from gateway.routing import CompiledRoute
from tests.support.policy import make_policy


class Minimal(Filter):
    name = "minimal"


def make_exchange() -> Exchange:
    return Exchange(
        request=cast(BaseRequest, None),
        method="POST",
        path="/",
        host="h",
        peer_ip="192.0.2.1",
        client_ip="192.0.2.1",
        route=CompiledRoute("default", 1 << 20, 60.0),
    )


def test_class_defaults() -> None:
    assert Filter.rewrites_responses is False
    assert Minimal.enabled_in(make_policy()) is True
    assert Minimal.enabled_in(make_policy({"firewall": {"enabled": False}})) is True


def test_keeps_the_metrics() -> None:
    metrics = Metrics()
    assert Minimal(make_policy(), metrics).metrics is metrics


async def test_hooks_are_no_ops() -> None:
    flt = Minimal(make_policy(), Metrics())
    ex = make_exchange()
    assert await flt.on_request(ex) is None
    assert flt.wants_request_body(ex) is False
    body = b"name=Jane+Doe"
    assert await flt.on_request_body(ex, body) is body
    assert await flt.on_response_headers(ex) is None
    # and the exchange is left as it was
    assert ex.decisions == [] and not ex.upstream_headers and not ex.response_headers and ex.notes == {}
