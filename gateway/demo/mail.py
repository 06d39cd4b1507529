"""The demo helpdesk's e-mail: the notification it sends, and the smarthost and mail API that receive it.

A real helpdesk puts the whole reply into its notification: the demo does the
same (:func:`notification`, sent by :func:`send_notification` to the gateway's
SMTP relay, which the demo policy turns on). The relay's smarthost in the demo
is :class:`MailSink`, an SMTP server (aiosmtpd) that keeps the last messages,
so ``/outbox`` on the demo helpdesk shows what would have reached the mailbox.
The same notification also goes as a SendGrid API call (:func:`sendgrid_mail`)
to the gateway's egress listener; the demo helpdesk itself stands in for
SendGrid behind it and keeps what arrived (:class:`ApiSink`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiohttp
import aiosmtplib
from aiosmtpd.smtp import SMTP, Envelope, Session

from .data import SUPPORT_EMAIL, Ticket

KEEP = 50


@dataclass(frozen=True, slots=True)
class Received:
    sender: str
    recipients: tuple[str, ...]
    data: bytes


@dataclass(frozen=True, slots=True)
class ApiCall:
    path: str
    body: bytes


class ApiSink:
    """The last API calls that reached the stand-in provider, newest last."""

    def __init__(self, keep: int = KEEP) -> None:
        self.calls: deque[ApiCall] = deque(maxlen=keep)


class MailSink:
    """Accepts every message on loopback and keeps the last ``keep`` of them, newest last."""

    def __init__(self, keep: int = KEEP) -> None:
        self.messages: deque[Received] = deque(maxlen=keep)
        self.port = 0
        self._server: asyncio.base_events.Server | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(Received(str(envelope.mail_from), tuple(envelope.rcpt_tos),
                                      bytes(envelope.original_content or b"")))
        return "250 OK: queued"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> MailSink:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: SMTP(self, hostname="smarthost.demo"), host, port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None


def notification(ticket: Ticket) -> bytes:
    """The e-mail a helpdesk sends on a new reply: the customer's data and the whole thread in it."""
    message = EmailMessage()
    message["From"] = f"Demo helpdesk <{SUPPORT_EMAIL}>"
    message["To"] = f"{ticket.customer.name} <{ticket.customer.email}>"
    message["Subject"] = f"[support-{ticket.id}] (Updated) {ticket.subject}"
    message["Message-ID"] = make_msgid(domain="helpdesk.example")
    message["References"] = f"<ticket-{ticket.id}@helpdesk.example>"
    message["Date"] = formatdate()
    thread = "\n\n".join(f"{m.author} wrote on {m.sent}:\n{m.text}" for m in ticket.messages)
    link = f"http://127.0.0.1:8080/tickets/{ticket.id}"
    message.set_content(
        f"Hello {ticket.customer.name},\n\nThere is a new reply on your case.\n"
        f"Phone on file: {ticket.customer.phone}\n\n{thread}\n\nView the case: {link}\n",
        cte="quoted-printable",
    )
    message.add_attachment(thread.encode("utf-8"), maintype="text", subtype="plain", filename="thread.txt")
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


async def send_notification(ticket: Ticket, host: str, port: int) -> None:
    """Send the ticket's notification through the SMTP server at ``host:port`` (the gateway's relay)."""
    await aiosmtplib.send(notification(ticket), sender=SUPPORT_EMAIL, recipients=[ticket.customer.email],
                          hostname=host, port=port, start_tls=False, timeout=10)


def sendgrid_mail(ticket: Ticket) -> dict[str, object]:
    """The notification as a SendGrid v3 mail-send body, as a helpdesk using the SendGrid SDK sends it."""
    thread = "\n\n".join(f"{m.author} wrote on {m.sent}:\n{m.text}" for m in ticket.messages)
    link = f"http://127.0.0.1:8080/tickets/{ticket.id}"
    return {
        "personalizations": [{"to": [{"email": ticket.customer.email, "name": ticket.customer.name}]}],
        "from": {"email": SUPPORT_EMAIL, "name": "Demo helpdesk"},
        "subject": f"[support-{ticket.id}] (Updated) {ticket.subject}",
        "content": [{"type": "text/plain", "value": f"Phone on file: {ticket.customer.phone}\n\n{thread}\n\n"
                     f"View the case: {link}\n"}],
        "tracking_settings": {"click_tracking": {"enable": True}, "open_tracking": {"enable": True}},
    }


async def send_api(ticket: Ticket, base_url: str) -> int:
    """POST the SendGrid call to ``base_url`` (the gateway's egress route); the status it got."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        async with session.post(f"{base_url}/v3/mail/send", json=sendgrid_mail(ticket),
                                headers={"Authorization": "Bearer SG.demo-key"}) as resp:
            await resp.read()
            return resp.status
