"""The HTTP/2 listener for APNs, over real sockets: an HTTP/2 client (httpx) as the helpdesk, a fake Apple
written with h2 behind verified TLS with ALPN."""

from __future__ import annotations

import asyncio
import datetime
import json
import ssl
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.policy.notifications import Egress
from gateway.server import Gateway
from tests.conftest import StartGateway
from tests.notify.samples import SECRETS, TICKET_URL, leaks
from tests.support import tls
from tests.support.providers import egress_policy

pytestmark = pytest.mark.timeout(60)
TOKEN = "a" * 64
BAD_TOKEN = "b" * 64
JWT = "bearer eyJhbGciOiJFUzI1NiIsImtpZCI6IkFCQzEyM0RFRkcifQ.eyJpc3MiOiJERUYxMjNHSElKIn0.c2lnbmF0dXJl"
APNS_HEADERS = {"apns-topic": "com.example.helpdesk", "apns-push-type": "alert", "apns-priority": "10",
                "apns-expiration": "0", "apns-collapse-id": "support-12",
                "apns-id": "123e4567-e89b-12d3-a456-4266554400a0"}


def notification(**custom: Any) -> dict[str, Any]:
    """What a helpdesk's app push carries: the reply in the alert, the customer in custom keys."""
    alert = {"title": f"[support-12] New reply from {SECRETS[0]}", "subtitle": SECRETS[1],
             "body": f"{SECRETS[2]}. {SECRETS[3]}", "loc-key": "REPLY_FMT", "loc-args": [SECRETS[0], SECRETS[5]]}
    return {"aps": {"alert": alert, "badge": 3, "sound": "default", "thread-id": "support-12",
                    "mutable-content": 1},
            "ticket_id": "support-12", "customer": SECRETS[4], "url": TICKET_URL, **custom}


@dataclass
class FakeApple:
    """APNs as Apple documents it: 200 with apns-id and no body, or an error status with {"reason": ...}."""

    tls: ssl.SSLContext | None
    answers: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)  # token -> status, body
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    alpn: list[str | None] = field(default_factory=list)
    client_certs: list[str] = field(default_factory=list)  # the common names of the provider certificates
    port: int = 0
    server: asyncio.Server | None = None

    async def start(self) -> FakeApple:
        if self.tls is not None:
            self.tls.set_alpn_protocols(["h2"])
        self.server = await asyncio.get_running_loop().create_server(lambda: _AppleConnection(self), "127.0.0.1", 0,
                                                                     ssl=self.tls)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"{'https' if self.tls is not None else 'http'}://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


class _AppleConnection(asyncio.Protocol):
    def __init__(self, apple: FakeApple) -> None:
        self.apple = apple
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        self.streams: dict[int, tuple[dict[str, str], bytearray]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        ssl_object = transport.get_extra_info("ssl_object")
        self.apple.alpn.append(ssl_object.selected_alpn_protocol() if ssl_object is not None else None)
        peer = ssl_object.getpeercert() if ssl_object is not None else None
        if peer:
            self.apple.client_certs.append(dict(item[0] for item in peer["subject"])["commonName"])
        self.conn.initiate_connection()
        transport.write(self.conn.data_to_send())

    def data_received(self, data: bytes) -> None:
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                self.streams[event.stream_id] = ({str(k): str(v) for k, v in event.headers}, bytearray())
            elif isinstance(event, h2.events.DataReceived):
                self.streams[event.stream_id][1].extend(event.data)
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                headers, body = self.streams.pop(event.stream_id)
                self.apple.requests.append((headers, bytes(body)))
                status, error = self.apple.answers.get(headers[":path"].rsplit("/", 1)[-1], (200, {}))
                answer = json.dumps(error).encode() if error else b""
                out = [(":status", str(status)), ("apns-id", headers.get("apns-id", str(uuid.uuid4())))]
                if answer:
                    out.append(("content-type", "application/json"))
                self.conn.send_headers(event.stream_id, out, end_stream=not answer)
                if answer:
                    self.conn.send_data(event.stream_id, answer, end_stream=True)
        self.transport.write(self.conn.data_to_send())


@pytest.fixture
def ca(tmp_path: Path) -> tls.TestCA:
    ca = tls.make_ca(tmp_path)
    (tmp_path / "apple-ca.pem").write_text(ca.ca_pem)
    return ca


@pytest.fixture
async def apple(ca: tls.TestCA) -> Any:
    fake = await FakeApple(ca.server_context).start()
    yield fake
    await fake.stop()


def apns_policy(apple: FakeApple, tls: str = "h2c", route: dict[str, Any] | None = None,
                **notifications: Any) -> dict[str, Any]:
    policy = egress_policy([{"provider": "apns", "upstream": apple.url, "tls_ca": "${file:apple-ca.pem}",
                             "data_keys": ["ticket_id"], **(route or {})}], **notifications)
    listen: dict[str, Any] = {"host": "127.0.0.1", "port": 0, "tls": tls}
    if tls == "tls":
        listen.update(cert="${file:server.pem}", key="${file:server.key}")
    policy["notifications"]["egress"]["apns_listen"] = listen
    return policy


def client(ca: tls.tls.TestCA | None = None) -> httpx.AsyncClient:
    """The helpdesk's HTTP/2 client: over TLS with ALPN, or h2c with prior knowledge (http1 off)."""
    if ca is None:
        return httpx.AsyncClient(http1=False, http2=True)
    return httpx.AsyncClient(http2=True, verify=ssl.create_default_context(cadata=ca.ca_pem))


async def push(http: httpx.AsyncClient, gateway: Gateway, payload: Any, token: str = TOKEN,
               scheme: str = "http") -> httpx.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return await http.post(f"{scheme}://127.0.0.1:{gateway.apns_port}/3/device/{token}", content=body,
                           headers={"authorization": JWT, **APNS_HEADERS})


async def test_a_hidden_push_reaches_apple_without_content_over_h2c(
    start_gateway: StartGateway, apple: FakeApple
) -> None:
    gateway = await start_gateway(apns_policy(apple))
    async with client() as http:
        response = await push(http, gateway, notification())
    assert response.http_version == "HTTP/2" and response.status_code == 200
    assert response.headers["apns-id"] == APNS_HEADERS["apns-id"] and response.content == b""
    [(headers, body)] = apple.requests
    assert apple.alpn == ["h2"] and headers[":path"] == f"/3/device/{TOKEN}" and headers[":method"] == "POST"
    assert headers["authorization"] == JWT and all(headers[k] == v for k, v in APNS_HEADERS.items())
    assert leaks(body) == [] and TICKET_URL.encode() not in body
    sent = json.loads(body)
    assert sent == {"aps": {"alert": {"title": "New reply on your case support-12",
                                      "body": "Hello ,"}, "badge": 3, "sound": "default",
                            "thread-id": "support-12", "mutable-content": 1},
                    "ticket_id": "support-12"}


async def test_over_tls_apple_errors_come_back_unchanged(
    start_gateway: StartGateway, apple: FakeApple, ca: tls.TestCA
) -> None:
    apple.answers[BAD_TOKEN] = (400, {"reason": "BadDeviceToken"})
    gateway = await start_gateway(apns_policy(apple, "tls"))
    async with client(ca) as http:
        response = await push(http, gateway, notification(), BAD_TOKEN, scheme="https")
        again = await push(http, gateway, notification(), scheme="https")
    assert response.http_version == "HTTP/2" and response.status_code == 400
    assert response.json() == {"reason": "BadDeviceToken"}
    assert response.headers["apns-id"] == APNS_HEADERS["apns-id"]
    assert again.status_code == 200 and len(apple.requests) == 2
    assert len(apple.alpn) == 1  # one kept-open connection to Apple for both pushes
    assert all(leaks(body) == [] for _, body in apple.requests)


async def test_a_push_that_passes_is_forwarded_byte_for_byte_with_flow_control(
    start_gateway: StartGateway, apple: FakeApple
) -> None:
    policy = apns_policy(apple, route={"max_body_bytes": "512KiB"}, default_action="pass", rules=[])
    gateway = await start_gateway(policy)
    big = json.dumps(notification(padding="x" * 300_000)).encode()  # beyond HTTP/2's default 64 KiB windows
    async with client() as http:
        responses = await asyncio.gather(*(push(http, gateway, big, token) for token in (TOKEN, "c" * 64)))
    assert [r.status_code for r in responses] == [200, 200]
    assert [body for _, body in apple.requests] == [big, big]


async def test_a_block_rule_refuses_with_403_in_apples_shape(
    start_gateway: StartGateway, apple: FakeApple
) -> None:
    rules = [{"name": "no-replies", "subject": "New reply", "action": "block"}]
    gateway = await start_gateway(apns_policy(apple, rules=rules))
    async with client() as http:
        response = await push(http, gateway, notification())
    assert response.status_code == 403 and response.json() == {"reason": "Forbidden"}
    assert response.headers["x-gateway-reason"] == "notification_blocked" and not apple.requests


@pytest.mark.parametrize(("path", "payload", "status", "reason"), [
    (f"/3/device/{TOKEN}", b"{not json", 400, "BadPayload"),
    (f"/3/device/{TOKEN}", {"aps": {"alert": 7}}, 400, "BadPayload"),
    (f"/3/device/{TOKEN}", {"aps": {"alert": "x"}, "pad": "x" * 70_000}, 413, "PayloadTooLarge"),
    ("/3/certificates", {"aps": {}}, 404, "BadPath"),
])
async def test_bad_input_gets_apples_error_shape_and_nothing_is_forwarded(
    start_gateway: StartGateway, apple: FakeApple, path: str, payload: Any, status: int, reason: str
) -> None:
    gateway = await start_gateway(apns_policy(apple))
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    async with client() as http:
        response = await http.post(f"http://127.0.0.1:{gateway.apns_port}{path}", content=body,
                                   headers={"authorization": JWT})
    assert response.status_code == status and response.json() == {"reason": reason}
    assert not apple.requests


async def test_apple_unreachable_is_502_and_a_client_outside_allow_403(
    start_gateway: StartGateway, apple: FakeApple
) -> None:
    await apple.stop()
    gateway = await start_gateway(apns_policy(apple))
    async with client() as http:
        response = await push(http, gateway, notification())
    assert response.status_code == 502 and response.json()["reason"] == "upstream_unreachable"
    policy = apns_policy(apple)
    policy["notifications"]["egress"]["allow"] = ["10.0.0.0/8"]
    other = await start_gateway(policy)
    async with client() as http:
        refused = await push(http, other, notification())
    assert refused.status_code == 403 and refused.json()["reason"] == "not_allowed"


def provider_certificate(directory: Path) -> str:
    """A self-signed APNs provider certificate (what Apple issues per app); returns its PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Apple Push Services: com.example.helpdesk")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    (directory / "apns-cert.pem").write_text(pem)
    (directory / "apns-key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return pem


async def test_certificate_authentication_is_presented_by_the_gateway(
    start_gateway: StartGateway, ca: tls.TestCA, tmp_path: Path
) -> None:
    ca.server_context.verify_mode = ssl.CERT_REQUIRED  # Apple's certificate-based connection trust
    ca.server_context.load_verify_locations(cadata=provider_certificate(tmp_path))
    apple = await FakeApple(ca.server_context).start()
    try:
        credentials = {"cert": "${file:apns-cert.pem}", "key": "${file:apns-key.pem}"}
        gateway = await start_gateway(apns_policy(apple, route={"credentials": credentials}))
        async with client() as http:
            response = await http.post(f"http://127.0.0.1:{gateway.apns_port}/3/device/{TOKEN}",
                                       content=json.dumps(notification()).encode(), headers=APNS_HEADERS)
        assert response.status_code == 200
        assert apple.client_certs == ["Apple Push Services: com.example.helpdesk"]
        without = await start_gateway(apns_policy(apple))
        async with client() as http:
            refused = await push(http, without, notification())
        assert refused.status_code == 502 and len(apple.requests) == 1  # no certificate: Apple's TLS refuses
    finally:
        await apple.stop()


async def test_an_upstream_with_an_unknown_ca_is_never_sent_to(start_gateway: StartGateway, apple: FakeApple) -> None:
    gateway = await start_gateway(apns_policy(apple, route={"tls_ca": None}))
    async with client() as http:
        response = await push(http, gateway, notification())
    assert response.status_code == 502 and not apple.requests


@pytest.mark.parametrize(("egress", "message"), [
    ({"routes": [{"provider": "apns", "upstream": "https://api.push.apple.com"}]}, "an apns route needs apns_listen"),
    ({"routes": [{"provider": "sendgrid", "upstream": "https://api.sendgrid.com"}],
      "apns_listen": {"port": 0, "tls": "h2c"}}, "apns_listen without an apns route"),
    ({"routes": [{"provider": "apns", "upstream": "https://api.push.apple.com"}],
      "apns_listen": {"port": 0}}, "tls: tls needs cert and key"),
])
def test_the_policy_pairs_the_apns_route_with_its_listener(egress: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Egress.model_validate({"listen": {"port": 0}, "allow": ["127.0.0.1"], **egress})


def test_a_reload_names_apns_listen_as_needing_a_restart(tmp_path: Path) -> None:
    from gateway.metrics import Metrics
    from gateway.runtime import Runtime
    from gateway.server import _listener_changes
    from tests.support.policy import make_policy

    def runtime(port: int) -> Runtime:
        apple = FakeApple(None, port=443)
        doc = apns_policy(apple, route={"tls_ca": None})
        doc["notifications"]["egress"]["apns_listen"]["port"] = port
        return Runtime(make_policy(doc), Metrics())

    assert _listener_changes(runtime(8443), runtime(8443)) == []
    assert _listener_changes(runtime(8443), runtime(9443)) == ["notifications.egress.apns_listen"]


async def test_a_push_that_cannot_be_rewritten_is_502_and_not_forwarded(
    start_gateway: StartGateway, apple: FakeApple
) -> None:
    gateway = await start_gateway(apns_policy(apple))
    untagged = notification()
    untagged["aps"]["alert"]["title"] = "A new reply"  # no case id anywhere: the template needs one
    untagged.pop("ticket_id"), untagged.pop("url"), untagged["aps"].pop("thread-id")
    async with client() as http:
        response = await push(http, gateway, untagged)
    assert response.status_code == 502 and response.json() == {"reason": "InternalServerError"}
    assert response.headers["x-gateway-reason"] == "notification_rewrite_failed" and not apple.requests
