"""The portal through the real gateway on loopback, its mail captured by a real SMTP sink (the demo's MailSink).

Submit, verify from the mailed link, receipt, the case in the helpdesk, the
status page; the form's errors, CSRF, rate limits, enumeration safety,
forged, expired and replayed links, the helpdesk and the smarthost down, and
no e-mail address in any log line.
"""

from __future__ import annotations

import logging
import re
import time

import pytest

from gateway.helpdesks.base import Case
from gateway.requests import tokens
from gateway.requests.compiled import ring_of
from gateway.requests.keys import PortalKeys
from tests.support.portal import PortalSite, StartPortal

EMAIL = "kari@example.no"


def metric(site: PortalSite, name: str, **labels: str) -> float:
    return site.gateway.metrics.registry.get_sample_value(f"privacy_gateway_{name}", labels) or 0.0


async def test_the_whole_flow_submit_verify_receipt_case_and_status(start_portal: StartPortal) -> None:
    site = await start_portal()
    status, body = await site.submit(EMAIL, "access", text="All my tickets, please", reference="support-7")
    assert status == 200 and "Check your mailbox" in body
    assert EMAIL not in body  # the page does not repeat the address
    (verify_mail,) = site.mails_to(EMAIL)
    assert verify_mail["From"] == "Example AS <privacy@example.org>" and verify_mail["Auto-Submitted"] == "auto-generated"
    assert "Confirm the request here (the link works for 24 hours)" in site.text_of(verify_mail)
    link = site.link_in(verify_mail)

    status, page, _ = await site.get(link)  # what a mail scanner's fetch does: nothing is confirmed
    assert status == 200 and "Confirm my request" in page and not site.helpdesk.opened
    status, raw, _ = await site.post(link)
    page = raw.decode()
    assert status == 200 and "Your request is received" in page
    request_id = site.request_id(page)
    assert "/_privacy/requests/status/" in page

    await site.wait_for(lambda: len(site.mails_to(EMAIL)) == 2 and len(site.helpdesk.opened) == 1)
    receipt = site.mails_to(EMAIL)[1]
    text = site.text_of(receipt)
    assert receipt["Subject"] == f"We received your privacy request {request_id}"
    assert f"Request: {request_id}" in text and "Type: Access" in text
    received = time.strftime("%Y-%m-%d", time.gmtime())
    due = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 30 * 86400))
    assert f"Received: {received}" in text and f"We answer by: {due}" in text
    assert "Data protection officer: dpo@example.org" in text

    (case,) = site.helpdesk.opened
    assert case.requester == EMAIL and case.idempotency_key == request_id
    assert request_id in case.title and "All my tickets, please" in case.body and "support-7" in case.body

    status, page, resp = await site.get(site.link_in(receipt, "status"))
    assert status == 200 and request_id in page and "In progress" in page and due in page
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"] and "<script" not in page
    assert metric(site, "data_subject_requests_total", type="access", result="verified") == 1
    assert metric(site, "data_subject_requests_total", type="access", result="case_opened") == 1


async def test_the_form_is_plain_html_in_two_languages_with_the_dpo_and_a_csrf_cookie(start_portal: StartPortal) -> None:
    site = await start_portal()
    status, page, resp = await site.get(site.prefix)
    assert status == 200 and "<script" not in page and 'lang="en"' in page
    for kind in ("access", "portability", "rectification", "erasure", "objection", "withdraw_consent"):
        assert f'name="type" value="{kind}"' in page
    assert '<label for="email">Your e-mail address</label>' in page
    assert "Data protection officer: Kari Nordmann" in page and 'href="mailto:dpo@example.org"' in page
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("pgw_requests=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Path=/_privacy/requests" in cookie
    assert resp.headers["X-Frame-Options"] == "DENY" and resp.headers["Cache-Control"] == "no-store"
    _, norwegian, _ = await site.get(site.prefix, headers={"Accept-Language": "nb-NO,nb;q=0.9"})
    assert 'lang="nb"' in norwegian and "Personvernrettighetene dine" in norwegian and "Personvernombud" in norwegian
    _, asked, _ = await site.get(site.prefix + "?lang=nb")
    assert "Send forespørsel" in asked


async def test_only_the_offered_types_are_on_the_form_and_accepted(start_portal: StartPortal) -> None:
    site = await start_portal(types=["access", "erasure"])
    page = await site.form()
    assert 'value="access"' in page and 'value="erasure"' in page and 'value="portability"' not in page
    status, body = await site.submit(EMAIL, "portability")
    assert status == 422 and "Choose what you would like to ask." in body


async def test_a_form_with_errors_comes_back_with_them_and_what_was_typed(start_portal: StartPortal) -> None:
    site = await start_portal()
    status, body = await site.submit("not-an-address", "vibes", reference="x" * 101, text="Mine <b>&")
    assert status == 422
    assert 'role="alert"' in body and "Enter a valid e-mail address." in body
    assert "Choose what you would like to ask." in body and "A case number is at most 100 characters" in body
    assert 'value="not-an-address"' in body and "Mine &lt;b&gt;&amp;</textarea>" in body
    assert 'aria-invalid="true"' in body and 'aria-describedby="email-hint email-error"' in body
    assert "Traceback" not in body and not site.sink.messages
    assert metric(site, "data_subject_requests_total", type="unknown", result="invalid") == 1


async def test_a_submission_without_the_forms_cookie_and_token_is_refused(start_portal: StartPortal) -> None:
    site = await start_portal()
    status, body, resp = await site.post(site.prefix, {"type": "access", "email": EMAIL, "token": "r1.forged"})
    assert status == 403 and b"This form has expired" in body and resp.headers["X-Gateway-Reason"] == "requests_forbidden"
    token = await site.token()
    site.session.cookie_jar.clear()
    status, _, _ = await site.post(site.prefix, {"type": "access", "email": EMAIL, "token": token})
    assert status == 403 and not site.sink.messages


async def test_known_and_unknown_addresses_get_the_same_answer(start_portal: StartPortal) -> None:
    site = await start_portal()
    known = "customer@example.no"
    site.helpdesk.add(Case("7", "support-7", "Printer", "open", "support", "2025-01-01", "2025-01-02", known))
    await site.verify(known)  # known to the helpdesk and to the portal
    answers = []
    for address in (known, "nobody-at-all@example.no"):
        status, body = await site.submit(address, "erasure")
        answers.append((status, re.sub(r'value="[^"]*"', "", body)))
    assert answers[0] == answers[1] and answers[0][0] == 200
    assert site.mails_to("nobody-at-all@example.no")  # a stranger's address gets the same mail a customer's does
    assert "find_cases" not in site.helpdesk.calls  # nothing is looked up before an address is verified


async def test_rate_limits_per_client_and_per_address_answer_429(start_portal: StartPortal) -> None:
    site = await start_portal(rate_limits={"per_client": {"requests": 3, "per": "1h"},
                                           "per_email": {"requests": 2, "per": "1d"}})
    assert (await site.submit(EMAIL))[0] == 200
    assert (await site.submit(EMAIL))[0] == 200
    status, body = await site.submit(EMAIL)
    assert status == 429 and "Too many requests were sent for this e-mail address" in body
    status, body = await site.submit("other@example.no")
    assert status == 429 and "Too many requests were sent from your network" in body
    async with site.session.post(site.base + site.prefix, data={"email": "x"}) as resp:
        assert resp.status == 429 and 0 < int(resp.headers["Retry-After"]) <= 3600
    assert len(site.sink.messages) == 2
    assert metric(site, "data_subject_requests_total", type="access", result="rate_limited") == 2


async def test_forged_expired_and_replayed_links_get_403_and_410(start_portal: StartPortal) -> None:
    site = await start_portal()
    await site.submit(EMAIL)
    link = site.link_in(site.mails_to(EMAIL)[0])
    token = link.rpartition("/")[2]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for path in (f"{site.prefix}/verify/{forged}", f"{site.prefix}/verify/nonsense", f"{site.prefix}/status/{token}"):
        status, body, resp = await site.get(path)
        assert status == 403 and "This link is not valid" in body, path
        assert resp.headers["X-Gateway-Reason"] == "requests_link_forged"
    status, raw, _ = await site.post(f"{site.prefix}/verify/{forged}")
    assert status == 403 and not site.helpdesk.opened

    keys = PortalKeys(ring_of(site.gateway.runtime.policy.requests))
    nonce = tokens.read_token(keys, token, "verify", time.time())
    expired = tokens.make_token(keys, "verify", nonce, time.time() - 1)
    status, body, resp = await site.get(f"{site.prefix}/verify/{expired}")
    assert status == 410 and "This link has expired" in body and resp.headers["X-Gateway-Reason"] == "requests_link_expired"

    assert (await site.post(link))[0] == 200
    status, raw, resp = await site.post(link)  # replayed
    assert status == 410 and b"already used" in raw and resp.headers["X-Gateway-Reason"] == "requests_link_used"
    status, body, _ = await site.get(link)
    assert status == 410 and "already used" in body
    assert len(await site.gateway.runtime.store.list_requests()) == 1  # type: ignore[union-attr]


async def test_a_verification_past_its_ttl_creates_no_request(start_portal: StartPortal) -> None:
    site = await start_portal(verification_ttl="1s")
    await site.submit(EMAIL)
    link = site.link_in(site.mails_to(EMAIL)[0])
    store = site.gateway.runtime.store
    assert store is not None
    deadline = time.time() + 5
    status, body = 200, ""
    while status == 200 and time.time() < deadline:  # the link works for a second, then never again
        status, body, _ = await site.get(link)
    assert status == 410 and "expired" in body
    assert (await site.post(link))[0] == 410
    assert await store.list_requests() == []


async def test_helpdesk_down_then_up_the_request_is_kept_retried_and_opened_once(start_portal: StartPortal) -> None:
    site = await start_portal()
    site.helpdesk.down = True
    page = await site.verify(EMAIL, "erasure")
    request_id = site.request_id(page)
    await site.wait_for(lambda: site.helpdesk.calls.count("open_case") >= 3)  # retried with backoff
    await site.wait_for(lambda: len(site.mails_to(EMAIL)) == 2)  # the receipt does not wait for the helpdesk
    store = site.gateway.runtime.store
    assert store is not None
    kept = await store.get_request(request_id)
    assert kept is not None and kept.state == "received" and kept.last_error == "helpdesk_unavailable"
    status, body, _ = await site.get(site.link_in(site.mails_to(EMAIL)[1], "status"))
    assert status == 200 and "Received" in body
    assert metric(site, "data_subject_request_errors_total", work="case", retried="true") >= 3

    site.helpdesk.down = False
    await site.wait_for(lambda: len(site.helpdesk.opened) == 1)
    await site.wait_for(lambda: site.helpdesk.calls.count("open_case") == len(site.helpdesk.calls))
    opened = await store.get_request(request_id)
    assert opened is not None and opened.state == "in_progress" and opened.case_reference == "DSAR-101"
    assert opened.work == 0 and opened.last_error == ""
    calls = site.helpdesk.calls.count("open_case")
    await site.gateway.requests_worker.run_once()
    assert site.helpdesk.calls.count("open_case") == calls and len(site.helpdesk.opened) == 1  # once


async def test_the_smarthost_down_at_submission_is_a_503_and_a_refused_address_looks_like_any(
        start_portal: StartPortal) -> None:
    site = await start_portal()
    site.sink.refuse_recipients["refused@example.no"] = "550 5.1.1 no such user"
    ok_status, ok_body = await site.submit("someone@example.no")
    refused_status, refused_body = await site.submit("refused@example.no")
    assert (ok_status, re.sub(r'value="[^"]*"', "", ok_body)) == (refused_status, re.sub(r'value="[^"]*"', "", refused_body))
    await site.sink.stop()
    status, body = await site.submit("third@example.no")
    assert status == 503 and "Please try again shortly" in body


async def test_no_email_address_or_token_reaches_a_log_line(
        start_portal: StartPortal, caplog: pytest.LogCaptureFixture, capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    caplog.set_level(logging.DEBUG)
    site = await start_portal(extra={"logging": {"access_log": True}})
    address = "secret.person@example.no"
    site.helpdesk.down = True
    page = await site.verify(address, "access")
    await site.wait_for(lambda: site.helpdesk.calls.count("open_case") >= 2)
    site.helpdesk.down = False
    await site.wait_for(lambda: len(site.helpdesk.opened) == 1)
    await site.submit("not an address")
    assert site.request_id(page)
    await site.get(site.link_in(site.mails_to(address)[-1], "status"))
    ours = [r for r in caplog.records if r.name.startswith("gateway")]  # not the test's SMTP sink
    logged = [r.getMessage() + repr(r.__dict__) for r in ours]
    assert any("verified" in line for line in logged) and any("tried again" in line for line in logged)
    assert not [line for line in logged if "secret.person" in line]
    site.gateway.runtime.access_log.flush()
    access = capfdbinary.readouterr().out.decode()
    assert '"path":"/_privacy/requests/verify/-"' in access and '"path":"/_privacy/requests/status/-"' in access
    token = site.link_in(site.mails_to(address)[0]).rpartition("/")[2]
    assert "secret.person" not in access and token not in access


async def test_other_paths_and_methods_under_the_prefix_never_reach_the_helpdesk(start_portal: StartPortal) -> None:
    site = await start_portal()
    status, body, resp = await site.get(site.prefix + "/elsewhere")
    assert status == 404 and resp.headers["X-Gateway-Reason"] == "requests_not_found"
    async with site.session.delete(site.base + site.prefix) as deleted:
        assert deleted.status == 405 and deleted.headers["Allow"] == "GET, POST"
    status, raw, resp = await site.post(site.prefix + "/verify/x")  # no body at all
    assert status == 403 and resp.headers["X-Gateway-Reason"] == "requests_link_forged"
    _, echo, _ = await site.get("/echo")
    assert "/_privacy/requests" not in echo  # the upstream never saw one of them


async def test_the_consent_id_of_the_asking_browser_is_kept_with_the_request(start_portal: StartPortal) -> None:
    site = await start_portal(extra={"consent": {
        "enabled": True, "keys": [{"id": "c1", "secret": "raw:" + "a-consent-cookie-key-0000000000001"}],
        "categories": {"analytics": {"cookies": [{"name": "_ga"}]}}}})
    async with site.session.post(site.base + "/_privacy/consent", json={"action": "accept"}) as resp:
        assert resp.status == 200
    page = await site.verify(EMAIL)
    store = site.gateway.runtime.store
    assert store is not None
    request = await store.get_request(site.request_id(page))
    assert request is not None
    from gateway.requests import lifecycle

    private = lifecycle.unseal(PortalKeys(ring_of(site.gateway.runtime.policy.requests)), request.sealed,
                               request.request_id)
    assert len(private.consents) == 1 and await store.receipts_for(private.consents[0])
    assert EMAIL not in request.sealed and EMAIL not in request.email_hash
    assert private.email == EMAIL and private.language == "en"


async def test_two_replicas_on_postgresql_open_the_case_once_even_after_the_helpdesk_was_down(
        pg_dsn: str, pg_schema: str, start_portal: StartPortal) -> None:
    from tests.support.portal import RecordingHelpdesk
    from tests.support.postgres import dsn_with_schema

    shared = RecordingHelpdesk()
    shared.down = True
    store = {"store": {"url": dsn_with_schema(pg_dsn, pg_schema)}}
    first = await start_portal(extra=store, recording=shared)
    second = await start_portal(extra=store, recording=shared)
    request_id = first.request_id(await first.verify(EMAIL, "erasure"))
    await first.wait_for(lambda: shared.calls.count("open_case") >= 4)  # both replicas' workers keep trying
    shared.down = False
    await first.wait_for(lambda: len(shared.opened) == 1)
    for site in (first, second):
        await site.gateway.requests_worker.run_once()
    assert len(shared.opened) == 1 and shared.opened[0].idempotency_key == request_id
    status, body, _ = await second.get(first.link_in(first.mails_to(EMAIL)[1], "status"))
    assert status == 200 and "In progress" in body  # either replica answers for the request
    assert len([m for m in first.sink.messages + second.sink.messages if "We received" in m.data.decode()]) == 1
