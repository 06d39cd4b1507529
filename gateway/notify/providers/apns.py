"""Apple Push Notification service: ``POST /3/device/<device token>`` (HTTP/2 only).

This module is the payload rewrite, pure; gateway/notify/apns.py is the
HTTP/2 listener that calls it and forwards to Apple. The push is decided as
every push is (gateway/notify/providers/push.py), with the alert's title as
the subject.

Kept: the ``apns-*`` request headers and the authentication (a provider
token in ``authorization``), untouched; in ``aps`` the fields that carry no
content: ``badge``, ``sound``, ``category``, ``thread-id``,
``content-available``, ``mutable-content``, ``interruption-level``,
``relevance-score``. Rewritten: ``aps.alert`` (a string or a dictionary)
becomes ``{"title", "body"}`` with the template's push texts; a push without
an alert (a background push) gets none. Custom top-level keys keep only the
route's ``data_keys`` (``push_mode: id_only``: only ``case_id`` and
``token``). Removed: the alert's ``subtitle``, ``launch-image``, every
``*loc-key``/``*loc-args`` (the app would fill its strings with them),
``target-content-id``, ``filter-criteria``, the Live Activity fields
(``content-state``, ``attributes``, ``event``…), and anything not named here.

Errors are Apple's shape, ``{"reason": "..."}``, with Apple's words where
one fits (``PayloadTooLarge``, ``BadPath``, ``MethodNotAllowed``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..rewriter import ApiContent, Notifier
from .base import ApiRefusal, ApiRequest, Provider, Rewritten, dump, json_body, strings_of
from .push import decide_push

_KEPT_APS = ("badge", "sound", "category", "thread-id", "content-available", "mutable-content", "interruption-level",
             "relevance-score")
_REASONS = {400: "BadPayload", 403: "Forbidden", 404: "BadPath", 405: "MethodNotAllowed", 413: "PayloadTooLarge",
            502: "InternalServerError"}


def send(provider: Provider, request: ApiRequest, notifier: Notifier) -> Rewritten:
    payload = json_body(provider, request)
    if not isinstance(payload, dict):
        raise provider.error(400, "the payload must be a JSON object", "bad_payload")
    aps = payload.get("aps", {})
    if not isinstance(aps, dict):
        raise provider.error(400, "aps: must be an object", "bad_payload")
    alert = aps.get("alert")
    if alert is not None and not isinstance(alert, (str, dict)):
        raise provider.error(400, "aps.alert: must be a string or an object", "bad_payload")
    title = alert.get("title") if isinstance(alert, dict) else None
    subject = title if isinstance(title, str) else (alert if isinstance(alert, str) else "")
    custom = {key: value for key, value in payload.items() if key != "aps"}
    texts = strings_of(alert) + strings_of({k: v for k, v in aps.items() if k != "alert"}) + strings_of(custom)
    decisions, push = decide_push(notifier, provider.route, ApiContent(subject, tuple(texts)))
    if push is None:
        return Rewritten(request.body, decisions=decisions)
    out: dict[str, Any] = {"aps": {key: aps[key] for key in _KEPT_APS if key in aps}}
    if alert is not None:
        out["aps"]["alert"] = {"title": push.title, "body": push.body}
    out.update(push.data(custom))
    return Rewritten(dump(out), decisions=decisions)


class Apns(Provider):
    name = "apns"
    max_body_bytes = 64 * 1024  # Apple takes 4 KiB (5 KiB for VoIP) and answers PayloadTooLarge beyond
    operations = (("POST", re.compile(r"/3/device/[0-9A-Za-z]+"), send),)

    def rewrite(self, request: ApiRequest, notifier: Notifier) -> Rewritten | None:
        if request.method != "POST" and re.fullmatch(r"/3/device/[0-9A-Za-z]*", request.path):
            raise self.error(405, "only POST is allowed", "method_not_allowed")
        return super().rewrite(request, notifier)

    def error(self, status: int, message: str, reason: str) -> ApiRefusal:
        return ApiRefusal(status, json.dumps({"reason": _REASONS.get(status, "BadRequest")}).encode(), reason)
