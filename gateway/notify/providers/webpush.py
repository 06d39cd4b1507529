"""Web Push (RFC 8030) to one push service: ``POST /<the subscription's path>``.

The payload is end-to-end encrypted for the browser (RFC 8291): the gateway
can neither read nor rewrite it, so the route's ``web_push`` decides.
``drop_payload`` forwards the push without its payload (the service worker
wakes up and fetches the content itself over an authenticated connection);
``block`` refuses (403); ``allow`` forwards it unread, byte for byte.

Without the payload, only headers that carry no content go on: ``TTL``,
``Urgency``, ``Topic`` (RFC 8030), the VAPID ``Authorization`` (RFC 8292),
for the older draft VAPID the ``p256ecdsa`` key of ``Crypto-Key``, and the
HTTP client's ``User-Agent``, ``Accept`` and ``Accept-Encoding``; the body,
``Content-Encoding``, ``Encryption``, the ``dh`` of ``Crypto-Key``,
``Content-Type`` and every other header are removed.

The rules cannot see inside the payload, nor is there a recipient address:
they are asked with one empty recipient, no sender and no subject, so only a
rule without conditions (or ``default_action``) applies, and only its
``block`` counts (403); otherwise the route's ``web_push`` decides.
"""

from __future__ import annotations

import dataclasses
import re

from ...policy.notifications import Action
from ..rewriter import Notifier
from .base import ApiRequest, Provider, Rewritten

#: Headers of a payload-less push that carry no content.
_KEPT_HEADERS = frozenset({"ttl", "urgency", "topic", "authorization", "user-agent", "accept", "accept-encoding"})


def _vapid_key_only(crypto_key: str) -> str:
    """The ``p256ecdsa`` parameter of a Crypto-Key header (draft VAPID), without the payload's ``dh``."""
    parts = [p.strip() for p in re.split(r"[;,]", crypto_key)]
    return ";".join(p for p in parts if p.lower().startswith("p256ecdsa="))


def push(provider: Provider, request: ApiRequest, notifier: Notifier) -> Rewritten:
    mode = provider.route.web_push
    decided = notifier.decide([""], "", "")  # a block rule without conditions refuses (Refusal -> 403)
    if mode == "block":
        raise provider.error(403, "web push payloads are refused by the privacy policy", "notification_blocked")
    action: Action = "pass" if mode == "allow" else "hide"
    decisions = tuple(dataclasses.replace(d, rule="web_push", action=action) for d in decided)
    if mode == "allow":
        return Rewritten(request.body, decisions=decisions)
    drop = frozenset(name.lower() for name in request.headers if name.lower() not in _KEPT_HEADERS)
    headers: dict[str, str] = {}
    vapid_key = _vapid_key_only(",".join(request.headers.getall("crypto-key", [])))
    if vapid_key:
        headers["Crypto-Key"] = vapid_key
    return Rewritten(b"", decisions=decisions, headers=headers, drop_headers=drop)


class WebPush(Provider):
    name = "webpush"
    max_body_bytes = 64 * 1024  # push services take 4096 bytes of payload (RFC 8291 section 4)
    operations = (("POST", re.compile(r"/[^?#\s]+"), push),)
