"""A real SMTP server (aiosmtpd) on loopback, standing in for the smarthost behind the relay.

It keeps every message it accepted (the demo's sink), and can be told to refuse
a recipient, answer DATA with a given reply; ``StalledServer`` accepts the
connection and never answers.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from gateway.demo.mail import MailSink


class Smarthost(MailSink):
    """The demo's sink with switches: refuse a recipient, answer DATA with a reply, or wait first."""

    def __init__(self) -> None:
        super().__init__(keep=1000)
        self.refuse_recipients: dict[str, str] = {}  # address -> reply
        self.data_reply: str | None = None  # e.g. "451 4.3.0 busy"; None: accept
        self.data_delay = 0.0

    async def start_tls(self, context: ssl.SSLContext, port: int = 0) -> Smarthost:
        """Listen with STARTTLS required (as a real smarthost on 587 does)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self, hostname="smarthost.test", tls_context=context, require_starttls=True), "127.0.0.1", port
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        reply = self.refuse_recipients.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.data_reply is not None:
            return self.data_reply
        return await super().handle_DATA(server, session, envelope)


class StalledServer:
    """Accepts TCP connections and never says a word."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> StalledServer:
        async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._writers.append(writer)

        self._server = await asyncio.start_server(hold, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def relay_policy(smarthost_port: int, relay_port: int = 0, **notifications: Any) -> dict[str, Any]:
    """A policy with the relay on, hiding by default; ``notifications`` keys override."""
    section: dict[str, Any] = {
        "enabled": True,
        "audiences": {"agents": {"addresses": ["helpdesk.example"]}},
        "rules": [{"name": "agents", "audience": "agents", "action": "pass"}],
        "templates": {
            "default": {
                "subject": "New reply on your case {case_id}",
                "text": "Hello {recipient_name},\n\nThere is a new reply on your case {case_id}.\nOpen it: {link}\n",
                "html": "<p>Hello {recipient_name},</p><p>There is a new reply on case {case_id}: "
                        "<a href=\"{link}\">open it</a></p>",
            },
        },
        "link": {
            "find": r"https://help\.example/helpdesk/view/\?ticket=[^\s\"<>]+",
            "url": "https://help.example/helpdesk/view/?ticket={case_id}",
            "base": "https://gw.example",
        },
        "smtp": {
            "listen": {"host": "127.0.0.1", "port": relay_port},
            "upstream": {"host": "127.0.0.1", "port": smarthost_port, "tls": "none", "timeout": "2s"},
            "allow": ["127.0.0.1"],
            "max_recipients": 5,
        },
    }
    section.update(notifications)
    return {
        "notifications": section,
        "links": {"enabled": True, "keys": [{"id": "k1", "secret": "n" * 40}]},
    }
