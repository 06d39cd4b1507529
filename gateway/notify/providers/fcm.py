"""Firebase Cloud Messaging HTTP v1 send (``POST /v1/projects/{project}/messages:send``).

One request carries one ``message`` (firebase-admin's ``send_each`` sends one
request per message; the retired ``/batch`` endpoint is an unknown path).
The OAuth token exchange goes to Google's token host, not through here; the
``Authorization`` header passes untouched.

Kept: the target (``token``, ``topic``, ``condition``, ``fid``),
``validate_only``, and the fields that carry no content: android
``collapse_key``, ``priority``, ``ttl``, ``restricted_package_name``,
``direct_boot_ok``…, its notification's ``icon``, ``color``, ``sound``,
``tag``, ``click_action``, ``channel_id``, priority, visibility, vibration and
light settings; the ``apns-*`` headers, ``live_activity_token`` and ``aps``
``badge``, ``sound``, ``category``, ``thread-id``, ``content-available``,
``mutable-content``, ``interruption-level``; webpush ``TTL``, ``Urgency`` and
``Topic`` headers and its notification's ``icon``, ``badge``, ``tag``,
``dir``, ``lang``, ``renotify``, ``requireInteraction``, ``silent``,
``timestamp``, ``vibrate``.
Rewritten: every visible title and body (``notification``, android and
webpush ``notification``, the APNs ``alert``, a string or a dictionary)
becomes the push's neutral texts; ``data``, ``android.data`` and
``webpush.data`` keep only the route's ``data_keys`` (or the id-only data).
Removed: images, the ``*loc_key``/``*loc_args`` localisation fields, the
alert's subtitle, ``ticker``, webpush ``actions`` and custom fields, custom
APNs payload keys other than ``data_keys``, every ``fcm_options`` (analytics
labels, the webpush click ``link``), and anything not named here.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..rewriter import ApiContent, Notifier
from .base import ApiRefusal, ApiRequest, Provider, Rewritten, dump, json_body, strings_of
from .push import HiddenPush, decide_push

_KEPT_MESSAGE = ("token", "topic", "condition", "fid")
_KEPT_ANDROID = ("collapse_key", "priority", "ttl", "restricted_package_name", "direct_boot_ok",
                 "bandwidth_constrained_ok", "restricted_satellite_ok")
_KEPT_ANDROID_NOTIFICATION = ("icon", "color", "sound", "tag", "click_action", "channel_id", "sticky", "event_time",
                              "local_only", "notification_priority", "default_sound", "default_vibrate_timings",
                              "default_light_settings", "vibrate_timings", "light_settings", "visibility",
                              "notification_count", "proxy")
_KEPT_APS = ("badge", "sound", "category", "thread-id", "content-available", "mutable-content", "interruption-level",
             "relevance-score")
_KEPT_APNS_HEADERS = frozenset({"apns-priority", "apns-expiration", "apns-collapse-id", "apns-push-type",
                                "apns-topic"})
_KEPT_WEBPUSH_HEADERS = frozenset({"ttl", "urgency", "topic"})
_KEPT_WEBPUSH_NOTIFICATION = ("icon", "badge", "tag", "dir", "lang", "renotify", "requireInteraction", "silent",
                              "timestamp", "vibrate")
_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 413: "INVALID_ARGUMENT"}


def _object(provider: Provider, parent: dict[str, Any], key: str, where: str) -> dict[str, Any] | None:
    """``parent[key]`` when it is an object, None when absent; a 400 for anything else."""
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise provider.error(400, f"{where}.{key}: must be an object", "bad_payload")
    return value


def _pick(source: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: source[key] for key in keys if key in source}


def _headers(source: dict[str, Any] | None, kept: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in (source or {}).items() if str(k).lower() in kept}


def _texts(provider: Provider, message: dict[str, Any]) -> tuple[str, list[str]]:
    """The push's title (the subject rules read) and its visible texts, in display order."""
    blocks = [_object(provider, message, "notification", "message")]
    android = _object(provider, message, "android", "message")
    if android is not None:
        blocks.append(_object(provider, android, "notification", "message.android"))
    webpush = _object(provider, message, "webpush", "message")
    if webpush is not None:
        blocks.append(_object(provider, webpush, "notification", "message.webpush"))
    apns = _object(provider, message, "apns", "message")
    payload = _object(provider, apns, "payload", "message.apns") if apns is not None else None
    aps = _object(provider, payload, "aps", "message.apns.payload") if payload is not None else None
    alert = aps.get("alert") if aps is not None else None
    if isinstance(alert, str):
        blocks.append({"body": alert})
    elif isinstance(alert, dict):
        blocks.append(alert)
    elif alert is not None:
        raise provider.error(400, "message.apns.payload.aps.alert: must be a string or an object", "bad_payload")
    titles = [b["title"] for b in blocks if b is not None and isinstance(b.get("title"), str)]
    visible = [s for b in blocks if b is not None for s in strings_of(b)]
    return (titles[0] if titles else ""), visible


def _android(android: dict[str, Any], push: HiddenPush) -> dict[str, Any]:
    out = _pick(android, _KEPT_ANDROID)
    if "data" in android or push.ids is not None:
        out["data"] = push.data(android.get("data"))
    notification = android.get("notification")
    if isinstance(notification, dict):
        out["notification"] = {**_pick(notification, _KEPT_ANDROID_NOTIFICATION), "title": push.title,
                               "body": push.body}
    return out


def _apns(apns: dict[str, Any], push: HiddenPush) -> dict[str, Any]:
    out: dict[str, Any] = {}
    headers = _headers(apns.get("headers"), _KEPT_APNS_HEADERS)
    if headers:
        out["headers"] = headers
    if "live_activity_token" in apns:
        out["live_activity_token"] = apns["live_activity_token"]
    payload = apns.get("payload")
    if isinstance(payload, dict):
        # Custom keys reach the app as its data: the same data_keys apply (none in id_only: message.data has them).
        custom = {k: v for k, v in payload.items() if k != "aps" and k in push.keys and push.ids is None}
        aps = payload.get("aps")
        if isinstance(aps, dict):
            out_aps = _pick(aps, _KEPT_APS)
            if aps.get("alert") is not None:
                out_aps["alert"] = {"title": push.title, "body": push.body}
            custom["aps"] = out_aps
        out["payload"] = custom
    return out


def _webpush(webpush: dict[str, Any], push: HiddenPush) -> dict[str, Any]:
    out: dict[str, Any] = {}
    headers = _headers(webpush.get("headers"), _KEPT_WEBPUSH_HEADERS)
    if headers:
        out["headers"] = headers
    if "data" in webpush or push.ids is not None:
        out["data"] = push.data(webpush.get("data"))
    notification = webpush.get("notification")
    if isinstance(notification, dict):
        out["notification"] = {**_pick(notification, _KEPT_WEBPUSH_NOTIFICATION), "title": push.title,
                               "body": push.body}
    return out


def messages_send(provider: Provider, request: ApiRequest, notifier: Notifier) -> Rewritten:
    document = json_body(provider, request)
    message = document.get("message") if isinstance(document, dict) else None
    if not isinstance(message, dict):
        raise provider.error(400, "message: required, an object", "bad_payload")
    if message.get("data") is not None and not isinstance(message["data"], dict):
        raise provider.error(400, "message.data: must be an object", "bad_payload")
    title, visible = _texts(provider, message)
    content = ApiContent(title, tuple(visible + strings_of(message)))
    decisions, push = decide_push(notifier, provider.route, content)
    if push is None:
        return Rewritten(request.body, decisions=decisions)
    out = _pick(message, _KEPT_MESSAGE)
    if "data" in message or push.ids is not None:
        out["data"] = push.data(message.get("data"))
    if isinstance(message.get("notification"), dict):
        out["notification"] = {"title": push.title, "body": push.body}
    if isinstance(message.get("android"), dict):
        out["android"] = _android(message["android"], push)
    if isinstance(message.get("apns"), dict):
        out["apns"] = _apns(message["apns"], push)
    if isinstance(message.get("webpush"), dict):
        out["webpush"] = _webpush(message["webpush"], push)
    rewritten: dict[str, Any] = {"message": out}
    if isinstance(document.get("validate_only"), bool):
        rewritten["validate_only"] = document["validate_only"]
    return Rewritten(dump(rewritten), "application/json", decisions)


class Fcm(Provider):
    name = "fcm"
    operations = (("POST", re.compile(r"/v1/projects/[^/]+/messages:send"), messages_send),)

    def error(self, status: int, message: str, reason: str) -> ApiRefusal:
        body = {"error": {"code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}}
        return ApiRefusal(status, json.dumps(body).encode(), reason)
