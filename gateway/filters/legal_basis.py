"""The legal basis of each submission that creates a user or a case: notice shown, consent active, proof kept.

For each ``legal_basis.routes`` entry:

- **Pages** (the route's ``pages``, or GET on its path): into each form that
  posts to the route the notice is injected (``legal.inject``), as the page
  streams: for ``basis: consent`` an unticked, required checkbox; otherwise
  the notice and a hidden field naming its version.
- **Submissions** (the route's methods on its path; form, multipart or JSON
  bodies): with ``basis: consent`` a submission without the ticked checkbox
  (its value: a current notice version) is refused with 422
  ``consent_required``: an HTML page that keeps what was typed (a form
  submission), or JSON naming the field and the notice versions (a JSON body,
  or an Accept that asks for JSON). A body that cannot be read is
  refused (400 ``unreadable_body``). Then a record is written (``store.legal``)
  *before* the helpdesk sees the request; if the store cannot take it, the
  submission is refused (503 ``legal_basis_unavailable``): nothing reaches the
  helpdesk without its proof. The injected field is removed from form and
  multipart bodies (or sent as ``helpdesk_field``); JSON passes unchanged.
  A ``shadow`` route injects, records and counts but never refuses (a
  submission without consent is counted, not recorded).
- **Withdrawal** (``prefix``, GET and POST): the consents this browser gave
  (their ids in a signed cookie set when the helpdesk accepted the
  submission), each withdrawn with one button; a withdrawal is recorded as
  its own record. With ``legal_basis.webhook`` the helpdesk is told (a signed
  POST, ``consent.withdrawn``, in the background; a failure is logged and
  counted as ``withdrawal_not_told``).

Counted in ``legal_basis_submissions_total{route, result, mode}``; no e-mail
address, value or notice text reaches a log, a metric or an error body.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

import orjson

from ..chain import RejectBody
from ..exchange import LocalReply
from ..helpdesks.base import HelpdeskError
from ..helpdesks.webhook import Webhook
from ..http.encoding import response_charset
from ..http.forms import Decoded, Unreadable, decode, kind_of
from ..http.language import pick_language
from ..http.organisation import organisation_block
from ..legal import pages, proof
from ..legal.inject import FormInjector
from ..legal.notice import Notice
from ..lib.keyring import KeyRing
from ..logs import IPMasker
from ..policy.schema import RouteMatch
from ..rewrite.htmlstream import HtmlStreamRewriter
from ..routing import Matcher
from ..store import StoreError
from ..store.legal import LegalRecord
from .base import Filter

if TYPE_CHECKING:
    from ..exchange import BodyRewriter, Exchange
    from ..metrics import Metrics
    from ..policy.legal_basis import LegalBasisRoute
    from ..policy.schema import Policy
    from ..store import Store

log = logging.getLogger("gateway.legal_basis")

NAME = "legal_basis"
BODY_KINDS = frozenset({"form", "multipart", "json"})
COOKIE_AGE = 365 * 86400
UNREADABLE = LocalReply(400, "unreadable_body", "The gateway could not read this form to check its consent.")
UNAVAILABLE = LocalReply(503, "legal_basis_unavailable",
                         "Your request could not be recorded just now; nothing was sent. Please try again.")
_mask = IPMasker("truncated")


@dataclass(frozen=True, slots=True)
class _Route:
    submit: Matcher
    is_path: Matcher  # the submission path, any method: a form's action
    pages: tuple[Matcher, ...]
    notice: Notice
    email_field: str | None
    helpdesk_field: str | None
    record_field: str | None
    methods: tuple[str, ...]
    shadow: bool

    @classmethod
    def of(cls, route: LegalBasisRoute, notice: Notice) -> _Route:
        page_paths = route.pages or (route.path,)
        return cls(
            Matcher(RouteMatch(path=route.path, methods=route.methods)), Matcher(RouteMatch(path=route.path)),
            tuple(Matcher(RouteMatch(path=p, methods=("GET",))) for p in page_paths), notice,
            route.email_field, route.helpdesk_field, route.record_field, route.methods, route.shadow,
        )


@dataclass(frozen=True, slots=True)
class _Read:
    consent: str | None
    email: str | None
    decoded: Decoded | None
    consent_at: tuple[int, ...]  # the parts holding the injected field
    files: bool


class LegalBasisFilter(Filter):
    """Injects the notice into sign-up forms, enforces active consent, records the basis of each submission."""

    name = NAME
    rewrites_responses = True
    uses_store = True

    def __init__(self, policy: Policy, metrics: Metrics, *, store: Store | None = None) -> None:
        super().__init__(policy, metrics, store=store)
        config = policy.legal_basis
        self._routes = tuple(_Route.of(r, Notice.of(r, policy.organisation)) for r in config.routes)
        self._ring = KeyRing.from_config([(k.id, k.secret) for k in config.keys], config.keys[0].id)
        self._prefix = config.prefix
        self._organisation = policy.organisation
        self._webhook = config.webhook
        self._sending: set[asyncio.Task[None]] = set()
        self._submissions = metrics.legal_basis_submissions

    @classmethod
    def enabled_in(cls, policy: Policy) -> bool:
        return policy.legal_basis.enabled

    # -- requests ------------------------------------------------------------------------------------------

    def _own(self, ex: Exchange) -> bool:
        return ex.path == self._prefix or ex.path.startswith(self._prefix + "/")

    def _route_for(self, ex: Exchange) -> _Route | None:
        return next((r for r in self._routes if r.submit.matches(ex.method, ex.host, ex.path)), None)

    async def on_request(self, ex: Exchange) -> LocalReply | None:
        if self._own(ex):
            if ex.method == "GET" or ex.method == "HEAD":
                return await self._withdrawal_page(ex)
            if ex.method != "POST":
                return LocalReply(405, "method_not_allowed", "Use GET or POST.", headers=(("Allow", "GET, POST"),))
        return None

    def wants_request_body(self, ex: Exchange) -> bool:
        if self._own(ex):
            return ex.method == "POST"
        route = self._route_for(ex)
        if route is None:
            return False
        ex.notes[NAME] = route
        return True

    async def on_request_body(self, ex: Exchange, body: bytes) -> bytes:
        if self._own(ex):
            raise RejectBody(await self._withdraw(ex, body))
        route: _Route = ex.notes[NAME]
        notice = route.notice
        mode = "shadow" if route.shadow else "enforce"
        try:
            read = self._read(ex, body, route)
        except Unreadable:
            self._count(ex, notice.route, "unreadable", mode)
            if route.shadow:
                return body
            raise RejectBody(UNREADABLE) from None
        shown = read.consent if read.consent is not None and notice.is_version(read.consent) else ""
        if notice.asks_consent and not shown:
            self._count(ex, notice.route, "consent_missing" if read.consent is None else "consent_stale", mode)
            if not route.shadow:
                raise RejectBody(self._ask_again(ex, route, read))
            return self._forwarded(read, route, "", body)  # shadow: no consent, so nothing to record
        record = LegalRecord(
            secrets.token_hex(16), time.time(), notice.route, notice.basis, notice.purpose, shown,
            next((lang for lang, v in notice.versions.items() if v == shown), ""),
            proof.email_hash(self._ring, read.email) if read.email else "", _mask(ex.client_ip),
            "given" if notice.asks_consent and shown else "informed",
        )
        try:
            if self.store is None:
                raise StoreError("no store")
            await self.store.add_legal_record(record)
        except StoreError:
            log.error("legal-basis record not written", extra={"fields": {"route": notice.route}})
            self._count(ex, notice.route, "not_recorded", mode)
            if route.shadow:
                return body
            raise RejectBody(UNAVAILABLE) from None
        self._count(ex, notice.route, "recorded", mode)
        if record.event == "given":
            ex.notes[NAME + ".given"] = record.record_id
        return self._forwarded(read, route, shown, body, record.record_id)

    def _read(self, ex: Exchange, body: bytes, route: _Route) -> _Read:
        content_type = ex.request.headers.get("Content-Type", "")
        kind, _ = kind_of(content_type)
        encoding = ex.request.headers.get("Content-Encoding", "identity").strip().lower()
        if kind not in BODY_KINDS or encoding not in ("", "identity"):
            raise Unreadable("not a form or JSON body")
        field = route.notice.field
        if kind == "json":
            try:
                document = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise Unreadable("malformed JSON") from None
            if not isinstance(document, dict):
                return _Read(None, None, None, (), False)
            consent, email = document.get(field), document.get(route.email_field or "")
            return _Read(consent if isinstance(consent, str) else None, email if isinstance(email, str) else None,
                         None, (), False)
        decoded = decode(content_type, body, BODY_KINDS)
        assert decoded is not None
        at = tuple(i for i, part in enumerate(decoded.parts) if part.field == field)
        consent = next((decoded.parts[i].text for i in at if route.notice.is_version(decoded.parts[i].text)),
                       decoded.parts[at[0]].text if at else None)
        email = next((p.text for p in decoded.parts if route.email_field and p.field == route.email_field), None)
        files = kind == "multipart" and b'filename="' in body  # a file part: the 422 page cannot keep it
        return _Read(consent, email, decoded, at, files)

    def _forwarded(self, read: _Read, route: _Route, shown: str, body: bytes, record_id: str = "") -> bytes:
        if read.decoded is None or not read.consent_at:
            return body
        add = [(route.helpdesk_field, shown)] if route.helpdesk_field and shown else []
        if route.record_field and shown and record_id:
            add.append((route.record_field, record_id))
        return read.decoded.encode({}, remove=read.consent_at, add=add)

    def _ask_again(self, ex: Exchange, route: _Route, read: _Read) -> LocalReply:
        notice = route.notice
        language = notice.language(ex.request.headers.get("Accept-Language", ""))
        stale = read.consent is not None
        accept = ex.request.headers.get("Accept", "")
        if read.decoded is not None and "json" not in accept:  # a form from a browser (or curl): a page
            fields = [(p.field, p.text) for p in read.decoded.parts]
            page = pages.consent_again(notice, language, ex.request.raw_path, fields, files=read.files, stale=stale)
            return LocalReply(422, "consent_required", body=page, content_type="text/html; charset=utf-8",
                              headers=pages.HEADERS)
        doc = {"error": "consent_required", "field": notice.field, "stale": stale,
               "message": f"Send '{notice.field}' with the version of the notice the person agreed to.",
               "versions": notice.versions, "notice": notice.texts}
        return LocalReply(422, "consent_required", body=orjson.dumps(doc), content_type="application/json")

    def _count(self, ex: Exchange, route: str, result: str, mode: str) -> None:
        self._submissions.labels(route, result, mode).inc()
        ex.decide(NAME, result, route, mode)

    # -- withdrawal ------------------------------------------------------------------------------------------

    def _cookie(self, ex: Exchange) -> str:
        return ex.request.cookies.get(proof.COOKIE, "")

    async def _given(self, ex: Exchange) -> list[pages.Given]:
        ids = proof.verified_ids(self._ring, self._cookie(ex))
        if not ids or self.store is None:
            return []
        records = await self.store.legal_records(ids)
        withdrawn = {r.withdraws for r in records if r.event == "withdrawn"}
        return [pages.Given(r.record_id, r.purpose, _iso(r.created_at), r.record_id in withdrawn)
                for r in records if r.event == "given"]

    async def _withdrawal_page(self, ex: Exchange, *, done: bool = False) -> LocalReply:
        try:
            given = await self._given(ex)
        except StoreError:
            return UNAVAILABLE
        language = pick_language(ex.request.headers.get("Accept-Language", ""), ("en", "nb"))
        body = pages.withdrawal(given, action=self._prefix, token=proof.csrf_token(self._ring, self._cookie(ex)),
                                contact=organisation_block(self._organisation, language), done=done)
        return LocalReply(200, "legal_basis_page", body=body, content_type="text/html; charset=utf-8",
                          headers=pages.HEADERS)

    async def _withdraw(self, ex: Exchange, body: bytes) -> LocalReply:
        fields = dict(parse_qsl(body.decode("utf-8", "replace"), max_num_fields=8))
        cookie = self._cookie(ex)
        if not proof.csrf_ok(self._ring, cookie, fields.get("token", "")):
            return LocalReply(403, "legal_basis_forbidden", "This withdrawal form has expired; reload the page.")
        record_id = fields.get("record", "")
        if record_id not in proof.verified_ids(self._ring, cookie):
            return LocalReply(404, "legal_basis_unknown", "This browser gave no such consent.")
        try:
            assert self.store is not None
            given = next((r for r in await self.store.legal_records([record_id]) if r.event == "given"), None)
            if given is None:
                return LocalReply(404, "legal_basis_unknown", "This browser gave no such consent.")
            withdrawal = LegalRecord(
                secrets.token_hex(16), time.time(), given.route, given.basis, given.purpose, given.notice_version,
                given.language, given.email_hash, _mask(ex.client_ip), "withdrawn", withdraws=given.record_id,
            )
            await self.store.add_legal_record(withdrawal)
        except StoreError:
            return UNAVAILABLE
        self._submissions.labels(given.route, "withdrawn", "enforce").inc()
        ex.decide(NAME, "withdrawn", given.route)
        if self._webhook is not None:
            self._tell_helpdesk(given, withdrawal)
        return await self._withdrawal_page(ex, done=True)

    def _tell_helpdesk(self, given: LegalRecord, withdrawal: LegalRecord) -> None:
        """The helpdesk learns of the withdrawal in the background: its retries never hold up the page."""
        content = {"record": given.record_id, "withdrawal": withdrawal.record_id, "route": given.route,
                   "purpose": given.purpose, "notice_version": given.notice_version,
                   "given_at": _iso(given.created_at), "withdrawn_at": _iso(withdrawal.created_at)}
        assert self._webhook is not None
        settings, submissions = self._webhook, self._submissions

        async def send() -> None:
            hook = Webhook(settings)
            try:
                await hook.send("consent.withdrawn", "consent", content, delivery=withdrawal.record_id,
                                operation="tell of a withdrawal")
            except HelpdeskError as exc:
                log.error("the helpdesk was not told of a withdrawal",
                          extra={"fields": {"route": given.route, "error": str(exc)}})
                submissions.labels(given.route, "withdrawal_not_told", "enforce").inc()
            finally:
                await hook.close()

        task = asyncio.get_running_loop().create_task(send())
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    # -- responses -------------------------------------------------------------------------------------------

    async def on_response_headers(self, ex: Exchange) -> BodyRewriter | None:
        given = ex.notes.get(NAME + ".given")
        if given is not None and ex.response_status < 400:
            ids = proof.verified_ids(self._ring, self._cookie(ex)) + [given]
            secure = "; Secure" if ex.upstream_headers.get("X-Forwarded-Proto") == "https" else ""
            ex.response_headers.add("Set-Cookie", f"{proof.COOKIE}={proof.sign_ids(self._ring, ids)}; Path="
                                    f"{self._prefix}; Max-Age={COOKIE_AGE}; HttpOnly; SameSite=Lax{secure}")
        if not ex.rewrite_body or ex.method != "GET" or ex.response_status != 200:
            return None
        mime, _, params = ex.response_headers.get("Content-Type", "").partition(";")
        if mime.strip().lower() != "text/html":
            return None
        route = next((r for r in self._routes if any(p.matches(ex.method, ex.host, ex.path) for p in r.pages)), None)
        if route is None:
            return None
        notice = route.notice
        fragment = notice.fragment(notice.language(ex.request.headers.get("Accept-Language", "")))
        proto = ex.upstream_headers.get("X-Forwarded-Proto", "http")
        page_url = f"{proto}://{ex.host}{ex.request.raw_path}"
        is_route = route.is_path.matches
        injector = FormInjector(page_url, lambda path: is_route("POST", ex.host, path), route.methods, fragment,
                                encoding=response_charset(params))
        return HtmlStreamRewriter(tag=injector, encoding=response_charset(params))


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
