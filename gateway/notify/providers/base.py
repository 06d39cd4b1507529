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
from typing import Any, ClassVar

from multidict import CIMultiDictProxy

from ...policy.notifications import EgressRoute
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


class ApiRefusal(Exception):
    """Answer the helpdesk with ``status`` and ``body`` instead of forwarding; ``reason`` labels metrics."""

    def __init__(self, status: int, body: bytes, reason: str, content_type: str = "application/json") -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.body = body
        self.reason = reason
        self.content_type = content_type


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
