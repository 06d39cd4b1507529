"""The portal's mail: composed in the requester's language, sent through the smarthost (a real SMTP sink),
errors told apart: a refused address is permanent, a smarthost away is worth retrying."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from gateway.policy.notifications import SmtpUpstream
from gateway.policy.organisation import Organisation
from gateway.requests.mail import Mailer, MailError
from tests.support.smarthost import Smarthost
from tests.support.tls import make_ca

ORG = Organisation.model_validate({"name": "Example AS", "dpo": {"email": "dpo@example.org"}})


def mailer(port: int, **smtp: object) -> Mailer:
    upstream = SmtpUpstream.model_validate({"host": "127.0.0.1", "port": port, "tls": "none", "timeout": 5, **smtp})
    return Mailer(upstream, "Example AS <privacy@example.org>", ORG, {"receipt": {"nb": "Kvittering {request_id}"}})


def test_a_mail_is_composed_in_the_requesters_language_with_the_controller_at_its_foot() -> None:
    composed = mailer(25).compose("receipt", "nb", "kari@example.no", request_id="DSR-ABCDE-12345", type="Innsyn",
                                  received="2025-01-01 10:00 UTC", due="2025-01-31", link="https://x/status/t")
    assert composed["Subject"] == "Kvittering DSR-ABCDE-12345" and composed["Content-Language"] == "nb"
    assert composed["Auto-Submitted"] == "auto-generated" and composed["To"] == "kari@example.no"
    body = composed.get_content()
    assert "Vi svarer innen: 2025-01-31" in body and body.endswith("Example AS\nPersonvernombud: dpo@example.org\n")
    english = mailer(25).compose("verify", "en", "k@e.no", link="L", hours="24 hours", type="Access")
    assert english["Subject"] == "Confirm your privacy request" and "(the link works for 24 hours)" in english.get_content()


async def test_sent_through_the_smarthost_and_refusals_told_apart() -> None:
    sink = Smarthost()
    await sink.start()
    try:
        m = mailer(sink.port)
        await m.send(m.compose("fulfilled", "en", "kari@example.no", request_id="R", type="Erasure", link="L"))
        (received,) = sink.messages
        assert received.recipients == ("kari@example.no",) and received.sender == "privacy@example.org"
        parsed = email.message_from_bytes(received.data, policy=email.policy.default)
        assert parsed["Subject"] == "Your privacy request R is done"
        sink.refuse_recipients["gone@example.no"] = "550 5.1.1 no such user"
        with pytest.raises(MailError) as refused:
            await m.send(m.compose("fulfilled", "en", "gone@example.no", request_id="R", type="E", link="L"))
        assert refused.value.permanent and refused.value.reason == "recipient_refused"
        assert "gone@" not in str(refused.value)
        sink.data_reply = "451 4.3.0 busy"
        with pytest.raises(MailError) as busy:
            await m.send(m.compose("fulfilled", "en", "kari@example.no", request_id="R", type="E", link="L"))
        assert not busy.value.permanent and busy.value.reason == "smarthost_4xx"
    finally:
        await sink.stop()
    with pytest.raises(MailError) as down:
        await m.send(m.compose("fulfilled", "en", "kari@example.no", request_id="R", type="E", link="L"))
    assert not down.value.permanent and down.value.reason == "smarthost_unavailable"


async def test_starttls_is_required_and_verified_when_the_policy_says_so(tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    secure = await Smarthost().start_tls(ca.server_context)
    plain = Smarthost()
    await plain.start()
    try:
        m = mailer(secure.port, tls="starttls", tls_ca=ca.ca_pem)
        await m.send(m.compose("fulfilled", "en", "kari@example.no", request_id="R", type="E", link="L"))
        assert len(secure.messages) == 1
        clear = mailer(plain.port, tls="starttls", tls_ca=ca.ca_pem)
        with pytest.raises(MailError):
            await clear.send(clear.compose("fulfilled", "en", "kari@example.no", request_id="R", type="E", link="L"))
        assert not plain.messages  # never in clear
    finally:
        await secure.stop()
        await plain.stop()
