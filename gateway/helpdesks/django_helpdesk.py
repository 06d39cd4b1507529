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
- A ticket knows its submitter by address only, and the API reads no user
  (nor any contact record): a case's ``requester_name`` and
  ``requester_phones`` stay empty, so the submitter's name and phone are
  removed only where the caller names them (or the scanner finds them).
- ``POST /api/tickets/`` opens a ticket in the queue (by id) with priority 3.
  django-helpdesk mails the submitter its "ticket opened" notice; it has no
  tags and no idempotency key, so a POST that times out is not repeated here.
- A ticket's custom fields are in ``fields`` as ``custom_<name>``; each
  follow-up's own title as ``followup_title:<id>`` (django-helpdesk gives a
  follow-up the ticket's title of the moment, or the subject of the e-mail it
  came in, so it holds what the title held); and whom it was mailed to as
  ``followup_recipients:<id>`` (the addresses, comma-separated).

Retention schedules: ``list_cases`` reads ``GET /api/tickets/?status=<n,...>``
(the API's one filter) page after page; a ticket's last change is its newest
follow-up's date, and a ticket without follow-ups has no date and is never due.

Anonymisation (the API's model viewsets; none of these writes mails anybody):

- ``update_requester``: ``PATCH /api/tickets/<id>/`` with ``submitter_email``
  (a ticket holds no requester name). A helpdesk user account with the old
  address is not changed: the API cannot edit users.
- ``update_case``: ``PATCH /api/followups/<id>/`` with the ``title`` of each
  ``followup_title:<id>`` given, then ``PATCH /api/tickets/<id>/`` with
  ``title`` and the text fields ``description``, ``resolution`` and
  ``custom_<name>``; the other fields are metadata and refused
  (:class:`NotSupported`, after the rest is written). The ticket's created
  date, queue, status and priority stay. A follow-up's recipients are
  read-only in the API: rewriting them is refused, so an address the
  helpdesk mailed stays there until removed on the helpdesk itself.
- ``update_message``: ``PATCH /api/followups/<id>/`` with ``comment``.
- ``add_note``: ``POST /api/followups/`` with the ticket, the ``comment`` and
  ``public`` false (an internal follow-up, by the API's user: django-helpdesk
  mails it to no submitter); its status and title stay.
- ``delete_attachment``: ``DELETE /api/followups-attachments/<id>/``. Django
  deletes the record, not the file: it stays in the helpdesk's media storage
  until the site removes orphaned files (e.g. with django-cleanup).
- ``delete_case``: ``DELETE /api/tickets/<id>/`` (follow-ups and attachment
  records go with it; the files stay, as above).
- A 404 on a delete is success only once the API shows the thing is gone (the
  ticket lists, the attachment is not on its ticket): a URL that reaches no
  API answers 404 too, and must not pass for a deletion.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection
from typing import Any, ClassVar

import aiohttp

from ..policy.helpdesks import HelpdeskSettings
from .base import (
    Attachment,
    Case,
    CaseRef,
    CaseSummary,
    HelpdeskAdapter,
    HelpdeskError,
    Message,
    NewCase,
    NotSupported,
    Operation,
    iso_epoch,
    reference_number,
    same_address,
)
from .client import HelpdeskClient, Sleep, token_or_basic

#: Ticket.STATUS_CHOICES of django-helpdesk.
STATUSES = {1: "open", 2: "reopened", 3: "resolved", 4: "closed", 5: "duplicate"}
_FIELDS = ("priority", "assigned_to", "due_date", "on_hold", "merged_to", "resolution", "description")
#: The ticket's fields that hold text (and may hold personal data), so update_case may rewrite them.
TEXT_FIELDS = frozenset({"description", "resolution"})
_CUSTOM = "custom_"
_FOLLOWUP_TITLE = "followup_title:"
_FOLLOWUP_RECIPIENTS = "followup_recipients:"


class DjangoHelpdesk(HelpdeskAdapter):
    name = "django-helpdesk"
    page_size = 100  # tickets per listing page (each with its follow-ups)
    capabilities: ClassVar[frozenset[Operation]] = frozenset(
        {"update_requester", "update_case", "update_message", "delete_attachment", "delete_case"})

    def __init__(self, settings: HelpdeskSettings, session: aiohttp.ClientSession | None = None, *,
                 sleep: Sleep = asyncio.sleep) -> None:
        auth = token_or_basic(settings.token, settings.username, settings.password, token_format="Token {token}")
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
        return [self._ref(ticket) async for ticket in self._tickets("find cases")
                if same_address(ticket.get("submitter_email"), email)]

    async def list_cases(self, states: Collection[str], updated_before: float, *,
                         limit: int = 10_000) -> list[CaseSummary]:
        wanted = {state.casefold() for state in states}
        numbers = [str(number) for number, name in STATUSES.items() if name in wanted]
        if not numbers:
            return []
        found: list[CaseSummary] = []
        async for ticket in self._tickets("list cases", status=",".join(numbers)):
            status = STATUSES.get(ticket.get("status"), "")  # type: ignore[arg-type]
            updated = _last_change(ticket.get("followup_set"))
            if status in wanted and updated is not None and updated < updated_before:
                found.append(CaseSummary(str(ticket["id"]), str(ticket["id"]), status, updated,
                                         _text(ticket.get("submitter_email"))))
                if len(found) >= limit:
                    break
        return found

    async def _tickets(self, operation: str, **params: str) -> AsyncIterator[dict[str, Any]]:
        """Every ticket of ``GET /api/tickets/`` (with ``params``), page after page."""
        page = 1
        while True:
            listing = await self.client.get("/api/tickets/", operation=operation,
                                            params={**params, "page": page, "page_size": self.page_size})
            results = listing.get("results") if isinstance(listing, dict) else None
            if not isinstance(results, list):
                raise self.client.unexpected(operation, "no results list")
            for ticket in results:
                if isinstance(ticket, dict) and isinstance(ticket.get("id"), int):
                    yield ticket
            count = listing.get("count")
            if not listing.get("next") or not results or (isinstance(count, int) and page * self.page_size >= count):
                return
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
        fields = {key: _text(value) for key, value in ticket.items()
                  if (key in _FIELDS or key.startswith(_CUSTOM)) and value not in (None, "")}
        for followup in followups:
            if not isinstance(followup, dict):
                continue
            if followup.get("title"):
                fields[f"{_FOLLOWUP_TITLE}{followup.get('id')}"] = _text(followup["title"])
            recipients = followup.get("email_recipients")
            if isinstance(recipients, list) and recipients:
                fields[f"{_FOLLOWUP_RECIPIENTS}{followup.get('id')}"] = ", ".join(map(_text, recipients))
        return Case(
            id=str(ticket["id"]), reference=str(ticket["id"]), title=_text(ticket.get("title")),
            status=STATUSES.get(status, str(status)) if isinstance(status, int) else _text(status),
            queue=_text(ticket.get("queue")),
            created=messages[0].created if messages else "", updated=messages[-1].created if messages else "",
            requester=submitter, messages=tuple(messages), fields=fields,
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

    async def update_requester(self, case_id: str, name: str, email: str) -> None:
        await self._patch_ticket(case_id, {"submitter_email": email}, "update requester")

    async def update_case(self, case_id: str, title: str | None = None, fields: dict[str, str] | None = None) -> None:
        given = fields or {}
        titles = {k.removeprefix(_FOLLOWUP_TITLE): v for k, v in given.items() if k.startswith(_FOLLOWUP_TITLE)}
        writable = {k: v for k, v in given.items() if k in TEXT_FIELDS or k.startswith(_CUSTOM)}
        for followup_id, text in sorted(titles.items()):
            await self._patch_followup(case_id, followup_id, {"title": text}, "update case")
        change: dict[str, str] = {**writable, **({"title": title} if title is not None else {})}
        if change:
            await self._patch_ticket(case_id, change, "update case")
        refused = sorted(set(given) - set(writable) - {_FOLLOWUP_TITLE + i for i in titles})
        if refused:
            raise NotSupported(self.name, "update case", f"fields {', '.join(refused)}:")

    async def update_message(self, case_id: str, message_id: str, text: str) -> None:
        await self._patch_followup(case_id, message_id, {"comment": text}, "update message")

    async def add_note(self, case_id: str, text: str) -> None:
        _check_id(self.name, "add note", case_id)
        followup = await self.client.post("/api/followups/", {"ticket": int(case_id), "comment": text,
                                                              "public": False, "user": None}, operation="add note")
        if not isinstance(followup, dict) or str(followup.get("ticket")) != case_id:
            raise self.client.unexpected("add note", "not a follow-up of that ticket")

    async def _patch_followup(self, case_id: str, followup_id: str, change: dict[str, str], operation: str) -> None:
        _check_id(self.name, operation, case_id, followup_id)
        followup = await self.client.send_json("PATCH", f"/api/followups/{int(followup_id)}/", change,
                                               operation=operation)
        if not isinstance(followup, dict) or str(followup.get("ticket")) != case_id:
            raise self.client.unexpected(operation, "not a follow-up of that ticket")

    async def delete_attachment(self, case_id: str, message_id: str, attachment_id: str) -> None:
        _check_id(self.name, "delete attachment", case_id, message_id, attachment_id)
        try:
            await self.client.send_json("DELETE", f"/api/followups-attachments/{int(attachment_id)}/",
                                        operation="delete attachment")
        except HelpdeskError as exc:
            if exc.status != 404:
                raise
            ticket = await self._ticket(case_id, "delete attachment")  # its ticket lists: the API is there
            held = {str(a.get("id")) for f in ticket.get("followup_set") or [] if isinstance(f, dict)
                    for a in f.get("followupattachment_set") or [] if isinstance(a, dict)}
            if attachment_id in held:
                raise

    async def delete_case(self, case_id: str) -> None:
        _check_id(self.name, "delete case", case_id)
        try:
            await self.client.send_json("DELETE", f"/api/tickets/{int(case_id)}/", operation="delete case")
        except HelpdeskError as exc:
            if exc.status != 404:
                raise
            # The ticket is gone only if the API answers for tickets at all.
            listing = await self.client.get("/api/tickets/", operation="delete case",
                                            params={"page": 1, "page_size": 1})
            if not isinstance(listing, dict) or "results" not in listing:
                raise self.client.unexpected("delete case", "no ticket listing") from None

    async def _patch_ticket(self, case_id: str, change: dict[str, str], operation: str) -> None:
        _check_id(self.name, operation, case_id)
        ticket = await self.client.send_json("PATCH", f"/api/tickets/{int(case_id)}/", change, operation=operation)
        if not isinstance(ticket, dict) or str(ticket.get("id")) != case_id:
            raise self.client.unexpected(operation, "no ticket id")

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
                Attachment(_text(a.get("filename")), _size(a.get("size")), _text(a.get("mime_type")),
                           _text(a.get("id")))
                for a in (attachments if isinstance(attachments, list) else []) if isinstance(a, dict)
            ),
        )


def _check_id(adapter: str, operation: str, *ids: str) -> None:
    if not all(i.isdigit() for i in ids):
        raise HelpdeskError(f"{adapter}: {operation}: ids are numbers", retryable=False)


def _last_change(followups: object) -> float | None:
    """The newest follow-up's date (the API gives a ticket no modified time); None when it has none."""
    dates = [iso_epoch(f.get("date")) for f in (followups if isinstance(followups, list) else [])
             if isinstance(f, dict)]
    return max((d for d in dates if d is not None), default=None)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _size(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(text: str) -> int:
    return int(text) if text.isdigit() else 0
