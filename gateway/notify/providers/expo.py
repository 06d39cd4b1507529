"""Expo push send (``POST /--/api/v2/push/send``): one message object or an array of them.

Each message is decided on its own (its ``title`` as the subject); when every
message passes the request goes on byte for byte, else the passing ones go
unchanged and the hidden ones rewritten. ``/push/getReceipts`` passes
untouched: it carries receipt ids only.

Kept: ``to``, ``ttl``, ``expiration``, ``priority``, ``sound``, ``badge``,
``interruptionLevel``, ``channelId``, ``categoryId``, ``mutableContent``,
``_contentAvailable``, ``_displayInForeground``. Rewritten: ``title`` and
``body`` become the push's neutral texts (a message with neither, a silent
push, gets none); ``data`` keeps only the route's ``data_keys`` (or the
id-only data). Removed: ``subtitle``, ``richContent`` (its image), ``icon``,
and anything not named here.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..rewriter import ApiContent, Notifier
from ..rules import Decision
from .base import ApiRefusal, ApiRequest, Provider, Rewritten, dump, json_body, strings_of
from .push import decide_push

_KEPT = ("to", "ttl", "expiration", "priority", "sound", "badge", "interruptionLevel", "channelId", "categoryId",
         "mutableContent", "_contentAvailable", "_displayInForeground")
_VISIBLE = ("title", "subtitle", "body")
_CODES = {400: "VALIDATION_ERROR", 403: "FORBIDDEN", 404: "NOT_FOUND", 413: "VALIDATION_ERROR"}


def _message(provider: Provider, message: Any,
             notifier: Notifier) -> tuple[dict[str, Any] | None, tuple[Decision, ...]]:
    """The message as it may go on (None: unchanged) and its decisions."""
    if not isinstance(message, dict) or "to" not in message:
        raise provider.error(400, "each message must be an object with \"to\"", "bad_payload")
    title = message.get("title")
    if title is not None and not isinstance(title, str):
        raise provider.error(400, "title: must be a string", "bad_payload")
    visible = [message[key] for key in _VISIBLE if isinstance(message.get(key), str)]
    content = ApiContent(title or "", tuple(visible + strings_of(message)))
    decisions, push = decide_push(notifier, provider.route, content)
    if push is None:
        return None, decisions
    out = {key: message[key] for key in _KEPT if key in message}
    if any(message.get(key) is not None for key in _VISIBLE):
        out["title"], out["body"] = push.title, push.body
    if "data" in message or push.ids is not None:
        out["data"] = push.data(message.get("data"))
    return out, decisions


def push_send(provider: Provider, request: ApiRequest, notifier: Notifier) -> Rewritten:
    document = json_body(provider, request)
    messages = document if isinstance(document, list) else [document]
    if not messages:
        raise provider.error(400, "no message to send", "bad_payload")
    decisions: list[Decision] = []
    out: list[Any] = []
    changed = False
    for message in messages:
        rewritten, decided = _message(provider, message, notifier)
        decisions += decided
        changed = changed or rewritten is not None
        out.append(message if rewritten is None else rewritten)
    if not changed:
        return Rewritten(request.body, decisions=tuple(decisions))
    return Rewritten(dump(out if isinstance(document, list) else out[0]), "application/json", tuple(decisions))


class Expo(Provider):
    name = "expo"
    operations = (("POST", re.compile(r"/--/api/v2/push/send"), push_send),)
    passthrough = (("POST", re.compile(r"/--/api/v2/push/getReceipts")),)

    def error(self, status: int, message: str, reason: str) -> ApiRefusal:
        body = {"errors": [{"code": _CODES.get(status, "UNKNOWN_ERROR"), "message": message}]}
        return ApiRefusal(status, json.dumps(body).encode(), reason)
