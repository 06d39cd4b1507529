"""Zendesk Support through its REST API v2.

On the helpdesk: token access turned on (Admin Center -> Apps and
integrations -> Zendesk API) and an API token; ``email`` is an agent's address
whose role can see the groups asked about (Basic ``email/token:api_token``).
Zendesk limits requests per minute: a 429 carries ``Retry-After``, honoured.

- ``find_cases``: ``GET /api/v2/search.json?query=type:ticket requester:<address>``
  with ``include=tickets(users)``, following ``next_page`` (up to Zendesk's
  1,000 results). Each hit's requester (sideloaded) must have that e-mail
  address; others are dropped. New tickets reach the search index after a
  few minutes. A reference is read directly (``GET /api/v2/tickets/{id}.json``).
- ``read_case``: ``GET /api/v2/tickets/{id}.json?include=users,groups`` and
  ``GET /api/v2/tickets/{id}/comments.json?include=users`` with cursor
  pagination (``page[size]``, ``meta.has_more``, ``links.next``; an answer
  with offset ``next_page`` is followed as well). Private comments are
  ``public`` false. The requester (sideloaded with the ticket) gives the
  address, the ``name`` and the ``phone``.
- ``open_case``: ``POST /api/v2/tickets.json`` with the requester (Zendesk
  finds or creates the user), the group id, the first comment and the tags,
  and an ``Idempotency-Key``, so a retried POST does not open a second ticket.
- Pagination URLs are read for their query only and sent to the configured
  base URL, never to whatever host an answer names.

Retention schedules: ``list_cases`` exports the search
``status:<status> updated<YYYY-MM-DD`` for each status asked
(``GET /api/v2/search/export`` with ``filter[type]=ticket``, cursor
pagination by ``page[size]``, ``meta.has_more`` and ``links.next``): unlike
``search.json`` it is not cut at 1,000 results, and it holds archived
tickets. A status Zendesk does not have (new, open, pending, hold, solved,
closed are all it has) lists nothing. The query's date is two days late, so
no time zone leaves a due ticket out; each hit's status and ``updated_at``
are checked exactly, and the requesters' addresses are read 100 at a time
(``GET /api/v2/users/show_many?ids=...``). The export is ordered by creation,
so ``limit`` keeps the oldest tickets first.

Anonymisation. Zendesk refuses every update of a *closed* ticket (422), so
a closed ticket's subject and requester cannot change: anonymise tickets when
solved, before Zendesk closes them, or delete them. Redaction works on closed
tickets too.

- ``update_requester``: the pseudonym's user is found or made
  (``POST /api/v2/users/create_or_update.json``, by address: idempotent), then
  ``PUT /api/v2/tickets/{id}.json`` with its ``requester_id``. The person's own
  user is not changed (``delete_requester`` deletes it).
- ``update_case``: ``PUT /api/v2/tickets/{id}.json`` with the ``subject``; the
  fields read (priority, type, due date, tags) are metadata: refused.
- ``update_message``: a comment's text cannot be replaced, only redacted. The
  spans the new text replaced by labels (:mod:`.redaction`) are redacted with
  ``PUT /api/v2/comment_redactions/{comment_id}.json`` (Zendesk's comment
  redaction, which also works on closed and archived tickets; the older
  ``.../comments/{id}/redact.json`` does not): the comment then shows ``▇``
  where the values were, not the labels. A new text that is not such a
  rewrite of the comment is refused (:class:`NotSupported`).
- ``add_note``: ``PUT /api/v2/tickets/{id}.json`` with a ``comment`` whose
  ``public`` is false (a private comment: agents only). Like every update it
  is refused on a closed ticket.
- ``delete_attachment``: ``PUT /api/v2/tickets/{ticket_id}/comments/{comment_id}/attachments/{id}/redact``
  (Zendesk replaces the file with an empty ``redacted.txt``).
- ``delete_case``: ``DELETE /api/v2/tickets/{id}.json`` (recoverable for 30
  days), then ``DELETE /api/v2/deleted_tickets/{id}.json`` (permanent).
- ``delete_requester``: the user with that address (``GET /api/v2/users/search.json``),
  ``DELETE /api/v2/users/{id}.json``, then ``DELETE /api/v2/deleted_users/{id}.json``
  (permanent). A user already gone is success; one whose permanent deletion
  failed after the first delete is no longer found by address, so the error
  of that try is the only report of it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

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
from .client import HelpdeskClient, Sleep, basic_auth
from .redaction import mark_in_html, removed_spans, still_holds

Index = dict[Any, dict[str, Any]]  # sideloaded users or groups by id
MAX_PAGES = 100  # search stops at 1,000 results (10 pages of 100); comments at 100 pages of 100
#: A ticket's status: Zendesk's fixed set (custom statuses each map to one of these).
STATUSES = ("new", "open", "pending", "hold", "solved", "closed")


class Zendesk(HelpdeskAdapter):
    name = "zendesk"
    per_page = 100  # Zendesk's maximum
    capabilities: ClassVar[frozenset[Operation]] = frozenset(
        {"update_requester", "update_case", "update_message", "delete_attachment", "delete_case", "delete_requester"})

    def __init__(self, settings: HelpdeskSettings, session: aiohttp.ClientSession | None = None, *,
                 sleep: Sleep = asyncio.sleep) -> None:
        auth = basic_auth(f"{settings.email}/token", settings.api_token or "")
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
                shown = await self._ticket(number, "find cases", "users")
            except HelpdeskError as exc:
                if exc.status == 404:
                    return []
                raise
            ticket, sideloaded, _ = shown
            return [_ref(ticket)] if same_address(_email(sideloaded, ticket.get("requester_id")), email) else []
        found: dict[int, dict[str, Any]] = {}
        users: Index = {}
        params: dict[str, str | int] = {
            "query": f"type:ticket requester:{_term(email.strip())}", "include": "tickets(users)",
            "per_page": self.per_page,
        }
        for _ in range(MAX_PAGES):
            page = await self.client.get("/api/v2/search.json", operation="find cases", params=params)
            results = page.get("results") if isinstance(page, dict) else None
            if not isinstance(results, list):
                raise self.client.unexpected("find cases", "no results list")
            users.update(_users(page))
            for ticket in results:
                if isinstance(ticket, dict) and isinstance(ticket.get("id"), int) \
                        and ticket.get("result_type", "ticket") == "ticket":
                    found[ticket["id"]] = ticket
            following = _query_of(page.get("next_page"))
            if following is None or not results:
                break
            params = {**params, **following}
        return [_ref(t) for _, t in sorted(found.items())
                if same_address(_email(users, t.get("requester_id")), email)]

    async def list_cases(self, states: Collection[str], updated_before: float, *,
                         limit: int = 10_000) -> list[CaseSummary]:
        asked = {state.casefold() for state in states}
        due: dict[int, tuple[dict[str, Any], str, float]] = {}
        for status in (s for s in STATUSES if s in asked):  # one query a status: each a plain keyword search
            params: dict[str, str | int] = {"query": f"status:{status} updated<{sieve_day(updated_before)}",
                                            "filter[type]": "ticket", "page[size]": self.per_page}
            for _ in range(limit // self.per_page + MAX_PAGES):
                if len(due) >= limit:
                    break
                page = await self.client.get("/api/v2/search/export", operation="list cases", params=params)
                results = page.get("results") if isinstance(page, dict) else None
                if not isinstance(results, list):
                    raise self.client.unexpected("list cases", "no results list")
                for ticket in results:
                    if not isinstance(ticket, dict) or not isinstance(ticket.get("id"), int) \
                            or ticket.get("result_type", "ticket") != "ticket":
                        continue
                    updated = iso_epoch(ticket.get("updated_at"))
                    if ticket.get("status") == status and updated is not None and updated < updated_before \
                            and len(due) < limit:
                        due[ticket["id"]] = (ticket, status, updated)
                meta, links = page.get("meta"), page.get("links")
                more = isinstance(meta, dict) and meta.get("has_more") is True and isinstance(links, dict)
                following = _query_of(links.get("next")) if more and isinstance(links, dict) else None
                if following is None or not results:
                    break
                params = {**params, **following}
        users = await self._users_by_id({t.get("requester_id") for t, _, _ in due.values()}, "list cases")
        return [CaseSummary(str(t["id"]), str(t["id"]), status, updated, _email(users, t.get("requester_id")))
                for t, status, updated in due.values()]

    async def _users_by_id(self, ids: set[object], operation: str) -> Index:
        """The users with these ids (``show_many``, 100 a request); a user gone is left out."""
        wanted = sorted(i for i in ids if isinstance(i, int))
        users: Index = {}
        for start in range(0, len(wanted), 100):
            shown = await self.client.get("/api/v2/users/show_many", operation=operation,
                                          params={"ids": ",".join(map(str, wanted[start:start + 100]))})
            if not isinstance(shown, dict) or not isinstance(shown.get("users"), list):
                raise self.client.unexpected(operation, "no users list")
            users.update(_users(shown))
        return users

    async def read_case(self, case_id: str) -> Case:
        if not case_id.isdigit():
            raise HelpdeskError(f"{self.name}: read case: a ticket id is a number", retryable=False)
        ticket, users, groups = await self._ticket(case_id, "read case", "users,groups")
        comments = await self._comments(case_id, "read case", users)
        requester = _email(users, ticket.get("requester_id"))
        contact = users.get(ticket.get("requester_id"), {})
        phone = _text(contact.get("phone")).strip()
        group = ticket.get("group_id")
        tags = ticket.get("tags")
        fields = {key: _text(ticket[key]) for key in ("priority", "type", "due_at") if ticket.get(key)}
        if isinstance(tags, list) and tags:
            fields["tags"] = ",".join(str(t) for t in tags)
        return Case(
            id=str(ticket["id"]), reference=str(ticket["id"]), title=_text(ticket.get("subject")),
            status=_text(ticket.get("status")),
            queue=_text(groups.get(group, {}).get("name") or group),
            created=_text(ticket.get("created_at")), updated=_text(ticket.get("updated_at")),
            requester=requester,
            messages=tuple(_message(c, users, ticket.get("requester_id"), requester) for c in comments),
            fields=fields,
            requester_name=_text(contact.get("name")).strip(),
            requester_phones=(phone,) if phone else (),
        )

    async def open_case(self, case: NewCase) -> CaseRef:
        group = case.queue or self.queue or ""
        if not group.isdigit():
            raise HelpdeskError(f"{self.name}: open case: the group is a group id", retryable=False)
        ticket: dict[str, Any] = {
            "subject": case.title,
            "comment": {"body": case.body},
            "requester": {"email": case.requester, "name": case.requester.partition("@")[0] or case.requester},
            "group_id": int(group),
        }
        if case.tags:
            ticket["tags"] = list(case.tags)
        key = case.idempotency_key or str(uuid.uuid4())
        answer = await self.client.post("/api/v2/tickets.json", {"ticket": ticket}, operation="open case",
                                        idempotent=True, headers={"Idempotency-Key": key})
        made = answer.get("ticket") if isinstance(answer, dict) else None
        if not isinstance(made, dict) or not isinstance(made.get("id"), int):
            raise self.client.unexpected("open case", "no ticket id")
        return _ref(made)

    async def update_requester(self, case_id: str, name: str, email: str) -> None:
        _check_id(self.name, "update requester", case_id)
        answer = await self.client.post("/api/v2/users/create_or_update.json",
                                        {"user": {"name": name, "email": email, "role": "end-user"}},
                                        operation="update requester", idempotent=True)
        user = answer.get("user") if isinstance(answer, dict) else None
        if not isinstance(user, dict) or not isinstance(user.get("id"), int):
            raise self.client.unexpected("update requester", "no user id")
        await self._put_ticket(case_id, {"requester_id": user["id"]}, "update requester")

    async def update_case(self, case_id: str, title: str | None = None, fields: dict[str, str] | None = None) -> None:
        _check_id(self.name, "update case", case_id)
        if title is not None:
            await self._put_ticket(case_id, {"subject": title}, "update case")
        if fields:
            raise NotSupported(self.name, "update case", f"fields {', '.join(sorted(fields))}:")

    async def update_message(self, case_id: str, message_id: str, text: str) -> None:
        _check_id(self.name, "update message", case_id, message_id)
        comment = next((c for c in await self._comments(case_id, "update message", {})
                        if str(c.get("id")) == message_id), None)
        if comment is None:
            raise HelpdeskError(f"{self.name}: update message: answered 404 (not found)", retryable=False, status=404)
        spans = removed_spans(_text(comment.get("plain_body") or comment.get("body")), text)
        if spans is None:
            raise NotSupported(self.name, "update message", "replacing text (only redaction is):")
        if not spans:
            return  # nothing left to redact: done before
        marked = mark_in_html(_text(comment.get("html_body")), spans)
        if marked is None:
            raise HelpdeskError(f"{self.name}: update message: a value to redact is not in the comment's HTML",
                                retryable=False)
        answer = await self.client.send_json("PUT", f"/api/v2/comment_redactions/{message_id}.json",
                                             {"ticket_id": int(case_id), "html_body": marked},
                                             operation="update message")
        redacted = answer.get("comment") if isinstance(answer, dict) else None
        if not isinstance(redacted, dict):
            raise self.client.unexpected("update message", "no comment")
        if still_holds(_text(redacted.get("plain_body") or redacted.get("body")), spans):
            raise HelpdeskError(f"{self.name}: update message: the redaction left a value in place", retryable=False)

    async def add_note(self, case_id: str, text: str) -> None:
        _check_id(self.name, "add note", case_id)
        await self._put_ticket(case_id, {"comment": {"body": text, "public": False}}, "add note")

    async def delete_attachment(self, case_id: str, message_id: str, attachment_id: str) -> None:
        _check_id(self.name, "delete attachment", case_id, message_id, attachment_id)
        answer = await self.client.send_json(
            "PUT", f"/api/v2/tickets/{case_id}/comments/{message_id}/attachments/{attachment_id}/redact", {},
            operation="delete attachment")
        if not isinstance(answer, dict) or not isinstance(answer.get("attachment"), dict):
            raise self.client.unexpected("delete attachment", "no attachment")

    async def delete_case(self, case_id: str) -> None:
        _check_id(self.name, "delete case", case_id)
        await self._delete_twice(f"/api/v2/tickets/{case_id}.json", f"/api/v2/deleted_tickets/{case_id}.json",
                                 "delete case")

    async def delete_requester(self, email: str) -> None:
        found = await self.client.get("/api/v2/users/search.json", operation="delete requester",
                                      params={"query": email.strip()})
        users = found.get("users") if isinstance(found, dict) else None
        if not isinstance(users, list):
            raise self.client.unexpected("delete requester", "no users list")
        for user in users:
            if isinstance(user, dict) and isinstance(user.get("id"), int) and same_address(user.get("email"), email):
                await self._delete_twice(f"/api/v2/users/{user['id']}.json",
                                         f"/api/v2/deleted_users/{user['id']}.json", "delete requester")

    async def _delete_twice(self, soft: str, permanent: str, operation: str) -> None:
        """Zendesk's delete (recoverable), then its permanent delete; a 404 on both is success if the API answers."""
        gone = 0
        for path in (soft, permanent):
            try:
                await self.client.send_json("DELETE", path, operation=operation)
            except HelpdeskError as exc:
                if exc.status != 404:
                    raise
                gone += 1
        if gone == 2:
            me = await self.client.get("/api/v2/users/me.json", operation=operation)
            if not isinstance(me, dict) or not isinstance(me.get("user"), dict):
                raise self.client.unexpected(operation, "no user")

    async def _put_ticket(self, case_id: str, change: dict[str, Any], operation: str) -> None:
        answer = await self.client.send_json("PUT", f"/api/v2/tickets/{case_id}.json", {"ticket": change},
                                             operation=operation)
        ticket = answer.get("ticket") if isinstance(answer, dict) else None
        if not isinstance(ticket, dict) or ticket.get("id") != int(case_id):
            raise self.client.unexpected(operation, "no ticket")

    async def _comments(self, case_id: str, operation: str, users: Index) -> list[dict[str, Any]]:
        """Every comment of the ticket, following its pages; sideloaded users are added to ``users``."""
        comments: list[dict[str, Any]] = []
        params: dict[str, str | int] = {"include": "users", "page[size]": self.per_page}
        for _ in range(MAX_PAGES):
            page = await self.client.get(f"/api/v2/tickets/{case_id}/comments.json", operation=operation,
                                         params=params)
            batch = page.get("comments") if isinstance(page, dict) else None
            if not isinstance(batch, list):
                raise self.client.unexpected(operation, "no comments list")
            users.update(_users(page))
            comments += [c for c in batch if isinstance(c, dict)]
            meta, links = page.get("meta"), page.get("links")
            if isinstance(meta, dict):  # cursor pagination
                following = _query_of(links.get("next")) if meta.get("has_more") and isinstance(links, dict) else None
            else:  # offset pagination
                following = _query_of(page.get("next_page"))
            if following is None or not batch:
                break
            params = {**params, **following}
        return comments

    async def _ticket(self, number: str, operation: str, include: str) -> tuple[dict[str, Any], Index, Index]:
        """The ticket, and the users and groups sideloaded with it (by id)."""
        shown = await self.client.get(f"/api/v2/tickets/{int(number)}.json", operation=operation,
                                      params={"include": include})
        ticket = shown.get("ticket") if isinstance(shown, dict) else None
        if not isinstance(ticket, dict) or not isinstance(ticket.get("id"), int):
            raise self.client.unexpected(operation, "no ticket")
        return ticket, _users(shown), _by_id(shown.get("groups"))


def _ref(ticket: dict[str, Any]) -> CaseRef:
    return CaseRef(id=str(ticket["id"]), reference=str(ticket["id"]), title=_text(ticket.get("subject")))


def _users(page: dict[str, Any]) -> Index:
    return _by_id(page.get("users"))


def _by_id(items: object) -> Index:
    return {i.get("id"): i for i in items if isinstance(i, dict)} if isinstance(items, list) else {}


def _email(users: Index, user_id: object) -> str:
    return _text(users.get(user_id, {}).get("email"))


def _message(comment: dict[str, Any], users: Index, requester_id: object, requester: str) -> Message:
    author_id = comment.get("author_id")
    user = users.get(author_id, {})
    author = requester if author_id == requester_id and requester else _text(
        user.get("name") or user.get("email") or (f"user {author_id}" if author_id is not None else ""))
    attachments = comment.get("attachments")
    return Message(
        id=_text(comment.get("id")),
        author=author,
        created=_text(comment.get("created_at")),
        text=_text(comment.get("plain_body") or comment.get("body")),
        public=comment.get("public") is not False,
        attachments=tuple(
            Attachment(name=_text(a.get("file_name")), size=a.get("size") if isinstance(a.get("size"), int) else None,
                       content_type=_text(a.get("content_type")), id=_text(a.get("id")))
            for a in (attachments if isinstance(attachments, list) else []) if isinstance(a, dict)
        ),
    )


def _query_of(url: object) -> dict[str, str | int] | None:
    """The query of a pagination URL, to send to the configured base (None: no next page)."""
    if not isinstance(url, str) or not url:
        return None
    pairs = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    return dict(pairs) if pairs else None




def _term(text: str) -> str:
    """A search value: quoted when it holds what would end the term."""
    if any(ch.isspace() or ch in '"()' for ch in text):
        return '"' + text.replace('"', "") + '"'
    return text


def _check_id(adapter: str, operation: str, *ids: str) -> None:
    if not all(i.isdigit() for i in ids):
        raise HelpdeskError(f"{adapter}: {operation}: ids are numbers", retryable=False)


def _text(value: object) -> str:
    return "" if value is None else str(value)
