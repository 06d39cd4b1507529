"""The admin listener: /metrics, /healthz, /readyz against real sockets, /explain."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any, cast

import pytest
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from pytest_aiohttp import AiohttpClient

from gateway.admin import make_admin_app
from gateway.metrics import Metrics
from gateway.policy.schema import Policy
from gateway.runtime import Runtime
from gateway.server import Gateway
from tests.conftest import free_port, upstream_url

CHECKSUM = "0123456789abcdef" * 4

FIREWALL = {
    "client_ip": {"trusted_proxies": ["10.0.0.0/8"]},
    "firewall": {
        "rules": [
            {"name": "office-only", "path": "/agent/", "allow": ["192.0.2.0/24"]},
            {"name": "admin-host", "host": "admin.example", "methods": ["POST"], "allow": []},
        ]
    },
}


@dataclass
class FakeGateway:
    """What the admin app reads from a Gateway: the live runtime and the metrics."""

    runtime: Runtime
    metrics: Metrics


def fake_gateway(url: str, extra: dict[str, Any] | None = None) -> FakeGateway:
    metrics = Metrics()
    policy = Policy.model_validate({"upstream": {"url": url}, "logging": {"access_log": False}, **(extra or {})})
    return FakeGateway(Runtime(policy, metrics, CHECKSUM), metrics)


async def admin_client(aiohttp_client: AiohttpClient, gateway: FakeGateway) -> Any:
    return await aiohttp_client(make_admin_app(cast(Gateway, gateway)))


async def test_metrics_text_format(aiohttp_client: AiohttpClient) -> None:
    gateway = fake_gateway("http://127.0.0.1:9")
    gateway.metrics.count_request("agent", 403)
    gateway.metrics.set_policy(CHECKSUM[:12])
    client = await admin_client(aiohttp_client, gateway)
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"] == CONTENT_TYPE_LATEST
    text = await response.text()
    assert "# TYPE privacy_gateway_requests_total counter" in text
    assert 'privacy_gateway_requests_total{route="agent",status_class="4xx"} 1.0' in text
    assert f'privacy_gateway_policy_info{{checksum="{CHECKSUM[:12]}"}} 1.0' in text
    # The runtime registered its firewall's children on the same registry.
    assert 'privacy_gateway_firewall_decisions_total{decision="allow",mode="enforce",rule="default"} 0.0' in text


async def test_healthz(aiohttp_client: AiohttpClient) -> None:
    client = await admin_client(aiohttp_client, fake_gateway("http://127.0.0.1:9"))
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_unknown_path_is_404(aiohttp_client: AiohttpClient) -> None:
    client = await admin_client(aiohttp_client, fake_gateway("http://127.0.0.1:9"))
    assert (await client.get("/agent/")).status == 404
    assert (await client.post("/metrics")).status == 405


async def test_readyz_with_a_listening_upstream(aiohttp_client: AiohttpClient, upstream: web.AppRunner) -> None:
    client = await admin_client(aiohttp_client, fake_gateway(upstream_url(upstream)))
    response = await client.get("/readyz")
    assert response.status == 200
    assert await response.json() == {"policy": CHECKSUM[:12], "upstream_reachable": True}


async def test_readyz_with_a_closed_port(aiohttp_client: AiohttpClient) -> None:
    client = await admin_client(aiohttp_client, fake_gateway(f"http://127.0.0.1:{free_port()}"))
    response = await client.get("/readyz")
    assert response.status == 503
    assert await response.json() == {"policy": CHECKSUM[:12], "upstream_reachable": False}


async def test_readyz_follows_a_runtime_swap(aiohttp_client: AiohttpClient, upstream: web.AppRunner) -> None:
    gateway = fake_gateway(f"http://127.0.0.1:{free_port()}")
    client = await admin_client(aiohttp_client, gateway)
    assert (await client.get("/readyz")).status == 503
    # A reload swaps the runtime: the next probe is about the new upstream, not a cached answer.
    gateway.runtime = fake_gateway(upstream_url(upstream)).runtime
    assert (await client.get("/readyz")).status == 200


async def test_readyz_answer_is_cached_briefly(aiohttp_client: AiohttpClient) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        client = await admin_client(aiohttp_client, fake_gateway(f"http://127.0.0.1:{port}"))
        assert (await client.get("/readyz")).status == 503  # bound but not listening: refused
        listener.listen()
        # Within the cache window, probes do not reconnect.
        assert (await client.get("/readyz")).status == 503


async def test_explain_requires_peer(aiohttp_client: AiohttpClient) -> None:
    client = await admin_client(aiohttp_client, fake_gateway("http://127.0.0.1:9", FIREWALL))
    for query in ("", "?path=/agent/", "?peer="):
        response = await client.get("/explain" + query)
        assert response.status == 400
        assert await response.json() == {"error": "the 'peer' parameter is required"}


async def test_explain_denied(aiohttp_client: AiohttpClient) -> None:
    client = await admin_client(aiohttp_client, fake_gateway("http://127.0.0.1:9", FIREWALL))
    response = await client.get("/explain", params={"peer": "203.0.113.7", "path": "/agent//tickets"})
    assert response.status == 200
    body = await response.json()
    assert body["request"] == {"peer": "203.0.113.7", "xff": [], "method": "GET", "host": "", "path": "/agent//tickets"}
    assert body["client_ip"] == "203.0.113.7"
    assert body["normalized_path"] == "/agent/tickets"
    assert (body["rule"], body["decision"], body["status"], body["reason"]) == (
        "office-only", "deny", 403, "firewall_denied"
    )


async def test_explain_through_a_trusted_proxy(aiohttp_client: AiohttpClient) -> None:
    client = await admin_client(aiohttp_client, fake_gateway("http://127.0.0.1:9", FIREWALL))
    response = await client.get(
        "/explain", params=[("peer", "10.0.0.5"), ("xff", "192.0.2.9, 10.0.0.4"), ("path", "/agent/")]
    )
    body = await response.json()
    assert body["client_ip"] == "192.0.2.9"
    assert [h["address"] for h in body["hops"]] == ["10.0.0.5", "10.0.0.4", "192.0.2.9"]
    assert (body["rule"], body["decision"], body["status"]) == ("office-only", "allow", None)


async def test_explain_method_and_host(aiohttp_client: AiohttpClient) -> None:
    client = await admin_client(aiohttp_client, fake_gateway("http://127.0.0.1:9", FIREWALL))
    response = await client.get(
        "/explain", params={"peer": "192.0.2.9", "method": "post", "host": "Admin.Example:443"}
    )
    body = await response.json()
    assert body["request"]["method"] == "POST"
    assert (body["rule"], body["decision"]) == ("admin-host", "deny")
    response = await client.get("/explain", params={"peer": "192.0.2.9", "host": "admin.example"})
    assert (await response.json())["rule"] == "default"


async def test_explain_bad_peer_is_reported_not_raised(aiohttp_client: AiohttpClient) -> None:
    client = await admin_client(aiohttp_client, fake_gateway("http://127.0.0.1:9", FIREWALL))
    response = await client.get("/explain", params={"peer": "not-an-ip"})
    assert response.status == 200
    body = await response.json()
    assert body["client_ip"] is None
    assert body["client_ip_error"] == "peer_invalid"
    assert body["status"] == 400


async def test_explain_uses_the_live_policy(aiohttp_client: AiohttpClient) -> None:
    gateway = fake_gateway("http://127.0.0.1:9")
    client = await admin_client(aiohttp_client, gateway)
    params = {"peer": "203.0.113.7", "path": "/agent/"}
    assert (await (await client.get("/explain", params=params)).json())["decision"] == "allow"
    gateway.runtime = fake_gateway("http://127.0.0.1:9", FIREWALL).runtime
    assert (await (await client.get("/explain", params=params)).json())["decision"] == "deny"


async def test_explain_counts_nothing(aiohttp_client: AiohttpClient) -> None:
    gateway = fake_gateway("http://127.0.0.1:9", FIREWALL)
    client = await admin_client(aiohttp_client, gateway)
    await client.get("/explain", params={"peer": "203.0.113.7", "path": "/agent/"})
    value = gateway.metrics.registry.get_sample_value(
        "privacy_gateway_firewall_decisions_total", {"rule": "office-only", "decision": "deny", "mode": "enforce"}
    )
    assert value == 0


async def test_readyz_reports_the_store_without_failing_on_it(
    aiohttp_client: AiohttpClient, upstream: web.AppRunner, pg_dsn: str, pg_schema: str
) -> None:
    from gateway.store import StoreError, open_store_url
    from tests.support.outage import cuttable_postgres
    from tests.support.postgres import dsn_with_schema

    async with cuttable_postgres(dsn_with_schema(pg_dsn, pg_schema)) as (url, proxy):
        store = open_store_url(url, connect_timeout=0.5, operation_timeout=0.5)
        await store.open()
        try:
            gateway = fake_gateway(upstream_url(upstream))
            gateway.runtime = Runtime(gateway.runtime.policy, gateway.metrics, CHECKSUM, store=store)
            client = await admin_client(aiohttp_client, gateway)
            response = await client.get("/readyz")
            assert response.status == 200
            assert await response.json() == {"policy": CHECKSUM[:12], "upstream_reachable": True, "store_reachable": True}
            await proxy.cut()
            with pytest.raises(StoreError):
                await store.ping()  # what the store probe does every 2s
            response = await client.get("/readyz")
            # Still ready: pages that need no store are served; link checks and consent posts fail closed.
            assert response.status == 200
            assert (await response.json())["store_reachable"] is False
        finally:
            await store.close()


async def test_readyz_of_a_supervisor_reports_the_store_from_its_workers_gauge(
    aiohttp_client: AiohttpClient, upstream: web.AppRunner
) -> None:
    """`serve --workers N`: the supervisor's runtime has no store; the workers' store_up (lowest) tells."""
    gateway = fake_gateway(upstream_url(upstream))
    client = await admin_client(aiohttp_client, gateway)
    assert "store_reachable" not in await (await client.get("/readyz")).json()  # no store anywhere
    gateway.metrics.observe_store("postgresql", up=True, errors=0)
    assert (await (await client.get("/readyz")).json())["store_reachable"] is True
    gateway.metrics.observe_store("postgresql", up=False, errors=1)
    response = await client.get("/readyz")
    assert response.status == 200 and (await response.json())["store_reachable"] is False
