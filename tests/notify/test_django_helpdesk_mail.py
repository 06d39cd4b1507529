"""A real django-helpdesk sends its notifications through the relay; what leaves holds none of the ticket.

django-helpdesk (gunicorn, its Django SMTP backend) uses the gateway's relay as
its smarthost; a customer opens a ticket through the gateway's public form; the
smarthost behind the relay receives the helpdesk's own "ticket opened" e-mail,
rewritten.
"""

from __future__ import annotations

import asyncio
import secrets
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from gateway.metrics import Metrics
from gateway.policy.loader import load_policy
from gateway.server import Gateway
from tests.conftest import free_port
from tests.support.helpdesk import (
    OUTSIDE,
    POLICY_ENV,
    MakeVisitor,
    consent_value,
    form_with,
    helpdesk_policy,
    start_helpdesk,
)
from tests.support.smarthost import Smarthost

pytestmark = pytest.mark.timeout(180)


async def test_the_helpdesks_own_notification_leaves_without_the_ticket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, helpdesk_visitors: MakeVisitor
) -> None:
    for name, value in POLICY_ENV.items():
        monkeypatch.setenv(name, value)
    sink = await Smarthost().start()
    relay_port = free_port()
    with start_helpdesk(tmp_path / "helpdesk", env={"HELPDESK_SMTP_PORT": str(relay_port)}) as helpdesk:
        path = helpdesk_policy(helpdesk, tmp_path, notifications={
            "enabled": True,
            "templates": {"default": {"subject": "New reply on your case {case_id}",
                                      "text": "Hello, there is news on your case {case_id}: {link}\n"}},
            "link": {"find": r"https?://[^/\s]+/helpdesk/view/\?ticket=[^\s\"<>]+", "base": "https://gw.example"},
            "smtp": {"listen": {"host": "127.0.0.1", "port": relay_port},
                     "upstream": {"host": "127.0.0.1", "port": sink.port, "tls": "none", "timeout": "5s"},
                     "allow": ["127.0.0.1"]},
        })
        gateway = Gateway(load_policy(path), Metrics(), policy_path=path)
        await gateway.start(watch=False)
        try:
            gateway.base_url = f"http://127.0.0.1:{gateway.public_port}"  # type: ignore[attr-defined]
            customer = helpdesk_visitors(gateway, OUTSIDE)
            title = f"Insulin pump alarm {secrets.token_hex(3)}"
            secret_text = f"My diagnosis is diabetes {secrets.token_hex(4)}, call 912 34 567"
            email = f"kari.{secrets.token_hex(3)}@customer.example"
            response, body = await customer.get("/helpdesk/tickets/submit/")
            form = form_with(body.decode(), "submitter_email")
            response, body = await customer.submit(form, "/helpdesk/tickets/submit/", {
                "queue": str(helpdesk.queue_id), "title": title, "submitter_email": email, "priority": "3",
                "body": secret_text, "privacy_consent": consent_value(body.decode()),
            })
            assert response.status == 200 and response.url.path == "/helpdesk/view/", body[:1000]

            for _ in range(100):  # the helpdesk mails while it answers the post; give the relay a moment
                if any(email in m.recipients for m in sink.messages):
                    break
                await asyncio.sleep(0.1)
            mine = [m for m in sink.messages if email in m.recipients]
            assert mine, helpdesk.log()[-2000:]
            for received in mine:
                assert title.encode() not in received.data and secret_text.encode() not in received.data
                parsed = message_from_bytes(received.data, policy=policy.default)
                assert str(parsed["Subject"]).startswith("New reply on your case support-")
                text = parsed.get_body(("plain",)).get_content()
                assert "https://gw.example/_l/" in text
                assert title not in text and "diabetes" not in text
        finally:
            await gateway.stop()
            await sink.stop()
