"""Expo push through the egress listener, with the real exponent-server-sdk as the helpdesk."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from exponent_server_sdk import PushClient, PushMessage, PushServerError, PushTicket

from gateway.lib.keyring import KeyRing
from gateway.links.signing import LinkSigner
from gateway.server import Gateway
from tests.conftest import StartGateway
from tests.notify.samples import SECRETS, TICKET_URL, leaks
from tests.support.providers import FakeProvider, egress_policy, fake_provider  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(60)
SEND = "/--/api/v2/push/send"
TOKEN = "ExponentPushToken[xxxxxxxxxxxxxxxxxxxxxx]"
TITLE = "[support-12] (Updated) Ny melding fra Bjørn Ålesund"
TEMPLATES = {"default": {
    "subject": "New reply on your case {case_id}",
    "text": "There is a new reply on your case {case_id}.\nOpen it: {link}\n",
    "push_title": "Case {case_id} updated",
    "push_body": "Open the app to read the new reply.",
}}
VISIBLE = {"title": "Case support-12 updated", "body": "Open the app to read the new reply."}


def full_message(title: str = TITLE, to: str = TOKEN) -> PushMessage:
    return PushMessage(
        to=to, title=title, subtitle=SECRETS[5], body=f"{SECRETS[1]}, {SECRETS[2]}. {SECRETS[3]}",
        data={"ticket_id": "support-12", "preview": SECRETS[4], "url": TICKET_URL, "nested": {"n": SECRETS[6]}},
        sound="default", badge=2, channel_id="tickets", category="reply", ttl=60, priority="high",
        mutable_content=True,
    )


async def gateway_for(start_gateway: StartGateway, provider: FakeProvider, *, route: dict[str, Any] | None = None,
                      **notifications: Any) -> Gateway:
    routes = [{"provider": "expo", "upstream": provider.url, "data_keys": ["ticket_id"], **(route or {})}]
    notifications.setdefault("templates", TEMPLATES)
    return await start_gateway(egress_policy(routes, **notifications))


def client(gateway: Gateway) -> PushClient:
    return PushClient(host=f"http://127.0.0.1:{gateway.egress_port}", api_url="/expo/--/api/v2")


def answer(provider: FakeProvider, count: int = 1) -> None:
    provider.answers[SEND] = (200, {"data": [{"status": "ok", "id": f"id-{i}"} for i in range(count)]}, {})


def sdk_bytes(messages: list[PushMessage]) -> bytes:
    """The body exponent-server-sdk puts on the wire."""
    return json.dumps([m.get_payload() for m in messages]).encode()


async def test_a_hidden_push_reaches_expo_without_any_content(
    start_gateway: StartGateway, fake_provider: FakeProvider
) -> None:
    answer(fake_provider)
    gateway = await gateway_for(start_gateway, fake_provider)
    ticket = await asyncio.to_thread(client(gateway).publish, full_message())
    assert ticket.status == "ok" and ticket.id == "id-0"
    [seen] = fake_provider.requests
    assert seen.path == SEND and leaks(seen.body) == [] and TITLE.encode() not in seen.body
    assert seen.json() == [{
        "to": TOKEN, **VISIBLE, "data": {"ticket_id": "support-12"}, "sound": "default", "badge": 2,
        "channelId": "tickets", "categoryId": "reply", "ttl": 60, "priority": "high", "mutableContent": True,
    }]


async def test_each_message_of_an_array_is_decided_on_its_own(
    start_gateway: StartGateway, fake_provider: FakeProvider
) -> None:
    answer(fake_provider, 2)
    rules = [{"name": "maintenance", "subject": "^Maintenance", "action": "pass"}]
    gateway = await gateway_for(start_gateway, fake_provider, rules=rules)
    passing = full_message(title="Maintenance tonight")
    tickets = await asyncio.to_thread(client(gateway).publish_multiple, [full_message(), passing])
    assert [t.id for t in tickets] == ["id-0", "id-1"]
    hidden, passed = fake_provider.requests[0].json()
    assert hidden["title"] == VISIBLE["title"] and "subtitle" not in hidden
    assert passed == passing.get_payload()


async def test_a_single_object_stays_a_single_object(start_gateway: StartGateway, fake_provider: FakeProvider) -> None:
    gateway = await gateway_for(start_gateway, fake_provider)
    async with aiohttp.ClientSession() as session:
        payload = {"to": TOKEN, "body": f"[support-12] {SECRETS[0]}", "icon": "https://cdn.example/bjorn.png",
                   "richContent": {"image": "https://cdn.example/attachment.png"}}
        async with session.post(f"http://127.0.0.1:{gateway.egress_port}/expo{SEND}", json=payload) as response:
            assert response.status == 200
    assert fake_provider.requests[0].json() == {"to": TOKEN, **VISIBLE}


async def test_a_passing_push_goes_on_byte_for_byte(start_gateway: StartGateway, fake_provider: FakeProvider) -> None:
    answer(fake_provider)
    rules = [{"name": "maintenance", "subject": "^Maintenance", "action": "pass"}]
    gateway = await gateway_for(start_gateway, fake_provider, rules=rules)
    message = full_message(title="Maintenance tonight")
    await asyncio.to_thread(client(gateway).publish, message)
    assert fake_provider.requests[0].body == sdk_bytes([message])


async def test_id_only_keeps_the_case_id_and_a_signed_token(
    start_gateway: StartGateway, fake_provider: FakeProvider
) -> None:
    answer(fake_provider)
    gateway = await gateway_for(start_gateway, fake_provider, route={"push_mode": "id_only"})
    await asyncio.to_thread(client(gateway).publish, full_message())
    [seen] = fake_provider.requests
    assert leaks(seen.body) == []
    [message] = seen.json()
    assert message["title"] == VISIBLE["title"] and set(message["data"]) == {"case_id", "token"}
    claims = LinkSigner(KeyRing.from_config([("k1", "n" * 40)], "k1"), ttl=3600).verify(message["data"]["token"])
    assert claims.case == message["data"]["case_id"] == "support-12" and claims.url == TICKET_URL


async def test_receipts_pass_untouched(start_gateway: StartGateway, fake_provider: FakeProvider) -> None:
    receipts = {"data": {"id-0": {"status": "ok"}}}
    fake_provider.answers["/--/api/v2/push/getReceipts"] = (200, receipts, {})
    gateway = await gateway_for(start_gateway, fake_provider)
    ticket = PushTicket(full_message(), "ok", "", None, "id-0")
    [receipt] = await asyncio.to_thread(client(gateway).check_receipts_multiple, [ticket])
    assert receipt.id == "id-0" and receipt.status == "ok"
    assert fake_provider.requests[0].json() == {"ids": ["id-0"]}


async def test_expo_errors_come_back_unchanged(start_gateway: StartGateway, fake_provider: FakeProvider) -> None:
    error = {"errors": [{"code": "PUSH_TOO_MANY_EXPERIENCE_IDS", "message": "All push notification messages in "
                         "the same request must be for the same project"}]}
    fake_provider.answers[SEND] = (400, error, {})
    gateway = await gateway_for(start_gateway, fake_provider)
    with pytest.raises(PushServerError) as failed:
        await asyncio.to_thread(client(gateway).publish, full_message())
    assert failed.value.errors == error["errors"] and failed.value.response.status_code == 400


async def test_a_block_rule_is_refused_in_expos_shape(start_gateway: StartGateway, fake_provider: FakeProvider) -> None:
    rules = [{"name": "no-updates", "subject": "Updated", "action": "block"}]
    gateway = await gateway_for(start_gateway, fake_provider, rules=rules)
    with pytest.raises(PushServerError) as refused:
        await asyncio.to_thread(client(gateway).publish, full_message())
    assert refused.value.response.status_code == 403 and refused.value.errors[0]["code"] == "FORBIDDEN"
    assert not fake_provider.requests


@pytest.mark.parametrize(
    ("path", "body", "status", "code", "message"),
    [
        (SEND, b"not json", 400, "VALIDATION_ERROR", "the request body is not JSON (expo)"),
        (SEND, b"[]", 400, "VALIDATION_ERROR", "no message to send"),
        (SEND, b'[{"title": "x"}]', 400, "VALIDATION_ERROR", 'each message must be an object with "to"'),
        (SEND, b'{"to": "t", "title": 7}', 400, "VALIDATION_ERROR", "title: must be a string"),
        ("/--/api/v2/push/other", b"{}", 404, "NOT_FOUND", "unknown expo API path: POST /--/api/v2/push/other"),
    ],
)
async def test_bad_input_gets_expos_error_shape_and_nothing_is_forwarded(
    start_gateway: StartGateway, fake_provider: FakeProvider, path: str, body: bytes, status: int, code: str,
    message: str
) -> None:
    gateway = await gateway_for(start_gateway, fake_provider)
    async with aiohttp.ClientSession() as session:
        async with session.post(f"http://127.0.0.1:{gateway.egress_port}/expo{path}", data=body,
                                headers={"Content-Type": "application/json"}) as response:
            assert response.status == status
            assert await response.json() == {"errors": [{"code": code, "message": message}]}
    assert not fake_provider.requests
