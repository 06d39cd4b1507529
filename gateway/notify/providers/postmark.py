"""Postmark email (``POST /email``, ``/email/batch``, ``/email/withTemplate``, ``/email/batchWithTemplates``).

Each message is decided on its own (a batch is an array of them; the order
of Postmark's answer follows it). Kept: the addressing (``From``, ``To``,
``Cc``, ``Bcc``, ``ReplyTo``) and the fields that carry no content (``Tag``,
``MessageStream``), threading headers (``Message-ID``, ``In-Reply-To``,
``References``). Rewritten: ``Subject``, ``TextBody`` and ``HtmlBody`` become
the neutral texts. Removed: ``Attachments``, ``Metadata``, other headers, and
``TemplateId``/``TemplateAlias`` with ``TemplateModel`` and ``InlineCss`` (a
provider-side template would be filled from the model: the neutral text
replaces it). ``TrackLinks`` is forced to ``"None"`` and ``TrackOpens`` to
false, so the provider cannot wrap the gateway's signed link.

A hidden template message is no template message any more, so the call goes
on as a plain one: ``/email/withTemplate`` to ``/email``, and
``/email/batchWithTemplates`` to ``/email/batch`` (both answer in the same
shape). In a template batch that must change endpoint, the messages meant to
pass are hidden too: their templates cannot go through ``/email/batch``.
A message that a rule blocks refuses the whole call (403). Errors have
Postmark's shape, ``{"ErrorCode": n, "Message": ...}``, with 422 for bad input.
"""

from __future__ import annotations

import json
import re
from email.utils import getaddresses, parseaddr
from typing import Any

from ..message import html_text
from ..rewriter import ApiContent, Neutral, Notifier
from ..rules import Decision
from .base import ApiRefusal, ApiRequest, Provider, Rewritten, dump, hidden_texts, json_body, strings_of

_KEPT = ("From", "To", "Cc", "Bcc", "ReplyTo", "Tag", "MessageStream")
_KEPT_HEADERS = frozenset({"message-id", "in-reply-to", "references"})
# Postmark's own error codes: 402 invalid JSON, 405 not allowed to send, 300 any other invalid request.
_ERROR_CODES = {"bad_json": 402, "notification_blocked": 405}




def _text(provider: Provider, message: dict[str, Any], key: str) -> str:
    value = message.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise provider.error(422, f"{key}: must be a string", "bad_payload")
    return value


class _Message:
    """One message of a call: its decisions, and its neutral texts when any recipient is hidden."""

    def __init__(self, provider: Provider, notifier: Notifier, message: Any, *, force: bool = False) -> None:
        if not isinstance(message, dict):
            raise provider.error(422, "each message must be a JSON object", "bad_payload")
        self.message = message
        recipients: list[str] = []
        names: dict[str, str] = {}
        for name, address in getaddresses([_text(provider, message, key) for key in ("To", "Cc", "Bcc")]):
            if address:
                recipients.append(address)
                if name:
                    names.setdefault(address.lower(), name)
        if not recipients:
            raise provider.error(422, "To: at least one recipient is required", "bad_payload")
        subject = _text(provider, message, "Subject")
        decisions = notifier.decide(recipients, parseaddr(_text(provider, message, "From"))[1], subject)
        if force:  # hidden with the template of the rule that would have passed it
            decisions = tuple(Decision(d.rule, "hide", d.template, d.subject_line, d.case_pattern, d.shadowed)
                              for d in decisions)
        self.decisions: tuple[Decision, ...] = decisions
        bodies = [_text(provider, message, "TextBody"), html_text(_text(provider, message, "HtmlBody"))]
        content = ApiContent(subject, tuple(bodies + strings_of(message.get("TemplateModel"))), None, names)
        self.neutral: Neutral | None = hidden_texts(notifier, decisions, content, recipients, subject)

    @property
    def templated(self) -> bool:
        return "TemplateId" in self.message or "TemplateAlias" in self.message

    def out(self) -> dict[str, Any]:
        """The message as it goes on: unchanged when it passes, else its neutral form."""
        if self.neutral is None:
            return self.message
        out: dict[str, Any] = {key: self.message[key] for key in _KEPT if self.message.get(key) is not None}
        out["Subject"] = self.neutral.subject or ""
        out["TextBody"] = self.neutral.text
        if self.neutral.html is not None:
            out["HtmlBody"] = self.neutral.html
        headers = self.message.get("Headers")
        if isinstance(headers, list):
            kept = [h for h in headers if isinstance(h, dict) and str(h.get("Name", "")).lower() in _KEPT_HEADERS]
            if kept:
                out["Headers"] = kept
        out["TrackOpens"] = False
        out["TrackLinks"] = "None"
        return out


def email(provider: Provider, request: ApiRequest, notifier: Notifier) -> Rewritten:
    message = _Message(provider, notifier, json_body(provider, request))
    if message.neutral is None:
        return Rewritten(request.body, decisions=message.decisions)
    return Rewritten(dump(message.out()), "application/json", message.decisions)


def with_template(provider: Provider, request: ApiRequest, notifier: Notifier) -> Rewritten:
    message = _Message(provider, notifier, json_body(provider, request))
    if message.neutral is None:
        return Rewritten(request.body, decisions=message.decisions)
    return Rewritten(dump(message.out()), "application/json", message.decisions, path="/email")


def _batch(provider: Provider, request: ApiRequest, notifier: Notifier, items: Any, *,
           templates: bool) -> Rewritten:
    if not isinstance(items, list) or not items:
        raise provider.error(422, "the batch must be a non-empty array of messages", "bad_payload")
    messages = [_Message(provider, notifier, item) for item in items]
    if all(m.neutral is None for m in messages):
        return Rewritten(request.body, decisions=tuple(d for m in messages for d in m.decisions))
    path = None
    if templates:  # the call becomes /email/batch: a template meant to pass is hidden as well
        messages = [m if m.neutral is not None else _Message(provider, notifier, m.message, force=True)
                    for m in messages]
        path = "/email/batch"
    decisions = tuple(d for m in messages for d in m.decisions)
    return Rewritten(dump([m.out() for m in messages]), "application/json", decisions, path=path)


def batch(provider: Provider, request: ApiRequest, notifier: Notifier) -> Rewritten:
    return _batch(provider, request, notifier, json_body(provider, request), templates=False)


def batch_with_templates(provider: Provider, request: ApiRequest, notifier: Notifier) -> Rewritten:
    document = json_body(provider, request)
    items = document.get("Messages") if isinstance(document, dict) else None
    return _batch(provider, request, notifier, items, templates=True)


class Postmark(Provider):
    name = "postmark"
    # postmarker calls some endpoints with a trailing slash (/email/withTemplate/); Postmark accepts both.
    operations = (
        ("POST", re.compile(r"/email/?"), email),
        ("POST", re.compile(r"/email/batch/?"), batch),
        ("POST", re.compile(r"/email/withTemplate/?"), with_template),
        ("POST", re.compile(r"/email/batchWithTemplates/?"), batch_with_templates),
    )

    def error(self, status: int, message: str, reason: str) -> ApiRefusal:
        body = {"ErrorCode": _ERROR_CODES.get(reason, 300), "Message": message}
        return ApiRefusal(422 if status == 400 else status, json.dumps(body).encode(), reason)
