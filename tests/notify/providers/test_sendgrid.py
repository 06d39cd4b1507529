"""SendGrid v3 through the egress listener, with the real sendgrid SDK as the helpdesk."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Attachment, Cc, Content, Mail, Personalization, To

from gateway.server import Gateway
from tests.conftest import StartGateway
from tests.notify.samples import AGENT, CUSTOMER, CUSTOMER_NAME, SECRETS, SENDER, TICKET_URL, leaks
from tests.support.providers import FakeProvider, egress_policy, fake_provider  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(60)
SUBJECT = "[support-12] (Updated) Ny melding fra Bjørn Ålesund"


def full_mail(*, to: list[tuple[str, str]] | None = None) -> Mail:
    """What a helpdesk sends: the thread in text and HTML, an attachment, template data, tracking on."""
    text = f"{SECRETS[0]} wrote: {SECRETS[1]}, {SECRETS[2]}. {SECRETS[3]}. {SECRETS[5]}\nView: {TICKET_URL}\n"
    mail = Mail(from_email=SENDER, subject=SUBJECT)
    personalization = Personalization()
    for email, name in to or [(CUSTOMER, CUSTOMER_NAME)]:
        personalization.add_to(To(email, name))
    personalization.add_cc(Cc("queue@helpdesk.example"))
    personalization.dynamic_template_data = {"body": SECRETS[4], "nested": {"note": SECRETS[5]}}
    mail.add_personalization(personalization)
    mail.add_content(Content("text/plain", text))
    mail.add_content(Content("text/html", f"<p>{text}</p><a href=\"{TICKET_URL}\">case</a>"))
    mail.add_attachment(Attachment(base64.b64encode(SECRETS[6].encode()).decode(), "notes.txt", "text/plain"))
    mail.tracking_settings = None
    out = mail.get()
    out["tracking_settings"] = {"click_tracking": {"enable": True}, "open_tracking": {"enable": True}}
    out["custom_args"] = {"customer_note": SECRETS[2]}
    return out  # type: ignore[no-any-return]


async def gateway_for(start_gateway: StartGateway, provider: FakeProvider, **notifications: Any) -> Gateway:
    routes = [{"provider": "sendgrid", "upstream": provider.url}]
    return await start_gateway(egress_policy(routes, **notifications))


async def send(gateway: Gateway, mail: Any) -> Any:
    client = SendGridAPIClient("SG.test-key", host=f"http://127.0.0.1:{gateway.egress_port}/sendgrid")
    return await asyncio.to_thread(client.client.mail.send.post, request_body=mail)


async def test_a_hidden_mail_reaches_sendgrid_without_any_content(
    start_gateway: StartGateway, fake_provider: FakeProvider
) -> None:
    fake_provider.answers["/v3/mail/send"] = (202, b"", {"X-Message-Id": "abc123"})
    gateway = await gateway_for(start_gateway, fake_provider)
    response = await send(gateway, full_mail())
    assert response.status_code == 202 and response.headers["X-Message-Id"] == "abc123"
    [seen] = fake_provider.requests
    assert seen.path == "/v3/mail/send" and seen.headers["Authorization"] == "Bearer SG.test-key"
    assert leaks(seen.body) == [] and SUBJECT.encode() not in seen.body
    body = seen.json()
    assert body["subject"] == "New reply on your case support-12"
    assert "attachments" not in body and "custom_args" not in body and "template_id" not in body
    assert body["tracking_settings"]["click_tracking"]["enable"] is False
    assert body["tracking_settings"]["open_tracking"]["enable"] is False
    [personalization] = body["personalizations"]
    assert personalization["to"] == [{"email": CUSTOMER, "name": CUSTOMER_NAME}]
    assert "dynamic_template_data" not in personalization
    text = body["content"][0]["value"]
    assert "https://gw.example/_l/" in text


async def test_agents_only_pass_unchanged(start_gateway: StartGateway, fake_provider: FakeProvider) -> None:
    fake_provider.answers["/v3/mail/send"] = (202, b"", {})
    gateway = await gateway_for(start_gateway, fake_provider)
    mail = full_mail(to=[(AGENT, "Agent")])
    mail["personalizations"][0].pop("cc")
    await send(gateway, mail)
    assert fake_provider.requests[0].json() == mail


async def test_provider_errors_come_back_unchanged(start_gateway: StartGateway, fake_provider: FakeProvider) -> None:
    error = {"errors": [{"message": "The provided authorization grant is invalid", "field": None, "help": None}]}
    fake_provider.answers["/v3/mail/send"] = (401, error, {})
    gateway = await gateway_for(start_gateway, fake_provider)
    with pytest.raises(HTTPError) as failed:
        await send(gateway, full_mail())
    assert failed.value.status_code == 401 and failed.value.to_dict == error


async def test_bad_input_gets_sendgrids_error_shape_and_nothing_is_forwarded(
    start_gateway: StartGateway, fake_provider: FakeProvider
) -> None:
    gateway = await gateway_for(start_gateway, fake_provider)
    client = SendGridAPIClient("SG.k", host=f"http://127.0.0.1:{gateway.egress_port}/sendgrid")
    with pytest.raises(HTTPError) as failed:
        await asyncio.to_thread(client.client.mail.send.post, request_body={"personalizations": []})
    assert failed.value.status_code == 400
    assert failed.value.to_dict["errors"][0]["message"].startswith("personalizations")
    with pytest.raises(HTTPError) as unknown:
        await asyncio.to_thread(client.client.templates.get)
    assert unknown.value.status_code == 404
    assert not fake_provider.requests


async def test_a_block_rule_refuses_with_403(start_gateway: StartGateway, fake_provider: FakeProvider) -> None:
    rules = [{"name": "no-updates", "subject": "Updated", "action": "block"}]
    gateway = await gateway_for(start_gateway, fake_provider, rules=rules)
    with pytest.raises(HTTPError) as refused:
        await send(gateway, full_mail())
    assert refused.value.status_code == 403 and not fake_provider.requests
