"""SparkPost transmissions (``POST /api/v1/transmissions``).

Kept: ``campaign_id`` (a reporting label the helpdesk chooses, like
SendGrid's categories), ``return_path``, each recipient's ``address``
(``email``, ``name``, ``header_to``) and ``return_path``, the content's
``from`` and ``reply_to``, the ``CC`` and threading headers, and the options
that carry no content (``start_time``, ``transactional``, ``sandbox``,
``skip_suppression``, ``ip_pool``, ``inline_css``). Rewritten: ``subject``,
``text`` and ``html`` become the neutral texts; a stored template
(``template_id``) becomes inline neutral content; ``email_rfc822`` goes
through the MIME rewriter (a plan of several copies becomes one neutral copy
for all, see :func:`mime_copy`). Removed: ``amp_html``, ``attachments``,
``inline_images``, other headers, ``description``, and ``metadata``,
``substitution_data`` and ``tags`` at the top and per recipient. Open and
click tracking are forced off, and substitution too (the neutral text goes
out literally, never filled from data the helpdesk sent).

Stored recipient lists (``recipients.list_id``) are refused: the rules
decide per recipient, and the list's addresses are not in the request.
"""

from __future__ import annotations

import json
import re
from email.utils import parseaddr
from typing import Any

from ..message import html_text
from ..rewriter import ApiContent, Notifier
from .base import ApiRefusal, ApiRequest, Provider, Rewritten, dump, hidden_texts, json_body, mime_copy, strings_of

_KEPT_TOP = ("campaign_id", "return_path")
_KEPT_OPTIONS = ("start_time", "transactional", "sandbox", "skip_suppression", "ip_pool", "inline_css")
_KEPT_HEADERS = frozenset({"cc", "in-reply-to", "references"})
_KEPT_ADDRESS = ("email", "name", "header_to")
_FORCED_OPTIONS = {"open_tracking": False, "initial_open": False, "click_tracking": False,
                   "perform_substitutions": False}
# SparkPost's extended error codes (API service 1000-1999).
_CODES = {"unknown_path": "1101", "bad_json": "1300", "body_too_large": "1300", "bad_payload": "1400"}


def _address(provider: Provider, entry: Any, index: int) -> tuple[str, str, dict[str, Any] | str]:
    """A recipient's (email, name, address as it goes out)."""
    if not isinstance(entry, dict):
        raise provider.error(400, f"recipients[{index}]: must be an object", "bad_payload")
    address = entry.get("address")
    if isinstance(address, str):
        name, email = parseaddr(address)
        return email or address, name, address
    if isinstance(address, dict) and isinstance(address.get("email"), str):
        display = address.get("name")
        kept = {k: address[k] for k in _KEPT_ADDRESS if k in address}
        return address["email"], display if isinstance(display, str) else "", kept
    raise provider.error(400, f"recipients[{index}].address: an e-mail address is required", "bad_payload")


def _sender(content: dict[str, Any]) -> str:
    sender = content.get("from")
    if isinstance(sender, dict):
        return str(sender.get("email", ""))
    return parseaddr(sender)[1] if isinstance(sender, str) else ""


def transmission(provider: Provider, request: ApiRequest, notifier: Notifier) -> Rewritten:
    mail = json_body(provider, request)
    if not isinstance(mail, dict):
        raise provider.error(400, "the request must be a JSON object", "bad_payload")
    entries = mail.get("recipients")
    if isinstance(entries, dict):
        raise provider.error(400, "recipients: a stored recipient list cannot be checked by the privacy gateway; "
                             "give the recipients", "bad_payload")
    if not isinstance(entries, list) or not entries:
        raise provider.error(400, "recipients: at least one is required", "bad_payload")
    content = mail.get("content")
    if not isinstance(content, dict):
        raise provider.error(400, "content: required", "bad_payload")
    recipients: list[str] = []
    names: dict[str, str] = {}
    kept_recipients: list[dict[str, Any]] = []
    for index, entry in enumerate(entries):
        email, name, address = _address(provider, entry, index)
        recipients.append(email)
        if name:
            names.setdefault(email.lower(), name)
        kept = {"address": address}
        if isinstance(entry.get("return_path"), str):
            kept["return_path"] = entry["return_path"]
        kept_recipients.append(kept)
    sender = _sender(content) or (mail["return_path"] if isinstance(mail.get("return_path"), str) else "")
    if "email_rfc822" in content:
        raw = content["email_rfc822"]
        if not isinstance(raw, str):
            raise provider.error(400, "content.email_rfc822: must be a string", "bad_payload")
        copy = mime_copy(notifier, raw.encode("utf-8"), sender, recipients)
        if not copy.hidden:
            return Rewritten(request.body, decisions=copy.decisions)
        out = _kept(mail, kept_recipients)
        out["content"] = {"email_rfc822": copy.data.decode("utf-8")}
        return Rewritten(dump(out), "application/json", copy.decisions)
    subject = content.get("subject", "")
    if not isinstance(subject, str):
        raise provider.error(400, "content.subject: must be a string", "bad_payload")
    bodies: list[str] = []
    for key in ("text", "html", "amp_html"):
        value = content.get(key)
        if isinstance(value, str):
            bodies.append(value if key == "text" else html_text(value))
    bodies += strings_of(mail.get("substitution_data"))
    for entry in entries:
        bodies += strings_of(entry.get("substitution_data"))
    decisions = notifier.decide(recipients, sender, subject)
    neutral = hidden_texts(notifier, decisions, ApiContent(subject, tuple(bodies), None, names), recipients, subject)
    if neutral is None:
        return Rewritten(request.body, decisions=decisions)
    out = _kept(mail, kept_recipients)
    new: dict[str, Any] = {key: content[key] for key in ("from", "reply_to") if key in content}
    new["subject"] = neutral.subject or ""
    new["text"] = neutral.text
    if neutral.html is not None:
        new["html"] = neutral.html
    headers = content.get("headers")
    if isinstance(headers, dict):
        threading = {k: v for k, v in headers.items() if str(k).lower() in _KEPT_HEADERS}
        if threading:
            new["headers"] = threading
    out["content"] = new
    return Rewritten(dump(out), "application/json", decisions)


def _kept(mail: dict[str, Any], recipients: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {key: mail[key] for key in _KEPT_TOP if key in mail}
    options: dict[str, Any] = mail["options"] if isinstance(mail.get("options"), dict) else {}
    out["options"] = {**{k: options[k] for k in _KEPT_OPTIONS if k in options}, **_FORCED_OPTIONS}
    out["recipients"] = recipients
    return out


class SparkPost(Provider):
    name = "sparkpost"
    operations = ((("POST", re.compile(r"/api/v1/transmissions/?"), transmission)),)

    def error(self, status: int, message: str, reason: str) -> ApiRefusal:
        body = {"errors": [{"message": message, "description": message, "code": _CODES.get(reason, "1200")}]}
        return ApiRefusal(status, json.dumps(body).encode(), reason)
