"""The demo helpdesk's REST API, in the shape of django-helpdesk's (``/helpdesk/api/``).

Enough of django-helpdesk 2.6's API (its ``TicketSerializer``,
``FollowUpSerializer`` and model viewsets) for the gateway's
django-helpdesk adapter to find, read, list and anonymise the demo's
tickets, with ``url: http://127.0.0.1:8081/helpdesk`` in the policy:

- ``GET tickets/`` pages through every ticket (``page``, ``page_size``: 25
  by default; a page past the end is a 404, as in REST framework), answering
  ``count``, ``next``, ``previous`` and ``results``; ``?status=3,4`` keeps
  those statuses (numbers other than django-helpdesk's are ignored).
- ``GET``, ``PATCH``, ``DELETE tickets/<id>/`` and ``POST tickets/``.
- ``GET``, ``PATCH followups/<id>/`` and ``POST followups/`` (a note by the
  API's user); ``DELETE followups-attachments/<id>/``.

A ticket is ``id``, ``queue`` (always queue 1), ``title``, ``description``,
``resolution``, ``submitter_email``, ``assigned_to``, ``status`` (1 open, 2
reopened, 3 resolved, 4 closed, 5 duplicate: the demo's open and pending are
1, pending on hold; solved is 3; closed is 4), ``on_hold``, ``priority`` (2
high, 3 normal, 4 low), ``due_date``, ``merged_to`` and ``followup_set``. A
follow-up is ``id``, ``ticket``, ``user`` (none for the customer's, 1 for
the demo agent, 2 for the API's user), ``title``, ``comment``, ``public``,
``date``, ``email_recipients`` and ``followupattachment_set``.

Unlike REST framework, a write naming a field the demo cannot change is
refused (400), so a client never believes a change was made that was not.
Changing ``submitter_email`` changes whom the ticket's pages name: the
demo, like django-helpdesk, keeps no name or phone number with a ticket
beyond its customer's address, so the new customer (and the author of the
customer's messages) is that address alone.

Every call needs the API token, as ``Authorization: Token <token>`` or HTTP
Basic with the user ``demo`` and the token as password; else 401. In the demo
the token is ``policies/demo-secrets/helpdesk-api.key``, public on purpose.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from aiohttp import web

from .data import Customer, Desk, Message, Ticket

BASE = "/helpdesk/api"
API_USER = "demo"  # the HTTP Basic user name
QUEUE_ID = 1
AGENT_USER_ID = 1  # the demo agent's follow-ups
API_USER_ID = 2  # notes added through the API
API_AUTHOR = "Privacy gateway (API user)"
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000
STATUS_NUMBERS = {"open": 1, "pending": 1, "solved": 3, "closed": 4}
STATUS_NAMES = {1: "open", 2: "open", 3: "solved", 4: "closed", 5: "closed"}
PRIORITY_NUMBERS = {"high": 2, "normal": 3, "low": 4}
PRIORITY_NAMES = {1: "high", 2: "high", 3: "normal", 4: "low", 5: "low"}
TICKET_TEXTS = ("title", "description", "resolution", "submitter_email")
FOLLOWUP_TEXTS = ("title", "comment")
MAX_TITLE = 200  # django-helpdesk's Ticket.title and FollowUp.title
MAX_EMAIL = 254

DESK_KEY = web.AppKey("api_desk", Desk)
TOKEN_KEY = web.AppKey("api_token", str)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def setup(app: web.Application, desk: Desk, token: str) -> None:
    """Serve the API for ``desk`` on ``app``, to clients that give ``token``."""
    if not token:
        raise ValueError("the demo API needs a token")
    app[DESK_KEY] = desk
    app[TOKEN_KEY] = token
    id_ = r"{id:\d{1,9}}"
    app.router.add_get(f"{BASE}/tickets/", _guarded(list_tickets))
    app.router.add_post(f"{BASE}/tickets/", _guarded(create_ticket))
    app.router.add_get(f"{BASE}/tickets/{id_}/", _guarded(get_ticket))
    app.router.add_patch(f"{BASE}/tickets/{id_}/", _guarded(patch_ticket))
    app.router.add_delete(f"{BASE}/tickets/{id_}/", _guarded(delete_ticket))
    app.router.add_post(f"{BASE}/followups/", _guarded(create_followup))
    app.router.add_get(f"{BASE}/followups/{id_}/", _guarded(get_followup))
    app.router.add_patch(f"{BASE}/followups/{id_}/", _guarded(patch_followup))
    app.router.add_delete(f"{BASE}/followups-attachments/{id_}/", _guarded(delete_attachment))


def authorised(header: str, token: str) -> bool:
    """Whether ``Authorization: header`` gives ``token`` (``Token <token>``, or Basic ``demo:<token>``)."""
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "token":
        return hmac.compare_digest(value.encode(), token.encode())
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user.encode(), API_USER.encode()) & hmac.compare_digest(
            password.encode(), token.encode())
    return False


def _guarded(handler: Handler) -> Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        if not authorised(request.headers.get("Authorization", ""), request.app[TOKEN_KEY]):
            return web.json_response({"detail": "Authentication credentials were not provided."}, status=401,
                                     headers={"WWW-Authenticate": 'Basic realm="api"'})
        return await handler(request)
    return guarded


def _desk(request: web.Request) -> Desk:
    return request.app[DESK_KEY]


def _not_found(what: str) -> web.Response:
    return web.json_response({"detail": f"No {what} matches the given query."}, status=404)


def _invalid(errors: dict[str, str]) -> web.Response:
    return web.json_response({key: [message] for key, message in errors.items()}, status=400)


def _ticket(request: web.Request) -> Ticket | None:
    return _desk(request).get(int(request.match_info["id"]))


# -- the shapes of django-helpdesk's serializers ---------------------------------------------------------


def followup_json(ticket: Ticket, message: Message) -> dict[str, Any]:
    user = (API_USER_ID if message.author == API_AUTHOR else AGENT_USER_ID) if message.from_agent else None
    return {
        "id": message.id, "ticket": ticket.id, "user": user, "title": message.title, "comment": message.text,
        "public": message.public, "new_status": None, "time_spent": None, "date": message.sent,
        "message_id": None, "email_recipients": [],
        "followupattachment_set": [
            {"id": a.id, "followup": message.id, "file": f"/media/helpdesk/attachments/{ticket.id}/{a.filename}",
             "filename": a.filename, "mime_type": a.mime_type, "size": a.size}
            for a in message.attachments
        ],
    }


def ticket_json(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id, "queue": QUEUE_ID, "title": ticket.subject, "description": ticket.description,
        "resolution": ticket.resolution or None, "submitter_email": ticket.customer.email,
        "assigned_to": AGENT_USER_ID if any(m.from_agent for m in ticket.messages) else None,
        "status": STATUS_NUMBERS.get(ticket.status, 1), "on_hold": ticket.status == "pending",
        "priority": PRIORITY_NUMBERS.get(ticket.priority, 3), "due_date": None, "merged_to": None,
        "followup_set": [followup_json(ticket, m) for m in ticket.messages],
    }


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _customer(email: str) -> Customer:
    """The customer a ticket names by its address alone (its local part as the name)."""
    return Customer(email.partition("@")[0], email, "")


# -- tickets --------------------------------------------------------------------------------------------


async def list_tickets(request: web.Request) -> web.Response:
    wanted = {int(s) for s in request.query.get("status", "").split(",") if s.strip().isdigit()}
    wanted &= set(STATUS_NAMES)  # REST framework's filter ignores what names no status
    tickets = [t for t in _desk(request).tickets() if not wanted or STATUS_NUMBERS.get(t.status, 1) in wanted]
    size_text = request.query.get("page_size", "")
    size = min(int(size_text), MAX_PAGE_SIZE) if size_text.isdigit() and int(size_text) > 0 else DEFAULT_PAGE_SIZE
    page_text = request.query.get("page", "1")
    pages = max(1, -(-len(tickets) // size))
    if not page_text.isdigit() or not 1 <= int(page_text) <= pages:
        return web.json_response({"detail": "Invalid page."}, status=404)
    page = int(page_text)

    def link(number: int) -> str | None:
        if not 1 <= number <= pages:
            return None
        return str(request.url.with_query({**request.query, "page": str(number)}))

    return web.json_response({
        "count": len(tickets), "next": link(page + 1), "previous": link(page - 1),
        "results": [ticket_json(t) for t in tickets[(page - 1) * size: page * size]],
    })


async def get_ticket(request: web.Request) -> web.Response:
    found = _ticket(request)
    return _not_found("Ticket") if found is None else web.json_response(ticket_json(found))


async def _body(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"detail": "JSON parse error"}, status=400)
    return body if isinstance(body, dict) else _invalid({"non_field_errors": "Expected a dictionary."})


def _text_errors(body: dict[str, Any], writable: tuple[str, ...]) -> dict[str, str]:
    errors = {key: "not writable in the demo helpdesk" for key in body if key not in writable}
    for key in writable:
        if key in body and not isinstance(body[key], str):
            errors[key] = "Not a valid string."
    if "title" in body and isinstance(body["title"], str) and not 0 < len(body["title"]) <= MAX_TITLE:
        errors["title"] = f"Ensure this field has 1 to {MAX_TITLE} characters."
    email = body.get("submitter_email")
    if isinstance(email, str) and ("@" not in email or len(email) > MAX_EMAIL):
        errors["submitter_email"] = "Enter a valid email address."
    return errors


async def patch_ticket(request: web.Request) -> web.Response:
    found = _ticket(request)
    if found is None:
        return _not_found("Ticket")
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    errors = _text_errors(body, TICKET_TEXTS)
    if errors:
        return _invalid(errors)
    changed = replace(found, subject=body.get("title", found.subject),
                      description=body.get("description", found.description),
                      resolution=body.get("resolution", found.resolution))
    if "submitter_email" in body:  # the customer's messages are by the ticket's customer, whoever that is now
        customer = _customer(body["submitter_email"])
        changed = replace(changed, customer=customer, messages=tuple(
            m if m.from_agent else replace(m, author=customer.name) for m in changed.messages))
    _desk(request).put(changed)
    return web.json_response(ticket_json(changed))


async def delete_ticket(request: web.Request) -> web.Response:
    if not _desk(request).delete(int(request.match_info["id"])):
        return _not_found("Ticket")
    return web.Response(status=204)


async def create_ticket(request: web.Request) -> web.Response:
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    given = {k: v for k, v in body.items() if k not in ("queue", "priority")}
    errors = _text_errors(given, ("title", "description", "submitter_email"))
    for key in ("title", "description", "submitter_email"):
        if not body.get(key):
            errors.setdefault(key, "This field is required.")
    if body.get("queue") != QUEUE_ID:
        errors["queue"] = f"Invalid pk \"{body.get('queue')}\" - object does not exist."
    priority = body.get("priority", 3)
    if priority not in PRIORITY_NAMES or isinstance(priority, bool):
        errors["priority"] = f"\"{priority}\" is not a valid choice."
    if errors:
        return _invalid(errors)
    desk = _desk(request)
    email = body["submitter_email"]
    first = desk.numbered(Message(_customer(email).name, False, _now(), body["description"], title=body["title"]))
    ticket = Ticket(desk.next_id(), body["title"], "open", PRIORITY_NAMES[priority], _customer(email), (first,),
                    description=body["description"])
    desk.put(ticket)
    return web.json_response(ticket_json(ticket), status=201)


# -- follow-ups and their attachments -------------------------------------------------------------------


async def get_followup(request: web.Request) -> web.Response:
    found = _desk(request).message(int(request.match_info["id"]))
    return _not_found("FollowUp") if found is None else web.json_response(followup_json(*found))


async def patch_followup(request: web.Request) -> web.Response:
    desk = _desk(request)
    found = desk.message(int(request.match_info["id"]))
    if found is None:
        return _not_found("FollowUp")
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    errors = _text_errors(body, FOLLOWUP_TEXTS)
    if errors:
        return _invalid(errors)
    ticket, message = found
    changed = replace(message, title=body.get("title", message.title), text=body.get("comment", message.text))
    ticket = replace(ticket, messages=tuple(changed if m.id == message.id else m for m in ticket.messages))
    desk.put(ticket)
    return web.json_response(followup_json(ticket, changed))


async def create_followup(request: web.Request) -> web.Response:
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    desk = _desk(request)
    number = body.get("ticket")
    ticket = desk.get(number) if isinstance(number, int) and not isinstance(number, bool) else None
    errors = {key: "not writable in the demo helpdesk" for key in body
              if key not in ("ticket", "comment", "public", "title", "user")}
    if ticket is None:
        errors["ticket"] = f"Invalid pk \"{number}\" - object does not exist."
    if not isinstance(body.get("comment", ""), str) or not isinstance(body.get("title", ""), str):
        errors["comment"] = "Not a valid string."
    if not isinstance(body.get("public", False), bool):
        errors["public"] = "Must be a valid boolean."
    if body.get("user") not in (None, API_USER_ID):
        errors["user"] = "the demo's notes are by the API's user"
    if errors or ticket is None:
        return _invalid(errors)
    note = desk.numbered(Message(API_AUTHOR, True, _now(), body.get("comment", ""),
                                 public=body.get("public", False), title=body.get("title") or ticket.subject))
    ticket = replace(ticket, messages=(*ticket.messages, note))
    desk.put(ticket)
    return web.json_response(followup_json(ticket, note), status=201)


async def delete_attachment(request: web.Request) -> web.Response:
    desk = _desk(request)
    attachment_id = int(request.match_info["id"])
    for ticket in desk.tickets():
        if any(a.id == attachment_id for m in ticket.messages for a in m.attachments):
            messages = tuple(replace(m, attachments=tuple(a for a in m.attachments if a.id != attachment_id))
                             for m in ticket.messages)
            desk.put(replace(ticket, messages=messages))
            return web.Response(status=204)
    return _not_found("FollowUpAttachment")
