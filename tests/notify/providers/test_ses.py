"""Amazon SES v2 through the egress listener, with the real boto3 client as the helpdesk.

The stand-in for SES verifies each request's SigV4 signature with the
gateway's credentials (botocore recomputes it from what arrived), as SES
does, and answers 403 InvalidSignatureException otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import email
import hashlib
import hmac
import json
import re
from email import policy
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import pytest
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from gateway.notify.providers.ses import Ses
from gateway.policy.errors import PolicyError
from gateway.policy.loader import load_policy
from gateway.policy.notifications import EgressRoute
from gateway.server import Gateway
from tests.conftest import StartGateway, secrets_to_files
from tests.notify.samples import AGENT, CUSTOMER, CUSTOMER_NAME, SECRETS, SENDER, TICKET_URL, leaks, ticket_update
from tests.support.providers import FakeProvider, Seen, egress_policy

pytestmark = pytest.mark.timeout(60)
SUBJECT = "[support-12] (Updated) Ny melding fra Bjørn Ålesund"
REGION = "eu-west-1"
GATEWAY_KEY = "AKIAGATEWAYEXAMPLE01"
GATEWAY_SECRET = "gateway-secret-access-key-0123456789abcdef"
GATEWAY_TOKEN = "gateway-session-token"
HELPDESK_KEY = "AKIAHELPDESKEXAMPLE1"
SENT = {"MessageId": "0102019a-ses-message-id"}
_AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)"
                   r"/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})")


def signature_problem(seen: Seen, base_url: str, token: str | None) -> str | None:
    """Why SES would refuse the request's signature; None when it verifies with the gateway's key."""
    m = _AUTH.fullmatch(seen.headers.get("Authorization", ""))
    if m is None:
        return "no SigV4 Authorization header"
    if (m["key"], m["region"], m["service"]) != (GATEWAY_KEY, REGION, "ses"):
        return f"signed with {m['key']}/{m['region']}/{m['service']}"
    signed = m["signed"].split(";")
    if not {"host", "x-amz-date", "x-amz-content-sha256"} <= set(signed):
        return f"the signature does not cover {m['signed']}"
    if seen.headers["X-Amz-Content-Sha256"] != hashlib.sha256(seen.body).hexdigest():
        return "the body is not the one signed"
    if seen.headers.get("X-Amz-Security-Token") != token:
        return "not the gateway's session token"
    request = AWSRequest(method=seen.method, url=base_url + seen.path + (f"?{seen.query}" if seen.query else ""),
                         data=seen.body, headers={name: seen.headers[name] for name in signed})
    request.context["timestamp"] = seen.headers["X-Amz-Date"]
    signer = SigV4Auth(Credentials(GATEWAY_KEY, GATEWAY_SECRET, token), "ses", REGION)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    return None if hmac.compare_digest(expected, m["signature"]) else "the signature does not match"


class SesStandIn(FakeProvider):
    """Answers like SES: the signature is checked first, then the answer set for the path (default: sent)."""

    token: str | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        response = await super()._handle(request)
        problem = signature_problem(self.requests[-1], self.url, self.token)
        if problem is not None:
            return web.json_response({"message": problem}, status=403,
                                     headers={"x-amzn-ErrorType": "InvalidSignatureException:"})
        return response


@pytest.fixture
async def ses() -> Any:
    provider = SesStandIn(answers={"/v2/email/outbound-emails": (200, SENT, {})})
    await provider.start()
    yield provider
    await provider.stop()


@pytest.fixture(autouse=True)
def _no_aws_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("SES_SECRET", GATEWAY_SECRET)
    monkeypatch.setenv("SES_TOKEN", GATEWAY_TOKEN)


def route(provider: FakeProvider, *, token: bool = False) -> dict[str, Any]:
    credentials = {"access_key_id": GATEWAY_KEY, "secret_access_key": "${SES_SECRET}", "region": REGION}
    if token:
        credentials["session_token"] = "${SES_TOKEN}"
    return {"provider": "ses", "upstream": provider.url, "credentials": credentials}


async def gateway_for(start_gateway: StartGateway, provider: SesStandIn, *, token: bool = False,
                      **notifications: Any) -> Gateway:
    provider.token = GATEWAY_TOKEN if token else None
    return await start_gateway(egress_policy([route(provider, token=token)], **notifications))


def client(gateway: Gateway, sent: list[bytes] | None = None, *, session_token: str | None = None) -> Any:
    """boto3's sesv2 client as a helpdesk configures it; ``sent`` collects the bodies it puts on the wire."""
    made = boto3.session.Session().client(
        "sesv2", endpoint_url=f"http://127.0.0.1:{gateway.egress_port}/ses", region_name=REGION,
        aws_access_key_id=HELPDESK_KEY, aws_secret_access_key="helpdesk-secret", aws_session_token=session_token,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
    if sent is not None:
        made.meta.events.register("before-send.sesv2.*", lambda request, **_: sent.append(request.body))
    return made


def simple_mail(*, to: list[str] | None = None) -> dict[str, Any]:
    text = f"{SECRETS[0]} wrote: {SECRETS[1]}, {SECRETS[2]}. {SECRETS[3]}. {SECRETS[5]}\nView: {TICKET_URL}\n"
    return {
        "FromEmailAddress": f"Helpdesk <{SENDER}>",
        "Destination": {"ToAddresses": to or [f"{CUSTOMER_NAME} <{CUSTOMER}>"],
                        "CcAddresses": ["queue@helpdesk.example"]},
        "ReplyToAddresses": ["support+12@helpdesk.example"],
        "ConfigurationSetName": "helpdesk",
        "EmailTags": [{"Name": "customer", "Value": "Bjorn-Alesund"}],
        "ListManagementOptions": {"ContactListName": "customers"},
        "Content": {"Simple": {
            "Subject": {"Data": SUBJECT, "Charset": "UTF-8"},
            "Body": {"Text": {"Data": text}, "Html": {"Data": f"<p>{text}</p><a href=\"{TICKET_URL}\">case</a>"}},
            "Headers": [{"Name": "In-Reply-To", "Value": "<original-1@helpdesk.example>"},
                        {"Name": "X-Customer-Phone", "Value": SECRETS[1]}],
            "Attachments": [{"FileName": "notes.txt", "RawContent": SECRETS[6].encode()}],
        }},
    }


async def send(ses_client: Any, **mail: Any) -> Any:
    return await asyncio.to_thread(ses_client.send_email, **mail)


async def test_a_hidden_mail_reaches_ses_without_content_and_signed_by_the_gateway(
    start_gateway: StartGateway, ses: SesStandIn
) -> None:
    gateway = await gateway_for(start_gateway, ses, token=True)
    answer = await send(client(gateway, session_token="helpdesk-token"), **simple_mail())
    assert answer["MessageId"] == SENT["MessageId"]
    [seen] = ses.requests
    assert signature_problem(seen, ses.url, GATEWAY_TOKEN) is None
    assert seen.path == "/v2/email/outbound-emails" and seen.headers["Host"] == ses.url.removeprefix("http://")
    assert HELPDESK_KEY.encode() not in b"".join(v.encode() for v in seen.headers.values())
    assert leaks(seen.body) == [] and SUBJECT.encode() not in seen.body and b"Bjorn" not in seen.body
    body = seen.json()
    assert "EmailTags" not in body
    assert body["ConfigurationOverrides"]["Tracking"] == {"OpenTrackingEnabled": "DISABLED",
                                                          "ClickTrackingEnabled": "DISABLED"}
    assert body["Destination"] == simple_mail()["Destination"]
    assert body["ConfigurationSetName"] == "helpdesk"
    assert body["ListManagementOptions"] == {"ContactListName": "customers"}
    simple = body["Content"]["Simple"]
    assert set(simple) == {"Subject", "Body", "Headers"}
    assert simple["Headers"] == [{"Name": "In-Reply-To", "Value": "<original-1@helpdesk.example>"}]
    assert simple["Subject"]["Data"] == "New reply on your case support-12"
    assert "https://gw.example/_l/" in simple["Body"]["Text"]["Data"] and TICKET_URL not in seen.body.decode()


async def test_agents_only_pass_byte_for_byte_and_are_still_re_signed(
    start_gateway: StartGateway, ses: SesStandIn
) -> None:
    gateway = await gateway_for(start_gateway, ses)
    sent: list[bytes] = []
    mail = simple_mail(to=[AGENT])
    mail["Destination"].pop("CcAddresses")
    await send(client(gateway, sent, session_token="helpdesk-token"), **mail)
    [seen] = ses.requests
    assert seen.body == sent[0]
    # The helpdesk signed for the gateway's address and the /ses prefix: only the gateway's signature goes on.
    assert signature_problem(seen, ses.url, None) is None and "X-Amz-Security-Token" not in seen.headers


async def test_a_raw_message_goes_through_the_mime_rewriter(start_gateway: StartGateway, ses: SesStandIn) -> None:
    gateway = await gateway_for(start_gateway, ses)
    raw = ticket_update(cc=None)
    await send(client(gateway), FromEmailAddress=SENDER, Destination={"ToAddresses": [CUSTOMER]},
               EmailTags=[{"Name": "t", "Value": "x"}], Content={"Raw": {"Data": raw}})
    [seen] = ses.requests
    assert signature_problem(seen, ses.url, None) is None
    body = seen.json()
    assert set(body) == {"FromEmailAddress", "Destination", "Content", "ConfigurationOverrides"}
    message = base64.b64decode(body["Content"]["Raw"]["Data"])
    assert leaks(message) == [] and leaks(seen.body) == []
    parsed = email.message_from_bytes(message, policy=policy.default)
    assert parsed["Subject"] == "New reply on your case support-12" and parsed["In-Reply-To"]
    assert "https://gw.example/_l/" in parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]


async def test_a_raw_message_for_several_copies_goes_as_one_neutral_copy(
    start_gateway: StartGateway, ses: SesStandIn
) -> None:
    """One call carries one message: a customer hidden and an agent passing both get one neutral copy."""
    gateway = await gateway_for(start_gateway, ses)
    raw = ticket_update(cc=AGENT)
    await send(client(gateway), Content={"Raw": {"Data": raw}})  # recipients from the message's own header
    [seen] = ses.requests
    body = seen.json()
    assert body["Destination"] == {"ToAddresses": [CUSTOMER, AGENT]}
    message = base64.b64decode(body["Content"]["Raw"]["Data"])
    assert leaks(message) == []
    text = email.message_from_bytes(message, policy=policy.default).get_body(("plain",))
    assert text is not None and "https://gw.example/_l/" in text.get_content()
    assert CUSTOMER_NAME not in text.get_content()  # the greeting names no one when several read it


async def test_a_stored_template_becomes_neutral_simple_content(start_gateway: StartGateway, ses: SesStandIn) -> None:
    gateway = await gateway_for(start_gateway, ses)
    made = client(gateway)
    variables: dict[str, Any] = {"note": SECRETS[5], "who": {"name": SECRETS[0]}, "url": TICKET_URL}
    template = {"TemplateName": "ticket-update", "TemplateData": json.dumps(variables)}
    with pytest.raises(ClientError) as unsafe:  # no case id in what the request shows: never sent as it came
        await send(made, FromEmailAddress=SENDER, Destination={"ToAddresses": [CUSTOMER]},
                   Content={"Template": template})
    assert unsafe.value.response["ResponseMetadata"]["HTTPStatusCode"] == 502 and not ses.requests
    template["TemplateData"] = json.dumps({**variables, "case": "[support-12]"})
    await send(made, FromEmailAddress=SENDER, Destination={"ToAddresses": [CUSTOMER]},
               Content={"Template": template})
    [seen] = ses.requests
    assert leaks(seen.body) == []
    content = seen.json()["Content"]
    assert list(content) == ["Simple"] and "https://gw.example/_l/" in content["Simple"]["Body"]["Text"]["Data"]


async def test_ses_errors_come_back_unchanged(start_gateway: StartGateway, ses: SesStandIn) -> None:
    ses.answers["/v2/email/outbound-emails"] = (
        400, {"message": "Email address is not verified."}, {"x-amzn-ErrorType": "MessageRejected:"})
    gateway = await gateway_for(start_gateway, ses)
    made = client(gateway)
    with pytest.raises(made.exceptions.MessageRejected) as failed:
        await send(made, **simple_mail())
    assert failed.value.response["Error"]["Message"] == "Email address is not verified."
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


async def test_bad_input_gets_ses_error_shape_and_nothing_is_forwarded(
    start_gateway: StartGateway, ses: SesStandIn
) -> None:
    gateway = await gateway_for(start_gateway, ses)
    made = client(gateway)
    mail = simple_mail()
    mail["Destination"] = {}
    with pytest.raises(made.exceptions.BadRequestException) as failed:
        await send(made, **mail)
    assert failed.value.response["Error"]["Message"] == "Destination: no recipient"
    with pytest.raises(ClientError) as unknown:
        await asyncio.to_thread(made.get_account)
    assert unknown.value.response["Error"]["Code"] == "UnknownOperationException"
    assert unknown.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    async with aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{gateway.egress_port}/ses/v2/email/outbound-emails"
        for data in (b"{not json", json.dumps({"Content": {"Raw": {"Data": "%%%"}}, "Destination": {
                "ToAddresses": [CUSTOMER]}}).encode()):
            async with session.post(url, data=data) as response:
                assert response.status == 400 and response.headers["x-amzn-ErrorType"] == "BadRequestException"
                assert set(await response.json()) == {"message"}
    assert not ses.requests


async def test_a_block_rule_refuses_as_message_rejected(start_gateway: StartGateway, ses: SesStandIn) -> None:
    rules = [{"name": "no-updates", "subject": "Updated", "action": "block"}]
    gateway = await gateway_for(start_gateway, ses, rules=rules)
    made = client(gateway)
    with pytest.raises(made.exceptions.MessageRejected):
        await send(made, **simple_mail())
    assert not ses.requests


def test_ses_takes_bodies_up_to_30_mib() -> None:
    assert Ses.max_body_bytes == 30 * 1024 * 1024


@pytest.mark.parametrize(("credentials", "message"), [
    (None, "ses re-signs every request with SigV4: give access_key_id, secret_access_key, region"),
    ({"access_key_id": "AKIA", "secret_access_key": "${SES_SECRET}", "region": "Europe"},
     "region 'Europe' is not an AWS region like eu-west-1"),
    ({"access_key_id": "AKIA", "secret_access_key": "${SES_SECRET}", "region": REGION, "profile": "x"},
     "unknown profile: ses takes access_key_id, region, secret_access_key, session_token"),
    ({"access_key_id": "AKIA", "secret_access_key": "inline-secret", "region": REGION},
     "key material must be a reference, not inline"),
    ({"access_key_id": "AKIA", "secret_access_key": "${SES_SECRET}", "session_token": "inline-secret",
      "region": REGION}, "key material must be a reference, not inline"),
])
def test_ses_credentials_are_checked_at_load(tmp_path: Path, credentials: dict[str, str] | None,
                                             message: str) -> None:
    entry: dict[str, Any] = {"provider": "ses", "upstream": "https://email.eu-west-1.amazonaws.com"}
    if credentials is not None:
        entry["credentials"] = credentials
    path = tmp_path / "policy.yaml"
    doc = secrets_to_files({"upstream": {"url": "http://127.0.0.1:9"}, **egress_policy([entry])}, tmp_path)
    path.write_text(json.dumps(doc))
    with pytest.raises(PolicyError) as failed:
        load_policy(path)
    assert message in str(failed.value) and "notifications.egress.routes[0].credentials" in str(failed.value)
    assert "inline-secret" not in str(failed.value)


def test_an_ses_route_without_botocore_is_a_policy_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gateway.policy.notifications.botocore_installed", lambda: False)
    entry = {"provider": "ses", "upstream": "https://email.eu-west-1.amazonaws.com",
             "credentials": {"access_key_id": "AKIA", "secret_access_key": "s", "region": REGION}}
    with pytest.raises(ValueError, match=r"pip install 'privacy-gateway\[ses\]'"):
        EgressRoute.model_validate(entry)
