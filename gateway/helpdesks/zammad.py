"""Zammad through its REST API v1.

On the helpdesk: an access token (Profile -> Token Access) of an agent with
the ``ticket.agent`` permission and access to the groups asked about, sent as
``Authorization: Token token=...``; or that agent's login and password (HTTP
Basic, if the site allows password logins for the API). Searching by field
needs Zammad's Elasticsearch, as Zammad's own ticket search does.

- ``find_cases``: ``GET /api/v1/tickets/search?query=customer.email:"..."``
  (``AND number:N`` with a reference), ``expand=true``, ``page`` and
  ``per_page`` until a short page. The search matches words, not addresses,
  so each hit's customer is read (``GET /api/v1/users/{id}``) and only
  tickets whose customer's e-mail address is the one asked about are kept.
- ``read_case``: ``GET /api/v1/tickets/{id}?expand=true``, its customer
  (``GET /api/v1/users/{id}``: the address, ``firstname`` and ``lastname`` as
  the requester's name, ``phone`` and ``mobile`` as their phones), and
  ``GET /api/v1/ticket_articles/by_ticket/{id}?expand=true`` (all articles at
  once: that endpoint does not paginate). Internal articles are ``public``
  false; the article's text is its body as Zammad holds it (HTML for e-mails).
- ``open_case``: ``POST /api/v1/tickets`` with the group (a name, or an id),
  ``customer_id: "guess:<address>"`` (Zammad finds or creates the customer),
  a first article of type note and the tags. Zammad has no idempotency key:
  a POST that times out is not repeated here.
- The reference is the ticket's number (Ticket#31001), the id its database id.

Retention schedules: ``list_cases`` reads the states Zammad has
(``GET /api/v1/ticket_states``; a state it does not have lists nothing), then
searches ``state.name:("closed" OR ...) AND updated_at:<YYYY-MM-DD`` with
``sort_by=updated_at``, ``order_by=asc`` (the longest unchanged first),
``expand=true``, ``page`` and ``per_page`` until a short page or
Elasticsearch's 10,000 hits. The query's date is two days late, so no time
zone of the index leaves a due ticket out; each hit's state and
``updated_at`` are checked exactly (the index may lag behind the ticket),
and its customer's address is read as for ``find_cases``.

Anonymisation: what Zammad's API allows, and what it does not.

- ``update_requester``: the pseudonym's customer is found
  (``GET /api/v1/users/search``, exact address) or made (``POST /api/v1/users``),
  then ``PUT /api/v1/tickets/{id}`` with its ``customer_id``. The person's own
  user is not changed (``delete_requester`` deletes it).
- ``update_case``: ``PUT /api/v1/tickets/{id}`` with the ``title``. The
  fields read (priority, owner, organization, pending time) are references,
  not text: rewriting them is refused (:class:`NotSupported`).
- Articles cannot be edited through the API (Zammad keeps them as written,
  revision-proof), nor can their attachments be deleted: ``update_message``
  and ``delete_attachment`` are not supported. A case whose articles hold
  personal data is deleted instead (``delete_case``), or its customer is
  deleted with the data privacy task.
- ``add_note``: ``POST /api/v1/ticket_articles`` with the ticket id, type
  ``note`` and ``internal`` true (agents see it, the customer does not).
- ``delete_case``: ``DELETE /api/v1/tickets/{id}`` (the token needs the
  ``admin`` permission). A 404 is success once ``/api/v1/users/me`` answers.
- ``delete_requester``: ``POST /api/v1/data_privacy_tasks`` with
  ``deletable_type: User`` (the ``admin.data_privacy`` permission). Zammad runs
  the task within minutes and deletes the user *and every ticket they are the
  customer of*; it cannot keep their tickets. An existing task for that user
  counts as done; a user already gone too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
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
    sieve_day,
)
from .client import HelpdeskClient, Sleep, token_or_basic

MAX_PAGES = 1000  # a search that keeps giving new tickets beyond this is not a requester's
MAX_HITS = 10_000  # Elasticsearch's index.max_result_window: a search pages no further


class Zammad(HelpdeskAdapter):
    name = "zammad"
    per_page = 100  # Zammad allows up to 200
    capabilities: ClassVar[frozenset[Operation]] = frozenset(
        {"update_requester", "update_case", "delete_case", "delete_requester"})

    def __init__(self, settings: HelpdeskSettings, session: aiohttp.ClientSession | None = None, *,
                 sleep: Sleep = asyncio.sleep) -> None:
        auth = token_or_basic(settings.token, settings.username, settings.password, token_format="Token token={token}")
        self.client = HelpdeskClient(settings, adapter=self.name, session=session, sleep=sleep,
                                     headers={"Authorization": auth, "Accept": "application/json"})
        self.queue = settings.queue

    async def close(self) -> None:
        await self.client.close()

    async def find_cases(self, email: str, reference: str | None = None) -> list[CaseRef]:
        query = f'customer.email:"{_quoted(email.strip())}"'
        number = None
        if reference is not None:
            number = reference_number(reference)
            if number is None:
                return []
            query += f" AND number:{number}"
        tickets: dict[int, dict[str, Any]] = {}
        for page in range(1, MAX_PAGES + 1):
            found = await self.client.get("/api/v1/tickets/search", operation="find cases", params={
                "query": query, "expand": "true", "page": page, "per_page": self.per_page,
            })
            if not isinstance(found, list):
                raise self.client.unexpected("find cases", "not a list of tickets")
            new = {t["id"]: t for t in found if isinstance(t, dict) and isinstance(t.get("id"), int)}
            fresh = set(new) - set(tickets)
            tickets.update(new)
            if len(found) < self.per_page or not fresh:
                break
        customers = {t.get("customer_id") for t in tickets.values()}
        theirs = {c for c in customers if isinstance(c, int) and same_address(await self._email_of(c), email)}
        return [
            CaseRef(id=str(t["id"]), reference=_text(t.get("number")), title=_text(t.get("title")))
            for t in sorted(tickets.values(), key=lambda t: int(t["id"]))
            if t.get("customer_id") in theirs and (number is None or _text(t.get("number")) == number)
        ]

    async def list_cases(self, states: Collection[str], updated_before: float, *,
                         limit: int = 10_000) -> list[CaseSummary]:
        asked = {state.casefold() for state in states}
        known = await self.client.get("/api/v1/ticket_states", operation="list cases")
        if not isinstance(known, list):
            raise self.client.unexpected("list cases", "not a list of states")
        names = {s["id"]: s["name"] for s in known if isinstance(s, dict) and isinstance(s.get("id"), int)
                 and isinstance(s.get("name"), str) and s["name"].casefold() in asked}
        if not names or limit <= 0:
            return []
        wanted = {name.casefold() for name in names.values()}
        phrases = " OR ".join(f'"{_quoted(name)}"' for name in sorted(set(names.values())))
        query = f"state.name:({phrases}) AND updated_at:<{sieve_day(updated_before)}"
        seen: set[int] = set()
        due: list[tuple[dict[str, Any], str, float]] = []
        for page in range(1, MAX_HITS // self.per_page + 1):
            found = await self.client.get("/api/v1/tickets/search", operation="list cases", params={
                "query": query, "expand": "true", "sort_by": "updated_at", "order_by": "asc",
                "page": page, "per_page": self.per_page,
            })
            if not isinstance(found, list):
                raise self.client.unexpected("list cases", "not a list of tickets")
            fresh = False
            for ticket in found:
                if not isinstance(ticket, dict) or not isinstance(ticket.get("id"), int) or ticket["id"] in seen:
                    continue
                seen.add(ticket["id"])
                fresh = True
                state = ticket.get("state")  # its name, with expand=true
                if not isinstance(state, str):
                    state = names.get(ticket.get("state_id"))
                updated = iso_epoch(ticket.get("updated_at"))
                if isinstance(state, str) and state.casefold() in wanted and updated is not None \
                        and updated < updated_before:
                    due.append((ticket, state, updated))
                    if len(due) >= limit:
                        break
            if len(due) >= limit or len(found) < self.per_page or not fresh:
                break
        emails: dict[object, str] = {}
        for ticket, _, _ in due:
            customer = ticket.get("customer_id")
            if isinstance(customer, int) and customer not in emails:
                emails[customer] = await self._email_of(customer, "list cases")
        return [CaseSummary(str(t["id"]), _text(t.get("number")), state, updated,
                            emails.get(t.get("customer_id"), "")) for t, state, updated in due]

    async def read_case(self, case_id: str) -> Case:
        if not case_id.isdigit():
            raise HelpdeskError(f"{self.name}: read case: a ticket id is a number", retryable=False)
        ticket = await self.client.get(f"/api/v1/tickets/{case_id}", operation="read case",
                                       params={"expand": "true"})
        if not isinstance(ticket, dict) or not isinstance(ticket.get("id"), int):
            raise self.client.unexpected("read case", "no ticket id")
        customer_id = ticket.get("customer_id")
        customer = await self._user(customer_id) if isinstance(customer_id, int) else {}
        articles = await self.client.get(f"/api/v1/ticket_articles/by_ticket/{case_id}", operation="read case",
                                         params={"expand": "true"})
        if not isinstance(articles, list):
            raise self.client.unexpected("read case", "articles are not a list")
        return Case(
            id=str(ticket["id"]), reference=_text(ticket.get("number")), title=_text(ticket.get("title")),
            status=_text(ticket.get("state") or ticket.get("state_id")),
            queue=_text(ticket.get("group") or ticket.get("group_id")),
            created=_text(ticket.get("created_at")), updated=_text(ticket.get("updated_at")),
            requester=_text(customer.get("email")),
            messages=tuple(_message(a) for a in articles if isinstance(a, dict)),
            fields={key: _text(ticket[key]) for key in ("priority", "owner", "organization", "pending_time")
                    if ticket.get(key) not in (None, "", "-")},
            requester_name=" ".join(_text(customer.get(key)).strip() for key in ("firstname", "lastname")).strip(),
            requester_phones=tuple(dict.fromkeys(phone for key in ("phone", "mobile")
                                                 if (phone := _text(customer.get(key)).strip()))),
        )

    async def open_case(self, case: NewCase) -> CaseRef:
        group = case.queue or self.queue or ""
        body: dict[str, Any] = {
            "title": case.title,
            **({"group_id": int(group)} if group.isdigit() else {"group": group}),
            "customer_id": f"guess:{case.requester}",
            "article": {"subject": case.title, "body": case.body, "type": "note", "internal": False,
                        "content_type": "text/plain"},
        }
        if case.tags:
            body["tags"] = ",".join(case.tags)
        ticket = await self.client.post("/api/v1/tickets", body, operation="open case")
        if not isinstance(ticket, dict) or not isinstance(ticket.get("id"), int):
            raise self.client.unexpected("open case", "no ticket id")
        return CaseRef(id=str(ticket["id"]), reference=_text(ticket.get("number")), title=_text(ticket.get("title")))

    async def update_requester(self, case_id: str, name: str, email: str) -> None:
        _check_id(self.name, "update requester", case_id)
        customer = await self._user_by_email(email, "update requester")
        if customer is None:
            try:
                made = await self.client.post("/api/v1/users", {
                    "firstname": name, "lastname": "", "email": email, "roles": ["Customer"],
                }, operation="update requester")
            except HelpdeskError as exc:
                if exc.status != 422:  # 422: the address is taken (a try whose answer was lost): find it
                    raise
                made = await self._user_by_email(email, "update requester")
            if not isinstance(made, dict) or not isinstance(made.get("id"), int):
                raise self.client.unexpected("update requester", "no user id")
            customer = made
        await self._put_ticket(case_id, {"customer_id": customer["id"]}, "update requester")

    async def update_case(self, case_id: str, title: str | None = None, fields: dict[str, str] | None = None) -> None:
        _check_id(self.name, "update case", case_id)
        if title is not None:
            await self._put_ticket(case_id, {"title": title}, "update case")
        if fields:
            raise NotSupported(self.name, "update case", f"fields {', '.join(sorted(fields))}:")

    async def add_note(self, case_id: str, text: str) -> None:
        _check_id(self.name, "add note", case_id)
        article = await self.client.post("/api/v1/ticket_articles", {
            "ticket_id": int(case_id), "body": text, "type": "note", "internal": True,
            "content_type": "text/plain"}, operation="add note")
        if not isinstance(article, dict) or article.get("ticket_id") != int(case_id):
            raise self.client.unexpected("add note", "not an article of that ticket")

    async def delete_case(self, case_id: str) -> None:
        _check_id(self.name, "delete case", case_id)
        try:
            await self.client.send_json("DELETE", f"/api/v1/tickets/{case_id}", operation="delete case")
        except HelpdeskError as exc:
            if exc.status != 404:
                raise
            me = await self.client.get("/api/v1/users/me", operation="delete case")  # the API is there
            if not isinstance(me, dict) or "id" not in me:
                raise self.client.unexpected("delete case", "not a user") from None

    async def delete_requester(self, email: str) -> None:
        user = await self._user_by_email(email, "delete requester")
        if user is None:
            return
        try:
            await self.client.post("/api/v1/data_privacy_tasks", {"deletable_type": "User", "deletable_id": user["id"]},
                                   operation="delete requester")
        except HelpdeskError as exc:
            if exc.status != 422:  # 422: a task for this user exists already (or the user may not be deleted)
                raise
            tasks = await self.client.get("/api/v1/data_privacy_tasks", operation="delete requester")
            if not any(isinstance(t, dict) and t.get("deletable_id") == user["id"] and t.get("deletable_type") == "User"
                       and t.get("state") != "failed" for t in (tasks if isinstance(tasks, list) else [])):
                raise

    async def _put_ticket(self, case_id: str, change: dict[str, Any], operation: str) -> None:
        ticket = await self.client.send_json("PUT", f"/api/v1/tickets/{case_id}", change, operation=operation)
        if not isinstance(ticket, dict) or ticket.get("id") != int(case_id):
            raise self.client.unexpected(operation, "no ticket id")

    async def _user_by_email(self, email: str, operation: str) -> dict[str, Any] | None:
        """The user whose address is ``email``: the search matches words, so each hit is checked."""
        found = await self.client.get("/api/v1/users/search", operation=operation,
                                      params={"query": email.strip(), "limit": 100})
        if not isinstance(found, list):
            raise self.client.unexpected(operation, "not a list of users")
        return next((u for u in found if isinstance(u, dict) and isinstance(u.get("id"), int)
                     and same_address(u.get("email"), email)), None)

    async def _email_of(self, user_id: int, operation: str = "read customer") -> str:
        return _text((await self._user(user_id, operation)).get("email"))

    async def _user(self, user_id: int, operation: str = "read customer") -> dict[str, Any]:
        user = await self.client.get(f"/api/v1/users/{user_id}", operation=operation)
        if not isinstance(user, dict):
            raise self.client.unexpected(operation, "not a user")
        return user


def _message(article: dict[str, Any]) -> Message:
    attachments = article.get("attachments")
    return Message(
        id=_text(article.get("id")),
        author=_text(article.get("from") or article.get("created_by") or article.get("created_by_id")),
        created=_text(article.get("created_at")),
        text=_text(article.get("body")),
        public=article.get("internal") is not True,
        attachments=tuple(_attachment(a) for a in (attachments if isinstance(attachments, list) else [])
                          if isinstance(a, dict)),
    )


def _attachment(attachment: dict[str, Any]) -> Attachment:
    size = attachment.get("size")  # Zammad gives the size as a string
    preferences = attachment.get("preferences")
    kind = ""
    if isinstance(preferences, dict):
        kind = _text(preferences.get("Content-Type") or preferences.get("Mime-Type"))
    return Attachment(
        name=_text(attachment.get("filename")),
        size=int(size) if isinstance(size, int) or (isinstance(size, str) and size.isdigit()) else None,
        content_type=kind,
        id=_text(attachment.get("id")),
    )


def _check_id(adapter: str, operation: str, *ids: str) -> None:
    if not all(i.isdigit() for i in ids):
        raise HelpdeskError(f"{adapter}: {operation}: ids are numbers", retryable=False)




def _quoted(text: str) -> str:
    """``text`` inside an Elasticsearch query-string phrase."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _text(value: object) -> str:
    return "" if value is None else str(value)
