"""Recording stand-ins for Zammad's and Zendesk's REST APIs on loopback, in the shapes their docs give.

Each fake keeps its own users, tickets and messages, answers the endpoints the
adapters use (search with pagination, a ticket, its articles or comments, a
user, ticket creation), checks the credentials, and records every request::

    zammad = await FakeZammad(token="t0k3n").start()
    jane = zammad.add_user("jane@example.com")
    zammad.add_ticket(jane, "Printer on fire", articles=[...])
    zammad.fail("/api/v1/tickets/search", 429, headers={"Retry-After": "7"})  # the next matching request
    ...
    zammad.requests[-1].query["query"]  # what the adapter sent

Their searches match words, as Elasticsearch and Zendesk's index do, not
whole addresses: a search for jane@example.com also finds
mary.jane@example.com's tickets, which the adapters must drop themselves.
The retention listings (Zammad's search by ``state.name`` and ``updated_at``,
Zendesk's search export by ``status`` and ``updated``) compare dates by the
day, as a search does, and Zammad's index may lag behind its tickets
(``stale_index``).

The anonymisation's endpoints behave as their helpdesks document them:
Zammad updates a ticket's title and customer, deletes tickets, makes users, and
queues data privacy tasks (run by ``run_privacy_tasks()``, as Zammad's
scheduler would: the user and every ticket they are the customer of go);
Zendesk refuses updates of closed tickets, makes users by address
(``create_or_update``), redacts comments (``<redact>`` in the HTML: each
character becomes ▇) and attachments (an empty ``redacted.txt``), and deletes
tickets and users in two steps (soft, then permanent).
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDictProxy, MultiMapping
from yarl import URL


@dataclass
class Seen:
    method: str
    path: str
    query: MultiMapping[str]
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Fault:
    path: str
    status: int
    headers: dict[str, str]
    body: Any
    method: str | None


@dataclass
class FakeApi:
    """What both fakes share: a loopback server, the request log, injected faults and the credentials check."""

    requests: list[Seen] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    def fail(self, path: str, status: int, *, headers: dict[str, str] | None = None, body: Any = None,
             method: str | None = None, times: int = 1) -> None:
        """Answer the next ``times`` requests to ``path`` (and ``method``, if given) with ``status``."""
        for _ in range(times):
            self.faults.append(Fault(path, status, headers or {}, {"error": "injected"} if body is None else body,
                                     method))

    def seen(self, path: str, method: str = "GET") -> list[Seen]:
        return [r for r in self.requests if r.path == path and r.method == method]

    async def start(self) -> Any:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        seen = Seen(request.method, request.path, request.query, request.headers, await request.read())
        self.requests.append(seen)
        for fault in self.faults:
            if fault.path == request.path and fault.method in (None, request.method):
                self.faults.remove(fault)
                return web.json_response(fault.body, status=fault.status, headers=fault.headers)
        if not self.authorised(request.headers.get("Authorization", "")):
            return self.unauthorised()
        return await self.route(seen)

    def authorised(self, header: str) -> bool:
        raise NotImplementedError

    def unauthorised(self) -> web.Response:
        raise NotImplementedError

    async def route(self, seen: Seen) -> web.StreamResponse:
        raise NotImplementedError


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _stamp(n: int) -> str:
    return f"2025-03-{1 + n // 24:02d}T{n % 24:02d}:00:00.000Z"


@dataclass
class FakeZammad(FakeApi):
    """Zammad's REST API v1: /api/v1/tickets/search, tickets, users, ticket_articles/by_ticket, ticket creation."""

    token: str = "zammad-token"
    login: tuple[str, str] | None = None  # (user, password) accepted as HTTP Basic too
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    articles: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=lambda: {"Users": 1, "Privacy requests": 3})
    privacy_tasks: list[dict[str, Any]] = field(default_factory=list)
    states: dict[int, str] = field(default_factory=lambda: {  # Zammad's default ticket states
        1: "new", 2: "open", 3: "pending reminder", 4: "closed", 5: "merged", 6: "removed", 7: "pending close"})
    stale_index: dict[int, dict[str, Any]] = field(default_factory=dict)  # what the index still holds of a ticket
    _clock: int = 0
    _articles_made: int = 0

    def authorised(self, header: str) -> bool:
        return header == f"Token token={self.token}" or (self.login is not None and header == basic(*self.login))

    def unauthorised(self) -> web.Response:
        return web.json_response({"error": "Authentication required"}, status=401)

    def _tick(self) -> str:
        self._clock += 1
        return _stamp(self._clock)

    def add_user(self, email: str, firstname: str = "", lastname: str = "", *, phone: str = "",
                 mobile: str = "") -> int:
        user_id = 10 + len(self.users)
        self.users[user_id] = {"id": user_id, "login": email.lower(), "email": email, "firstname": firstname,
                               "lastname": lastname, "phone": phone, "mobile": mobile, "fax": "", "active": True,
                               "role_ids": [3], "organization_id": None, "created_at": self._tick()}
        return user_id

    def add_ticket(self, customer_id: int, title: str, *, group: str = "Users",
                   articles: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
        ticket_id = 100 + len(self.tickets)
        created = self._tick()
        self.tickets[ticket_id] = {
            "id": ticket_id, "group_id": self.groups[group], "priority_id": 2, "state_id": 2,
            "organization_id": None, "number": str(31000 + ticket_id), "title": title, "owner_id": 1,
            "customer_id": customer_id, "note": None, "created_at": created, "updated_at": created,
            "article_count": 0, "create_article_type_id": 5, "create_article_sender_id": 2,
        }
        self.articles[ticket_id] = []
        for article in articles:
            self.add_article(ticket_id, **article)
        return self.tickets[ticket_id]

    def add_article(self, ticket_id: int, *, body: str, sender: str = "Customer", internal: bool = False,
                    from_: str | None = None, attachments: Sequence[tuple[str, int, str]] = ()) -> None:
        ticket = self.tickets[ticket_id]
        customer = self.users[ticket["customer_id"]]
        article_id = 1000 + self._articles_made
        self._articles_made += 1
        created = self._tick()
        self.articles[ticket_id].append({
            "id": article_id, "ticket_id": ticket_id, "type_id": 1 if sender == "Customer" else 10,
            "sender_id": 2 if sender == "Customer" else 1,
            "from": from_ if from_ is not None else (customer["email"] if sender == "Customer" else "Agent Smith"),
            "to": "support@example.com", "cc": None, "subject": ticket["title"], "reply_to": None,
            "message_id": None, "content_type": "text/html", "body": body, "internal": internal,
            "preferences": {}, "created_by_id": ticket["customer_id"] if sender == "Customer" else 1,
            "updated_by_id": 1, "created_at": created, "updated_at": created,
            "attachments": [
                {"id": 5000 + 10 * article_id + n, "filename": name, "size": str(size),
                 "preferences": {"Content-Type": kind, "Mime-Type": kind}}
                for n, (name, size, kind) in enumerate(attachments)
            ],
            "type": "email" if sender == "Customer" else "note", "sender": sender,
            "created_by": customer["login"] if sender == "Customer" else "agent@example.com",
            "updated_by": "agent@example.com",
        })
        ticket["article_count"] = len(self.articles[ticket_id])
        ticket["updated_at"] = created

    def expanded(self, ticket: dict[str, Any]) -> dict[str, Any]:
        names = {v: k for k, v in self.groups.items()}
        return {
            **ticket, "group": names[ticket["group_id"]],
            "state": self.states[ticket["state_id"]],
            "priority": "2 normal", "owner": "-", "customer": self.users[ticket["customer_id"]]["login"],
            "organization": None, "created_by": "agent@example.com", "updated_by": "agent@example.com",
            "article_ids": [a["id"] for a in self.articles[ticket["id"]]],
        }

    async def route(self, seen: Seen) -> web.StreamResponse:
        path, method = seen.path, seen.method
        if path == "/api/v1/tickets/search" and method == "GET":
            if seen.query.get("query", "").startswith("state.name:"):
                return self._search_by_state(seen)
            return self._search(seen)
        if path == "/api/v1/ticket_states" and method == "GET":
            return web.json_response([{"id": i, "state_type_id": i, "name": name, "next_state_id": None,
                                       "active": True, "note": None} for i, name in self.states.items()])
        if path == "/api/v1/tickets" and method == "POST":
            return self._create(seen.json())
        if (found := re.fullmatch(r"/api/v1/tickets/(\d+)", path)) and method == "GET":
            ticket = self.tickets.get(int(found.group(1)))
            if ticket is None:
                return web.json_response({"error": f"Couldn't find Ticket with 'id'={found.group(1)}"}, status=404)
            return web.json_response(self.expanded(ticket) if seen.query.get("expand") == "true" else ticket)
        if (found := re.fullmatch(r"/api/v1/users/(\d+)", path)) and method == "GET":
            user = self.users.get(int(found.group(1)))
            if user is None:
                return web.json_response({"error": f"Couldn't find User with 'id'={found.group(1)}"}, status=404)
            return web.json_response(user)
        if (found := re.fullmatch(r"/api/v1/ticket_articles/by_ticket/(\d+)", path)) and method == "GET":
            if int(found.group(1)) not in self.tickets:
                return web.json_response({"error": "Couldn't find Ticket"}, status=404)
            return web.json_response(self.articles[int(found.group(1))])  # every article: no pagination
        if (found := re.fullmatch(r"/api/v1/tickets/(\d+)", path)) and method in ("PUT", "DELETE"):
            return self._change(int(found.group(1)), seen)
        if path == "/api/v1/users/me" and method == "GET":
            return web.json_response({"id": 1, "login": "agent@example.com", "email": "agent@example.com"})
        if path == "/api/v1/users/search" and method == "GET":
            words = seen.query.get("query", "").lower()
            return web.json_response([u for u in self.users.values() if words and words in u["email"].lower()])
        if path == "/api/v1/users" and method == "POST":
            body = seen.json()
            if any(u["email"].lower() == body.get("email", "").lower() for u in self.users.values()):
                return web.json_response({"error": "Email address is already used for another user."}, status=422)
            user_id = self.add_user(body["email"], body.get("firstname", ""), body.get("lastname", ""))
            return web.json_response(self.users[user_id], status=201)
        if path == "/api/v1/ticket_articles" and method == "POST":
            return self._note(seen.json())
        if path == "/api/v1/data_privacy_tasks" and method == "GET":
            return web.json_response(self.privacy_tasks)
        if path == "/api/v1/data_privacy_tasks" and method == "POST":
            return self._privacy_task(seen.json())
        return web.json_response({"error": "No route matches"}, status=404)

    def _change(self, ticket_id: int, seen: Seen) -> web.Response:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            return web.json_response({"error": f"Couldn't find Ticket with 'id'={ticket_id}"}, status=404)
        if seen.method == "DELETE":
            del self.tickets[ticket_id], self.articles[ticket_id]
            return web.json_response({})
        body = seen.json()
        if "customer_id" in body and body["customer_id"] not in self.users:
            return web.json_response({"error": "No lookup value found for 'customer_id'"}, status=422)
        ticket.update({k: v for k, v in body.items() if k in ("title", "customer_id")})
        ticket["updated_at"] = self._tick()
        return web.json_response(ticket)

    def _note(self, body: dict[str, Any]) -> web.Response:
        ticket_id = body.get("ticket_id")
        if ticket_id not in self.tickets:
            return web.json_response({"error": "No lookup value found for 'ticket_id'"}, status=422)
        self.add_article(ticket_id, body=body.get("body", ""), sender="Agent", internal=bool(body.get("internal")))
        article = self.articles[ticket_id][-1]
        article["type"] = body.get("type", "note")
        article["content_type"] = body.get("content_type", "text/html")
        return web.json_response(article, status=201)

    def _privacy_task(self, body: dict[str, Any]) -> web.Response:
        if body.get("deletable_type") != "User" or body.get("deletable_id") not in self.users:
            return web.json_response({"error": "Data privacy task allows to delete a user or a ticket only."},
                                     status=422)
        if any(t["deletable_id"] == body["deletable_id"] for t in self.privacy_tasks):
            return web.json_response({"error": "Selected object is already queued for deletion."}, status=422)
        task = {"id": 1 + len(self.privacy_tasks), "deletable_type": "User", "deletable_id": body["deletable_id"],
                "state": "in process", "preferences": {}}
        self.privacy_tasks.append(task)
        return web.json_response(task, status=201)

    def run_privacy_tasks(self) -> None:
        """What Zammad's scheduler does with queued tasks: delete each user and the tickets they are customer of."""
        for task in self.privacy_tasks:
            if task["state"] == "in process":
                user = task["deletable_id"]
                for ticket_id in [t for t, ticket in self.tickets.items() if ticket["customer_id"] == user]:
                    del self.tickets[ticket_id], self.articles[ticket_id]
                self.users.pop(user, None)
                task["state"] = "completed"

    def _search(self, seen: Seen) -> web.Response:
        query = seen.query.get("query", "")
        wanted = re.fullmatch(r'customer\.email:"((?:[^"\\]|\\.)*)"(?: AND number:(\d+))?', query)
        if wanted is None:
            return web.json_response([])
        email = re.sub(r"\\(.)", r"\1", wanted.group(1)).lower()
        hits = [
            self.expanded(t) for t in sorted(self.tickets.values(), key=lambda t: t["id"])
            if email in self.users[t["customer_id"]]["email"].lower()  # words, not the whole address
            and (wanted.group(2) is None or t["number"] == wanted.group(2))
        ]
        per_page = min(200, int(seen.query.get("per_page", "50")))
        page = int(seen.query.get("page", "1"))
        return web.json_response(hits[(page - 1) * per_page: page * per_page])

    def _search_by_state(self, seen: Seen) -> web.Response:
        """``state.name:("a" OR "b") AND updated_at:<YYYY-MM-DD``, matched against the index (which may lag)."""
        wanted = re.fullmatch(r'state\.name:\(((?:"[^"]*"(?: OR )?)+)\) AND updated_at:<(\d{4}-\d{2}-\d{2})',
                              seen.query.get("query", ""))
        if wanted is None:
            return web.json_response({"error": "query is not understood"}, status=422)
        names, day = set(re.findall(r'"([^"]*)"', wanted.group(1))), wanted.group(2)
        indexed = {i: {**t, **self.stale_index.get(i, {})} for i, t in self.tickets.items()}
        hits = [i for i, t in indexed.items() if self.states[t["state_id"]] in names and t["updated_at"][:10] < day]
        if seen.query.get("sort_by") == "updated_at":
            hits.sort(key=lambda i: (indexed[i]["updated_at"], i), reverse=seen.query.get("order_by") != "asc")
        per_page = min(200, int(seen.query.get("per_page", "50")))
        page = int(seen.query.get("page", "1"))
        return web.json_response([self.expanded(self.tickets[i]) for i in hits[(page - 1) * per_page: page * per_page]])

    def _create(self, body: dict[str, Any]) -> web.Response:
        group = body.get("group_id") or self.groups.get(body.get("group", ""))
        if group not in self.groups.values():
            return web.json_response({"error": f"No lookup value found for 'group': {body.get('group')!r}"},
                                     status=422)
        guess = str(body.get("customer_id", ""))
        if not guess.startswith("guess:") or "@" not in guess:
            return web.json_response({"error": "Invalid email of customer"}, status=422)
        email = guess.removeprefix("guess:")
        customer = next((u["id"] for u in self.users.values() if u["email"].lower() == email.lower()), None)
        if customer is None:
            customer = self.add_user(email)
        name = {v: k for k, v in self.groups.items()}[int(group)]
        ticket = self.add_ticket(customer, body["title"], group=name)
        article = body.get("article") or {}
        if article:
            self.add_article(ticket["id"], body=article["body"], sender="Agent", internal=bool(article.get("internal")))
        return web.json_response({**ticket, "article_ids": [a["id"] for a in self.articles[ticket["id"]]],
                                  "tags": body.get("tags", "")}, status=201)


@dataclass
class FakeZendesk(FakeApi):
    """Zendesk's REST API v2: search.json, tickets/{id}.json, tickets/{id}/comments.json, tickets.json."""

    email: str = "agent@example.com"
    api_token: str = "zendesk-token"
    next_page_host: str | None = None  # name another host in pagination URLs, as a proxy in front might
    cursor_pagination: bool = True  # false: comments page by offset (next_page), whatever is asked
    offset_page_size: int = 100
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    groups: dict[int, dict[str, Any]] = field(default_factory=lambda: {
        360001: {"id": 360001, "name": "Support"}, 360002: {"id": 360002, "name": "Privacy requests"}})
    idempotency: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted_tickets: dict[int, dict[str, Any]] = field(default_factory=dict)  # soft-deleted: recoverable
    deleted_users: dict[int, dict[str, Any]] = field(default_factory=dict)
    _clock: int = 0
    _made: int = 0  # comments and attachments made, for ids unique across tickets

    def __post_init__(self) -> None:
        self.agent = self.add_user(self.email, "Agent Smith", role="agent")

    def authorised(self, header: str) -> bool:
        return header == basic(f"{self.email}/token", self.api_token)

    def unauthorised(self) -> web.Response:
        return web.json_response({"error": "Couldn't authenticate you"}, status=401)

    def _tick(self) -> str:
        self._clock += 1
        return _stamp(self._clock).replace(".000Z", "Z")

    def add_user(self, email: str, name: str = "", role: str = "end-user", *, phone: str | None = None) -> int:
        user_id = 900 + len(self.users)
        self.users[user_id] = {"id": user_id, "url": f"{self.url}/api/v2/users/{user_id}.json",
                               "name": name or email.partition("@")[0], "email": email, "phone": phone,
                               "shared_phone_number": None if phone is None else False, "role": role,
                               "created_at": self._tick(), "verified": True}
        return user_id

    def add_ticket(self, requester_id: int, subject: str, *, group_id: int = 360001, tags: Sequence[str] = (),
                   comments: Sequence[dict[str, Any]] = (), status: str = "open") -> dict[str, Any]:
        ticket_id = 35 + len(self.tickets) + len(self.deleted_tickets)
        created = self._tick()
        self.tickets[ticket_id] = {
            "id": ticket_id, "url": f"{self.url}/api/v2/tickets/{ticket_id}.json", "external_id": None,
            "via": {"channel": "web"}, "created_at": created, "updated_at": created, "type": "question",
            "subject": subject, "raw_subject": subject, "description": "", "priority": "normal",
            "status": status, "recipient": None, "requester_id": requester_id, "submitter_id": requester_id,
            "assignee_id": self.agent, "organization_id": None, "group_id": group_id, "tags": list(tags),
            "due_at": None, "custom_fields": [],
        }
        self.comments[ticket_id] = []
        for comment in comments:
            self.add_comment(ticket_id, **comment)
        return self.tickets[ticket_id]

    def add_comment(self, ticket_id: int, *, body: str, author_id: int | None = None, public: bool = True,
                    attachments: Sequence[tuple[str, int, str]] = ()) -> None:
        ticket = self.tickets[ticket_id]
        comment_id = 7000 + self._made
        self._made += 1 + len(attachments)
        created = self._tick()
        self.comments[ticket_id].append({
            "id": comment_id, "type": "Comment", "author_id": author_id or ticket["requester_id"], "body": body,
            "html_body": f'<div class="zd-comment" dir="auto"><p>{html.escape(body, quote=False)}</p></div>',
            "plain_body": body, "public": public, "audit_id": comment_id + 1,
            "via": {"channel": "web"}, "created_at": created, "metadata": {"system": {}},
            "attachments": [
                {"id": comment_id + 1 + n, "file_name": name,
                 "content_url": f"{self.url}/attachments/{comment_id + 1 + n}/{name}",
                 "content_type": kind, "size": size, "thumbnails": []}
                for n, (name, size, kind) in enumerate(attachments)
            ],
        })
        if not ticket["description"]:
            ticket["description"] = body
        ticket["updated_at"] = created

    def _sideload(self, ids: set[int]) -> list[dict[str, Any]]:
        return [self.users[i] for i in sorted(ids) if i in self.users]

    def _link(self, path: str, **query: str | int) -> str:
        base = URL(self.url)
        if self.next_page_host is not None:
            base = base.with_host(self.next_page_host)
        return str(base.with_path(path).with_query({k: str(v) for k, v in query.items()}))

    async def route(self, seen: Seen) -> web.StreamResponse:
        path, method = seen.path, seen.method
        if path == "/api/v2/search.json" and method == "GET":
            return self._search(seen)
        if path == "/api/v2/search/export" and method == "GET":
            return self._export(seen)
        if path == "/api/v2/users/show_many" and method == "GET":
            ids = [int(i) for i in seen.query.get("ids", "").split(",") if i.isdigit()]
            if len(ids) > 100:
                return web.json_response({"error": "InvalidValue", "description": "at most 100 ids"}, status=400)
            return web.json_response({"users": [self.users[i] for i in ids if i in self.users], "count": None,
                                      "next_page": None, "previous_page": None})
        if path == "/api/v2/tickets.json" and method == "POST":
            return self._create(seen)
        if (found := re.fullmatch(r"/api/v2/tickets/(\d+)\.json", path)) and method == "GET":
            ticket = self.tickets.get(int(found.group(1)))
            if ticket is None:
                return web.json_response({"error": "RecordNotFound", "description": "Not found"}, status=404)
            answer: dict[str, Any] = {"ticket": ticket}
            include = seen.query.get("include", "").split(",")
            if "users" in include:
                answer["users"] = self._sideload({ticket["requester_id"], ticket["submitter_id"],
                                                  ticket["assignee_id"]})
            if "groups" in include:
                answer["groups"] = [self.groups[ticket["group_id"]]]
            return web.json_response(answer)
        if (found := re.fullmatch(r"/api/v2/tickets/(\d+)/comments\.json", path)) and method == "GET":
            return self._comments(seen, int(found.group(1)))
        if (found := re.fullmatch(r"/api/v2/tickets/(\d+)\.json", path)) and method == "PUT":
            return self._update(int(found.group(1)), seen.json().get("ticket", {}))
        if path == "/api/v2/users/create_or_update.json" and method == "POST":
            user = seen.json().get("user", {})
            known = next((u for u in self.users.values() if u["email"].lower() == user.get("email", "").lower()), None)
            if known is not None:
                return web.json_response({"user": known})
            made = self.add_user(user["email"], user.get("name", ""), user.get("role", "end-user"))
            return web.json_response({"user": self.users[made]}, status=201)
        if (found := re.fullmatch(r"/api/v2/comment_redactions/(\d+)\.json", path)) and method == "PUT":
            return self._redact(int(found.group(1)), seen.json())
        if (found := re.fullmatch(r"/api/v2/tickets/(\d+)/comments/(\d+)/attachments/(\d+)/redact", path)) \
                and method == "PUT":
            return self._redact_attachment(*(int(n) for n in found.groups()))
        if (found := re.fullmatch(r"/api/v2/(deleted_)?(tickets|users)/(\d+)\.json", path)) and method == "DELETE":
            return self._delete(found.group(2), int(found.group(3)), permanently=bool(found.group(1)))
        if path == "/api/v2/users/search.json" and method == "GET":
            words = seen.query.get("query", "").lower()
            return web.json_response({"users": [u for u in self.users.values() if words and words in u["email"].lower()],
                                      "count": None, "next_page": None, "previous_page": None})
        if path == "/api/v2/users/me.json" and method == "GET":
            return web.json_response({"user": self.users[self.agent]})
        return web.json_response({"error": "InvalidEndpoint", "description": "Not found"}, status=404)

    def _update(self, ticket_id: int, change: dict[str, Any]) -> web.Response:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            return web.json_response({"error": "RecordNotFound", "description": "Not found"}, status=404)
        if ticket["status"] == "closed":
            return web.json_response({"error": "RecordInvalid", "description": "Record validation errors", "details": {
                "status": [{"description": "Status: closed prevents ticket update"}]}}, status=422)
        if "requester_id" in change and change["requester_id"] not in self.users:
            return web.json_response({"error": "RecordInvalid", "description": "Record validation errors"}, status=422)
        if "subject" in change:
            ticket["subject"] = ticket["raw_subject"] = change["subject"]
        if "requester_id" in change:
            ticket["requester_id"] = change["requester_id"]
        if isinstance(change.get("comment"), dict):
            comment = change["comment"]
            self.add_comment(ticket_id, body=comment.get("body", ""), author_id=self.agent,
                             public=comment.get("public", True) is not False)
        ticket["updated_at"] = self._tick()
        return web.json_response({"ticket": ticket, "audit": {"id": 1}})

    def _comment(self, comment_id: int) -> dict[str, Any] | None:
        return next((c for cs in self.comments.values() for c in cs if c["id"] == comment_id), None)

    def _redact(self, comment_id: int, body: dict[str, Any]) -> web.Response:
        comment = self._comment(comment_id)
        if comment is None or body.get("ticket_id") not in self.tickets \
                or comment not in self.comments[body["ticket_id"]]:
            return web.json_response({"error": "RecordNotFound", "description": "Not found"}, status=404)
        marked = str(body.get("html_body", ""))
        unmarked = re.sub(r"</?redact>", "", re.sub(r"<(\w+) redact", r"<\1", marked))
        if unmarked != comment["html_body"]:  # only marks may be added: the comment's HTML stays as it is
            return web.json_response({"error": "InvalidValue", "description": "html_body does not match"}, status=400)
        values = [html.unescape(v) for v in re.findall(r"<redact>(.*?)</redact>", marked, flags=re.S)]
        hidden = re.sub(r"<redact>(.*?)</redact>", lambda m: "\u2587" * len(html.unescape(m.group(1))), marked,
                        flags=re.S)
        hidden = re.sub(r"<(\w+) redact[^>]*>(.*?)</\1>", r"\2", hidden, flags=re.S)  # a redacted element goes
        comment["html_body"] = hidden
        if values or hidden != marked:  # the text follows the HTML, mark by mark
            comment["body"] = comment["plain_body"] = html.unescape(re.sub(r"<[^>]*>", "", hidden))
        return web.json_response({"comment": comment})

    def _redact_attachment(self, ticket_id: int, comment_id: int, attachment_id: int) -> web.Response:
        comment = self._comment(comment_id)
        if comment is None or comment not in self.comments.get(ticket_id, []):
            return web.json_response({"error": "RecordNotFound", "description": "Not found"}, status=404)
        for n, attachment in enumerate(comment["attachments"]):
            if attachment["id"] == attachment_id:
                comment["attachments"][n] = {
                    "id": attachment_id, "file_name": "redacted.txt", "content_type": "text/plain", "size": 0,
                    "content_url": f"{self.url}/attachments/{attachment_id}/redacted.txt", "thumbnails": []}
                return web.json_response({"attachment": comment["attachments"][n]})
        return web.json_response({"error": "RecordNotFound", "description": "Not found"}, status=404)

    def _delete(self, kind: str, item_id: int, *, permanently: bool) -> web.Response:
        live, deleted = (self.tickets, self.deleted_tickets) if kind == "tickets" else (self.users, self.deleted_users)
        if permanently:
            if deleted.pop(item_id, None) is None:
                return web.json_response({"error": "RecordNotFound", "description": "Not found"}, status=404)
            if kind == "tickets":
                self.comments.pop(item_id, None)
            return web.json_response({"job_status": {"id": f"job-{item_id}", "status": "queued"}})
        if item_id not in live:
            return web.json_response({"error": "RecordNotFound", "description": "Not found"}, status=404)
        deleted[item_id] = live.pop(item_id)
        return web.Response(status=204) if kind == "tickets" else web.json_response({"user": deleted[item_id]})

    def _search(self, seen: Seen) -> web.Response:
        query = seen.query.get("query", "")
        wanted = re.fullmatch(r'type:ticket requester:("[^"]*"|\S+)', query)
        per_page = int(seen.query.get("per_page", "100"))
        page = int(seen.query.get("page", "1"))
        if per_page > 100 or page * per_page > 1000:
            return web.json_response({"error": "invalid", "description": "Insufficient resource"}, status=422)
        email = wanted.group(1).strip('"').lower() if wanted else None
        hits = [t for t in sorted(self.tickets.values(), key=lambda t: t["id"])
                if email is not None and email in self.users.get(t["requester_id"], {}).get("email", "").lower()]
        results = [{**t, "result_type": "ticket"} for t in hits[(page - 1) * per_page: page * per_page]]
        answer: dict[str, Any] = {"results": results, "facets": None, "count": len(hits), "previous_page": None,
                                  "next_page": None}
        if page * per_page < len(hits):
            answer["next_page"] = self._link("/api/v2/search.json", **{**dict(seen.query), "page": page + 1})
        if seen.query.get("include") == "tickets(users)":
            answer["users"] = self._sideload({t["requester_id"] for t in results}
                                             | {t["assignee_id"] for t in results})
        return web.json_response(answer)

    def _export(self, seen: Seen) -> web.Response:
        """``status:<s> updated<YYYY-MM-DD``, tickets only (``filter[type]``), by creation, with cursor pages."""
        query = seen.query.get("query", "")
        if seen.query.get("filter[type]") != "ticket" or "type:" in query:
            return web.json_response({"error": "InvalidParameter", "description": "filter[type] is required, "
                                      "type: in the query is not allowed"}, status=400)
        wanted = re.fullmatch(r"status:(\w+) updated<(\d{4}-\d{2}-\d{2})", query)
        size = int(seen.query.get("page[size]", "100"))
        if wanted is None or size > 1000:
            return web.json_response({"error": "InvalidValue", "description": "Invalid search"}, status=400)
        hits = [t for t in sorted(self.tickets.values(), key=lambda t: (t["created_at"], t["id"]))
                if t["status"] == wanted.group(1) and t["updated_at"][:10] < wanted.group(2)]
        after = seen.query.get("page[after]")
        start = int(base64.b64decode(after)) if after else 0
        more = start + size < len(hits)
        cursor = base64.b64encode(str(start + size).encode()).decode()
        return web.json_response({
            "results": [{**t, "result_type": "ticket"} for t in hits[start:start + size]], "facets": None,
            "meta": {"has_more": more, "after_cursor": cursor if more else None, "before_cursor": None},
            "links": {"prev": None, "next": self._link(seen.path, **{**dict(seen.query), "page[after]": cursor})
                      if more else None},
        })

    def _comments(self, seen: Seen, ticket_id: int) -> web.Response:
        if ticket_id not in self.tickets:
            return web.json_response({"error": "RecordNotFound", "description": "Not found"}, status=404)
        every = self.comments[ticket_id]
        answer: dict[str, Any]
        if "page[size]" in seen.query and self.cursor_pagination:
            size = min(100, int(seen.query["page[size]"]))
            after = seen.query.get("page[after]")
            start = int(base64.b64decode(after)) if after else 0
            batch = every[start:start + size]
            more = start + size < len(every)
            cursor = base64.b64encode(str(start + size).encode()).decode()
            answer = {"comments": batch, "meta": {"has_more": more, "after_cursor": cursor if more else None,
                                                  "before_cursor": None},
                      "links": {"prev": None, "next": self._link(seen.path, **{**dict(seen.query),
                                                                               "page[after]": cursor})
                                if more else None}}
        else:  # offset pagination
            page, size = int(seen.query.get("page", "1")), self.offset_page_size
            batch = every[(page - 1) * size: page * size]
            answer = {"comments": batch, "count": len(every), "previous_page": None,
                      "next_page": self._link(seen.path, page=page + 1) if page * size < len(every) else None}
        if seen.query.get("include") == "users":
            answer["users"] = self._sideload({c["author_id"] for c in batch})
        return web.json_response(answer)

    def _create(self, seen: Seen) -> web.Response:
        key = seen.headers.get("Idempotency-Key")
        if key is not None and key in self.idempotency:
            return web.json_response(self.idempotency[key], status=201,
                                     headers={"x-zendesk-idempotency-lookup": "hit"})
        ticket = seen.json().get("ticket", {})
        if ticket.get("group_id") not in self.groups:
            return web.json_response({"error": "RecordInvalid", "description": "Record validation errors",
                                      "details": {"group": [{"description": "Group: is invalid"}]}}, status=422)
        requester = ticket.get("requester") or {}
        email = requester.get("email", "")
        user = next((u["id"] for u in self.users.values() if u["email"].lower() == email.lower()), None)
        if user is None:
            user = self.add_user(email, requester.get("name", ""))
        made = self.add_ticket(user, ticket["subject"], group_id=ticket["group_id"], tags=ticket.get("tags", []),
                               comments=[{"body": ticket["comment"]["body"], "author_id": self.agent}])
        answer = {"ticket": made, "audit": {"id": 1}}
        if key is not None:
            self.idempotency[key] = answer
        return web.json_response(answer, status=201, headers={"x-zendesk-idempotency-lookup": "miss"})
