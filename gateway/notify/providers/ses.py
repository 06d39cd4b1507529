"""Amazon SES v2 send (``POST /v2/email/outbound-emails``), re-signed with the gateway's own SigV4 credentials.

Every forwarded request is signed anew, whether its body changed or not: the
helpdesk's SDK signed for the gateway's host and the route's prefix
(``127.0.0.1:8025``, ``/ses/v2/...``), which is not the request that goes to
``email.<region>.amazonaws.com``; and the real keys stay in the gateway's
policy (``credentials``), the helpdesk needs none (its signature is dropped,
not checked: the listener's ``allow`` says who may send).

Kept: ``FromEmailAddress`` (and its identity ARN), ``Destination``,
``ReplyToAddresses``, the feedback address (and ARN), ``ConfigurationSetName``,
``EndpointId``, ``TenantName``, ``ListManagementOptions`` (names of a contact
list and topic, for unsubscribe handling), and the threading headers of
``Simple.Headers``. Rewritten: ``Content.Simple`` becomes the neutral subject
and bodies; ``Content.Template`` (a stored template filled from
``TemplateData``, or inline ``TemplateContent``) becomes ``Simple`` neutral
content; ``Content.Raw`` goes through the MIME rewriter (a plan of several
copies becomes one neutral copy for all, see :func:`mime_copy`). Removed:
attachments, other headers, ``EmailTags`` (free-form name/value pairs that go
to event destinations, where helpdesks put ticket data). Open and click
tracking are switched off (``ConfigurationOverrides.Tracking``), so the
provider cannot wrap the gateway's signed link.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from email.utils import parseaddr
from typing import Any

from ...policy.notifications import EgressRoute
from ..message import html_text
from ..rewriter import ApiContent, Notifier
from ..rules import Decision
from .base import (
    ApiRefusal,
    ApiRequest,
    Provider,
    Rewritten,
    dump,
    hidden_texts,
    json_body,
    mime_copy,
    mime_envelope,
    strings_of,
)

_KEPT_TOP = ("FromEmailAddress", "FromEmailAddressIdentityArn", "ReplyToAddresses", "FeedbackForwardingEmailAddress",
             "FeedbackForwardingEmailAddressIdentityArn", "ConfigurationSetName", "EndpointId", "TenantName",
             "ListManagementOptions")
_KEPT_HEADERS = frozenset({"in-reply-to", "references"})
_DESTINATIONS = ("ToAddresses", "CcAddresses", "BccAddresses")
_TRACKING_OFF = {"Tracking": {"OpenTrackingEnabled": "DISABLED", "ClickTrackingEnabled": "DISABLED"}}
# The helpdesk's signature and what it covered: replaced by the gateway's, never forwarded beside it.
_SIGNATURE_HEADERS = frozenset({"authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"})
_ERROR_TYPES = {"notification_blocked": "MessageRejected", "unknown_path": "UnknownOperationException"}
SERVICE = "ses"  # SES v2's signing name


def _addresses(provider: Provider, value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise provider.error(400, f"{where}: must be a list of e-mail addresses", "bad_payload")
    return value


def _text(provider: Provider, node: Any, where: str) -> str:
    """``{"Data": ..., "Charset": ...}`` -> its Data."""
    if node is None:
        return ""
    if not isinstance(node, dict) or not isinstance(node.get("Data", ""), str):
        raise provider.error(400, f"{where}: must be an object with a string Data", "bad_payload")
    return str(node.get("Data", ""))


def _content(text: str) -> dict[str, str]:
    return {"Data": text, "Charset": "UTF-8"}


def send_email(provider: Provider, request: ApiRequest, notifier: Notifier) -> Rewritten:
    mail = json_body(provider, request)
    if not isinstance(mail, dict):
        raise provider.error(400, "the request must be a JSON object", "bad_payload")
    content: dict[str, Any] = mail["Content"] if isinstance(mail.get("Content"), dict) else {}
    kinds = [kind for kind in ("Simple", "Raw", "Template") if kind in content]
    if len(kinds) != 1:
        raise provider.error(400, "Content: give exactly one of Simple, Raw and Template", "bad_payload")
    destination = mail.get("Destination")
    if destination is not None and not isinstance(destination, dict):
        raise provider.error(400, "Destination: must be an object", "bad_payload")
    entries = [entry for key in _DESTINATIONS
               for entry in _addresses(provider, (destination or {}).get(key), f"Destination.{key}")]
    from_address = mail.get("FromEmailAddress", "")
    if not isinstance(from_address, str):
        raise provider.error(400, "FromEmailAddress: must be a string", "bad_payload")
    sender = parseaddr(from_address)[1]
    if kinds == ["Raw"]:
        return _raw(provider, request, notifier, mail, content["Raw"], sender, entries)
    if not entries:
        raise provider.error(400, "Destination: no recipient", "bad_payload")
    recipients: list[str] = []
    names: dict[str, str] = {}
    for entry in entries:
        name, address = parseaddr(entry)
        recipients.append(address or entry)
        if name:
            names.setdefault((address or entry).lower(), name)
    part = content[kinds[0]]
    if not isinstance(part, dict):
        raise provider.error(400, f"Content.{kinds[0]}: must be an object", "bad_payload")
    bodies: list[str] = []
    if kinds == ["Simple"]:
        subject = _text(provider, part.get("Subject"), "Content.Simple.Subject")
        body: dict[str, Any] = part["Body"] if isinstance(part.get("Body"), dict) else {}
        bodies.append(_text(provider, body.get("Text"), "Content.Simple.Body.Text"))
        bodies.append(html_text(_text(provider, body.get("Html"), "Content.Simple.Body.Html")))
    else:  # a stored template's texts are not in the request; its variables and inline texts are
        inline: dict[str, Any] = part["TemplateContent"] if isinstance(part.get("TemplateContent"), dict) else {}
        subject = inline.get("Subject", "") if isinstance(inline.get("Subject", ""), str) else ""
        bodies += [inline["Text"]] if isinstance(inline.get("Text"), str) else []
        bodies += [html_text(inline["Html"])] if isinstance(inline.get("Html"), str) else []
        data = part.get("TemplateData")
        if isinstance(data, str):
            try:
                bodies += strings_of(json.loads(data))
            except ValueError:
                bodies.append(data)
    decisions = notifier.decide(recipients, sender, subject)
    neutral = hidden_texts(notifier, decisions, ApiContent(subject, tuple(bodies), None, names), recipients, subject)
    if neutral is None:
        return _signed(provider, request, None, decisions)
    out = _kept(mail)
    simple: dict[str, Any] = {"Subject": _content(neutral.subject or ""), "Body": {"Text": _content(neutral.text)}}
    if neutral.html is not None:
        simple["Body"]["Html"] = _content(neutral.html)
    headers = [h for h in part.get("Headers") or [] if isinstance(h, dict)
               and str(h.get("Name", "")).lower() in _KEPT_HEADERS]
    if headers:
        simple["Headers"] = headers
    out["Content"] = {"Simple": simple}
    return _signed(provider, request, dump(out), decisions)


def _raw(provider: Provider, request: ApiRequest, notifier: Notifier, mail: dict[str, Any], raw: Any,
         sender: str, entries: list[str]) -> Rewritten:
    data = raw.get("Data") if isinstance(raw, dict) else None
    if not isinstance(data, str):
        raise provider.error(400, "Content.Raw.Data: must be the base64 message", "bad_payload")
    try:
        message = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise provider.error(400, "Content.Raw.Data: not base64", "bad_payload") from None
    recipients = [parseaddr(entry)[1] or entry for entry in entries]
    if not recipients or not sender:  # SES reads them from the message's own header then
        header_sender, header_recipients = mime_envelope(notifier, message)
        sender = sender or header_sender
        recipients = recipients or header_recipients
    if not recipients:
        raise provider.error(400, "Destination: no recipient", "bad_payload")
    copy = mime_copy(notifier, message, sender, recipients)
    if not copy.hidden:
        return _signed(provider, request, None, copy.decisions)
    out = _kept(mail)
    if not entries:  # the neutral copy has no Bcc header: name every recipient in the envelope
        out["Destination"] = {"ToAddresses": recipients}
    out["Content"] = {"Raw": {"Data": base64.b64encode(copy.data).decode("ascii")}}
    return _signed(provider, request, dump(out), copy.decisions)


def _kept(mail: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {key: mail[key] for key in _KEPT_TOP if key in mail}
    destination = mail.get("Destination")
    if isinstance(destination, dict):
        out["Destination"] = {key: destination[key] for key in _DESTINATIONS if key in destination}
    out["ConfigurationOverrides"] = _TRACKING_OFF
    return out


def _signed(provider: Provider, request: ApiRequest, body: bytes | None,
            decisions: tuple[Decision, ...]) -> Rewritten:
    """The request re-signed: ``body`` None sends the helpdesk's bytes unchanged (every recipient passes)."""
    if not isinstance(provider, Ses):
        raise TypeError("SES operations sign with an Ses provider")
    if body is None:
        body, content_type = request.body, request.headers.get("Content-Type", "application/json")
    else:
        content_type = "application/json"
    return Rewritten(body, content_type, decisions, headers=provider.sign(request, body, content_type),
                     drop_headers=_SIGNATURE_HEADERS)


class Ses(Provider):
    name = "ses"
    max_body_bytes = 30 * 1024 * 1024
    operations = ((("POST", re.compile(r"/v2/email/outbound-emails"), send_email)),)

    def __init__(self, route: EgressRoute) -> None:
        super().__init__(route)
        try:
            from botocore.auth import SigV4Auth
            from botocore.credentials import Credentials
        except ImportError:  # the policy check says so at load; this is the last guard
            raise RuntimeError("provider ses signs requests with botocore: "
                               "pip install 'privacy-gateway[ses]'") from None
        creds = route.credentials
        self._signer = SigV4Auth(Credentials(creds["access_key_id"], creds["secret_access_key"],
                                             creds.get("session_token") or None), SERVICE, creds["region"])

    def sign(self, request: ApiRequest, body: bytes, content_type: str) -> dict[str, str]:
        """The SigV4 headers of the request as the listener sends it: the upstream's host, the path without
        the prefix, the query, the body and Content-Type that go out."""
        from botocore.awsrequest import AWSRequest

        url = self.route.upstream + request.path + (f"?{request.query}" if request.query else "")
        headers = {"Content-Type": content_type, "X-Amz-Content-Sha256": hashlib.sha256(body).hexdigest()}
        signed = AWSRequest(method=request.method, url=url, data=body, headers=headers)
        self._signer.add_auth(signed)
        names = ("Authorization", "X-Amz-Date", "X-Amz-Content-Sha256", "X-Amz-Security-Token")
        return {name: str(signed.headers[name]) for name in names if name in signed.headers}

    def error(self, status: int, message: str, reason: str) -> ApiRefusal:
        kind = _ERROR_TYPES.get(reason, "BadRequestException")
        return ApiRefusal(status, json.dumps({"message": message}).encode(), reason,
                          headers={"x-amzn-ErrorType": kind})
