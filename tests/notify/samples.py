"""Notifications in the shapes real helpdesks send, with the distinctive strings they must not leak."""

from __future__ import annotations

import base64
import quopri
from email import policy
from email.header import Header
from email.message import EmailMessage
from email.utils import make_msgid

CUSTOMER = "kari.nordmann@customer.example"
CUSTOMER_NAME = "Kari Nordmann"
AGENT = "agent@helpdesk.example"
QUEUE = "support-queue@helpdesk.example"
SENDER = "help@helpdesk.example"
TICKET_URL = "https://help.example/helpdesk/view/?ticket=support-12&email=kari.nordmann%40customer.example"

# What the original says that nobody outside the helpdesk may read.
SECRETS = (
    "Bjørn Ålesund",
    "+47 912 34 567",
    "diabetes type 2",
    "Storgata 7, 0155 Oslo",
    "my passport number is NO1234567",
    "INTERNAL NOTE: customer is angry",
    "Attachment-secret-line-42",
)


def ticket_update(*, cc: str | None = QUEUE, attachment: bool = True, html: bool = True,
                  subject: str = "[support-12] (Updated) Ny melding fra Bjørn Ålesund") -> bytes:
    """A django-helpdesk/Zammad-like update: multipart/alternative (QP and 7bit), an RFC 2047 subject,
    the ticket link in both parts, the customer's quoted message, and an attachment."""
    message = EmailMessage()
    message["From"] = f"Helpdesk <{SENDER}>"
    message["To"] = f"{CUSTOMER_NAME} <{CUSTOMER}>"
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="helpdesk.example")
    message["In-Reply-To"] = "<original-1@helpdesk.example>"
    message["References"] = "<original-1@helpdesk.example> <reply-2@helpdesk.example>"
    message["Date"] = "Wed, 02 Dec 2026 10:00:00 +0100"
    message["Reply-To"] = "support+12@helpdesk.example"
    message["X-Helpdesk-Customer"] = "Bjørn Ålesund"
    message["DKIM-Signature"] = "v=1; a=rsa-sha256; d=helpdesk.example; s=s1; b=AAAA"
    text = (
        f"Hello {CUSTOMER_NAME},\n\nBjørn Ålesund wrote: my phone is +47 912 34 567, I have diabetes type 2,\n"
        "and I live at Storgata 7, 0155 Oslo; my passport number is NO1234567.\n\n"
        "INTERNAL NOTE: customer is angry\n\n"
        f"View the case: {TICKET_URL}\n\n> On Tuesday you wrote:\n> please help\n"
    )
    message.set_content(text, cte="quoted-printable")
    if html:
        message.add_alternative(
            "<html><body><p>Bjørn Ålesund wrote: my phone is +47 912 34 567, diabetes type 2.</p>"
            "<p>Storgata 7, 0155 Oslo &mdash; my passport number is NO1234567</p>"
            "<p>INTERNAL NOTE: customer is angry</p>"
            f"<p><a href=\"{TICKET_URL.replace('&', '&amp;')}\">View the case</a></p></body></html>",
            subtype="html", cte="quoted-printable",
        )
    if attachment:
        message.add_attachment(b"Attachment-secret-line-42\nmore lines\n", maintype="text", subtype="plain",
                               filename="notes.txt")
    return message.as_bytes(policy=policy.SMTP)  # CRLF, as helpdesks put it on the wire


def encodings_of(text: str) -> list[bytes]:
    """``text`` as it could appear in a message: raw UTF-8, QP, base64 (at any alignment), RFC 2047."""
    raw = text.encode("utf-8")
    forms = [raw, quopri.encodestring(raw).strip(), Header(text, "utf-8").encode().encode("ascii")]
    for shift in range(3):
        padded = b"\0" * shift + raw
        encoded = base64.b64encode(padded)[4 if shift else 0:].rstrip(b"=")
        forms.append(encoded[: max(8, len(encoded) - 4)])  # the stable middle of the encoding
    return [form for form in forms if len(form) >= 6]


def leaks(data: bytes) -> list[str]:
    """The secrets of the original found in ``data``, in any encoding."""
    # Encoded text is wrapped: QP with soft breaks, base64 at 76 columns.
    unwrapped = data.replace(b"=\r\n", b"").replace(b"=\n", b"")
    views = (data, unwrapped, unwrapped.replace(b"\r\n", b"").replace(b"\n", b""))
    found = []
    for secret in SECRETS:
        if any(form in view for form in encodings_of(secret) for view in views):
            found.append(secret)
    return found
