"""The built-in demo helpdesk: the upstream the gateway protects in the demo.

A small aiohttp application that behaves like a real helpdesk where it matters
to the gateway: HTML pages full of external links, a login that sets a session
cookie and an analytics cookie, an agent area under ``/agent/`` with
(fictional) customer data, a JSON API, WebSocket live updates, and streaming
endpoints (see :mod:`gateway.demo.tools`). With an API token it also offers a
REST API in django-helpdesk's shape under ``/helpdesk/api/`` (:mod:`.api`),
so the gateway's django-helpdesk adapter can find, read and anonymise its
tickets. Its pages and both APIs show the same tickets (:class:`.data.Desk`).

Run it alone with ``python -m gateway.demo.helpdesk --port 8081``. It is
independent of the proxy: nothing here imports the gateway's own code.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import hmac
import json
import logging
import secrets
import signal
import time
from collections import OrderedDict
from html import escape

from aiohttp import web
from aiohttp.log import access_logger

from . import api, pages, tools
from .data import Desk, Ticket
from .mail import ApiCall, ApiSink, MailSink, send_api, send_notification

SESSION_COOKIE = "sessionid"
ANALYTICS_COOKIE = "_ga"
LANGUAGE_COOKIE = "lang"
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_YEAR = 365 * 24 * 3600

log = logging.getLogger("gateway.demo.helpdesk")


class Sessions:
    """Signed-in agents by session id, in memory; the oldest are forgotten beyond ``capacity``."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._users: OrderedDict[str, str] = OrderedDict()
        self._capacity = capacity

    def create(self, user: str) -> str:
        session_id = secrets.token_urlsafe(24)
        self._users[session_id] = user
        while len(self._users) > self._capacity:
            self._users.popitem(last=False)
        return session_id

    def user(self, session_id: str | None) -> str | None:
        return None if session_id is None else self._users.get(session_id)

    def drop(self, session_id: str | None) -> None:
        if session_id is not None:
            self._users.pop(session_id, None)


SESSIONS = web.AppKey("sessions", Sessions)
# Where the demo's notifications go (the gateway's SMTP relay), and the smarthost's sink behind it.
RELAY = web.AppKey("relay", tuple)
OUTBOX = web.AppKey("outbox", MailSink)
# The gateway's egress route for SendGrid, and what reached the stand-in SendGrid (this helpdesk) behind it.
EGRESS = web.AppKey("egress", str)
API_OUTBOX = web.AppKey("api_outbox", ApiSink)
# The gateway's data-subject request portal opens its cases here, by a signed webhook (the demo has no ticket API).
WEBHOOK_SECRET = web.AppKey("webhook_secret", bytes)
PRIVACY_CASES = web.AppKey("privacy_cases", list)
# The tickets this helpdesk shows and its API changes.
DESK = web.AppKey("desk", Desk)
routes = web.RouteTableDef()


def _user(request: web.Request) -> str | None:
    return request.app[SESSIONS].user(request.cookies.get(SESSION_COOKIE))


def _set_analytics_cookie(response: web.StreamResponse) -> None:
    """What an analytics tag does: a long-lived visitor id, readable from JavaScript."""
    value = f"GA1.1.{secrets.randbelow(10**10)}.{int(time.time())}"
    response.set_cookie(ANALYTICS_COOKIE, value, max_age=2 * _YEAR, path="/", samesite="Lax")


def _page(request: web.Request, title: str, body: str, *, status: int = 200, script: str = "") -> web.Response:
    lang = request.cookies.get(LANGUAGE_COOKIE, "en")
    html = pages.layout(title, body, user=_user(request), lang=lang if lang in pages.LANGUAGES else "en", script=script)
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    if ANALYTICS_COOKIE not in request.cookies:
        _set_analytics_cookie(response)
    response.enable_compression()  # gzip/deflate when the client accepts it, like most helpdesks
    return response


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _ticket_or_404(request: web.Request) -> Ticket:
    ticket = request.app[DESK].get(int(request.match_info["id"]))
    if ticket is None:
        raise web.HTTPNotFound(text="No such ticket\n")
    return ticket


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    lang = request.cookies.get(LANGUAGE_COOKIE, "en")
    return _page(request, "Help centre", pages.home(lang, request.app[DESK].tickets()))


@routes.get(r"/tickets/{id:\d{1,9}}")
async def ticket(request: web.Request) -> web.Response:
    found = _ticket_or_404(request)
    body = pages.ticket_page(found)
    if RELAY in request.app:
        body += (f'<form method="post" action="/tickets/{found.id}/notify"><button>Send the notification '
                 'e-mail through the gateway</button></form>')
    if EGRESS in request.app:
        body += (f'<form method="post" action="/tickets/{found.id}/notify-api"><button>Send it through the '
                 'mail API (SendGrid) instead</button></form>')
    return _page(request, f"#{found.id} {found.subject}", body)


@routes.post(r"/tickets/{id:\d{1,9}}/notify")
async def notify(request: web.Request) -> web.Response:
    """Send the ticket's full notification to the relay, as a helpdesk does on a reply."""
    found = _ticket_or_404(request)
    if RELAY not in request.app:
        raise web.HTTPNotFound()
    host, port = request.app[RELAY]
    try:
        await send_notification(found, host, port)
    except Exception as exc:  # the relay's answer (451, 554 ...) is what the demo shows
        return _page(request, "Not sent", f"<h1>Not sent</h1><p>{escape(str(exc))}</p>", status=502)
    return _see_other("/outbox")


@routes.post(r"/tickets/{id:\d{1,9}}/notify-api")
async def notify_api(request: web.Request) -> web.Response:
    """Send the ticket's notification as a SendGrid API call to the gateway's egress listener."""
    found = _ticket_or_404(request)
    if EGRESS not in request.app:
        raise web.HTTPNotFound()
    try:
        status = await send_api(found, request.app[EGRESS])
    except Exception as exc:  # the demo shows what went wrong
        return _page(request, "Not sent", f"<h1>Not sent</h1><p>{escape(str(exc))}</p>", status=502)
    if status >= 300:
        return _page(request, "Not sent", f"<h1>Not sent</h1><p>The gateway answered {status}.</p>", status=502)
    return _see_other("/outbox")


@routes.post("/v3/mail/send")
async def sendgrid_stand_in(request: web.Request) -> web.Response:
    """SendGrid's mail send, as the demo's provider behind the egress listener: keeps the call, answers 202."""
    if API_OUTBOX not in request.app:
        raise web.HTTPNotFound()
    request.app[API_OUTBOX].calls.append(ApiCall(request.path, await request.read()))
    return web.Response(status=202)


def _signed(secret: bytes, header: str, body: bytes, *, tolerance: float = 300) -> bool:
    """Whether ``X-Privacy-Gateway-Signature: t=<unix>,v1=<hex>`` signs ``body``: HMAC-SHA256 over ``<t>.body``."""
    parts = [part.strip().partition("=") for part in header.split(",")]
    stamps = [value for key, _, value in parts if key == "t" and value.isdigit()]
    signatures = [value for key, _, value in parts if key == "v1"]
    if len(stamps) != 1 or not signatures or abs(time.time() - int(stamps[0])) > tolerance:
        return False
    expected = hmac.new(secret, stamps[0].encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, signature) for signature in signatures)


@routes.post("/webhooks/privacy")
async def privacy_webhook(request: web.Request) -> web.Response:
    """A data-subject request from the gateway's portal, opened as a case (once per delivery id)."""
    if WEBHOOK_SECRET not in request.app:
        raise web.HTTPNotFound()
    body = await request.read()
    if not _signed(request.app[WEBHOOK_SECRET], request.headers.get("X-Privacy-Gateway-Signature", ""), body):
        return web.json_response({"error": "bad signature"}, status=401)
    try:
        event = json.loads(body)
        case = event["case"]
        delivery = str(event["delivery"])
    except (ValueError, KeyError, TypeError):
        return web.json_response({"error": "not a case.open event"}, status=400)
    cases = request.app[PRIVACY_CASES]
    for number, (known, _) in enumerate(cases, start=1):
        if known == delivery:  # the same delivery again (a retry): the case it opened
            return web.json_response({"id": str(number), "reference": f"dsar-{number}"})
    cases.append((delivery, case))
    number = len(cases)
    return web.json_response({"id": str(number), "reference": f"dsar-{number}"}, status=201)


@routes.get("/agent/privacy-requests")
async def privacy_requests(request: web.Request) -> web.Response:
    """The data-subject requests queue: what the portal opened here, newest first."""
    cases = request.app.get(PRIVACY_CASES, [])
    items = "".join(
        f"<li><h2>dsar-{number}: {escape(str(case.get('title', '')))}</h2><pre>{escape(str(case.get('body', '')))}"
        "</pre></li>" for number, (_, case) in reversed(list(enumerate(cases, start=1))))
    body = f"<h1>Data-subject requests</h1><ol reversed>{items}</ol>" if items else (
        "<h1>Data-subject requests</h1><p>None yet: send one at /_privacy/requests.</p>")
    return _page(request, "Data-subject requests", body)


@routes.get("/contact")
async def contact_form(request: web.Request) -> web.Response:
    return _page(request, "Contact us", """<h1>Contact us</h1>
<form class="box" method="post" action="/contact">
<label>Your message <textarea name="message" rows="4" cols="60">My card is 4111 1111 1111 1111 and my
fødselsnummer is 01010012356, please call me.</textarea></label>
<p><button>Send</button></p></form>""")


@routes.post("/contact")
async def contact(request: web.Request) -> web.Response:
    """What the helpdesk would store of a contact form: the gateway's sensitive-data rules act before this."""
    form = await request.post()  # bounded by client_max_size (1 MiB)
    message = form.get("message")
    flags = request.headers.get("X-Privacy-Flags", "none")
    text = message if isinstance(message, str) else ""
    return _page(request, "Received", f"<h1>The helpdesk received</h1><pre>{escape(text)}</pre>"
                                      f"<p>X-Privacy-Flags: {escape(flags)}</p>")


@routes.get("/tickets/new")
async def new_ticket_form(request: web.Request) -> web.Response:
    return _page(request, "New ticket", """<h1>Open a ticket</h1>
<form class="box" method="post" action="/tickets/new">
<label>Your e-mail <input name="email" type="email" required maxlength="200"></label>
<label>Subject <input name="subject" required maxlength="200"></label>
<label>Your message <textarea name="message" rows="4" cols="60" required></textarea></label>
<p><button>Open the ticket</button></p></form>""")


@routes.post("/tickets/new")
async def new_ticket(request: web.Request) -> web.Response:
    """What the helpdesk would store of a new ticket (the gateway's legal-basis and sensitive rules act first)."""
    form = await request.post()  # bounded by client_max_size (1 MiB)
    fields = "".join(f"<li><code>{escape(str(name))}</code>: {escape(str(value))}</li>" for name, value in form.items())
    return _page(request, "Ticket opened", f"<h1>The helpdesk received</h1><ul>{fields}</ul>")


@routes.get("/outbox")
async def outbox(request: web.Request) -> web.Response:
    """What the smarthost received from the relay, newest first: what would reach the mailboxes."""
    if OUTBOX not in request.app:
        raise web.HTTPNotFound()
    parts = [f"=== to {', '.join(m.recipients)}\n{m.data.decode('utf-8', 'replace')}"
             for m in reversed(request.app[OUTBOX].messages)]
    if API_OUTBOX in request.app:
        parts += [f"=== API call {c.path}\n{c.body.decode('utf-8', 'replace')}\n"
                  for c in reversed(request.app[API_OUTBOX].calls)]
    return web.Response(text="\n".join(parts) or "(nothing sent yet)\n", content_type="text/plain")


@routes.get(r"/tickets/{id:\d{1,9}}.txt")
async def ticket_text(request: web.Request) -> web.Response:
    return web.Response(text=pages.ticket_text(_ticket_or_404(request)), content_type="text/plain", charset="utf-8")


@routes.get("/login")
async def login_form(request: web.Request) -> web.Response:
    return _page(request, "Sign in", pages.login())


@routes.post("/login")
async def login(request: web.Request) -> web.Response:
    form = await request.post()  # bounded by client_max_size (1 MiB)
    raw = form.get("username")
    username = raw.strip() if isinstance(raw, str) else ""
    if not username or len(username) > 64:
        error = pages.login("Enter a user name of 1 to 64 characters.", username[:64])
        return _page(request, "Sign in", error, status=400)
    response = _see_other("/agent/")
    session_id = request.app[SESSIONS].create(username)
    response.set_cookie(SESSION_COOKIE, session_id, path="/", httponly=True, samesite="Lax")
    _set_analytics_cookie(response)
    return response


@routes.route("GET", "/logout")
@routes.route("POST", "/logout")
async def logout(request: web.Request) -> web.Response:
    request.app[SESSIONS].drop(request.cookies.get(SESSION_COOKIE))
    response = _see_other("/")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@routes.get("/lang/{code}")
async def language(request: web.Request) -> web.Response:
    code = request.match_info["code"]
    if code not in pages.LANGUAGES:
        raise web.HTTPNotFound(text="Unknown language\n")
    response = _see_other("/")
    response.set_cookie(LANGUAGE_COOKIE, code, max_age=_YEAR, path="/", samesite="Lax")
    return response


@routes.get("/agent")
async def agent_redirect(request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently("/agent/")


@routes.get("/agent/")
async def agent_dashboard(request: web.Request) -> web.Response:
    return _page(request, "Agent dashboard", pages.agent_dashboard(_user(request), request.app[DESK].tickets()),
                 script="/static/live.js")


@routes.get(r"/agent/tickets/{id:\d{1,9}}")
async def agent_ticket(request: web.Request) -> web.Response:
    found = _ticket_or_404(request)
    return _page(request, f"#{found.id} {found.subject}", pages.agent_ticket(found))


@routes.get("/upload")
async def upload_form(request: web.Request) -> web.Response:
    return _page(request, "Upload", pages.upload_form())


def _ticket_json(found: Ticket, *, messages: bool) -> dict[str, object]:
    data = dataclasses.asdict(found)
    if not messages:
        data["message_count"] = len(data.pop("messages"))
    data["url"] = f"/tickets/{found.id}"
    return data


@routes.get("/api/tickets")
async def api_tickets(request: web.Request) -> web.Response:
    return web.json_response({"tickets": [_ticket_json(t, messages=False) for t in request.app[DESK].tickets()]})


@routes.get(r"/api/tickets/{id:\d{1,9}}")
async def api_ticket(request: web.Request) -> web.Response:
    return web.json_response(_ticket_json(_ticket_or_404(request), messages=True))


@routes.get("/static/helpdesk.css")
async def stylesheet(request: web.Request) -> web.Response:
    return web.Response(text=pages.CSS, content_type="text/css", headers={"Cache-Control": "max-age=3600"})


@routes.get("/static/live.js")
async def live_script(request: web.Request) -> web.Response:
    return web.Response(text=pages.LIVE_JS, content_type="text/javascript", headers={"Cache-Control": "max-age=3600"})


def make_app(*, relay: tuple[str, int] | None = None, outbox: MailSink | None = None,
             egress: str | None = None, webhook_secret: bytes | None = None,
             api_token: str | None = None) -> web.Application:
    """A fresh demo helpdesk (its own, empty, session store, its own copy of the tickets); ``relay`` and
    ``outbox`` turn its e-mail on, ``webhook_secret`` the queue of data-subject requests the gateway's portal
    opens by webhook, ``api_token`` the django-helpdesk REST API (:mod:`.api`)."""
    app = web.Application()
    app[SESSIONS] = Sessions()
    app[DESK] = Desk()
    app[PRIVACY_CASES] = []
    if webhook_secret is not None:
        app[WEBHOOK_SECRET] = webhook_secret
    if relay is not None:
        app[RELAY] = relay
    if outbox is not None:
        app[OUTBOX] = outbox
    if egress is not None:
        app[EGRESS] = egress
        app[API_OUTBOX] = ApiSink()
    app.add_routes(routes)
    if api_token is not None:
        api.setup(app, app[DESK], api_token)
    tools.setup(app)
    return app


async def start_helpdesk(host: str = "127.0.0.1", port: int = 8081, *, access_log: bool = False,
                         relay: tuple[str, int] | None = None, outbox: MailSink | None = None,
                         egress: str | None = None, webhook_secret: bytes | None = None,
                         api_token: str | None = None) -> web.AppRunner:
    """Serve the demo helpdesk on ``host:port`` (0 picks a free port); ``await runner.cleanup()`` stops it."""
    app = make_app(relay=relay, outbox=outbox, egress=egress, webhook_secret=webhook_secret, api_token=api_token)
    runner = web.AppRunner(app, access_log=access_logger if access_log else None, shutdown_timeout=5.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


def runner_url(runner: web.AppRunner) -> str:
    """The base URL a started runner listens on, e.g. ``http://127.0.0.1:8081``."""
    host, port = runner.addresses[0][:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def run(host: str = "127.0.0.1", port: int = 8081) -> None:
    """Serve until cancelled (or SIGINT/SIGTERM when run as a program)."""
    runner = await start_helpdesk(host, port, access_log=True)
    log.info("demo helpdesk listening on %s", runner_url(runner))
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


async def _run_until_signal(host: str, port: int) -> None:
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("must run inside a task")
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await run(host, port)
    except asyncio.CancelledError:
        log.info("demo helpdesk stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway.demo.helpdesk", description="Serve the demo helpdesk.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="TCP port (default: 8081)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(_run_until_signal(args.host, args.port))


if __name__ == "__main__":
    main()
