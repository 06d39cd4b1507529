"""The egress listener: allow list, routes, caps, upstream failures, TLS to the provider, reload."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.conftest import StartGateway
from tests.notify.samples import CUSTOMER, SENDER
from tests.support.providers import FakeProvider, egress_policy, fake_provider  # noqa: F401  (fixture)
from tests.support.tls import make_ca

pytestmark = pytest.mark.timeout(60)

MAIL = {"personalizations": [{"to": [{"email": CUSTOMER}]}], "from": {"email": SENDER},
        "subject": "[support-12] Your diagnosis", "content": [{"type": "text/plain", "value": "secret words"}]}


async def post(port: int, path: str, **kwargs: object) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"http://127.0.0.1:{port}{path}", **kwargs) as resp:  # type: ignore[arg-type]
            return resp.status, dict(resp.headers), await resp.read()


async def test_a_client_outside_allow_gets_403_and_nothing_is_forwarded(
    start_gateway: StartGateway, fake_provider: FakeProvider
) -> None:
    policy = egress_policy([{"provider": "sendgrid", "upstream": fake_provider.url}])
    policy["notifications"]["egress"]["allow"] = ["192.0.2.0/24"]
    gateway = await start_gateway(policy)
    status, headers, _ = await post(gateway.egress_port, "/sendgrid/v3/mail/send", json=MAIL)
    assert status == 403 and headers["X-Gateway-Reason"] == "not_allowed"
    assert not fake_provider.requests


async def test_unknown_prefix_and_oversize_bodies(start_gateway: StartGateway, fake_provider: FakeProvider) -> None:
    policy = egress_policy([{"provider": "sendgrid", "upstream": fake_provider.url, "max_body_bytes": "1KiB"}])
    gateway = await start_gateway(policy)
    status, headers, _ = await post(gateway.egress_port, "/mandrill/api/1.0/messages/send.json", json=MAIL)
    assert status == 404 and headers["X-Gateway-Reason"] == "unknown_provider"
    status, headers, body = await post(gateway.egress_port, "/sendgrid/v3/mail/send", data=b"x" * 4096,
                                       headers={"Content-Type": "application/json"})
    assert status == 413 and headers["X-Gateway-Reason"] == "body_too_large" and b"errors" in body

    async def chunks():  # no Content-Length: counted while read
        for _ in range(8):
            yield b"y" * 512
    status, headers, _ = await post(gateway.egress_port, "/sendgrid/v3/mail/send", data=chunks())
    assert status == 413
    assert not fake_provider.requests


async def test_an_unreachable_provider_is_502(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(egress_policy([{"provider": "sendgrid", "upstream": "http://127.0.0.1:9"}]))
    status, headers, _ = await post(gateway.egress_port, "/sendgrid/v3/mail/send", json=MAIL)
    assert status == 502 and headers["X-Gateway-Reason"] == "upstream_unreachable"


async def test_a_rewrite_that_cannot_be_done_safely_is_502_and_not_forwarded(
    start_gateway: StartGateway, fake_provider: FakeProvider
) -> None:
    policy = egress_policy([{"provider": "sendgrid", "upstream": fake_provider.url}])
    policy["notifications"]["link"].pop("find")
    gateway = await start_gateway(policy)
    untagged = {**MAIL, "subject": "no case here"}
    status, headers, _ = await post(gateway.egress_port, "/sendgrid/v3/mail/send", json=untagged)
    assert status == 502 and headers["X-Gateway-Reason"] == "notification_rewrite_failed"
    assert not fake_provider.requests


async def test_the_provider_is_reached_over_verified_tls(start_gateway: StartGateway, tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    (tmp_path / "provider-ca.pem").write_text(ca.ca_pem)
    seen: list[bytes] = []

    async def accept(request: web.Request) -> web.Response:
        seen.append(await request.read())
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/v3/mail/send", accept)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ca.server_context).start()
    port = runner.addresses[0][1]
    try:
        trusted = egress_policy([{"provider": "sendgrid", "upstream": f"https://127.0.0.1:{port}",
                                  "tls_ca": "${file:provider-ca.pem}"}])
        gateway = await start_gateway(trusted)
        status, _, _ = await post(gateway.egress_port, "/sendgrid/v3/mail/send", json=MAIL)
        assert status == 202 and len(seen) == 1 and b"secret words" not in seen[0]
        untrusted = egress_policy([{"provider": "sendgrid", "upstream": f"https://127.0.0.1:{port}"}])
        other = await start_gateway(untrusted)
        status, headers, _ = await post(other.egress_port, "/sendgrid/v3/mail/send", json=MAIL)
        assert status == 502 and len(seen) == 1  # the system CAs do not know the test CA
    finally:
        await runner.cleanup()
