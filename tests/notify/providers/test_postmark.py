"""Postmark email through the egress listener, with the real postmarker SDK as the helpdesk."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
import requests
from postmarker.core import PostmarkClient
from postmarker.exceptions import ClientError

from gateway.server import Gateway
from tests.conftest import StartGateway
from tests.notify.samples import AGENT, CUSTOMER, CUSTOMER_NAME, SECRETS, SENDER, TICKET_URL, leaks
from tests.support.providers import FakeProvider, egress_policy, fake_provider  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(60)
SUBJECT = "[support-12] (Updated) Ny melding fra Bjørn Ålesund"
TEXT = f"{SECRETS[0]} wrote: {SECRETS[1]}, {SECRETS[2]}. {SECRETS[3]}. {SECRETS[5]}\nView: {TICKET_URL}\n"


def sent(to: str = f"{CUSTOMER_NAME} <{CUSTOMER}>") -> dict[str, Any]:
    """A result as Postmark documents it for one message."""
    return {"To": to, "SubmittedAt": "2026-12-02T10:00:00.0000000-05:00",
            "MessageID": "b7bc2f4a-e38e-4336-af7d-e6c392c2f817", "ErrorCode": 0, "Message": "OK"}


def message(to: str = f"{CUSTOMER_NAME} <{CUSTOMER}>") -> dict[str, Any]:
    """What a helpdesk sends: the thread in text and HTML, an attachment, metadata, headers, tracking on."""
    return {
        "From": f"Helpdesk <{SENDER}>", "To": to, "Cc": "support-queue@helpdesk.example", "Subject": SUBJECT,
        "TextBody": TEXT, "HtmlBody": f"<p>{TEXT}</p><a href=\"{TICKET_URL}\">case</a>",
        "Tag": "ticket-update", "Metadata": {"customer": SECRETS[0]}, "MessageStream": "outbound",
        "Headers": {"In-Reply-To": "<original-1@helpdesk.example>", "X-Customer-Phone": SECRETS[1]},
        "Attachments": [{"Name": "notes.txt", "Content": base64.b64encode(SECRETS[6].encode()).decode(),
                         "ContentType": "text/plain"}],
        "TrackOpens": True, "TrackLinks": "HtmlAndText",
    }


def template(to: str = f"{CUSTOMER_NAME} <{CUSTOMER}>") -> dict[str, Any]:
    return {"From": SENDER, "To": to, "TemplateAlias": "ticket-update",
            "TemplateModel": {"subject": SUBJECT, "body": TEXT, "nested": {"note": SECRETS[4]}},
            "Metadata": {"x": SECRETS[2]},
            "TrackOpens": True, "TrackLinks": "HtmlOnly"}


async def gateway_for(start_gateway: StartGateway, provider: FakeProvider, **notifications: Any) -> Gateway:
    # postmarker joins absolute endpoints (/email) to its root URL, dropping any path: the route sits at /.
    routes = [{"provider": "postmark", "upstream": provider.url, "prefix": "/"},
              {"provider": "mailgun", "upstream": provider.url}]
    return await start_gateway(egress_policy(routes, **notifications))


def client(gateway: Gateway) -> PostmarkClient:
    return PostmarkClient(server_token="server-token-test", root_api_url=f"http://127.0.0.1:{gateway.egress_port}/")


def assert_neutral(body: dict[str, Any]) -> None:
    assert body["Subject"] == "New reply on your case support-12"
    assert "https://gw.example/_l/" in body["TextBody"] and "https://gw.example/_l/" in body["HtmlBody"]
    assert body["TrackLinks"] == "None" and body["TrackOpens"] is False
    assert not {"Attachments", "Metadata", "TemplateModel", "TemplateAlias", "TemplateId"} & set(body)


async def test_a_hidden_email_reaches_postmark_without_any_content(
    start_gateway: StartGateway, fake_provider: FakeProvider
) -> None:
    fake_provider.answers["/email"] = (200, sent(), {})
    gateway = await gateway_for(start_gateway, fake_provider)
    answer = await asyncio.to_thread(client(gateway).emails.send, **message())
    assert answer == sent()
    [seen] = fake_provider.requests
    assert seen.path == "/email" and seen.headers["X-Postmark-Server-Token"] == "server-token-test"
    assert leaks(seen.body) == [] and SUBJECT.encode() not in seen.body
    body = seen.json()
    assert_neutral(body)
    assert body["To"] == f"{CUSTOMER_NAME} <{CUSTOMER}>" and body["From"] == f"Helpdesk <{SENDER}>"
    assert body["Tag"] == "ticket-update" and body["MessageStream"] == "outbound"
    assert body["Headers"] == [{"Name": "In-Reply-To", "Value": "<original-1@helpdesk.example>"}]
    assert CUSTOMER_NAME not in body["TextBody"]  # two recipients (To and Cc): the link is bound to neither


async def test_a_hidden_template_email_becomes_a_plain_email(
    start_gateway: StartGateway, fake_provider: FakeProvider
) -> None:
    fake_provider.answers["/email"] = (200, sent(), {})
    gateway = await gateway_for(start_gateway, fake_provider)
    answer = await asyncio.to_thread(client(gateway).emails.send_with_template, **template())
    assert answer == sent()
    [seen] = fake_provider.requests
    assert seen.path == "/email" and leaks(seen.body) == []
    assert_neutral(seen.json())
    assert CUSTOMER_NAME in seen.json()["TextBody"]  # one recipient: the greeting and link are theirs


async def test_a_template_without_a_case_id_is_refused_in_postmarks_shape(
    start_gateway: StartGateway, fake_provider: FakeProvider
) -> None:
    gateway = await gateway_for(start_gateway, fake_provider)
    untagged = template()
    del untagged["TemplateModel"]["subject"]
    with pytest.raises(ClientError) as refused:
        await asyncio.to_thread(client(gateway).emails.send_with_template, **untagged)
    assert refused.value.error_code == 300 and not fake_provider.requests


async def test_agents_only_pass_unchanged(start_gateway: StartGateway, fake_provider: FakeProvider) -> None:
    gateway = await gateway_for(start_gateway, fake_provider)
    postmark = client(gateway)
    await asyncio.to_thread(postmark.emails.send, **message(to=AGENT))
    await asyncio.to_thread(postmark.emails.send_with_template, **template(to=AGENT))
    plain, templated = fake_provider.requests
    assert plain.path == "/email" and plain.json()["Subject"] == SUBJECT
    assert templated.path == "/email/withTemplate/" and templated.json()["TemplateModel"]["body"] == TEXT
    raw = json.dumps([message(to=AGENT)]).encode()  # byte for byte
    response = await asyncio.to_thread(requests.post, f"http://127.0.0.1:{gateway.egress_port}/email/batch",
                                       data=raw, headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 200 and fake_provider.requests[2].body == raw


async def test_a_batch_decides_each_message_and_keeps_the_order(
    start_gateway: StartGateway, fake_provider: FakeProvider
) -> None:
    fake_provider.answers["/email/batch"] = (200, [sent(), sent(AGENT)], {})
    gateway = await gateway_for(start_gateway, fake_provider)
    customer, agent = message(), message(to=AGENT)
    agent["Cc"] = None
    answer = await asyncio.to_thread(client(gateway).emails.send_batch, customer, agent)
    assert answer == [sent(), sent(AGENT)]
    [seen] = fake_provider.requests
    first, second = seen.json()
    assert_neutral(first) and first["To"] == customer["To"]
    assert second["Subject"] == SUBJECT and second["To"] == AGENT and second["Attachments"]
    assert leaks(json.dumps(first).encode()) == []


async def test_a_template_batch_with_a_hidden_message_goes_as_a_plain_batch(
    start_gateway: StartGateway, fake_provider: FakeProvider
) -> None:
    fake_provider.answers["/email/batch"] = (200, [sent(), sent(AGENT)], {})
    fake_provider.answers["/email/batchWithTemplates/"] = (200, [sent(AGENT)], {})
    gateway = await gateway_for(start_gateway, fake_provider)
    postmark = client(gateway)
    answer = await asyncio.to_thread(postmark.emails.send_template_batch, template(), template(to=AGENT))
    assert answer == [sent(), sent(AGENT)]
    [seen] = fake_provider.requests
    assert seen.path == "/email/batch" and leaks(seen.body) == []
    first, second = seen.json()
    assert_neutral(first) and assert_neutral(second)  # a template cannot go through /email/batch
    assert [first["To"], second["To"]] == [f"{CUSTOMER_NAME} <{CUSTOMER}>", AGENT]
    await asyncio.to_thread(postmark.emails.send_template_batch, template(to=AGENT))
    assert fake_provider.requests[1].path == "/email/batchWithTemplates/"
    assert fake_provider.requests[1].json()["Messages"][0]["TemplateModel"]["body"] == TEXT


async def test_provider_errors_come_back_unchanged(start_gateway: StartGateway, fake_provider: FakeProvider) -> None:
    error = {"ErrorCode": 300, "Message": "Invalid 'From' address: 'help@helpdesk.example' is not a verified sender"}
    fake_provider.answers["/email"] = (422, error, {})
    gateway = await gateway_for(start_gateway, fake_provider)
    with pytest.raises(ClientError) as failed:
        await asyncio.to_thread(client(gateway).emails.send, **message())
    assert failed.value.error_code == 300 and str(failed.value) == f"[300] {error['Message']}"


async def test_bad_input_gets_postmarks_error_shape_and_nothing_is_forwarded(
    start_gateway: StartGateway, fake_provider: FakeProvider
) -> None:
    gateway = await gateway_for(start_gateway, fake_provider)
    postmark = client(gateway)
    with pytest.raises(ClientError) as no_recipient:
        await asyncio.to_thread(postmark.emails.send, From=SENDER, Subject="x", TextBody="y")
    assert no_recipient.value.error_code == 300 and "To: at least one recipient" in str(no_recipient.value)
    base = f"http://127.0.0.1:{gateway.egress_port}"
    for path, data, code in [("/email", b"{not json", 402), ("/email/batch", b'{"To": "a@b.example"}', 300),
                             ("/email/batchWithTemplates", b"[]", 300), ("/email", b'{"To": 5}', 300)]:
        response = await asyncio.to_thread(requests.post, base + path, data=data, timeout=10,
                                           headers={"Content-Type": "application/json"})
        assert response.status_code == 422 and response.json()["ErrorCode"] == code, path
        assert set(response.json()) == {"ErrorCode", "Message"}
    with pytest.raises(ClientError) as unknown:
        await asyncio.to_thread(postmark.server.get)
    assert "[300] unknown postmark API path: GET /server" == str(unknown.value)
    assert not fake_provider.requests


async def test_a_block_rule_refuses_with_403(start_gateway: StartGateway, fake_provider: FakeProvider) -> None:
    rules = [{"name": "no-updates", "subject": "Updated", "action": "block"}]
    gateway = await gateway_for(start_gateway, fake_provider, rules=rules)
    with pytest.raises(ClientError) as refused:
        await asyncio.to_thread(client(gateway).emails.send_batch, message(to=AGENT), message())
    assert refused.value.error_code == 405 and not fake_provider.requests


async def test_the_root_route_takes_only_paths_no_longer_prefix_takes(
    start_gateway: StartGateway, fake_provider: FakeProvider
) -> None:
    gateway = await gateway_for(start_gateway, fake_provider)  # postmark at / listed before /mailgun/
    response = await asyncio.to_thread(
        requests.post, f"http://127.0.0.1:{gateway.egress_port}/mailgun/v3/mg.example/messages",
        data={"to": AGENT, "from": SENDER, "text": "hi"}, auth=("api", "key"), timeout=10)
    assert response.status_code == 200 and fake_provider.requests[0].path == "/v3/mg.example/messages"
