"""SendGrid v3 mail send (``POST /v3/mail/send``).

Kept: the addressing (``from``, ``reply_to``, ``reply_to_list``, each
personalization's ``to``/``cc``/``bcc`` and ``send_at``), and the fields that
carry no content (``send_at``, ``batch_id``, ``asm``, ``ip_pool_name``,
``categories``, ``mail_settings`` without its footer, threading headers).
Rewritten: ``subject`` and ``content`` become the neutral texts. Removed:
``attachments``, personalization subjects, ``dynamic_template_data`` and
``substitutions`` together with ``template_id`` (a provider-side template
would be filled from those variables: the neutral text replaces it),
``custom_args``, other headers. ``tracking_settings`` click and open tracking
are forced off, so the provider cannot wrap the gateway's signed link.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..message import html_text
from ..rewriter import ApiContent, Notifier
from .base import ApiRefusal, ApiRequest, Provider, Rewritten, dump, hidden_texts, json_body, strings_of

_KEPT_TOP = ("from", "reply_to", "reply_to_list", "send_at", "batch_id", "asm", "ip_pool_name", "categories")
_KEPT_HEADERS = frozenset({"message-id", "in-reply-to", "references"})


def _addresses(entries: Any) -> list[dict[str, Any]]:
    return [entry for entry in entries if isinstance(entry, dict)] if isinstance(entries, list) else []




def mail_send(provider: Provider, request: ApiRequest, notifier: Notifier) -> Rewritten:
    mail = json_body(provider, request)
    personalizations = mail.get("personalizations") if isinstance(mail, dict) else None
    if not isinstance(personalizations, list) or not personalizations:
        raise provider.error(400, "personalizations: at least one is required", "bad_payload")
    sender = mail.get("from", {}).get("email", "") if isinstance(mail.get("from"), dict) else ""
    recipients: list[str] = []
    names: dict[str, str] = {}
    for personalization in personalizations:
        if not isinstance(personalization, dict):
            raise provider.error(400, "personalizations: each must be an object", "bad_payload")
        for key in ("to", "cc", "bcc"):
            for entry in _addresses(personalization.get(key)):
                email = str(entry.get("email", ""))
                recipients.append(email)
                if isinstance(entry.get("name"), str):
                    names.setdefault(email.lower(), entry["name"])
    if not recipients:
        raise provider.error(400, "personalizations: no recipient", "bad_payload")
    subject = mail.get("subject") or next(
        (p.get("subject") for p in personalizations if isinstance(p.get("subject"), str)), ""
    )
    if not isinstance(subject, str):
        raise provider.error(400, "subject: must be a string", "bad_payload")
    decisions = notifier.decide(recipients, sender, subject)
    bodies: list[str] = []
    for part in mail.get("content") or []:
        if isinstance(part, dict) and isinstance(part.get("value"), str):
            html = str(part.get("type", "")).lower() == "text/html"
            bodies.append(html_text(part["value"]) if html else part["value"])
    for personalization in personalizations:
        bodies += strings_of(personalization.get("dynamic_template_data")) + strings_of(
            personalization.get("substitutions"))
    content = ApiContent(subject, tuple(bodies), None, names)
    neutral = hidden_texts(notifier, decisions, content, recipients, subject)
    if neutral is None:
        return Rewritten(request.body, decisions=decisions)
    out: dict[str, Any] = {key: mail[key] for key in _KEPT_TOP if key in mail}
    out["personalizations"] = [
        {key: p[key] for key in ("to", "cc", "bcc", "send_at") if key in p} for p in personalizations
    ]
    out["subject"] = neutral.subject or ""
    out["content"] = [{"type": "text/plain", "value": neutral.text}]
    if neutral.html is not None:
        out["content"].append({"type": "text/html", "value": neutral.html})
    headers = mail.get("headers")
    if isinstance(headers, dict):
        kept = {k: v for k, v in headers.items() if str(k).lower() in _KEPT_HEADERS}
        if kept:
            out["headers"] = kept
    settings = mail.get("mail_settings")
    if isinstance(settings, dict):
        out["mail_settings"] = {k: v for k, v in settings.items() if k != "footer"}
    out["tracking_settings"] = {"click_tracking": {"enable": False, "enable_text": False},
                                "open_tracking": {"enable": False}}
    return Rewritten(dump(out), "application/json", decisions)


class SendGrid(Provider):
    name = "sendgrid"
    operations = ((("POST", re.compile(r"/v3/mail/send"), mail_send)),)

    def error(self, status: int, message: str, reason: str) -> ApiRefusal:
        body = {"errors": [{"message": message, "field": None, "help": None}]}
        return ApiRefusal(status, json.dumps(body).encode(), reason)
