"""django-helpdesk through its REST API (``<url>/api/``, django-helpdesk 2.6).

On the helpdesk: the API is on unless ``HELPDESK_API_ENABLED = False``; it
takes a staff user (``is_staff``: the API's IsAdminUser) who can reach the
queues asked about. Django REST framework's default authentication is HTTP
Basic (``username`` + ``password``); a site that adds TokenAuthentication can
give ``token`` instead (sent as ``Authorization: Token ...``).

What the API offers, and how the gateway's questions map onto it:

- ``GET /api/tickets/`` lists every ticket the user may see, with its
  follow-ups, 25 a page by default (``page``, ``page_size``). It cannot filter
  by submitter, so ``find_cases`` reads every page and keeps the tickets whose
  ``submitter_email`` is the address asked about. A reference is looked up
  directly (``GET /api/tickets/<id>/``) and checked the same way.
- ``GET /api/tickets/<id>/`` is a ticket with its follow-ups and their
  attachments (name, size, MIME type). It carries neither the ticket's
  created/modified times nor the queue's slug: ``created`` and ``updated`` are
  the first and last follow-up's dates, ``queue`` is the queue's id and the
  reference is the ticket id (the number in ``[support-7]``).
- A follow-up names its author by user id only (``/api/users/`` only creates
  users): a follow-up without a user (the public form, an e-mail reply) is the
  submitter's, the others are ``user <id>``.
- ``POST /api/tickets/`` opens a ticket in the queue (by id) with priority 3.
  django-helpdesk mails the submitter its "ticket opened" notice; it has no
  tags and no idempotency key, so a POST that times out is not repeated here.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import aiohttp

from ..policy.helpdesks import HelpdeskSettings
from .base import (
    Attachment,
    Case,
    CaseRef,
    HelpdeskAdapter,
    HelpdeskError,
    Message,
    NewCase,
    reference_number,
    same_address,
)
from .client import HelpdeskClient, Sleep

#: Ticket.STATUS_CHOICES of django-helpdesk.
STATUSES = {1: "open", 2: "reopened", 3: "resolved", 4: "closed", 5: "duplicate"}
_FIELDS = ("priority", "assigned_to", "due_date", "on_hold", "merged_to", "resolution", "description")


class DjangoHelpdesk(HelpdeskAdapter):
    name = "django-helpdesk"
    page_size = 100  # tickets per listing page (each with its follow-ups)

    def __init__(self, settings: HelpdeskSettings, session: aiohttp.ClientSession | None = None, *,
                 sleep: Sleep = asyncio.sleep) -> None:
        if settings.token is not None:
            auth = f"Token {settings.token}"
        else:
            pair = f"{settings.username}:{settings.password}".encode()
            auth = "Basic " + base64.b64encode(pair).decode("ascii")
        self.client = HelpdeskClient(settings, adapter=self.name, session=session, sleep=sleep,
                                     headers={"Authorization": auth, "Accept": "application/json"})
        self.queue = settings.queue

    async def close(self) -> None:
        await self.client.close()

    async def find_cases(self, email: str, reference: str | None = None) -> list[CaseRef]:
        if reference is not None:
            number = reference_number(reference)
            if number is None:
                return []
            try:
                ticket = await self._ticket(number, "find cases")
            except HelpdeskError as exc:
                if exc.status == 404:
                    return []
                raise
            return [self._ref(ticket)] if same_address(ticket.get("submitter_email"), email) else []
        found: list[CaseRef] = []
        page = 1
        while True:
            listing = await self.client.get("/api/tickets/", operation="find cases",
                                            params={"page": page, "page_size": self.page_size})
            results = listing.get("results") if isinstance(listing, dict) else None
            if not isinstance(results, list):
                raise self.client.unexpected("find cases", "no results list")
            for ticket in results:
                if isinstance(ticket, dict) and same_address(ticket.get("submitter_email"), email):
                    found.append(self._ref(ticket))
            count = listing.get("count")
            if not listing.get("next") or not results or (isinstance(count, int) and page * self.page_size >= count):
                return found
            page += 1

    async def read_case(self, case_id: str) -> Case:
        if not case_id.isdigit():
            raise HelpdeskError(f"{self.name}: read case: a ticket id is a number", retryable=False)
        ticket = await self._ticket(case_id, "read case")
        submitter = _text(ticket.get("submitter_email"))
        followups = ticket.get("followup_set")
        if not isinstance(followups, list):
            raise self.client.unexpected("read case", "no followup_set list")
        messages = sorted((self._message(f, submitter) for f in followups if isinstance(f, dict)),
                          key=lambda m: (m.created, _number(m.id)))
        status = ticket.get("status")
        return Case(
            id=str(ticket["id"]), reference=str(ticket["id"]), title=_text(ticket.get("title")),
            status=STATUSES.get(status, str(status)) if isinstance(status, int) else _text(status),
            queue=_text(ticket.get("queue")),
            created=messages[0].created if messages else "", updated=messages[-1].created if messages else "",
            requester=submitter, messages=tuple(messages),
            fields={key: _text(ticket[key]) for key in _FIELDS if ticket.get(key) not in (None, "")},
        )

    async def open_case(self, case: NewCase) -> CaseRef:
        queue = case.queue or self.queue
        if queue is None or not queue.isdigit():
            raise HelpdeskError(f"{self.name}: open case: the queue is a queue id", retryable=False)
        body = {"queue": int(queue), "title": case.title, "description": case.body,
                "submitter_email": case.requester, "priority": 3}
        ticket = await self.client.post("/api/tickets/", body, operation="open case")
        if not isinstance(ticket, dict) or not isinstance(ticket.get("id"), int):
            raise self.client.unexpected("open case", "no ticket id")
        return self._ref(ticket)

    async def _ticket(self, number: str, operation: str) -> dict[str, Any]:
        ticket = await self.client.get(f"/api/tickets/{int(number)}/", operation=operation)
        if not isinstance(ticket, dict) or not isinstance(ticket.get("id"), int):
            raise self.client.unexpected(operation, "no ticket id")
        return ticket

    @staticmethod
    def _ref(ticket: dict[str, Any]) -> CaseRef:
        return CaseRef(id=str(ticket["id"]), reference=str(ticket["id"]), title=_text(ticket.get("title")))

    @staticmethod
    def _message(followup: dict[str, Any], submitter: str) -> Message:
        user = followup.get("user")
        attachments = followup.get("followupattachment_set")
        return Message(
            id=_text(followup.get("id")),
            author=submitter if user is None else f"user {user}",
            created=_text(followup.get("date")),
            text=_text(followup.get("comment")),
            public=followup.get("public") is not False,
            attachments=tuple(
                Attachment(_text(a.get("filename")), _size(a.get("size")), _text(a.get("mime_type")))
                for a in (attachments if isinstance(attachments, list) else []) if isinstance(a, dict)
            ),
        )


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _size(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(text: str) -> int:
    return int(text) if text.isdigit() else 0
