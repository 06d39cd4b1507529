"""Mailgun messages through the egress listener, sent with requests as Mailgun's documentation does."""

from __future__ import annotations

import asyncio
import email
import io
import json
from email import policy
from email.message import EmailMessage
from typing import Any

import multipart  # type: ignore[import-untyped]
import pytest
import requests

from gateway.notify.providers.mailgun import Mailgun
from gateway.server import Gateway
from tests.conftest import StartGateway
from tests.notify.samples import AGENT, CUSTOMER, CUSTOMER_NAME, SECRETS, SENDER, TICKET_URL, leaks, ticket_update
from tests.support.providers import FakeProvider, Seen, egress_policy, fake_provider  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(60)
DOMAIN = "mg.helpdesk.example"
SUBJECT = "[support-12] (Updated) Ny melding fra Bjørn Ålesund"
QUEUED = {"id": "<20261202100000.1.ABCDEF@mg.helpdesk.example>", "message": "Queued. Thank you."}


def full_form(*, to: list[str] | None = None) -> list[tuple[str, str]]:
    """What a helpdesk sends: the thread in text, HTML and AMP, variables, custom headers, tracking on."""
    text = f"{SECRETS[0]} wrote: {SECRETS[1]}, {SECRETS[2]}. {SECRETS[3]}. {SECRETS[5]}\nView: {TICKET_URL}\n"
    fields = [("from", f"Helpdesk <{SENDER}>")]
    fields += [("to", address) for address in to or [f"{CUSTOMER_NAME} <{CUSTOMER}>"]]
    fields += [
        ("subject", SUBJECT), ("text", text), ("html", f"<p>{text}</p><a href=\"{TICKET_URL}\">case</a>"),
        ("amp-html", f"<html amp4email><p>{SECRETS[4]}</p></html>"),
        ("t:variables", json.dumps({"note": SECRETS[5]})), ("v:customer", SECRETS[0]),
        ("h:X-Customer-Phone", SECRETS[1]), ("h:In-Reply-To", "<original-1@helpdesk.example>"),
        ("o:tag", "ticket-update"), ("o:tracking", "yes"), ("o:tracking-clicks", "htmlonly"),
        ("o:tracking-opens", "yes"),
    ]
    return fields


def attachments() -> list[tuple[str, tuple[str, bytes]]]:
    return [("attachment", ("notes.txt", SECRETS[6].encode())), ("inline", ("logo.txt", SECRETS[3].encode()))]


async def gateway_for(start_gateway: StartGateway, provider: FakeProvider, **notifications: Any) -> Gateway:
    routes = [{"provider": "mailgun", "upstream": provider.url}]
    return await start_gateway(egress_policy(routes, **notifications))


async def post(gateway: Gateway, path: str = "messages", **kwargs: Any) -> requests.Response:
    url = f"http://127.0.0.1:{gateway.egress_port}/mailgun/v3/{DOMAIN}/{path}"
    return await asyncio.to_thread(requests.post, url, auth=("api", "key-test"), timeout=10, **kwargs)


def form_of(seen: Seen) -> list[tuple[str, bytes, str | None]]:
    """The forwarded form as (name, value, filename), read with an independent parser."""
    kind, options = multipart.parse_options_header(seen.headers["Content-Type"])
    if kind == "application/x-www-form-urlencoded":
        from urllib.parse import parse_qsl

        return [(k, v.encode(), None) for k, v in parse_qsl(seen.body.decode(), keep_blank_values=True)]
    assert kind == "multipart/form-data"
    parser = multipart.MultipartParser(io.BytesIO(seen.body), options["boundary"])
    return [(part.name, part.raw, part.filename) for part in parser]


def values(form: list[tuple[str, bytes, str | None]], name: str) -> list[str]:
    return [value.decode() for key, value, _ in form if key == name]


async def test_a_hidden_multipart_message_reaches_mailgun_without_any_content(
    start_gateway: StartGateway, fake_provider: FakeProvider
) -> None:
    fake_provider.answers[f"/v3/{DOMAIN}/messages"] = (200, QUEUED, {})
    gateway = await gateway_for(start_gateway, fake_provider)
    variables = json.dumps({CUSTOMER: {"name": SECRETS[0]}})
    response = await post(gateway, data=full_form() + [("recipient-variables", variables)], files=attachments())
    assert response.status_code == 200 and response.json() == QUEUED
    [seen] = fake_provider.requests
    assert seen.path == f"/v3/{DOMAIN}/messages" and seen.headers["Authorization"].startswith("Basic ")
    assert leaks(seen.body) == [] and SUBJECT.encode() not in seen.body
    form = form_of(seen)
    assert [name for name, _, filename in form if filename is not None] == []
    names = {name for name, _, _ in form}
    assert not names & {"attachment", "inline", "amp-html", "t:variables", "v:customer", "h:X-Customer-Phone"}
    assert values(form, "subject") == ["New reply on your case support-12"]
    assert values(form, "to") == [f"{CUSTOMER_NAME} <{CUSTOMER}>"]
    assert values(form, "from") == [f"Helpdesk <{SENDER}>"]
    assert values(form, "h:In-Reply-To") == ["<original-1@helpdesk.example>"]
    assert values(form, "o:tag") == ["ticket-update"]
    assert "https://gw.example/_l/" in values(form, "text")[0] and "Kari Nordmann" in values(form, "text")[0]
    assert "https://gw.example/_l/" in values(form, "html")[0]
    for option in ("o:tracking", "o:tracking-clicks", "o:tracking-opens"):
        assert values(form, option) == ["no"]
    assert json.loads(values(form, "recipient-variables")[0]) == {CUSTOMER: {}}


async def test_a_hidden_urlencoded_message_goes_on_urlencoded(
    start_gateway: StartGateway, fake_provider: FakeProvider
) -> None:
    gateway = await gateway_for(start_gateway, fake_provider)
    response = await post(gateway, data=full_form())
    assert response.status_code == 200
    [seen] = fake_provider.requests
    assert seen.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert leaks(seen.body) == []
    form = form_of(seen)
    assert values(form, "subject") == ["New reply on your case support-12"]
    assert values(form, "o:tracking-clicks") == ["no"] and "html" in {name for name, _, _ in form}


@pytest.mark.parametrize("with_files", [True, False])
async def test_agents_only_pass_byte_for_byte(
    start_gateway: StartGateway, fake_provider: FakeProvider, with_files: bool
) -> None:
    gateway = await gateway_for(start_gateway, fake_provider)
    prepared = requests.Request("POST", "http://x/", data=full_form(to=[AGENT]),
                                files=attachments() if with_files else None).prepare()
    sent = prepared.body if isinstance(prepared.body, bytes) else str(prepared.body).encode()
    response = await post(gateway, data=sent, headers={"Content-Type": prepared.headers["Content-Type"]})
    assert response.status_code == 200
    [seen] = fake_provider.requests
    assert seen.body == sent and seen.headers["Content-Type"] == prepared.headers["Content-Type"]


async def test_provider_errors_come_back_unchanged(start_gateway: StartGateway, fake_provider: FakeProvider) -> None:
    error = {"message": "'from' parameter is not a valid address. please check documentation"}
    fake_provider.answers[f"/v3/{DOMAIN}/messages"] = (400, error, {})
    gateway = await gateway_for(start_gateway, fake_provider)
    response = await post(gateway, data=full_form())
    assert response.status_code == 400 and response.json() == error
    fake_provider.answers[f"/v3/{DOMAIN}/messages"] = (401, b"Forbidden", {"Content-Type": "text/plain"})
    response = await post(gateway, data=full_form())
    assert response.status_code == 401 and response.text == "Forbidden"


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"--x\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\na@b.example\r\n--x--\r\n",
         "multipart/form-data", "the multipart form has no boundary"),
        (b"--x\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\na@b.example\r\n",
         "multipart/form-data; boundary=x", "the multipart form is malformed"),
        (b"garbage without a boundary", "multipart/form-data; boundary=x", "the multipart form is malformed"),
        (b"to=a%40b.example&&", "application/x-www-form-urlencoded", "the form is not valid urlencoded data"),
        (b"to=\xff", "application/x-www-form-urlencoded", "the form is not valid urlencoded data"),
        (b'{"to": "a@b.example"}', "application/json",
         "expected multipart/form-data or application/x-www-form-urlencoded"),
        (b"from=help%40helpdesk.example&text=hi", "application/x-www-form-urlencoded", "'to' parameter is missing"),
        (b"to=a%40b.example&recipient-variables=%7Bnope", "application/x-www-form-urlencoded",
         "'recipient-variables' is not valid JSON"),
    ],
)
async def test_bad_forms_get_mailguns_error_shape_and_nothing_is_forwarded(
    start_gateway: StartGateway, fake_provider: FakeProvider, body: bytes, content_type: str, message: str
) -> None:
    gateway = await gateway_for(start_gateway, fake_provider)
    response = await post(gateway, data=body, headers={"Content-Type": content_type})
    assert response.status_code == 400 and response.json() == {"message": message}
    assert not fake_provider.requests


async def test_unknown_paths_are_404_and_a_block_rule_is_403(
    start_gateway: StartGateway, fake_provider: FakeProvider
) -> None:
    rules = [{"name": "no-updates", "subject": "Updated", "action": "block"}]
    gateway = await gateway_for(start_gateway, fake_provider, rules=rules)
    url = f"http://127.0.0.1:{gateway.egress_port}/mailgun/v3/{DOMAIN}/events"
    unknown = await asyncio.to_thread(requests.get, url, auth=("api", "key-test"), timeout=10)
    assert unknown.status_code == 404 and "message" in unknown.json()
    refused = await post(gateway, data=full_form())
    assert refused.status_code == 403
    assert refused.json() == {"message": "the notification is refused by the privacy policy"}
    assert not fake_provider.requests


def test_the_body_limit_defaults_to_mailguns_30_mib() -> None:
    assert Mailgun.max_body_bytes == 30 * 1024 * 1024


def sent_message(seen: Seen) -> EmailMessage:
    [(_, raw, filename)] = [entry for entry in form_of(seen) if entry[0] == "message"]
    assert filename == "message.mime"
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


async def test_a_hidden_mime_message_is_rewritten(start_gateway: StartGateway, fake_provider: FakeProvider) -> None:
    fake_provider.answers[f"/v3/{DOMAIN}/messages.mime"] = (200, QUEUED, {})
    gateway = await gateway_for(start_gateway, fake_provider)
    data = {"to": CUSTOMER, "v:customer": SECRETS[0], "o:tracking": "yes", "h:X-Note": SECRETS[5]}
    response = await post(gateway, "messages.mime", data=data,
                          files={"message": ("message.mime", ticket_update(cc=None))})
    assert response.status_code == 200 and response.json() == QUEUED
    [seen] = fake_provider.requests
    assert leaks(seen.body) == []
    form = form_of(seen)
    assert values(form, "to") == [CUSTOMER] and values(form, "o:tracking") == ["no"]
    assert not {"v:customer", "h:X-Note"} & {name for name, _, _ in form}
    message = sent_message(seen)
    assert message["Subject"] == "New reply on your case support-12"
    assert message["In-Reply-To"] == "<original-1@helpdesk.example>"
    body = message.get_body(("plain",))
    assert body is not None and "Kari Nordmann" in body.get_content()


async def test_a_mime_message_for_an_agent_and_a_customer_goes_as_one_neutral_copy(
    start_gateway: StartGateway, fake_provider: FakeProvider
) -> None:
    gateway = await gateway_for(start_gateway, fake_provider)
    response = await post(gateway, "messages.mime", data={"to": [CUSTOMER, AGENT]},
                          files={"message": ("message.mime", ticket_update())})
    assert response.status_code == 200
    [seen] = fake_provider.requests
    assert leaks(seen.body) == [] and values(form_of(seen), "to") == [CUSTOMER, AGENT]
    message = sent_message(seen)
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "https://gw.example/_l/" in text and CUSTOMER_NAME not in text  # bound to no one


async def test_a_mime_message_for_agents_passes_byte_for_byte(
    start_gateway: StartGateway, fake_provider: FakeProvider
) -> None:
    gateway = await gateway_for(start_gateway, fake_provider)
    prepared = requests.Request("POST", "http://x/", data={"to": AGENT},
                                files={"message": ("message.mime", ticket_update())}).prepare()
    assert isinstance(prepared.body, bytes)
    response = await post(gateway, "messages.mime", data=prepared.body,
                          headers={"Content-Type": prepared.headers["Content-Type"]})
    assert response.status_code == 200
    assert fake_provider.requests[0].body == prepared.body


async def test_a_mime_call_without_its_message_is_400(start_gateway: StartGateway, fake_provider: FakeProvider) -> None:
    gateway = await gateway_for(start_gateway, fake_provider)
    response = await post(gateway, "messages.mime", data={"to": CUSTOMER}, files={"other": ("x", b"y")})
    assert response.status_code == 400 and response.json() == {"message": "'message' parameter is missing"}
    assert not fake_provider.requests
