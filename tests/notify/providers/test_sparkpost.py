"""SparkPost transmissions through the egress listener, with the real sparkpost SDK as the helpdesk."""

from __future__ import annotations

import asyncio
import base64
import email
import json
from email import policy
from typing import Any

import aiohttp
import pytest
from sparkpost import SparkPost
from sparkpost.exceptions import SparkPostAPIException

from gateway.server import Gateway
from tests.conftest import StartGateway
from tests.notify.samples import AGENT, CUSTOMER, CUSTOMER_NAME, SECRETS, SENDER, TICKET_URL, leaks, ticket_update
from tests.support.providers import FakeProvider, egress_policy, fake_provider  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(60)
SUBJECT = "[support-12] (Updated) Ny melding fra Bjørn Ålesund"
PATH = "/api/v1/transmissions"
ACCEPTED = {"results": {"total_rejected_recipients": 0, "total_accepted_recipients": 1, "id": "11668787484950529"}}


def client(gateway: Gateway) -> SparkPost:
    """The SDK as a helpdesk points it at the gateway: it always builds https://<base_uri>/api/v1, and the
    egress listener is plain HTTP on an internal address, so the resource's base URL is set after."""
    sp = SparkPost("sp-test-key", base_uri=f"127.0.0.1:{gateway.egress_port}/sparkpost")
    sp.transmissions.base_uri = sp.transmissions.base_uri.replace("https://", "http://", 1)
    sp.templates.base_uri = sp.templates.base_uri.replace("https://", "http://", 1)
    return sp


def full_transmission(*, to: list[Any] | None = None) -> dict[str, Any]:
    """What a helpdesk sends: the thread in text, HTML and AMP, attachments, variables, tracking on."""
    text = f"{SECRETS[0]} wrote: {SECRETS[1]}, {SECRETS[2]}. {SECRETS[3]}. {SECRETS[5]}\nView: {TICKET_URL}\n"
    return {
        "recipients": to or [{"address": {"email": CUSTOMER, "name": CUSTOMER_NAME},
                              "substitution_data": {"note": SECRETS[4]}, "metadata": {"who": SECRETS[0]},
                              "tags": ["vip"]}],
        "cc": ["queue@helpdesk.example"],
        "from_email": f"Helpdesk <{SENDER}>",
        "reply_to": "support+12@helpdesk.example",
        "subject": SUBJECT,
        "text": text,
        "html": f"<p>{text}</p><a href=\"{TICKET_URL}\">case</a>",
        "amp_html": f"<html amp4email><p>{SECRETS[4]}</p></html>",
        "attachments": [{"type": "text/plain", "name": "notes.txt",
                         "data": base64.b64encode(SECRETS[6].encode()).decode()}],
        "inline_images": [{"type": "image/png", "name": "logo",
                           "data": base64.b64encode(SECRETS[3].encode()).decode()}],
        "substitution_data": {"customer": SECRETS[0], "nested": {"note": SECRETS[5]}},
        "metadata": {"phone": SECRETS[1]},
        "description": SECRETS[2],
        "campaign": "ticket-updates",
        "track_opens": True,
        "track_clicks": True,
        "transactional": True,
        "custom_headers": {"In-Reply-To": "<original-1@helpdesk.example>", "X-Customer-Phone": SECRETS[1]},
    }


async def gateway_for(start_gateway: StartGateway, provider: FakeProvider, **notifications: Any) -> Gateway:
    provider.answers.setdefault(PATH, (200, ACCEPTED, {}))
    routes = [{"provider": "sparkpost", "upstream": provider.url}]
    return await start_gateway(egress_policy(routes, **notifications))


async def send(gateway: Gateway, transmission: dict[str, Any]) -> Any:
    return await asyncio.to_thread(client(gateway).transmissions.send, **transmission)


async def test_a_hidden_transmission_reaches_sparkpost_without_any_content(
    start_gateway: StartGateway, fake_provider: FakeProvider
) -> None:
    gateway = await gateway_for(start_gateway, fake_provider)
    results = await send(gateway, full_transmission())
    assert results == ACCEPTED["results"]
    [seen] = fake_provider.requests
    assert seen.path == PATH and seen.headers["Authorization"] == "sp-test-key"
    assert leaks(seen.body) == [] and SUBJECT.encode() not in seen.body
    body = seen.json()
    assert set(body) == {"campaign_id", "options", "recipients", "content"}
    assert body["campaign_id"] == "ticket-updates"
    assert body["options"] == {"transactional": True, "open_tracking": False, "initial_open": False,
                               "click_tracking": False, "perform_substitutions": False}
    assert body["recipients"][0] == {"address": {"email": CUSTOMER, "name": CUSTOMER_NAME}}
    header_to = f'"{CUSTOMER_NAME}" <{CUSTOMER}>'
    assert body["recipients"][1] == {"address": {"email": "queue@helpdesk.example", "header_to": header_to}}
    content = body["content"]
    assert set(content) == {"from", "reply_to", "subject", "text", "html", "headers"}
    assert content["headers"] == {"In-Reply-To": "<original-1@helpdesk.example>", "CC": "queue@helpdesk.example"}
    assert content["subject"] == "New reply on your case support-12"
    assert "https://gw.example/_l/" in content["text"] and TICKET_URL not in seen.body.decode()


async def test_agents_only_pass_unchanged(start_gateway: StartGateway, fake_provider: FakeProvider) -> None:
    gateway = await gateway_for(start_gateway, fake_provider)
    transmission = full_transmission(to=[{"address": {"email": AGENT, "name": "Agent"}}])
    transmission.pop("cc")
    await send(gateway, transmission)
    expected = json.dumps(client(gateway).transmissions._translate_keys(**transmission)).encode()
    assert fake_provider.requests[0].body == expected


async def test_an_rfc822_transmission_goes_through_the_mime_rewriter(
    start_gateway: StartGateway, fake_provider: FakeProvider
) -> None:
    gateway = await gateway_for(start_gateway, fake_provider)
    await send(gateway, {"recipients": [CUSTOMER], "email_rfc822": ticket_update(cc=None).decode("utf-8"),
                         "metadata": {"phone": SECRETS[1]}, "track_clicks": True})
    [seen] = fake_provider.requests
    assert leaks(seen.body) == []
    body = seen.json()
    assert body["options"]["click_tracking"] is False and "metadata" not in body
    assert list(body["content"]) == ["email_rfc822"]
    message = email.message_from_string(body["content"]["email_rfc822"], policy=policy.default)
    assert message["Subject"] == "New reply on your case support-12" and message["In-Reply-To"]
    text = message.get_body(("plain",))
    assert text is not None and "https://gw.example/_l/" in text.get_content()


async def test_a_stored_template_becomes_inline_neutral_content(
    start_gateway: StartGateway, fake_provider: FakeProvider
) -> None:
    gateway = await gateway_for(start_gateway, fake_provider)
    await send(gateway, {"recipients": [CUSTOMER], "from_email": SENDER, "template": "ticket-update",
                         "use_draft_template": True,
                         "substitution_data": {"case": "[support-12]", "body": SECRETS[5], "url": TICKET_URL}})
    [seen] = fake_provider.requests
    assert leaks(seen.body) == []
    content = seen.json()["content"]
    assert "template_id" not in content and "use_draft_template" not in content
    assert "https://gw.example/_l/" in content["text"]


async def test_sparkpost_errors_come_back_unchanged(start_gateway: StartGateway, fake_provider: FakeProvider) -> None:
    error = {"errors": [{"message": "Unconfigured Sending Domain <helpdesk.example>", "code": "7001",
                         "description": "Sending domain is not configured"}]}
    fake_provider.answers[PATH] = (422, error, {})
    gateway = await gateway_for(start_gateway, fake_provider)
    with pytest.raises(SparkPostAPIException) as failed:
        await send(gateway, full_transmission())
    assert failed.value.status == 422 and failed.value.response.json() == error


async def test_bad_input_gets_sparkposts_error_shape_and_nothing_is_forwarded(
    start_gateway: StartGateway, fake_provider: FakeProvider
) -> None:
    gateway = await gateway_for(start_gateway, fake_provider)
    sp = client(gateway)
    with pytest.raises(SparkPostAPIException) as empty:
        await asyncio.to_thread(sp.transmissions.send, recipients=[], subject="x", text="y", from_email=SENDER)
    assert empty.value.status == 400
    assert empty.value.response.json()["errors"][0]["code"] == "1400"
    with pytest.raises(SparkPostAPIException) as stored:
        await asyncio.to_thread(sp.transmissions.send, recipient_list="customers", subject="x", text="y")
    assert stored.value.status == 400 and "stored recipient list" in stored.value.errors[0]
    with pytest.raises(SparkPostAPIException) as unknown:
        await asyncio.to_thread(sp.templates.list)
    assert unknown.value.status == 404 and unknown.value.response.json()["errors"][0]["code"] == "1101"
    async with aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{gateway.egress_port}/sparkpost{PATH}"
        async with session.post(url, data=b"{not json", headers={"Authorization": "k"}) as response:
            assert response.status == 400
            [error] = (await response.json())["errors"]
            assert set(error) == {"message", "description", "code"} and error["code"] == "1300"
    assert not fake_provider.requests


async def test_a_block_rule_refuses_with_403(start_gateway: StartGateway, fake_provider: FakeProvider) -> None:
    rules = [{"name": "no-updates", "subject": "Updated", "action": "block"}]
    gateway = await gateway_for(start_gateway, fake_provider, rules=rules)
    with pytest.raises(SparkPostAPIException) as refused:
        await send(gateway, full_transmission())
    assert refused.value.status == 403 and not fake_provider.requests
