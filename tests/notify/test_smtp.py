"""The SMTP relay end to end: smtplib as the helpdesk, the real gateway, a real aiosmtpd smarthost."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import AsyncIterator, Callable
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest

from gateway.lib.keyring import KeyRing
from gateway.links.signing import LinkSigner
from gateway.server import Gateway
from tests.conftest import StartGateway
from tests.notify.samples import AGENT, CUSTOMER, CUSTOMER_NAME, QUEUE, SENDER, leaks, ticket_update
from tests.support.smarthost import Smarthost, StalledServer, relay_policy
from tests.support.tls import make_ca

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def smarthost() -> AsyncIterator[Smarthost]:
    host = await Smarthost().start()
    yield host
    await host.stop()


async def send(gateway: Gateway, sender: str, recipients: list[str], data: bytes,
               client: Callable[[smtplib.SMTP], None] | None = None) -> dict[str, tuple[int, bytes]]:
    """Send as the helpdesk does (smtplib in a thread); the refused recipients, or raises."""
    def run() -> dict[str, tuple[int, bytes]]:
        with smtplib.SMTP("127.0.0.1", gateway.smtp_port, timeout=10) as smtp:
            if client is not None:
                client(smtp)
            return smtp.sendmail(sender, recipients, data)
    return await asyncio.to_thread(run)


async def relay(start_gateway: StartGateway, smarthost: Smarthost, **notifications: Any) -> Gateway:
    return await start_gateway(relay_policy(smarthost.port, **notifications))


async def test_a_customer_gets_the_neutral_message_and_nothing_of_the_original(
    start_gateway: StartGateway, smarthost: Smarthost
) -> None:
    gateway = await relay(start_gateway, smarthost)
    original = ticket_update(cc=None)
    assert leaks(original)  # the check can see them

    assert await send(gateway, SENDER, [CUSTOMER], original) == {}

    [received] = smarthost.messages
    assert received.sender == SENDER and received.recipients == (CUSTOMER,)
    assert leaks(received.data) == []
    assert b"notes.txt" not in received.data and b"DKIM-Signature" not in received.data
    assert b"X-Helpdesk-Customer" not in received.data
    parsed = message_from_bytes(received.data, policy=policy.default)
    assert str(parsed["Subject"]) == "New reply on your case support-12"
    text = parsed.get_body(("plain",)).get_content()
    assert f"Hello {CUSTOMER_NAME}," in text
    html = parsed.get_body(("html",)).get_content()
    assert "open it</a>" in html
    assert not [part for part in parsed.walk() if part.get_content_disposition() == "attachment"]


async def test_the_link_is_signed_bound_to_the_case_and_opens_the_case_page(
    start_gateway: StartGateway, smarthost: Smarthost
) -> None:
    gateway = await relay(start_gateway, smarthost)
    await send(gateway, SENDER, [CUSTOMER], ticket_update(cc=None))
    parsed = message_from_bytes(smarthost.messages[0].data, policy=policy.default)
    text = parsed.get_body(("plain",)).get_content()
    link = next(word for word in text.split() if word.startswith("https://gw.example/_l/"))
    token = link.removeprefix("https://gw.example/_l/")
    ring = KeyRing.from_config([("k1", "n" * 40)], "k1")
    claims = LinkSigner(ring, ttl=60).verify(token)
    # The case page the helpdesk linked to, found in the original and signed with the case bound.
    assert claims.url.startswith("https://help.example/helpdesk/view/?ticket=support-12")
    assert claims.case == "support-12"


async def test_threading_headers_go_out_byte_for_byte(start_gateway: StartGateway, smarthost: Smarthost) -> None:
    gateway = await relay(start_gateway, smarthost)
    original = ticket_update(cc=None)
    await send(gateway, SENDER, [CUSTOMER], original)
    out = smarthost.messages[0].data
    for name in (b"Message-ID", b"In-Reply-To", b"References", b"Date", b"From", b"To", b"Reply-To"):
        line = next(line for line in original.split(b"\n") if line.startswith(name + b":"))
        assert line.rstrip(b"\r") in out, name


async def test_agents_pass_unchanged_while_the_customer_and_the_queue_copy_are_hidden(
    start_gateway: StartGateway, smarthost: Smarthost
) -> None:
    gateway = await relay(start_gateway, smarthost)
    original = ticket_update(cc=QUEUE)
    assert await send(gateway, SENDER, [CUSTOMER, AGENT, "other@outside.example"], original) == {}
    by_recipients = {m.recipients: m.data for m in smarthost.messages}
    assert by_recipients[(AGENT,)] == original  # pass: byte for byte
    assert leaks(by_recipients[(CUSTOMER,)]) == [] and leaks(by_recipients[("other@outside.example",)]) == []
    assert len(smarthost.messages) == 3


async def test_block_refuses_with_5xx_and_relays_nothing(start_gateway: StartGateway, smarthost: Smarthost) -> None:
    rules = [{"name": "no-passwords", "subject": "(?i)password", "action": "block"}]
    gateway = await relay(start_gateway, smarthost, rules=rules)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        await send(gateway, SENDER, [CUSTOMER], ticket_update(subject="[support-12] Your new password"))
    assert refused.value.smtp_code == 550
    assert not smarthost.messages
    assert 'privacy_gateway_notifications_total{action="block",channel="smtp",mode="enforce",rule="blocked"}' \
        in generate_latest(gateway.metrics.registry).decode()


async def test_a_shadow_rule_counts_and_the_next_rule_decides(
    start_gateway: StartGateway, smarthost: Smarthost
) -> None:
    rules = [{"name": "try-block", "subject": "Updated", "action": "block", "shadow": True}]
    gateway = await relay(start_gateway, smarthost, rules=rules)
    assert await send(gateway, SENDER, [CUSTOMER], ticket_update(cc=None)) == {}
    assert len(smarthost.messages) == 1 and leaks(smarthost.messages[0].data) == []  # default: hide
    metrics = generate_latest(gateway.metrics.registry).decode()
    assert 'action="block",channel="smtp",mode="shadow",rule="try-block"} 1.0' in metrics
    assert 'action="hide",channel="smtp",mode="enforce",rule="default"} 1.0' in metrics


async def test_a_refused_recipient_loses_nobody_elses_copy(start_gateway: StartGateway, smarthost: Smarthost) -> None:
    smarthost.refuse_recipients["gone@outside.example"] = "550 5.1.1 No such user"
    gateway = await relay(start_gateway, smarthost)
    refused = await send(gateway, SENDER, [CUSTOMER, "gone@outside.example", AGENT], ticket_update(cc=None))
    assert refused == {"gone@outside.example": (550, b"5.1.1 No such user")}
    assert sorted(r for m in smarthost.messages for r in m.recipients) == [AGENT, CUSTOMER]


async def test_the_smarthost_down_defers_and_the_retry_delivers(
    start_gateway: StartGateway, smarthost: Smarthost
) -> None:
    port = smarthost.port
    await smarthost.stop()
    gateway = await relay(start_gateway, smarthost)
    with pytest.raises(smtplib.SMTPSenderRefused) as deferred:
        await send(gateway, SENDER, [CUSTOMER], ticket_update(cc=None))
    assert deferred.value.smtp_code == 451  # temporary: the helpdesk's queue keeps the message
    await smarthost.start(port=port)
    assert await send(gateway, SENDER, [CUSTOMER], ticket_update(cc=None)) == {}
    assert len(smarthost.messages) == 1


async def test_a_smarthost_that_never_answers_defers_within_the_timeout(start_gateway: StartGateway) -> None:
    stalled = await StalledServer().start()
    try:
        gateway = await start_gateway(relay_policy(stalled.port))
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(smtplib.SMTPSenderRefused) as deferred:
            await send(gateway, SENDER, [CUSTOMER], ticket_update(cc=None))
        assert deferred.value.smtp_code == 451
        assert loop.time() - started < 10  # the policy's 2 s, not the client's patience
    finally:
        await stalled.stop()


@pytest.mark.parametrize(("reply", "error"), [("451 4.3.0 busy", 451), ("554 5.7.1 spam", 554)])
async def test_the_smarthosts_answer_to_data_is_passed_back(
    start_gateway: StartGateway, smarthost: Smarthost, reply: str, error: int
) -> None:
    smarthost.data_reply = reply
    gateway = await relay(start_gateway, smarthost)
    with pytest.raises(smtplib.SMTPDataError) as failed:
        await send(gateway, SENDER, [CUSTOMER], ticket_update(cc=None))
    assert failed.value.smtp_code == error


async def test_an_oversize_message_gets_552(start_gateway: StartGateway, smarthost: Smarthost) -> None:
    policy = relay_policy(smarthost.port)
    policy["notifications"]["smtp"]["max_message_bytes"] = "4KiB"
    gateway = await start_gateway(policy)
    with pytest.raises((smtplib.SMTPDataError, smtplib.SMTPSenderRefused)) as refused:
        await send(gateway, SENDER, [CUSTOMER], ticket_update(cc=None) + b"x" * 8192)
    assert refused.value.smtp_code == 552
    assert not smarthost.messages


async def test_too_many_recipients_get_452(start_gateway: StartGateway, smarthost: Smarthost) -> None:
    gateway = await relay(start_gateway, smarthost)
    recipients = [f"user{i}@outside.example" for i in range(7)]
    refused = await send(gateway, SENDER, recipients, ticket_update(cc=None))
    assert {code for code, _ in refused.values()} == {452} and len(refused) == 2


async def test_a_client_outside_allow_is_refused_at_the_greeting(
    start_gateway: StartGateway, smarthost: Smarthost
) -> None:
    policy = relay_policy(smarthost.port)
    policy["notifications"]["smtp"]["allow"] = ["192.0.2.0/24"]
    gateway = await start_gateway(policy)
    with pytest.raises(smtplib.SMTPConnectError) as refused:
        await send(gateway, SENDER, [CUSTOMER], ticket_update(cc=None))
    assert refused.value.smtp_code == 554
    assert not smarthost.messages


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda raw: raw.replace(b"Content-Transfer-Encoding: quoted-printable",
                                             b"Content-Transfer-Encoding: base64", 1), id="broken-base64"),
        pytest.param(lambda raw: raw.replace(b'boundary="', b'boundary="x', 1), id="bad-boundary"),
        pytest.param(lambda raw: raw.replace(b"Subject: ", "Subject: Bjørn Ålesund ".encode(), 1),
                     id="8bit-in-headers"),
        pytest.param(lambda raw: raw.replace(b"\nFrom:", b"\n: no name\nFrom:", 1), id="header-without-name"),
    ],
)
async def test_malformed_mime_is_refused_or_safely_rewritten(
    start_gateway: StartGateway, smarthost: Smarthost, damage: Callable[[bytes], bytes]
) -> None:
    gateway = await relay(start_gateway, smarthost)
    try:
        await send(gateway, SENDER, [CUSTOMER], damage(ticket_update(cc=None)))
    except smtplib.SMTPDataError as exc:
        assert exc.smtp_code in (451, 554)
    for received in smarthost.messages:
        assert leaks(received.data) == []


async def test_a_message_without_a_case_id_is_deferred_not_relayed(
    start_gateway: StartGateway, smarthost: Smarthost
) -> None:
    policy = relay_policy(smarthost.port)
    policy["notifications"]["link"].pop("find")
    gateway = await start_gateway(policy)
    original = ticket_update(cc=None, subject="A message without a tag").replace(b"support-12", b"nothing")
    with pytest.raises(smtplib.SMTPDataError) as deferred:
        await send(gateway, SENDER, [CUSTOMER], original)
    assert deferred.value.smtp_code == 451
    assert not smarthost.messages
    assert 'reason="no_case_id"' in generate_latest(gateway.metrics.registry).decode()


async def test_reject_on_error_answers_554(start_gateway: StartGateway, smarthost: Smarthost) -> None:
    policy = relay_policy(smarthost.port, on_error="reject")
    policy["notifications"]["link"].pop("find")
    gateway = await start_gateway(policy)
    original = ticket_update(cc=None, subject="untagged").replace(b"support-12", b"nothing")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        await send(gateway, SENDER, [CUSTOMER], original)
    assert refused.value.smtp_code == 554


async def test_several_messages_on_one_connection(start_gateway: StartGateway, smarthost: Smarthost) -> None:
    gateway = await relay(start_gateway, smarthost)

    def run() -> None:
        with smtplib.SMTP("127.0.0.1", gateway.smtp_port, timeout=10) as smtp:
            for _ in range(3):
                smtp.sendmail(SENDER, [CUSTOMER, AGENT], ticket_update(cc=None))
            smtp.rset()
            smtp.sendmail(SENDER, [AGENT], ticket_update(cc=None))
    await asyncio.to_thread(run)
    assert len(smarthost.messages) == 7


async def test_relay_outcomes_are_counted_and_logged_without_addresses(
    start_gateway: StartGateway, smarthost: Smarthost, capfd: pytest.CaptureFixture[str]
) -> None:
    policy = relay_policy(smarthost.port)
    policy["logging"] = {"access_log": True}
    gateway = await start_gateway(policy)
    await send(gateway, SENDER, [CUSTOMER], ticket_update(cc=None))
    metrics = generate_latest(gateway.metrics.registry).decode()
    assert 'privacy_gateway_smtp_relay_messages_total{outcome="relayed"} 1.0' in metrics
    gateway.runtime.access_log.flush()
    out = capfd.readouterr().out
    line = next(line for line in out.splitlines() if '"channel":"smtp"' in line)
    assert CUSTOMER not in line and SENDER not in line and "support-12" not in line
    assert '"outcome":"relayed"' in line



async def test_starttls_to_the_smarthost_is_verified_and_required(start_gateway: StartGateway, tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    (tmp_path / "smarthost-ca.pem").write_text(ca.ca_pem)
    secure = await Smarthost().start_tls(ca.server_context)
    plain = await Smarthost().start()
    try:
        policy = relay_policy(secure.port)
        policy["notifications"]["smtp"]["upstream"].update(tls="starttls", tls_ca="${file:smarthost-ca.pem}")
        gateway = await start_gateway(policy)
        assert await send(gateway, SENDER, [CUSTOMER], ticket_update(cc=None)) == {}
        assert len(secure.messages) == 1 and leaks(secure.messages[0].data) == []
        # A smarthost that offers no STARTTLS gets nothing in clear: the helpdesk keeps the message.
        policy["notifications"]["smtp"]["upstream"]["port"] = plain.port
        policy["notifications"]["smtp"]["listen"]["port"] = 0
        other = await start_gateway(policy)
        with pytest.raises(smtplib.SMTPSenderRefused) as deferred:
            await send(other, SENDER, [CUSTOMER], ticket_update(cc=None))
        assert deferred.value.smtp_code == 451 and not plain.messages
    finally:
        await secure.stop()
        await plain.stop()


async def test_a_reload_changes_the_rules_of_the_running_relay(
    start_gateway: StartGateway, smarthost: Smarthost, tmp_path: Path
) -> None:
    import yaml

    gateway = await relay(start_gateway, smarthost)
    await send(gateway, SENDER, [CUSTOMER], ticket_update(cc=None))
    assert leaks(smarthost.messages[-1].data) == []
    assert gateway.policy_path is not None
    doc = yaml.safe_load(gateway.policy_path.read_text())
    doc["notifications"]["default_action"] = "pass"
    gateway.policy_path.write_text(yaml.safe_dump(doc))
    assert await gateway.reload()
    original = ticket_update(cc=None)
    await send(gateway, SENDER, [CUSTOMER], original)
    assert smarthost.messages[-1].data == original
