"""Web Push through the egress listener, with the real pywebpush as the helpdesk."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from typing import Any

import aiohttp
import http_ece
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid01, Vapid02
from pywebpush import WebPushException, webpush

from gateway.server import Gateway
from tests.conftest import StartGateway
from tests.notify.samples import SECRETS, leaks
from tests.support.providers import FakeProvider, egress_policy, fake_provider  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(60)
PUSH_PATH = "/wpush/v2/gAAAAABh-subscription-id"
AUD = "https://updates.push.services.mozilla.com"
PAYLOAD = json.dumps({"title": f"New reply from {SECRETS[0]}", "body": f"{SECRETS[1]}, {SECRETS[2]}",
                      "ticket": "support-12"}).encode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Browser:
    """A subscription's keys, as a browser makes them (RFC 8291): the helpdesk encrypts to these."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.public = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                         serialization.PublicFormat.UncompressedPoint)

    def subscription(self, gateway: Gateway) -> dict[str, Any]:
        return {"endpoint": f"http://127.0.0.1:{gateway.egress_port}/webpush{PUSH_PATH}",
                "keys": {"p256dh": b64url(self.public), "auth": b64url(self.auth)}}

    def decrypt(self, body: bytes, encoding: str = "aes128gcm") -> bytes:
        return http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version=encoding)  # type: ignore[no-any-return]


class Sent:
    """What pywebpush put on the wire, from a requests hook."""

    def __init__(self) -> None:
        self.session = requests.Session()
        self.requests: list[requests.PreparedRequest] = []
        self.session.hooks["response"].append(lambda response, *args, **kwargs: self.requests.append(response.request))


async def gateway_for(start_gateway: StartGateway, provider: FakeProvider, mode: str | None = None,
                      **notifications: Any) -> Gateway:
    route: dict[str, Any] = {"provider": "webpush", "upstream": provider.url}
    if mode is not None:
        route["web_push"] = mode
    return await start_gateway(egress_policy([route], **notifications))


async def send(gateway: Gateway, browser: Browser, sent: Sent, vapid: Vapid01 | None = None,
               data: bytes = PAYLOAD, encoding: str = "aes128gcm") -> Any:
    if vapid is None:
        vapid = Vapid02()
        vapid.generate_keys()
    claims = {"sub": "mailto:push@helpdesk.example", "aud": AUD}  # the push service's origin, not the gateway's
    return await asyncio.to_thread(
        webpush, browser.subscription(gateway), data=data, vapid_private_key=vapid, vapid_claims=claims,
        ttl=3600, headers={"Urgency": "high", "Topic": "support-12"}, content_encoding=encoding,
        requests_session=sent.session,
    )


@pytest.fixture
def accepted(fake_provider: FakeProvider) -> FakeProvider:
    fake_provider.answers[PUSH_PATH] = (201, b"", {"Location": f"{AUD}/m/message-id-1"})
    return fake_provider


async def test_drop_payload_forwards_a_push_without_its_payload(
    start_gateway: StartGateway, accepted: FakeProvider
) -> None:
    gateway = await gateway_for(start_gateway, accepted)  # drop_payload is the default
    browser, sent = Browser(), Sent()
    response = await send(gateway, browser, sent)
    assert response.status_code == 201 and response.headers["Location"] == f"{AUD}/m/message-id-1"
    [seen] = accepted.requests
    [original] = sent.requests
    assert original.body and browser.decrypt(original.body) == PAYLOAD  # the helpdesk did send content
    assert seen.method == "POST" and seen.path == PUSH_PATH and seen.body == b""
    for name in ("Content-Encoding", "Encryption", "Crypto-Key", "Content-Type"):
        assert name not in seen.headers
    assert seen.headers.get("Content-Length", "0") == "0"
    for name in ("TTL", "Urgency", "Topic", "Authorization"):
        assert seen.headers[name] == original.headers[name]
    assert seen.headers["Authorization"].startswith("vapid t=")
    assert leaks(repr(list(seen.headers.items())).encode() + seen.body) == []


async def test_draft_vapid_keeps_only_its_key_in_crypto_key(
    start_gateway: StartGateway, accepted: FakeProvider
) -> None:
    gateway = await gateway_for(start_gateway, accepted, "drop_payload")
    browser, sent, vapid = Browser(), Sent(), Vapid01()
    vapid.generate_keys()
    await send(gateway, browser, sent, vapid, encoding="aesgcm")
    [seen] = accepted.requests
    [original] = sent.requests
    assert "dh=" in original.headers["Crypto-Key"] and "Encryption" in original.headers
    assert seen.body == b"" and "Encryption" not in seen.headers and "Content-Encoding" not in seen.headers
    [key] = [p for p in original.headers["Crypto-Key"].split(";") if p.startswith("p256ecdsa=")]
    assert seen.headers["Crypto-Key"] == key
    assert seen.headers["Authorization"] == original.headers["Authorization"]


async def test_block_refuses_with_403(start_gateway: StartGateway, accepted: FakeProvider) -> None:
    gateway = await gateway_for(start_gateway, accepted, "block")
    with pytest.raises(WebPushException) as refused:
        await send(gateway, Browser(), Sent())
    assert refused.value.response is not None and refused.value.response.status_code == 403
    assert not accepted.requests


async def test_a_block_rule_refuses_whatever_the_mode(start_gateway: StartGateway, accepted: FakeProvider) -> None:
    gateway = await gateway_for(start_gateway, accepted, "allow", default_action="block", rules=[])
    with pytest.raises(WebPushException) as refused:
        await send(gateway, Browser(), Sent())
    assert refused.value.response is not None and refused.value.response.status_code == 403
    assert not accepted.requests


async def test_allow_forwards_the_encrypted_bytes_unchanged(
    start_gateway: StartGateway, accepted: FakeProvider
) -> None:
    gateway = await gateway_for(start_gateway, accepted, "allow")
    browser, sent = Browser(), Sent()
    response = await send(gateway, browser, sent)
    assert response.status_code == 201
    [seen] = accepted.requests
    [original] = sent.requests
    assert seen.body == original.body and browser.decrypt(seen.body) == PAYLOAD
    for name in ("Content-Encoding", "TTL", "Urgency", "Topic", "Authorization"):
        assert seen.headers[name] == original.headers[name]


async def test_push_service_errors_come_back_unchanged(
    start_gateway: StartGateway, fake_provider: FakeProvider
) -> None:
    gone = {"code": 410, "errno": 106, "error": "", "message": "Request did not validate: subscription expired"}
    fake_provider.answers[PUSH_PATH] = (410, gone, {})
    gateway = await gateway_for(start_gateway, fake_provider)
    with pytest.raises(WebPushException) as failed:
        await send(gateway, Browser(), Sent())
    response = failed.value.response
    assert response is not None and response.status_code == 410 and response.json() == gone


async def test_bad_input_gets_a_4xx_and_nothing_is_forwarded(
    start_gateway: StartGateway, fake_provider: FakeProvider
) -> None:
    gateway = await gateway_for(start_gateway, fake_provider, "allow")
    with pytest.raises(WebPushException) as too_big:
        await send(gateway, Browser(), Sent(), data=os.urandom(70 * 1024))
    assert too_big.value.response is not None and too_big.value.response.status_code == 413
    base = f"http://127.0.0.1:{gateway.egress_port}/webpush"
    async with aiohttp.ClientSession() as session:
        for method, path in (("GET", PUSH_PATH), ("POST", "/")):
            async with session.request(method, base + path) as response:
                assert response.status == 404 and (await response.json())["message"].startswith("unknown webpush")
    assert not fake_provider.requests
