"""The SMTP relay: the helpdesk's smarthost, which loses nothing and relays nothing unrewritten.

It works before the queue, as a proxy in the SMTP dialogue: each client
connection has its own connection to the real smarthost (aiosmtplib), opened
at the first MAIL. MAIL and each RCPT are passed on and the smarthost's answer
is the client's answer, so every recipient's result is exact. At the end of
DATA the message is rewritten (``rewriter``) and sent on; the client hears
250 only after the smarthost accepted every copy:

- the smarthost down, slow past ``upstream.timeout`` or answering 4xx: 451,
  the helpdesk keeps the message and retries;
- the smarthost's 5xx: passed back (a permanent refusal);
- a message that cannot be rewritten safely: 451 or 554 (``on_error``);
- copies that need separate transactions (a hidden copy per recipient, one
  unchanged copy for the ``pass`` recipients) go one after the other; when a
  later one fails temporarily after an earlier one went, the answer is 451 and
  the retry may deliver the earlier copy twice: a duplicate rather than a loss.

The relay is never open: clients outside ``allow`` get 554 at the greeting.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiosmtplib
from aiosmtpd.smtp import MISSING, SMTP, Envelope, Session

from ..http.addresses import AddressBook, AddressSet
from ..logs import AccessLog
from ..metrics import Metrics
from ..policy.notifications import SmtpRelay, SmtpUpstream
from ..policy.schema import Policy, upstream_ssl_context
from .metrics import NotifyMetrics, notify_metrics
from .rewriter import Delivery, Notifier, Refusal
from .smtpdata import read_message

log = logging.getLogger("gateway.notify.smtp")

_UNAVAILABLE = "451 4.4.1 Smarthost unavailable; try again later"
_TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
_NOT_ALLOWED = "554 5.7.1 Relay access denied"
_TOO_MANY_CONNECTIONS = "421 4.7.0 Too many connections; try again later"


@dataclass(frozen=True, slots=True)
class CompiledRelay:
    """What one policy makes of the relay; swapped whole on reload."""

    settings: SmtpRelay
    notifier: Notifier
    allow: AddressSet
    metrics: NotifyMetrics
    access_log: AccessLog


def compile_relay(policy: Policy, metrics: Metrics, access_log: AccessLog) -> CompiledRelay | None:
    """The relay of ``policy``; None when notifications or the SMTP channel are off."""
    config = policy.notifications
    if not config.enabled or config.smtp is None:
        return None
    allow = AddressBook(policy.ip_lists).compile(config.smtp.allow)
    return CompiledRelay(config.smtp, Notifier(config, policy.links), allow, notify_metrics(metrics), access_log)


def _reply(exc: aiosmtplib.SMTPResponseException) -> str:
    """The smarthost's answer, as one reply line for our client (temporary stays temporary)."""
    code = exc.code if 400 <= exc.code < 600 else 451
    text = " ".join(str(exc.message).split())[:400] or "Smarthost refused"
    return f"{code} {text}"


class _Smarthost:
    """One client connection's connection to the smarthost."""

    def __init__(self, config: SmtpUpstream) -> None:
        self._config = config
        self._client: aiosmtplib.SMTP | None = None

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        config = self._config
        tls_context = upstream_ssl_context(config.tls_ca) if config.tls != "none" else None
        client = aiosmtplib.SMTP(
            hostname=config.host, port=config.port, timeout=config.timeout,
            use_tls=config.tls == "implicit", start_tls=config.tls == "starttls",
            tls_context=tls_context, username=config.username, password=config.password,
        )
        await client.connect()
        self._client = client
        return client

    async def mail(self, sender: str) -> aiosmtplib.SMTPResponse:
        client = await self._connected()
        options = ["BODY=8BITMIME"] if client.supports_extension("8bitmime") else []
        return await client.mail(sender, options=options)

    async def rcpt(self, recipient: str) -> aiosmtplib.SMTPResponse:
        if self._client is None:
            raise aiosmtplib.SMTPServerDisconnected("no transaction")
        return await self._client.rcpt(recipient)

    async def data(self, data: bytes) -> aiosmtplib.SMTPResponse:
        if self._client is None:
            raise aiosmtplib.SMTPServerDisconnected("no transaction")
        return await self._client.data(data)

    async def rset(self) -> None:
        if self._client is not None and self._client.is_connected:
            try:
                await self._client.rset()
            except (aiosmtplib.SMTPException, OSError):
                self.close()

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def quit(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()


async def _ask(smarthost: _Smarthost, command: Awaitable[aiosmtplib.SMTPResponse]) -> str | None:
    """None when the smarthost accepted ``command``; else the reply for our client (its own, or 451)."""
    try:
        await command
    except aiosmtplib.SMTPResponseException as exc:
        return _reply(exc)
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        smarthost.close()
        return _UNAVAILABLE
    return None


def _hash(address: str) -> str:
    return hashlib.sha256(address.strip().lower().encode("utf-8", "surrogateescape")).hexdigest()[:12]


class _Handler:
    """aiosmtpd's hooks; the session carries the client's smarthost connection."""

    def __init__(self, relay: SmtpRelayServer) -> None:
        self._relay = relay

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        smarthost = _smarthost_of(session, self._relay.current())
        refused = await _ask(smarthost, smarthost.mail(address))
        if refused is not None:
            return refused
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        relay = self._relay.current()
        if len(envelope.rcpt_tos) >= relay.settings.max_recipients:
            return _TOO_MANY_RECIPIENTS
        smarthost = _smarthost_of(session, relay)
        refused = await _ask(smarthost, smarthost.rcpt(address))
        if refused is not None:
            return refused
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_RSET(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await _smarthost_of(session, self._relay.current()).rset()
        return "250 2.0.0 OK"

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await _smarthost_of(session, self._relay.current()).quit()
        return "221 2.0.0 Bye"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        relay = self._relay.current()
        smarthost = _smarthost_of(session, relay)
        raw = envelope.original_content or b""
        sender = envelope.mail_from or ""
        recipients = list(envelope.rcpt_tos)
        entry: dict[str, Any] = {
            "channel": "smtp", "client": relay.access_log.mask_ip(_peer_ip(session)), "bytes": len(raw),
            "sender": _hash(sender), "recipients": [_hash(r) for r in recipients],
        }
        started = time.perf_counter()
        try:
            plan = relay.notifier.plan(raw, sender, recipients)
        except Refusal as exc:
            relay.metrics.added_latency.observe(time.perf_counter() - started)
            if exc.reason == "blocked":
                relay.metrics.notifications.labels("smtp", "blocked", "block", "enforce").inc()
            else:
                relay.metrics.rewrite_failures.labels("smtp", exc.reason).inc()
            await smarthost.rset()
            return self._finish(relay, entry, f"{exc.code} {exc.text}", reason=exc.reason)
        except Exception:  # a bug in the rewriter must not let the message through
            log.exception("notification rewrite failed", extra={"fields": {"channel": "smtp"}})
            relay.metrics.rewrite_failures.labels("smtp", "internal").inc()
            await smarthost.rset()
            return self._finish(relay, entry, "451 4.3.0 Message cannot be rewritten now; try again later",
                                reason="internal")
        relay.metrics.added_latency.observe(time.perf_counter() - started)
        for decision in plan.decisions:
            relay.metrics.notifications.labels("smtp", decision.rule, decision.action, "enforce").inc()
            for rule, action in decision.shadowed:
                relay.metrics.notifications.labels("smtp", rule, action, "shadow").inc()
        entry["rules"] = sorted({d.rule for d in plan.decisions})
        entry["actions"] = sorted({d.action for d in plan.decisions})
        sent = time.perf_counter()
        reply = await _deliver(smarthost, sender, recipients, plan.deliveries)
        relay.metrics.smarthost_duration.observe(time.perf_counter() - sent)
        return self._finish(relay, entry, reply)

    @staticmethod
    def _finish(relay: CompiledRelay, entry: dict[str, Any], reply: str, reason: str | None = None) -> str:
        code = int(reply[:3])
        outcome = "relayed" if code < 300 else "deferred" if code < 500 else "refused"
        relay.metrics.relay.labels(outcome).inc()
        entry.update(status=code, outcome=outcome)
        if reason is not None:
            entry["reason"] = reason
        relay.access_log.write(entry)
        return reply


async def _deliver(smarthost: _Smarthost, sender: str, recipients: list[str],
                   deliveries: tuple[Delivery, ...]) -> str:
    """Send every copy; the reply for the client's end of DATA."""
    if len(deliveries) == 1 and list(deliveries[0].recipients) == recipients:
        # The common case: one copy, for the transaction that is already open.
        try:
            await smarthost.data(deliveries[0].data)
        except aiosmtplib.SMTPResponseException as exc:
            return _reply(exc)
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            smarthost.close()
            return _UNAVAILABLE
        return "250 2.0.0 OK: relayed"
    delivered = 0
    try:
        await smarthost.rset()
        for delivery in deliveries:
            await smarthost.mail(sender)
            for recipient in delivery.recipients:
                await smarthost.rcpt(recipient)
            await smarthost.data(delivery.data)
            delivered += 1
    except aiosmtplib.SMTPResponseException as exc:
        await smarthost.rset()
        if not delivered:
            return _reply(exc)
        if exc.code >= 500:
            # Retrying cannot help that copy, and would repeat the delivered ones.
            log.warning("a copy was refused after others were delivered", extra={"fields": {"code": exc.code}})
            return "250 2.0.0 OK: relayed in part; one copy was refused permanently"
        return "451 4.4.0 Relayed in part; try again later (earlier copies may arrive twice)"
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        smarthost.close()
        if delivered:
            return "451 4.4.0 Relayed in part; try again later (earlier copies may arrive twice)"
        return _UNAVAILABLE
    return "250 2.0.0 OK: relayed"


def _peer_ip(session: Session) -> str:
    peer = session.peer
    return str(peer[0]) if isinstance(peer, tuple) and peer else ""


def _smarthost_of(session: Session, relay: CompiledRelay) -> _Smarthost:
    found: _Smarthost | None = getattr(session, "smarthost", None)
    if found is None:
        found = _Smarthost(relay.settings.upstream)
        session.smarthost = found  # type: ignore[attr-defined]
    return found


class _RelaySMTP(SMTP):
    """aiosmtpd's protocol with the relay's door: allow list and connection cap at the greeting."""

    def __init__(self, relay: SmtpRelayServer, **kwargs: Any) -> None:
        super().__init__(_Handler(relay), **kwargs)
        self._relay = relay
        self._counted = False

    async def _handle_client(self) -> None:
        relay = self._relay.current()
        ip = _peer_ip(self.session) if self.session is not None else ""
        refusal = None
        if not ip or not relay.allow.contains(ip):
            refusal, reason = _NOT_ALLOWED, "not_allowed"
        elif self._relay.connections >= relay.settings.max_connections:
            refusal, reason = _TOO_MANY_CONNECTIONS, "too_many_connections"
        if refusal is not None:
            relay.metrics.refused_clients.labels(reason).inc()
            await self.push(refusal)
            if self.transport is not None:
                self.transport.close()
            return
        self._relay.connections += 1
        self._counted = True
        await super()._handle_client()

    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd's DATA, reading the message in bulk (``smtpdata``); same checks, same answers."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        envelope = self.envelope
        if envelope is None or not envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            # Idle time while the message arrives is bounded, not its whole transfer (25 MiB on a slow link).
            content, problem = await read_message(self._reader, self.data_size_limit, self._reset_timeout)
        except ConnectionResetError:
            return
        if content is None:
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            await self.push(problem or "451 4.3.0 Error")
            return
        envelope.content = envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push("250 OK" if status is MISSING else status)

    def connection_lost(self, error: Exception | None) -> None:
        if self._counted:
            self._relay.connections -= 1
            self._counted = False
        smarthost: _Smarthost | None = getattr(self.session, "smarthost", None)
        if smarthost is not None:
            smarthost.close()
        super().connection_lost(error)


class SmtpRelayServer:
    """The relay's listener; ``current`` gives the compiled relay of the policy in force."""

    def __init__(self, current: Callable[[], CompiledRelay]) -> None:
        self.current = current
        self.connections = 0
        self._server: asyncio.base_events.Server | None = None

    async def start(self, *, reuse_port: bool = False) -> None:
        settings = self.current().settings
        hostname = settings.hostname or socket.getfqdn()
        loop = asyncio.get_running_loop()

        def protocol() -> _RelaySMTP:
            now = self.current().settings
            return _RelaySMTP(self, data_size_limit=now.max_message_bytes, hostname=hostname,
                              timeout=now.command_timeout, ident="privacy-gateway")

        self._server = await loop.create_server(
            protocol, settings.listen.host, settings.listen.port, reuse_port=reuse_port or None
        )

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the relay is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
