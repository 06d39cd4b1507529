"""What a provider module is given and returns, and the helpers most of them share.

A provider rewrites only the requests it knows (``operations``): anything else
is refused as an unknown path, never forwarded unread. It keeps the fields
that carry no content (its list), rewrites the ones that do, and drops the
rest. It raises :class:`ApiRefusal` for bad input, in the provider's own
error shape where the SDKs read one; a Refusal of the rewriter (block,
cannot rewrite) is turned into one by the egress listener.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from typing import Any, ClassVar

from multidict import CIMultiDictProxy

from ...policy.notifications import EgressRoute
from ..compose import KEPT_FIELDS, compose
from ..message import Notification, split_head
from ..rewriter import Content, Neutral, Notifier
from ..rules import Decision

DEFAULT_MAX_BODY = 10 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """A request of the helpdesk's SDK, its path relative to the route's prefix (``/v3/mail/send``)."""

    method: str
    path: str
    query: str
    headers: CIMultiDictProxy[str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Rewritten:
    """The request that goes on: its body, a new Content-Type when it changed, and what was decided."""

    body: bytes
    content_type: str | None = None
    decisions: tuple[Decision, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)  # set on the forwarded request (a new signature)
    path: str | None = None  # forwarded to this path instead (a template call that became a plain send)
    drop_headers: frozenset[str] = frozenset()  # lower-case names removed from it (a payload's headers)


class ApiRefusal(Exception):
    """Answer the helpdesk with ``status`` and ``body`` instead of forwarding; ``reason`` labels metrics."""

    def __init__(self, status: int, body: bytes, reason: str, content_type: str = "application/json",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.body = body
        self.reason = reason
        self.content_type = content_type
        self.headers = headers or {}  # where the SDKs read the error's type (x-amzn-ErrorType)


Operation = Callable[["Provider", ApiRequest, Notifier], Rewritten]


class Provider:
    """A provider API: its name, its known operations, its error shape."""

    name: ClassVar[str]
    max_body_bytes: ClassVar[int] = DEFAULT_MAX_BODY
    #: (method, path regex) -> the rewrite of that operation; others are unknown paths.
    operations: ClassVar[Sequence[tuple[str, re.Pattern[str], Operation]]] = ()
    #: Operations forwarded untouched: they carry no notification content (token exchanges, status reads).
    passthrough: ClassVar[Sequence[tuple[str, re.Pattern[str]]]] = ()

    def __init__(self, route: EgressRoute) -> None:
        self.route = route

    def rewrite(self, request: ApiRequest, notifier: Notifier) -> Rewritten | None:
        """The rewritten request; None to forward it untouched (a passthrough); ApiRefusal otherwise."""
        for method, pattern, operation in self.operations:
            if request.method == method and pattern.fullmatch(request.path):
                return operation(self, request, notifier)
        for method, pattern in self.passthrough:
            if request.method == method and pattern.fullmatch(request.path):
                return None
        raise self.error(404, f"unknown {self.name} API path: {request.method} {request.path}", "unknown_path")

    def error(self, status: int, message: str, reason: str) -> ApiRefusal:
        """An error in this provider's shape; the default is ``{"message": ...}``."""
        return ApiRefusal(status, json.dumps({"message": message}).encode(), reason)


def json_body(provider: Provider, request: ApiRequest) -> Any:
    """The request's JSON; a 400 in the provider's shape when it is none."""
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise provider.error(400, f"the request body is not JSON ({provider.name})", "bad_json") from None


def dump(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def hidden_texts(notifier: Notifier, decisions: Sequence[Decision], content: Content, recipients: Sequence[str],
                 subject: str) -> Neutral | None:
    """The neutral texts for a payload that goes to ``recipients`` as one; None when every copy passes.

    One API call carries one payload for all its recipients: if any is hidden,
    all get the neutral texts (a copy meant to pass loses nothing but content
    the helpdesk shows anyway; the other way round would leak). Links are bound
    to the recipient when there is exactly one.
    """
    hidden = [d for d in decisions if d.action == "hide"]
    if not hidden:
        return None
    recipient = recipients[0] if len(recipients) == 1 else ""
    neutral = notifier.neutral(content, hidden[0], recipient)
    if neutral.subject is None:  # subject_line: keep
        return Neutral(subject, neutral.text, neutral.html, neutral.case_id, neutral.push_title, neutral.push_body)
    return neutral


def strings_of(value: Any) -> list[str]:
    """Every string inside a JSON value (template variables are searched for the case id and link)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings_of(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings_of(item)]
    return []


@dataclass(frozen=True, slots=True)
class MimeCopy:
    """The one MIME message an API call carries to all its recipients."""

    data: bytes
    decisions: tuple[Decision, ...]
    hidden: bool  # False: ``data`` is the original, byte for byte


def mime_copy(notifier: Notifier, raw: bytes, sender: str, recipients: Sequence[str]) -> MimeCopy:
    """A whole MIME message in a payload (SES ``Content.Raw``, SparkPost ``email_rfc822``), as the relay plans it.

    The relay gives each hidden recipient a copy of their own; one API call
    carries one message. A plan of one delivery goes as planned (all pass:
    the original; one hidden recipient: their copy). With several (some pass
    and some are hidden, or several are hidden) every recipient gets one
    neutral copy, its link bound to no recipient and no recipient's name in
    it, as :func:`hidden_texts` does for the JSON fields.
    """
    plan = notifier.plan(raw, sender, recipients)
    if len(plan.deliveries) == 1:
        only = plan.deliveries[0]
        return MimeCopy(only.data, plan.decisions, only.action != "pass")
    notification = Notification(raw)  # the plan read it: it is readable
    neutral = hidden_texts(notifier, plan.decisions, notification, recipients, notification.subject)
    if neutral is None:  # several deliveries always hide someone; never send the original on a doubt
        raise notifier.failure("internal")
    data = compose(notification.raw_fields(KEPT_FIELDS), neutral.subject, neutral.text, neutral.html,
                   notification.language)
    return MimeCopy(data, plan.decisions, True)


def mime_envelope(notifier: Notifier, raw: bytes) -> tuple[str, list[str]]:
    """The From address and the To, Cc and Bcc addresses of a MIME message (when the payload names none)."""
    try:
        head = BytesParser(policy=policy.default).parsebytes(split_head(raw)[0] + b"\r\n\r\n")
        found: dict[str, list[str]] = {}
        for name in ("from", "to", "cc", "bcc"):
            found[name] = [address.addr_spec for value in head.get_all(name) or ()
                           for address in getattr(value, "addresses", ()) if address.addr_spec]
    except Exception:  # the header registry raises many kinds; an unreadable list is refused, never guessed
        raise notifier.failure("bad_header") from None
    return (found["from"] or [""])[0], found["to"] + found["cc"] + found["bcc"]
