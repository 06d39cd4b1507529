"""FCM HTTP v1 through the egress listener, with the real firebase-admin SDK as the helpdesk.

firebase-admin has no setting for the messaging host (no emulator variable):
the tests point it at the gateway by its one class attribute for the send
URL, ``_MessagingService.FCM_URL`` (read when the app's messaging service is
made). Its OAuth token exchange goes to the service account's ``token_uri``,
here a second fake on loopback: it never passes the gateway.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import firebase_admin
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from firebase_admin import credentials, exceptions, messaging

from gateway.lib.keyring import KeyRing
from gateway.links.signing import LinkSigner
from gateway.server import Gateway
from tests.conftest import StartGateway
from tests.notify.samples import SECRETS, TICKET_URL, leaks
from tests.support.providers import FakeProvider, egress_policy, fake_provider  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(60)
PROJECT = "helpdesk-push"
SEND_PATH = f"/v1/projects/{PROJECT}/messages:send"
TITLE = "[support-12] (Updated) Ny melding fra Bjørn Ålesund"
BODY = f"{SECRETS[1]}, {SECRETS[2]}. {SECRETS[3]}"
TEMPLATES = {"default": {
    "subject": "New reply on your case {case_id}",
    "text": "There is a new reply on your case {case_id}.\nOpen it: {link}\n",
    "push_title": "Case {case_id} updated",
    "push_body": "Open the app to read the new reply.",
}}
_apps = itertools.count()


@pytest.fixture(scope="module")
def private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture
async def token_server() -> AsyncIterator[FakeProvider]:
    """Google's OAuth token endpoint, as google-auth's JWT bearer grant reads it."""
    server = await FakeProvider().start()
    server.answers["/token"] = (200, {"access_token": "ya29.test-token", "expires_in": 3600,
                                      "token_type": "Bearer"}, {})
    yield server
    await server.stop()


@pytest.fixture
def apps() -> Iterator[list[firebase_admin.App]]:
    made: list[firebase_admin.App] = []
    yield made
    for app in made:
        firebase_admin.delete_app(app)


class Sdk:
    """firebase-admin with a throwaway service account, its send URL on the gateway's egress port."""

    def __init__(self, app: firebase_admin.App) -> None:
        self.app = app

    async def send(self, message: messaging.Message) -> str:
        return await asyncio.to_thread(messaging.send, message, app=self.app)

    async def send_each(self, messages: list[messaging.Message]) -> messaging.BatchResponse:
        return await asyncio.to_thread(messaging.send_each, messages, app=self.app)


@pytest.fixture
def sdk_for(monkeypatch: pytest.MonkeyPatch, private_key: str, token_server: FakeProvider,
            apps: list[firebase_admin.App]) -> Any:
    def make(gateway: Gateway) -> Sdk:
        url = f"http://127.0.0.1:{gateway.egress_port}/fcm/v1/projects/{{0}}/messages:send"
        monkeypatch.setattr(messaging._MessagingService, "FCM_URL", url)
        account = {
            "type": "service_account", "project_id": PROJECT, "private_key_id": "k1", "private_key": private_key,
            "client_email": f"sender@{PROJECT}.iam.gserviceaccount.com", "client_id": "1",
            "token_uri": f"{token_server.url}/token",
        }
        app = firebase_admin.initialize_app(credentials.Certificate(account), name=f"fcm-test-{next(_apps)}")
        apps.append(app)
        return Sdk(app)
    return make


def full_message(title: str = TITLE) -> messaging.Message:
    """What a helpdesk sends: the thread's words in every platform's texts, the data, analytics on."""
    return messaging.Message(
        fid="device-token-1",
        notification=messaging.Notification(title=title, body=BODY, image="https://cdn.example/avatar-bjorn.png"),
        data={"ticket_id": "support-12", "preview": SECRETS[4], "url": TICKET_URL},
        android=messaging.AndroidConfig(
            collapse_key="support-12", priority="high", data={"ticket_id": "support-12", "note": SECRETS[5]},
            notification=messaging.AndroidNotification(
                title=title, body=BODY, channel_id="tickets", color="#112233", ticker=SECRETS[0],
                title_loc_key="new_reply", title_loc_args=[SECRETS[0]], body_loc_key="reply_body",
                body_loc_args=[SECRETS[2]]),
            fcm_options=messaging.AndroidFCMOptions(analytics_label="customer-kari")),
        apns=messaging.APNSConfig(
            headers={"apns-priority": "10", "apns-collapse-id": "support-12", "X-Custom": SECRETS[1]},
            payload=messaging.APNSPayload(
                aps=messaging.Aps(alert=messaging.ApsAlert(title=title, subtitle=SECRETS[5], body=BODY,
                                                           loc_key="reply", loc_args=[SECRETS[3]]),
                                  badge=3, sound="default", thread_id="support-12", mutable_content=True),
                ticket_id="support-12", customer=SECRETS[6]),
            fcm_options=messaging.APNSFCMOptions(image="https://cdn.example/attachment.png")),
        webpush=messaging.WebpushConfig(
            headers={"Urgency": "high", "X-Note": SECRETS[2]}, data={"ticket_id": "support-12", "n": SECRETS[3]},
            notification=messaging.WebpushNotification(
                title=title, body=BODY, icon="/icon.png", tag="support-12",
                actions=[messaging.WebpushNotificationAction("reply", f"Reply to {SECRETS[0]}")],
                custom_data={"extra": SECRETS[4]}),
            fcm_options=messaging.WebpushFCMOptions(link=TICKET_URL)),
        fcm_options=messaging.FCMOptions(analytics_label="ticket-updates"),
    )


async def gateway_for(start_gateway: StartGateway, provider: FakeProvider, *, route: dict[str, Any] | None = None,
                      **notifications: Any) -> Gateway:
    routes = [{"provider": "fcm", "upstream": provider.url, "data_keys": ["ticket_id"], **(route or {})}]
    notifications.setdefault("templates", TEMPLATES)
    provider.answers.setdefault(SEND_PATH, (200, {"name": f"projects/{PROJECT}/messages/1"}, {}))
    return await start_gateway(egress_policy(routes, **notifications))


def sdk_bytes(message: messaging.Message) -> bytes:
    """The body firebase-admin puts on the wire (requests' ``json=``)."""
    return json.dumps({"message": messaging._MessagingService.encode_message(message)}).encode()


async def test_a_hidden_push_reaches_fcm_without_any_content(
    start_gateway: StartGateway, fake_provider: FakeProvider, token_server: FakeProvider, sdk_for: Any
) -> None:
    fake_provider.answers[SEND_PATH] = (200, {"name": f"projects/{PROJECT}/messages/123"}, {})
    sdk = sdk_for(await gateway_for(start_gateway, fake_provider))
    assert await sdk.send(full_message()) == f"projects/{PROJECT}/messages/123"
    [seen] = fake_provider.requests
    assert seen.path == SEND_PATH and seen.headers["Authorization"] == "Bearer ya29.test-token"
    assert [r.path for r in token_server.requests] == ["/token"]  # the token exchange never passed the gateway
    assert leaks(seen.body) == [] and TITLE.encode() not in seen.body
    assert b"avatar" not in seen.body and b"analytics" not in seen.body and b"help.example" not in seen.body
    message = seen.json()["message"]
    visible = {"title": "Case support-12 updated", "body": "Open the app to read the new reply."}
    assert message["fid"] == "device-token-1" and "fcm_options" not in message
    assert message["notification"] == visible
    assert message["data"] == {"ticket_id": "support-12"}
    android = message["android"]
    assert android["collapse_key"] == "support-12" and android["priority"] == "high"
    assert android["data"] == {"ticket_id": "support-12"} and "fcm_options" not in android
    assert android["notification"] == {**visible, "channel_id": "tickets", "color": "#112233"}
    apns = message["apns"]
    assert apns["headers"] == {"apns-priority": "10", "apns-collapse-id": "support-12"}
    assert apns["payload"] == {"ticket_id": "support-12", "aps": {
        "alert": visible, "badge": 3, "sound": "default", "thread-id": "support-12", "mutable-content": 1}}
    assert "fcm_options" not in apns
    assert message["webpush"] == {"headers": {"Urgency": "high"}, "data": {"ticket_id": "support-12"},
                                  "notification": {**visible, "icon": "/icon.png", "tag": "support-12"}}


async def test_send_each_sends_one_rewritten_request_per_message(
    start_gateway: StartGateway, fake_provider: FakeProvider, sdk_for: Any
) -> None:
    fake_provider.answers[SEND_PATH] = (200, {"name": f"projects/{PROJECT}/messages/7"}, {})
    sdk = sdk_for(await gateway_for(start_gateway, fake_provider))
    batch = await sdk.send_each([full_message(), full_message()])
    assert batch.success_count == 2
    assert [r.path for r in fake_provider.requests] == [SEND_PATH, SEND_PATH]
    assert all(leaks(r.body) == [] for r in fake_provider.requests)


async def test_an_apns_alert_string_becomes_the_neutral_texts(
    start_gateway: StartGateway, fake_provider: FakeProvider, sdk_for: Any
) -> None:
    sdk = sdk_for(await gateway_for(start_gateway, fake_provider))
    aps = messaging.Aps(alert=f"{TITLE}: {BODY}", custom_data={"thread-note": SECRETS[5]})
    await sdk.send(messaging.Message(topic="agents", apns=messaging.APNSConfig(payload=messaging.APNSPayload(aps))))
    [seen] = fake_provider.requests
    assert leaks(seen.body) == []
    assert seen.json() == {"message": {"topic": "agents", "apns": {"payload": {"aps": {"alert": {
        "title": "Case support-12 updated", "body": "Open the app to read the new reply."}}}}}}


async def test_a_passing_push_goes_on_byte_for_byte(
    start_gateway: StartGateway, fake_provider: FakeProvider, sdk_for: Any
) -> None:
    rules = [{"name": "maintenance", "subject": "^Maintenance", "action": "pass"}]
    sdk = sdk_for(await gateway_for(start_gateway, fake_provider, rules=rules))
    message = full_message(title="Maintenance tonight")
    await sdk.send(message)
    assert fake_provider.requests[0].body == sdk_bytes(message)


async def test_id_only_keeps_the_case_id_and_a_signed_token(
    start_gateway: StartGateway, fake_provider: FakeProvider, sdk_for: Any
) -> None:
    sdk = sdk_for(await gateway_for(start_gateway, fake_provider, route={"push_mode": "id_only"}))
    await sdk.send(full_message())
    [seen] = fake_provider.requests
    assert leaks(seen.body) == []
    message = seen.json()["message"]
    data = message["data"]
    assert set(data) == {"case_id", "token"} and data["case_id"] == "support-12"
    assert message["android"]["data"] == data and message["webpush"]["data"] == data
    assert "ticket_id" not in message["apns"]["payload"]  # custom APNs keys: message.data carries the ids
    assert message["notification"] == {"title": "Case support-12 updated",
                                       "body": "Open the app to read the new reply."}
    claims = LinkSigner(KeyRing.from_config([("k1", "n" * 40)], "k1"), ttl=3600).verify(data["token"])
    assert claims.case == "support-12" and claims.url == TICKET_URL and claims.recipient is None


async def test_id_only_without_a_case_id_is_refused_and_nothing_goes(
    start_gateway: StartGateway, fake_provider: FakeProvider, sdk_for: Any
) -> None:
    sdk = sdk_for(await gateway_for(start_gateway, fake_provider, route={"push_mode": "id_only"}))
    with pytest.raises(exceptions.FirebaseError) as failed:
        await sdk.send(messaging.Message(fid="t", notification=messaging.Notification(title=SECRETS[0])))
    # In FCM's error shape: firebase-admin reads error.message and raises its own error type.
    assert str(failed.value) == "the notification could not be rewritten safely"
    assert failed.value.http_response.status_code == 502 and not fake_provider.requests


async def test_fcm_errors_come_back_unchanged(
    start_gateway: StartGateway, fake_provider: FakeProvider, sdk_for: Any
) -> None:
    error = {"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND",
                       "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                                    "errorCode": "UNREGISTERED"}]}}
    fake_provider.answers[SEND_PATH] = (404, error, {})
    sdk = sdk_for(await gateway_for(start_gateway, fake_provider))
    with pytest.raises(messaging.UnregisteredError) as failed:
        await sdk.send(full_message())
    assert str(failed.value) == "Requested entity was not found."
    assert failed.value.http_response.json() == error


async def test_a_block_rule_is_a_permission_error(
    start_gateway: StartGateway, fake_provider: FakeProvider, sdk_for: Any
) -> None:
    rules = [{"name": "no-updates", "subject": "Updated", "action": "block"}]
    sdk = sdk_for(await gateway_for(start_gateway, fake_provider, rules=rules))
    with pytest.raises(exceptions.PermissionDeniedError):
        await sdk.send(full_message())
    assert not fake_provider.requests


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        (SEND_PATH, b"not json", 400, "the request body is not JSON (fcm)"),
        (SEND_PATH, b'{"validate_only": true}', 400, "message: required, an object"),
        (SEND_PATH, b'{"message": {"token": "t", "android": {"notification": "x"}}}', 400,
         "message.android.notification: must be an object"),
        (SEND_PATH, b'{"message": {"token": "t", "apns": {"payload": {"aps": {"alert": 1}}}}}', 400,
         "message.apns.payload.aps.alert: must be a string or an object"),
        ("/batch", b"--batch_boundary--", 404, "unknown fcm API path: POST /batch"),
    ],
)
async def test_bad_input_gets_fcms_error_shape_and_nothing_is_forwarded(
    start_gateway: StartGateway, fake_provider: FakeProvider, path: str, body: bytes, status: int, message: str
) -> None:
    gateway = await gateway_for(start_gateway, fake_provider)
    async with aiohttp.ClientSession() as session:
        async with session.post(f"http://127.0.0.1:{gateway.egress_port}/fcm{path}", data=body,
                                headers={"Content-Type": "application/json"}) as response:
            assert response.status == status
            answer = await response.json()
    assert answer == {"error": {"code": status, "message": message,
                                "status": "INVALID_ARGUMENT" if status == 400 else "NOT_FOUND"}}
    assert not fake_provider.requests
