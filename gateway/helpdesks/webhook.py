"""A signed JSON POST, for a helpdesk without an adapter: it can open cases, not search or read them.

``open_case`` POSTs to the configured URL::

    POST <url>
    Content-Type: application/json
    X-Privacy-Gateway-Event: case.open
    X-Privacy-Gateway-Delivery: <delivery id>
    X-Privacy-Gateway-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>

    {"event": "case.open", "delivery": "<delivery id>", "sent_at": "2025-01-31T12:00:00Z",
     "case": {"title": "...", "body": "...", "requester": "jane@example.com", "queue": "dsar", "tags": [...]}}

The signature is HMAC-SHA256, keyed with the UTF-8 bytes of the policy's
``secret``, over ``<t>.`` followed by the exact body bytes (as Stripe signs its
events). A receiver recomputes it, compares in constant time, and refuses a
``t`` more than a few minutes from its clock (:func:`verify_signature` does
all three). ``v1`` may appear more than once while the secret is rotated.

Each try is signed afresh. The delivery id is the request's idempotency key (the portal's request id) or
a fresh one per ``open_case`` call; a POST that failed (timeout, 5xx) is sent
again with the same id and body, so the receiver must open one case per
delivery id. It answers 2xx, optionally with ``{"id": "...", "reference": "..."}``:
the case it opened. Without them the delivery id stands for the case.

``add_note`` sends ``case.note``, signed the same way, with
``{"note": {"case": "<case id>", "text": "..."}}``: an internal note for the
agents of the case the webhook opened (the gateway's account of what it did
for a request), never to be shown to the requester. Each call is a delivery
of its own.

A webhook is one-way: there is nothing to ask which cases a requester has or
what they hold. ``find_cases`` and ``read_case`` raise a non-retryable
:class:`HelpdeskError` (``can_search`` is false), so an export holds only what
the gateway itself knows and the operator adds the helpdesk's part by hand.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
import uuid
from typing import Any

import aiohttp

from ..policy.helpdesks import HelpdeskSettings
from .base import Case, CaseRef, HelpdeskAdapter, HelpdeskError, NewCase
from .client import HelpdeskClient, Sleep

SIGNATURE_HEADER = "X-Privacy-Gateway-Signature"
DELIVERY_HEADER = "X-Privacy-Gateway-Delivery"
EVENT_HEADER = "X-Privacy-Gateway-Event"
TOLERANCE_SECONDS = 300  # a receiver's window for the signed time
_PART = re.compile(r"\s*([a-z0-9]+)=([^,\s]*)\s*")


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret, f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: bytes, header: str, body: bytes, *, now: float | None = None,
                     tolerance: float = TOLERANCE_SECONDS) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` at a time within ``tolerance`` of ``now``."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        found = _PART.fullmatch(part)
        if found is None:
            return False
        key, value = found.groups()
        if key == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected.encode(), c.encode("ascii", "replace")) for c in candidates)


class Webhook(HelpdeskAdapter):
    name = "webhook"
    can_search = False

    def __init__(self, settings: HelpdeskSettings, session: aiohttp.ClientSession | None = None, *,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.secret = (settings.secret or "").encode("utf-8")
        self.queue = settings.queue
        self.client = HelpdeskClient(settings, adapter=self.name, session=session, sleep=sleep,
                                     headers={"Accept": "application/json"})
        self.client.base = settings.url  # the whole URL, query included: the POST goes there as it is

    async def close(self) -> None:
        await self.client.close()

    async def send(self, event: str, key: str, content: dict[str, Any], *, delivery: str | None = None,
                   operation: str = "send event") -> Any:
        """POST ``{"event", "delivery", "sent_at", key: content}``, signed at each try; the receiver's answer."""
        delivery = delivery or str(uuid.uuid4())
        payload = {"event": event, "delivery": delivery, "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   key: content}
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json", EVENT_HEADER: event, DELIVERY_HEADER: delivery}
        return await self.client.request(
            "POST", "", operation=operation, data=body, headers=headers, idempotent=True, want_json=False,
            per_try=lambda: {SIGNATURE_HEADER: sign(self.secret, int(time.time()), body)},
        )

    async def add_note(self, case_id: str, text: str) -> None:
        await self.send("case.note", "note", {"case": case_id, "text": text}, operation="add note")

    async def find_cases(self, email: str, reference: str | None = None) -> list[CaseRef]:
        raise HelpdeskError(f"{self.name}: find cases: a webhook cannot search cases", retryable=False)

    async def read_case(self, case_id: str) -> Case:
        raise HelpdeskError(f"{self.name}: read case: a webhook cannot read cases", retryable=False)

    async def open_case(self, case: NewCase) -> CaseRef:
        delivery = case.idempotency_key or str(uuid.uuid4())
        content = {"title": case.title, "body": case.body, "requester": case.requester,
                   "queue": case.queue or self.queue, "tags": list(case.tags)}
        answer = await self.send("case.open", "case", content, delivery=delivery, operation="open case")
        made = answer if isinstance(answer, dict) else {}
        case_id = made.get("id")
        if not isinstance(case_id, (str, int)) or isinstance(case_id, bool) or str(case_id) == "":
            case_id = delivery
        reference = made.get("reference")
        if not isinstance(reference, (str, int)) or isinstance(reference, bool) or str(reference) == "":
            reference = case_id
        return CaseRef(id=str(case_id), reference=str(reference), title=case.title)
