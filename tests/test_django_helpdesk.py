"""policies/django-helpdesk.yaml in front of a real django-helpdesk (gunicorn, SQLite), over real sockets.

A customer submits a ticket with attachments and reads it back, an agent logs
in from the office, replies and logs out; the staff area, the API, the
datatables endpoints and the admin stay closed to outside addresses;
attachments come back byte for byte; only classified cookies pass.
X-Forwarded-For stands in for the visitor's address (the policy trusts
127.0.0.1 as a proxy, for this).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.helpdesk import (
    DIRECT,
    OFFICE,
    OUTSIDE,
    Helpdesk,
    MakeVisitor,
    StartHelpdeskGateway,
    Visitor,
    attachment_links,
    consent_value,
    form_with,
    forms,
    seen_cookies,
    set_cookie_names,
    start_helpdesk,
)

# A customer's notes, full of external links: a download must not touch them.
NOTES = (
    "Steps to reproduce (see https://docs.example.org/install?utm_source=newsletter&step=3)\r\n"
    "Log: <a href=\"https://tracker.example.net/issue/42\">tracker</a> http://203.0.113.7/x.png\r\n"
    "\u00c6\u00f8\u00e5 \u2014 end of notes\n"
).encode()
FNR = "01010012356"
CARD = "4111 1111 1111 1111"
EXTERNAL_HREF = re.compile(r"""href=["']https?://docs\.example\.org""")
SCREENSHOT = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64 + secrets.token_bytes(4096)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


Visit = Callable[[str], Visitor]


@pytest.fixture
async def visit(helpdesk_gateway: StartHelpdeskGateway, helpdesk_visitors: MakeVisitor) -> Visit:
    """``visit(address)``: a new browser at ``address``, in front of the policy's gateway."""
    gateway = await helpdesk_gateway()
    return lambda address: helpdesk_visitors(gateway, address)


async def submit_ticket(customer: Visitor, helpdesk: Helpdesk, title: str, email: str, body_extra: str = "",
                        ) -> tuple[str, str]:
    """The public form, with the notes attached and consent given (after a refusal without it); returns the
    public ticket page's path and its HTML."""
    response, body = await customer.get("/helpdesk/tickets/submit/")
    assert response.status == 200, body[:500]
    assert "csrftoken" in set_cookie_names(response)
    form = form_with(body.decode(), "submitter_email")
    assert form.method == "POST" and form.enctype == "multipart/form-data"
    assert form.fields["csrfmiddlewaretoken"] and "attachment" in form.files
    # The gateway's consent checkbox is in django-helpdesk's form, unticked: ticking it sends its value.
    consent = consent_value(body.decode())
    assert "privacy_consent" not in form.fields
    fields = {
        "queue": str(helpdesk.queue_id), "title": title, "submitter_email": email, "priority": "3",
        "body": f"The installer stops; [the guide](https://docs.example.org/install?utm_source=x) says otherwise. {body_extra}",
    }
    response, body = await customer.submit(form, "/helpdesk/tickets/submit/", fields,
                                           {"attachment": ("notes.txt", NOTES, "text/plain")})
    assert response.status == 422 and b"Your consent is needed" in body  # not ticked: nothing reached the helpdesk
    response, body = await customer.submit(
        form, "/helpdesk/tickets/submit/", {**fields, "privacy_consent": consent},
        {"attachment": ("notes.txt", NOTES, "text/plain")},
    )
    page = body.decode()
    assert response.status == 200, page[:2000]
    assert response.history and response.history[0].status == 302  # the helpdesk redirects to the ticket
    assert response.url.path == "/helpdesk/view/", page[:2000]
    assert title in page
    assert not EXTERNAL_HREF.search(page) and "/_l/" in page  # urlized by the helpdesk, signed by the gateway
    return response.url.path_qs, page


async def test_customer_submits_agent_replies_and_logs_out(visit: Visit, django_helpdesk: Helpdesk) -> None:
    customer = visit(OUTSIDE)
    title = f"Installer stops {secrets.token_hex(4)}"
    email = f"kari.{secrets.token_hex(3)}@example.com"

    # The public form with an attachment, then the customer's own ticket page.
    ticket_path, page = await submit_ticket(customer, django_helpdesk, title, email,
                                            f"Mitt fødselsnummer er {FNR}, kortet mitt {CARD}.")
    query = parse_qs(urlsplit(ticket_path).query)
    assert query["email"] == [email] and query["key"][0]
    ticket_id = int(query["ticket"][0].rsplit("-", 1)[1])  # "support-7"
    links = attachment_links(page)
    assert set(links) == {"notes.txt"}

    # The attachment, downloaded from outside, is the file that was uploaded, byte for byte.
    response, body = await customer.get(links["notes.txt"])
    assert response.status == 200
    assert sha256(body) == sha256(NOTES), (response.headers, body[:300])

    # An agent at the office: log in through the login form (CSRF token from the form).
    agent = visit(OFFICE)
    response, body = await agent.get("/helpdesk/login/")
    assert response.status == 200
    login = form_with(body.decode(), "password")
    response, body = await agent.submit(
        login, "/helpdesk/login/", {"username": django_helpdesk.staff_user, "password": django_helpdesk.staff_password}
    )
    assert response.status == 200, body[:1000]
    assert "sessionid" in set_cookie_names(response) and agent.cookie("sessionid")

    response, body = await agent.get("/helpdesk/tickets/")
    assert response.status == 200 and "sessionid" in seen_cookies(response)
    assert response.url.path == "/helpdesk/tickets/", "the session did not reach the helpdesk"

    response, body = await agent.get(f"/helpdesk/tickets/{ticket_id}/")
    staff_page = body.decode()
    assert response.status == 200, staff_page[:1000]
    assert title in staff_page and "notes.txt" in staff_page
    # The customer's external link in the ticket text (markdown here) is signed by the gateway.
    assert not EXTERNAL_HREF.search(staff_page) and "/_l/" in staff_page
    # The card never reached django-helpdesk (masked at intake); the national ID is highlighted for the agent.
    assert CARD not in staff_page and "*" * 15 + "1111" in staff_page
    assert f'<mark class="privacy-gateway-sensitive" data-kind="no_fnr">{FNR}</mark>' in staff_page
    assert re.search(r"This page contains \d+ national ID numbers?\.", staff_page)  # the text and its form copy

    # The ticket list's data endpoint answers the office (its query is the page's base64 JSON).
    response, body = await agent.get("/helpdesk/datatables_ticket_list/e30=")
    assert response.status == 200 and "X-Gateway-Reason" not in response.headers

    # A reply with an attachment.
    reply = form_with(staff_page, "comment")
    assert reply.attrs.get("id") == "ticket-respond-form"
    comment = f"Fixed in build {secrets.token_hex(3)}; run the installer again."
    response, body = await agent.submit(
        reply, f"/helpdesk/tickets/{ticket_id}/",
        {"comment": comment, "public": "1"}, {"attachment": ("screenshot.png", SCREENSHOT, "image/png")},
    )
    assert response.status == 200, body[:1000]
    assert response.history and response.history[0].url.path == f"/helpdesk/tickets/{ticket_id}/update/"
    assert comment in body.decode()

    # The same logged-in session from an outside address is refused: the firewall judges the address.
    stolen = visit(OUTSIDE)
    stolen.session.cookie_jar.update_cookies({"sessionid": agent.cookie("sessionid") or ""}, response.url)
    response, _ = await stolen.get(f"/helpdesk/tickets/{ticket_id}/")
    assert response.status == 403 and response.headers["X-Gateway-Reason"] == "firewall_denied"

    # Logout (a POST with the CSRF token of the page's logout form).
    logout = next(f for f in forms(staff_page) if f.action == "/helpdesk/logout/")
    response, body = await agent.submit(logout, "/helpdesk/logout/", {})
    assert response.status == 200, body[:1000]
    assert not agent.cookie("sessionid")
    response, _ = await agent.get("/helpdesk/tickets/", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/helpdesk/login/")

    # The customer sees the public reply and downloads its attachment byte for byte.
    response, body = await customer.get(ticket_path)
    page = body.decode()
    assert response.status == 200 and comment in page
    links = attachment_links(page)
    assert set(links) == {"notes.txt", "screenshot.png"}
    for name, content in (("notes.txt", NOTES), ("screenshot.png", SCREENSHOT)):
        response, body = await customer.get(links[name])
        assert response.status == 200
        assert sha256(body) == sha256(content), f"{name} altered on the way: {dict(response.headers)}"

    # The helpdesk mailed the customer (its mails land in the fixture's mail directory).
    assert any(email in str(mail["To"]) for mail in django_helpdesk.mails())


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/helpdesk/dashboard/", 403),
        ("GET", "/helpdesk/tickets/", 403),
        ("GET", "/helpdesk/tickets/1/", 403),
        ("POST", "/helpdesk/tickets/1/update/", 403),
        ("GET", "/helpdesk/login/", 403),
        ("GET", "/helpdesk/reports/", 403),
        ("GET", "/helpdesk/rss/", 403),
        ("GET", "/helpdesk/kanban/", 403),
        ("GET", "/helpdesk/tickets/submit_iframe/", 403),
        ("GET", "/helpdesk/api/", 403),
        ("GET", "/helpdesk/api/tickets/", 403),
        ("POST", "/helpdesk/api/users/", 403),
        ("GET", "/helpdesk/datatables_ticket_list/e30=", 403),
        ("GET", "/helpdesk/timeline_ticket_list/e30=", 403),
        ("GET", "/admin/", 404),
        ("GET", "/admin/login/", 404),
        ("POST", "/helpdesk/view/", 403),  # the public ticket page is read-only
        ("GET", "/not-a-helpdesk-page/", 403),  # default deny
    ],
)
async def test_staff_area_is_refused_from_outside(visit: Visit, method: str, path: str, status: int) -> None:
    response, _ = await visit(OUTSIDE).request(method, path, allow_redirects=False)
    assert response.status == status
    if status == 404:  # hidden: reads as an ordinary Not Found (the helpdesk itself would redirect to its login)
        assert "X-Gateway-Reason" not in response.headers and "Location" not in response.headers
    else:
        assert response.headers["X-Gateway-Reason"] == "firewall_denied"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/helpdesk/dashboard/", 302),  # to the login page
        ("/helpdesk/login/", 200),
        ("/helpdesk/api/tickets/", 403),  # the API's own answer: not logged in
        ("/helpdesk/datatables_ticket_list/e30=", 302),
        ("/admin/", 302),
    ],
)
async def test_staff_area_reaches_the_helpdesk_from_the_office(visit: Visit, path: str, status: int) -> None:
    response, _ = await visit(OFFICE).get(path, allow_redirects=False)
    assert response.status == status
    assert "X-Gateway-Reason" not in response.headers


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/helpdesk/", 200),
        ("/helpdesk/tickets/submit/", 200),
        ("/helpdesk/kb/", 200),
        ("/helpdesk/change_language/", 200),
        ("/static/helpdesk/css/helpdesk-extend.css", 200),
        # Without ticket, e-mail and key the helpdesk itself refuses (HELPDESK_VIEW_A_TICKET_PUBLIC is unset).
        ("/helpdesk/view/", 403),
    ],
)
async def test_public_pages_are_open(visit: Visit, path: str, status: int) -> None:
    response, body = await visit(OUTSIDE).get(path, allow_redirects=False)
    assert response.status == status, body[:500]
    assert "X-Gateway-Reason" not in response.headers


async def test_only_classified_cookies_pass(visit: Visit) -> None:
    visitor = visit(OUTSIDE)
    # The helpdesk's stand-in analytics sets _ga and an unclassified `tracker`; only csrftoken reaches the browser.
    response, _ = await visitor.get("/helpdesk/tickets/submit/")
    assert response.status == 200
    assert "csrftoken" in set_cookie_names(response)
    assert not {"_ga", "tracker"} & set_cookie_names(response)

    # Cookies the browser sends: csrftoken, sessionid, messages pass; analytics and unclassified ones do not.
    cookies = {"csrftoken": visitor.cookie("csrftoken") or "", "sessionid": "x", "messages": "y",
               "_ga": "GA1.1.1.1", "tracker": "t", "django_language": "nb"}
    response, _ = await visitor.get("/helpdesk/", headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())})
    assert response.status == 200
    assert seen_cookies(response) == {"csrftoken", "sessionid", "messages"}

    # django_language is a preference: without consent, the language switch sets nothing.
    response, body = await visitor.get("/helpdesk/change_language/")
    switch = form_with(body.decode(), "language")
    response, body = await visitor.submit(switch, "/i18n/setlang/", {"language": "nb", "next": "/helpdesk/"})
    assert response.status == 200
    assert "django_language" not in set_cookie_names(response) and not visitor.cookie("django_language")

    # Consent to preferences (not analytics): the language cookie is kept and reaches the helpdesk.
    response, _ = await visitor.request(
        "POST", "/_privacy/consent", json={"choices": {"preferences": True}}, headers={"Origin": visitor.base}
    )
    assert response.status == 200
    response, body = await visitor.submit(switch, "/i18n/setlang/", {"language": "nb", "next": "/helpdesk/"})
    assert response.status == 200
    assert visitor.cookie("django_language") == "nb"
    response, body = await visitor.get("/helpdesk/")
    assert "django_language" in seen_cookies(response)
    assert '<html lang="nb"' in body.decode() or 'lang="nb"' in body.decode()
    assert not {"_ga", "tracker"} & seen_cookies(response)
    assert not {"_ga", "tracker"} & set_cookie_names(response)


def test_a_helpdesk_of_its_own_takes_settings_and_stops(tmp_path: Path) -> None:
    """start_helpdesk: another database and settings for a test that needs them; nothing left running after."""
    settings = json.dumps({"HELPDESK_REDIRECT_TO_LOGIN_BY_DEFAULT": True})
    with start_helpdesk(tmp_path / "own", env={"HELPDESK_SETTINGS_JSON": settings}) as helpdesk:
        with DIRECT.open(helpdesk.url + "/helpdesk/tickets/submit/", timeout=10) as response:
            assert response.url.endswith("/helpdesk/login/")
        process = helpdesk.process
    assert process is not None and process.poll() is not None
