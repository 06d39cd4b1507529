"""The portal's mail to requesters, composed in their language and sent through the smarthost.

The smarthost is the one the SMTP relay uses (``notifications.smtp.upstream``:
host, port, TLS, AUTH), reached directly: these messages are the gateway's
own and must not be rewritten by its relay. Each message is plain text,
marked ``Auto-Submitted: auto-generated`` so that auto-responders stay
quiet. A failure is a :class:`MailError`: ``permanent`` when the smarthost
refused the recipient or the message (5xx), else worth retrying. Neither
the address nor the smarthost's reply is put in its message.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import aiosmtplib

from ..policy.notifications import SmtpUpstream
from ..policy.organisation import Organisation
from ..policy.schema import upstream_ssl_context
from .texts import MAIL, SUBJECTS


class MailError(Exception):
    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Mailer:
    def __init__(self, smtp: SmtpUpstream, sender: str, organisation: Organisation | None,
                 subjects: Mapping[Any, Mapping[str, str]] | None = None) -> None:
        self._smtp = smtp
        self.sender = sender
        self._subjects = {kind: {**texts, **dict((subjects or {}).get(kind, {}))} for kind, texts in SUBJECTS.items()}
        self._organisation = organisation.name if organisation is not None else ""
        self._dpo = organisation.dpo.email if organisation is not None and organisation.dpo is not None else ""
        self._tls = upstream_ssl_context(smtp.tls_ca) if smtp.tls != "none" else None
        self._domain = sender.rpartition("@")[2].rstrip(">") or "localhost"

    @property
    def organisation(self) -> str:
        return self._organisation

    def compose(self, kind: str, language: str, to: str, **values: str) -> EmailMessage:
        """The ``kind`` mail (verify, receipt, extended, refused, fulfilled, export) in ``language``."""
        texts = MAIL[language]
        values = {"organisation": self._organisation or "us", **values}
        body = texts[kind].format(**values)
        if self._organisation:
            dpo = texts["dpo"].format(dpo=self._dpo) if self._dpo else ""
            body += texts["footer"].format(organisation=self._organisation, dpo=dpo)
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = self._subjects[kind][language].replace("{request_id}", values.get("request_id", ""))
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(domain=self._domain)
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(body, cte="quoted-printable")
        message["Content-Language"] = language  # after set_content, which replaces the Content-* headers
        return message

    async def send(self, message: EmailMessage) -> None:
        smtp = self._smtp
        try:
            await aiosmtplib.send(
                message, hostname=smtp.host, port=smtp.port, timeout=smtp.timeout,
                use_tls=smtp.tls == "implicit", start_tls=True if smtp.tls == "starttls" else False,
                tls_context=self._tls, username=smtp.username, password=smtp.password,
            )
        except aiosmtplib.SMTPRecipientsRefused:
            raise MailError("recipient_refused", permanent=True) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise MailError(f"smarthost_{exc.code // 100}xx", permanent=exc.code >= 500) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            raise MailError("smarthost_unavailable", permanent=False) from None
