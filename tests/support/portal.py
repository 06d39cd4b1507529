"""The data-subject request portal on a real gateway, with a real SMTP sink and a helpdesk adapter of the test's.

``start_portal(**policy)`` starts the gateway (its public port chosen first,
so ``requests.public_url`` is its real address) with the portal on, its mail
going to a :class:`~tests.support.smarthost.Smarthost` (the demo's MailSink
with switches), and the worker's helpdesk adapter replaced by a
:class:`RecordingHelpdesk` (``real_helpdesk=True`` keeps the one ``requests.helpdesk`` names)::

    async def test_x(start_portal: StartPortal) -> None:
        site = await start_portal()
        page = await site.form()                       # the form's HTML; the browser's cookie kept
        status, body = await site.submit("kari@example.no", "access")
        link = site.link_in(site.mails_to("kari@example.no")[-1])   # the verification link
"""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from gateway.helpdesks.base import Case, CaseRef, HelpdeskAdapter, HelpdeskError, Message, NewCase
from gateway.metrics import Metrics
from gateway.policy.loader import load_policy
from gateway.server import Gateway
from tests.conftest import deep_merge, free_port, secrets_to_files
from tests.support.smarthost import Smarthost

KEY = "raw:" + "a-data-subject-request-key-000001"
TOKEN = "raw:" + "an-operators-bearer-token-00000001"
LINK = re.compile(r"https?://[^\s]+")


class RecordingHelpdesk(HelpdeskAdapter):
    """A helpdesk in memory: cases by requester, the cases it opened, and a switch to be down."""

    name = "recording"

    def __init__(self) -> None:
        self.cases: dict[str, Case] = {}
        self.opened: list[NewCase] = []
        self.down = False
        self.calls: list[str] = []

    def add(self, case: Case) -> None:
        self.cases[case.id] = case

    async def find_cases(self, email: str, reference: str | None = None) -> list[CaseRef]:
        self.calls.append("find_cases")
        if self.down:
            raise HelpdeskError("find_cases: 503", retryable=True, status=503)
        return [CaseRef(c.id, c.reference, c.title) for c in self.cases.values()
                if c.requester.casefold() == email.casefold()]

    async def read_case(self, case_id: str) -> Case:
        self.calls.append("read_case")
        if self.down:
            raise HelpdeskError("read_case: 503", retryable=True, status=503)
        return self.cases[case_id]

    async def open_case(self, case: NewCase) -> CaseRef:
        self.calls.append("open_case")
        if self.down:
            raise HelpdeskError("open_case: connection refused", retryable=True)
        self.opened.append(case)
        number = str(100 + len(self.opened))
        self.add(Case(number, f"DSAR-{number}", case.title, "open", "dsar", "2025-01-01T00:00:00Z",
                      "2025-01-01T00:00:00Z", case.requester, (Message("m1", "gateway", "2025-01-01T00:00:00Z",
                                                                       case.body),)))
        return CaseRef(number, f"DSAR-{number}", case.title)


@dataclass
class PortalSite:
    gateway: Gateway
    base: str
    sink: Smarthost
    helpdesk: RecordingHelpdesk
    session: aiohttp.ClientSession
    prefix: str = "/_privacy/requests"
    admin: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    async def get(self, path: str, **kwargs: Any) -> tuple[int, str, aiohttp.ClientResponse]:
        async with self.session.get(self.base + path, allow_redirects=False, **kwargs) as resp:
            return resp.status, await resp.text(), resp

    async def post(self, path: str, data: Any = None, **kwargs: Any) -> tuple[int, bytes, aiohttp.ClientResponse]:
        async with self.session.post(self.base + path, data=data, allow_redirects=False, **kwargs) as resp:
            return resp.status, await resp.read(), resp

    async def form(self, **kwargs: Any) -> str:
        status, body, _ = await self.get(self.prefix, **kwargs)
        assert status == 200
        return body

    async def token(self) -> str:
        found = re.search(r'name="token" value="([^"]+)"', await self.form())
        assert found is not None
        return found.group(1)

    async def submit(self, email: str, kind: str = "access", **fields: str) -> tuple[int, str]:
        data = {"token": await self.token(), "type": kind, "email": email, "lang": "en", **fields}
        status, body, _ = await self.post(self.prefix, data)
        return status, body.decode()

    def mails_to(self, address: str) -> list[email.message.EmailMessage]:
        found: list[email.message.EmailMessage] = []
        for received in self.sink.messages:
            if address in received.recipients:
                parsed = email.message_from_bytes(received.data, policy=email.policy.default)
                assert isinstance(parsed, email.message.EmailMessage)
                found.append(parsed)
        return found

    @staticmethod
    def text_of(message: email.message.EmailMessage) -> str:
        part = message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())

    def link_in(self, message: email.message.EmailMessage, kind: str = "verify") -> str:
        """The path of the first link of ``kind`` (verify, status, download) in a mail."""
        for url in LINK.findall(self.text_of(message)):
            assert isinstance(url, str)
            if f"{self.prefix}/{kind}/" in url:
                return url[len(self.base):] if url.startswith(self.base) else url
        raise AssertionError(f"no {kind} link in the mail")

    async def wait_for(self, check: Callable[[], bool], timeout: float = 15.0) -> None:
        async with asyncio.timeout(timeout):
            while not check():
                await asyncio.sleep(0.05)

    async def verify(self, email_address: str, kind: str = "access", **fields: str) -> str:
        """Submit, open the mailed link and confirm; the receipt page."""
        count = len(self.mails_to(email_address))
        status, _ = await self.submit(email_address, kind, **fields)
        assert status == 200
        await self.wait_for(lambda: len(self.mails_to(email_address)) > count)
        link = self.link_in(self.mails_to(email_address)[-1])
        status, body, _ = await self.post(link)
        assert status == 200, body
        return body.decode()

    def request_id(self, page: str) -> str:
        found = re.search(r"DSR-[0-9A-Z]{5}-[0-9A-Z]{5}", page)
        assert found is not None
        return found.group(0)


StartPortal = Callable[..., Awaitable[PortalSite]]


def portal_policy(sink_port: int, port: int, **requests: Any) -> dict[str, Any]:
    section = {
        "enabled": True,
        "public_url": f"http://127.0.0.1:{port}",
        "keys": [{"id": "r1", "secret": KEY}],
        "mail": {"from": "Example AS <privacy@example.org>"},
        "helpdesk": {"adapter": "webhook", "url": "http://127.0.0.1:9/not-used",
                     "secret": "a-webhook-secret-of-32-bytes-000001"},
        "retry": {"initial": "200ms", "max": "1s"},
        "api_tokens": [{"id": "ops", "secret": TOKEN}],
    }
    return {
        "listen": {"host": "127.0.0.1", "port": port},
        "organisation": {"name": "Example AS", "dpo": {"name": "Kari Nordmann", "email": "dpo@example.org"}},
        "notifications": {"smtp": {"listen": {"port": 0}, "allow": ["127.0.0.1"],
                                   "upstream": {"host": "127.0.0.1", "port": sink_port, "tls": "none",
                                                "timeout": "5s"}}},
        "requests": deep_merge(section, requests),
    }


@pytest.fixture
async def start_portal(tmp_path: Path, upstream: Any) -> AsyncIterator[StartPortal]:
    from tests.conftest import upstream_url

    started: list[tuple[Gateway, Smarthost, aiohttp.ClientSession]] = []

    async def start(extra: dict[str, Any] | None = None, *, recording: RecordingHelpdesk | None = None,
                    real_helpdesk: bool = False, **requests: Any) -> PortalSite:
        sink = Smarthost()
        await sink.start()
        port = free_port()
        doc = deep_merge({
            "admin": {"host": "127.0.0.1", "port": 0},
            "upstream": {"url": upstream_url(upstream)},
            "logging": {"access_log": False},
            "store": {"url": f"sqlite:///{tmp_path}/state.sqlite3"},
        }, deep_merge(portal_policy(sink.port, port, **requests), extra or {}))
        path = tmp_path / "policy.yaml"
        path.write_text(yaml.safe_dump(secrets_to_files(doc, tmp_path)))
        gateway = Gateway(load_policy(path), Metrics(), policy_path=path)
        fake = recording or RecordingHelpdesk()
        if not real_helpdesk:  # else: the adapter requests.helpdesk names
            gateway.requests_worker.adapter_factory = lambda settings: fake
        await gateway.start(watch=False)
        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # cookies of 127.0.0.1
        started.append((gateway, sink, session))
        return PortalSite(gateway, f"http://127.0.0.1:{gateway.public_port}", sink, fake, session,
                          admin=f"http://127.0.0.1:{gateway.admin_port}")

    yield start
    for gateway, sink, session in started:
        await session.close()
        await gateway.stop()
        await sink.stop()
