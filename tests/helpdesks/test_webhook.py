"""The webhook adapter against a real aiohttp receiver that checks the signature as a receiver would."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from gateway.helpdesks.base import HelpdeskError, NewCase
from gateway.helpdesks.webhook import Webhook, sign, verify_signature
from gateway.policy.helpdesks import HelpdeskSettings

SECRET = "whsec-a-webhook-secret-of-enough-length-0001"
CASE = NewCase(title="Access request R-7", body="Art. 15: a copy, please.", requester="jane@example.com",
               tags=("dsar", "access"), idempotency_key="req-7")


class Waits(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@dataclass
class Receiver:
    """A helpdesk's webhook endpoint: verifies each delivery with its own HMAC code, opens one case per delivery."""

    secret: bytes
    answers: list[tuple[int, Any]] = field(default_factory=list)  # (status, JSON or None), before the normal one
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    signatures: list[str] = field(default_factory=list)
    cases: dict[str, str] = field(default_factory=dict)  # delivery id -> case id
    reply_with_ids: bool = True
    url: str = ""

    def verified(self, request: web.Request, body: bytes) -> bool:
        parts = dict(p.split("=", 1) for p in request.headers["X-Privacy-Gateway-Signature"].split(","))
        signed = parts["t"].encode() + b"." + body
        expected = hmac.new(self.secret, signed, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - int(parts["t"])) < 300

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.signatures.append(request.headers.get("X-Privacy-Gateway-Signature", ""))
        if not self.verified(request, body):
            return web.json_response({"error": "bad signature"}, status=401)
        delivery = json.loads(body)
        self.deliveries.append({"body": delivery, "headers": dict(request.headers), "query": dict(request.query)})
        if self.answers:
            status, answer = self.answers.pop(0)
            return web.json_response(answer, status=status) if answer is not None else web.Response(status=status)
        case_id = self.cases.setdefault(delivery["delivery"], str(41 + len(self.cases)))
        if not self.reply_with_ids:
            return web.Response(status=204)
        return web.json_response({"id": case_id, "reference": f"HD-{case_id}"}, status=201)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver(SECRET.encode())
    app = web.Application()
    app.router.add_post("/hooks/privacy", found.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hooks/privacy"
    yield found
    await runner.cleanup()


def settings_for(receiver: Receiver, **changes: object) -> HelpdeskSettings:
    values: dict[str, object] = {"adapter": "webhook", "url": receiver.url + "?source=gateway", "secret": SECRET,
                                 "queue": "privacy", "retries": 2, "backoff": 0.5, "max_wait": 10}
    return HelpdeskSettings.model_validate({**values, **changes})


async def test_open_case_posts_a_signed_delivery_the_receiver_verifies(receiver: Receiver) -> None:
    async with Webhook(settings_for(receiver)) as adapter:
        ref = await adapter.open_case(CASE)

    assert (ref.id, ref.reference, ref.title) == ("41", "HD-41", "Access request R-7")
    [delivery] = receiver.deliveries
    body, headers = delivery["body"], delivery["headers"]
    assert delivery["query"] == {"source": "gateway"}  # the configured URL, query and all
    assert set(body) == {"event", "delivery", "sent_at", "case"}
    assert body["event"] == "case.open" and body["delivery"] == "req-7" and body["sent_at"].endswith("Z")
    assert body["case"] == {"title": "Access request R-7", "body": "Art. 15: a copy, please.",
                            "requester": "jane@example.com", "queue": "privacy", "tags": ["dsar", "access"]}
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Privacy-Gateway-Event"] == "case.open" and headers["X-Privacy-Gateway-Delivery"] == "req-7"
    assert "Authorization" not in headers


async def test_a_failed_delivery_is_sent_again_with_its_id_and_a_fresh_signature(receiver: Receiver) -> None:
    waits = Waits()
    receiver.answers = [(500, {"error": "busy"}), (503, None)]
    async with Webhook(settings_for(receiver), sleep=waits) as adapter:
        ref = await adapter.open_case(CASE)
        again = await adapter.open_case(CASE)  # the portal retrying later: the same delivery, the same case

    assert ref == again and ref.id == "41" and receiver.cases == {"req-7": "41"}
    assert [d["body"]["delivery"] for d in receiver.deliveries] == ["req-7"] * 4
    assert len(waits) == 2 and len(receiver.signatures) == 4  # each try signed when sent


async def test_without_ids_in_the_answer_the_delivery_stands_for_the_case(receiver: Receiver) -> None:
    receiver.reply_with_ids = False
    async with Webhook(settings_for(receiver, queue=None)) as adapter:
        ref = await adapter.open_case(NewCase(title="Erasure", body="b", requester="bob@example.com"))
        other = await adapter.open_case(NewCase(title="Erasure", body="b", requester="bob@example.com"))
    assert ref.id == ref.reference and len(ref.id) == 36  # a fresh delivery id (a UUID) per call without a key
    assert other.id != ref.id
    assert receiver.deliveries[0]["body"]["case"]["queue"] is None


async def test_a_receiver_refusing_the_signature_is_not_retried(receiver: Receiver) -> None:
    waits = Waits()
    async with Webhook(settings_for(receiver, secret="another-secret-of-at-least-32-bytes!!"), sleep=waits) as adapter:
        with pytest.raises(HelpdeskError) as info:
            await adapter.open_case(CASE)
    assert (info.value.retryable, info.value.status, waits) == (False, 401, [])
    assert receiver.deliveries == [] and len(receiver.signatures) == 1


async def test_a_webhook_cannot_search_or_read(receiver: Receiver) -> None:
    async with Webhook(settings_for(receiver)) as adapter:
        assert adapter.can_search is False
        with pytest.raises(HelpdeskError) as searching:
            await adapter.find_cases("jane@example.com")
        with pytest.raises(HelpdeskError) as reading:
            await adapter.read_case("41")
    assert str(searching.value) == "webhook: find cases: a webhook cannot search cases"
    assert str(reading.value) == "webhook: read case: a webhook cannot read cases"
    assert searching.value.retryable is reading.value.retryable is False
    assert receiver.signatures == []  # nothing was sent


def test_verify_signature_accepts_the_signed_body_only_in_time() -> None:
    secret, body, now = SECRET.encode(), b'{"event":"case.open"}', 1_700_000_000
    header = sign(secret, now, body)
    assert header.startswith(f"t={now},v1=") and len(header.rpartition("v1=")[2]) == 64
    assert verify_signature(secret, header, body, now=now + 299)
    assert not verify_signature(secret, header, body, now=now + 301)  # stale: a replay
    assert not verify_signature(secret, header, body + b" ", now=now)  # another body
    assert not verify_signature(b"x" * 32, header, body, now=now)  # another secret
    rotated = header + ",v1=" + "0" * 64  # the new and the old secret's signatures side by side
    assert verify_signature(secret, rotated, body, now=now)
    for broken in ("", f"t={now}", "v1=abc", f"t=soon,v1={header.rpartition('v1=')[2]}", "garbage"):
        assert not verify_signature(secret, broken, body, now=now), broken


async def test_a_note_is_a_signed_case_note_event(receiver: Receiver) -> None:
    async with Webhook(settings_for(receiver)) as adapter:
        await adapter.add_note("41", "Erasure done: 2 cases anonymised.")
    [delivery] = receiver.deliveries  # the receiver verified its signature
    body, headers = delivery["body"], delivery["headers"]
    assert body["event"] == "case.note" and headers["X-Privacy-Gateway-Event"] == "case.note"
    assert body["note"] == {"case": "41", "text": "Erasure done: 2 cases anonymised."}
    assert headers["X-Privacy-Gateway-Delivery"] == body["delivery"]
