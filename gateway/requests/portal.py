"""The portal's endpoints under ``requests.prefix``: the form, verification, status and download.

- ``GET  {prefix}``: the form (sets the CSRF cookie). ``POST {prefix}``: a
  submission. Every valid one gets the same page ("check your mailbox")
  whether or not the address is known anywhere: nothing is looked up before
  the address is verified, and the verification mail goes to whatever
  address was typed. Invalid: the form again with the errors (422).
  Too many: 429 with Retry-After. A form without its CSRF cookie and token:
  403.
- ``GET  {prefix}/verify/<token>``: a page with one button (a mail scanner
  that fetches the link confirms nothing); ``POST`` it to confirm: the
  request is created (received), and the receipt page links its status
  page. A forged token: 403; expired, or already used: 410.
- ``GET  {prefix}/status/<token>``: received, in progress, extended (with the
  reason and the new due date), fulfilled, refused (with the reason); the
  export's download button once it is ready.
- ``POST {prefix}/download/<token>``: the export (a ZIP), once; then it is
  deleted (410 afterwards, or once expired).

No e-mail address reaches a log line, a metric or an answer's headers.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import TYPE_CHECKING

from ..consent.state import cookie_values
from ..exchange import LocalReply
from ..http.language import pick_language
from ..store import Store, StoreError
from ..store.requests import SubjectRequest
from . import lifecycle, pages, tokens
from .compiled import CompiledRequests
from .form import read_form
from .keys import Unsealable
from .mail import MailError
from .metrics import RequestMetrics
from .texts import hours, iso_date, iso_time, type_name

if TYPE_CHECKING:
    from ..exchange import Exchange

log = logging.getLogger("gateway.requests")

COOKIE = "pgw_requests"
_COOKIE_VALUE = re.compile(r"[A-Za-z0-9_-]{24}")
HTML = "text/html; charset=utf-8"


def status_of(request: SubjectRequest) -> pages.Status:
    return pages.Status(request.request_id, request.kind, request.state, iso_time(request.created_at),
                        iso_date(request.due_at), request.reason if request.state in ("extended", "refused") else "")


class Portal:
    def __init__(self, compiled: CompiledRequests, metrics: RequestMetrics, store: Store | None) -> None:
        self.compiled = compiled
        self.settings = compiled.settings
        self.prefix = compiled.settings.prefix
        self.metrics = metrics
        self.store = store
        self.languages = tuple(compiled.settings.languages)

    def owns(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")

    def log_path(self, path: str) -> str | None:
        """The path without its token (tokens are bearer secrets)."""
        if not path.startswith(self.prefix + "/"):
            return None
        section = path[len(self.prefix) + 1:].partition("/")[0]
        return f"{self.prefix}/{section}/-"

    # -- routing ----------------------------------------------------------------------------------------------

    async def get(self, ex: Exchange) -> LocalReply:
        rest = ex.path[len(self.prefix):]
        if rest in ("", "/"):
            return self._form(ex)
        section, _, token = rest[1:].partition("/")
        if section == "verify" and token:
            return await self._confirm_page(ex, token)
        if section == "status" and token:
            return await self._status(ex, token)
        if section == "download" and token:
            return self._download_page(ex, token)
        return self._message(ex, 404, "requests_not_found", "forged_title", "forged", back=True)

    async def post(self, ex: Exchange, body: bytes) -> LocalReply:
        rest = ex.path[len(self.prefix):]
        if rest in ("", "/"):
            return await self._submit(ex, body)
        section, _, token = rest[1:].partition("/")
        if section == "verify" and token:
            return await self._verify(ex, token)
        if section == "download" and token:
            return await self._download(ex, token)
        return self._message(ex, 404, "requests_not_found", "forged_title", "forged", back=True)

    # -- pages ------------------------------------------------------------------------------------------------

    def _language(self, ex: Exchange) -> str:
        asked = ex.request.query.get("lang", "")
        if asked in self.languages:
            return asked
        return pick_language(ex.request.headers.get("Accept-Language", ""), self.languages)

    def _reply(self, status: int, reason: str, body: bytes, *headers: tuple[str, str]) -> LocalReply:
        return LocalReply(status, reason, body=body, content_type=HTML, headers=pages.HEADERS + headers)

    def _message(self, ex: Exchange, status: int, reason: str, title: str, text_key: str, *, back: bool = False,
                 language: str | None = None, headers: tuple[tuple[str, str], ...] = (), **values: object) -> LocalReply:
        language = language or self._language(ex)
        body = pages.message(self.compiled.frame, language, title, pages.text(language, text_key, **values), back=back)
        return self._reply(status, reason, body, *headers)

    def _unavailable(self, ex: Exchange, language: str | None = None) -> LocalReply:
        return self._message(ex, 503, "requests_unavailable", "unavailable_title", "unavailable", back=True,
                             language=language, headers=(("Retry-After", "60"),))

    def _cookie(self, ex: Exchange) -> str:
        values = cookie_values(ex.request.headers.getall("Cookie", []), COOKIE)
        return next((v for v in values if _COOKIE_VALUE.fullmatch(v)), "")

    def _form(self, ex: Exchange) -> LocalReply:
        cookie = self._cookie(ex)
        headers: tuple[tuple[str, str], ...] = ()
        if not cookie:
            cookie = secrets.token_urlsafe(18)
            secure = "; Secure" if ex.upstream_headers.get("X-Forwarded-Proto") == "https" else ""
            headers = (("Set-Cookie", f"{COOKIE}={cookie}; Path={self.prefix}; HttpOnly; SameSite=Strict{secure}"),)
        language = self._language(ex)
        body = pages.form(self.compiled.frame, language, types=tuple(self.settings.types),
                          token=tokens.csrf_token(self.compiled.keys, cookie))
        return self._reply(200, "requests_page", body, *headers)

    # -- submission -------------------------------------------------------------------------------------------

    async def _submit(self, ex: Exchange, body: bytes) -> LocalReply:
        now = time.time()
        checked = read_form(body, tuple(self.settings.types), self.languages)
        language = checked.language
        store = self.store
        if store is None:
            return self._unavailable(ex, language)
        keys = self.compiled.keys
        try:
            limited = await self.compiled.limiter.client(store, ex.client_ip, now)
        except StoreError:
            return self._unavailable(ex, language)
        if limited is not None:
            return self._limited(ex, language, checked.values.get("type", ""), limited.scope, limited.retry_after)
        cookie = self._cookie(ex)
        if not tokens.csrf_ok(keys, cookie, checked.token):
            return self._message(ex, 403, "requests_forbidden", "csrf_title", "csrf", back=True, language=language)
        submission = checked.submission
        if submission is None:
            self._count(checked.values.get("type", ""), "invalid")
            page = pages.form(self.compiled.frame, language, types=tuple(self.settings.types),
                              token=tokens.csrf_token(keys, cookie), values=checked.values, errors=checked.errors)
            return self._reply(422, "requests_invalid", page)
        private = lifecycle.Private(submission.kind, submission.email, submission.reference, submission.text,
                                    language, self._consents(ex))
        verification = lifecycle.pending(keys, private, now=now, ttl=self.settings.verification_ttl)
        try:
            limited = await self.compiled.limiter.email(store, verification.email_hash, now)
            if limited is not None:
                return self._limited(ex, language, submission.kind, limited.scope, limited.retry_after)
            await store.add_verification(verification)
        except StoreError:
            return self._unavailable(ex, language)
        link = self.compiled.url("/verify/" + tokens.make_token(keys, "verify", verification.nonce,
                                                                verification.expires_at))
        ttl = hours(self.settings.verification_ttl, language)
        mail = self.compiled.mailer.compose("verify", language, submission.email, link=link, hours=ttl,
                                            type=type_name(submission.kind, language))
        try:
            await self.compiled.mailer.send(mail)
        except MailError as exc:
            log.warning("verification mail not sent", extra={"fields": {"type": submission.kind,
                                                                        "error": exc.reason}})
            self.metrics.work_errors.labels("mail", "false").inc()
            if not exc.permanent:  # the smarthost is away: say so (a refused address gets the same page as any)
                return self._unavailable(ex, language)
        self._count(submission.kind, "submitted")
        log.info("data-subject request submitted; verification mailed", extra={"fields": {"type": submission.kind}})
        return self._message(ex, 200, "requests_submitted", "sent_title", "sent", language=language, hours=ttl)

    def _consents(self, ex: Exchange) -> tuple[str, ...]:
        """The consent id in the asking browser's consent cookie, if it has an authentic one."""
        if self.compiled.consent is None:
            return ()
        codec, name = self.compiled.consent
        state = codec.first_valid(cookie_values(ex.request.headers.getall("Cookie", []), name))
        return (state.consent_id,) if state is not None else ()

    def _limited(self, ex: Exchange, language: str, kind: str, scope: str, retry_after: int) -> LocalReply:
        self._count(kind, "rate_limited")
        log.info("data-subject request form rate-limited", extra={"fields": {"scope": scope}})
        return self._message(ex, 429, "requests_rate_limited", "limited_title", f"limited_{scope}", back=True,
                             language=language, headers=(("Retry-After", str(retry_after)),),
                             minutes=max(1, round(retry_after / 60)))

    def _count(self, kind: str, result: str) -> None:
        self.metrics.requests.labels(kind if kind in self.settings.types else "unknown", result).inc()

    # -- verification -----------------------------------------------------------------------------------------

    def _token(self, ex: Exchange, token: str, purpose: tokens.Purpose) -> str | LocalReply:
        try:
            return tokens.read_token(self.compiled.keys, token, purpose, time.time())
        except tokens.TokenError as exc:
            if exc.reason == "expired":
                return self._message(ex, 410, "requests_link_expired", "expired_title", "expired", back=True)
            return self._message(ex, 403, "requests_link_forged", "forged_title", "forged", back=True)

    async def _confirm_page(self, ex: Exchange, token: str) -> LocalReply:
        nonce = self._token(ex, token, "verify")
        if isinstance(nonce, LocalReply):
            return nonce
        if self.store is None:
            return self._unavailable(ex)
        try:
            outcome = await self.store.peek_verification(nonce, time.time())
        except StoreError:
            return self._unavailable(ex)
        if outcome != "verified":
            return self._stale(ex, outcome)
        body = pages.confirm(self.compiled.frame, self._language(ex), f"{self.prefix}/verify/{token}")
        return self._reply(200, "requests_confirm", body)

    def _stale(self, ex: Exchange, outcome: str) -> LocalReply:
        if outcome == "used":
            return self._message(ex, 410, "requests_link_used", "used_title", "used")
        return self._message(ex, 410, "requests_link_expired", "expired_title", "expired", back=True)

    async def _verify(self, ex: Exchange, token: str) -> LocalReply:
        nonce = self._token(ex, token, "verify")
        if isinstance(nonce, LocalReply):
            return nonce
        store = self.store
        if store is None:
            return self._unavailable(ex)
        now = time.time()
        try:
            outcome, verification = await store.use_verification(nonce, now)
            if verification is None:
                return self._stale(ex, outcome)
            private = lifecycle.unseal(self.compiled.keys, verification.sealed, verification.nonce)
            request = lifecycle.verified(
                self.compiled.keys, private, now=now, due_days=self.settings.due_days,
                automatic=self.settings.approval_of(private.kind) == "automatic")
            await store.add_request(request)
        except StoreError:
            return self._unavailable(ex)
        except Unsealable:
            return self._message(ex, 403, "requests_link_forged", "forged_title", "forged", back=True)
        self._count(request.kind, "verified")
        log.info("data-subject request verified", extra={"fields": {"request": request.request_id,
                                                                    "type": request.kind}})
        link = self.compiled.status_link(request.request_id, now)
        body = pages.receipt(self.compiled.frame, request.language, status_of(request), link)
        return self._reply(200, "requests_verified", body)

    # -- status and download ----------------------------------------------------------------------------------

    async def _status(self, ex: Exchange, token: str) -> LocalReply:
        request_id = self._token(ex, token, "status")
        if isinstance(request_id, LocalReply):
            return request_id
        if self.store is None:
            return self._unavailable(ex)
        try:
            request = await self.store.get_request(request_id)
        except StoreError:
            return self._unavailable(ex)
        if request is None:
            return self._message(ex, 404, "requests_not_found", "forged_title", "forged", back=True)
        now = time.time()
        download = None
        if request.export_id and not request.export_downloaded_at and request.export_expires_at > now:
            download = f"{self.prefix}/download/" + tokens.make_token(
                self.compiled.keys, "download", request.export_id, request.export_expires_at)
        body = pages.status_page(self.compiled.frame, request.language, status_of(request), download=download,
                                 downloaded=bool(request.export_downloaded_at))
        return self._reply(200, "requests_status", body)

    def _download_page(self, ex: Exchange, token: str) -> LocalReply:
        export_id = self._token(ex, token, "download")
        if isinstance(export_id, LocalReply):
            return export_id
        body = pages.download(self.compiled.frame, self._language(ex), f"{self.prefix}/download/{token}")
        return self._reply(200, "requests_download", body)

    async def _download(self, ex: Exchange, token: str) -> LocalReply:
        export_id = self._token(ex, token, "download")
        if isinstance(export_id, LocalReply):
            return export_id
        if self.store is None:
            return self._unavailable(ex)
        try:
            outcome, blob = await self.store.take_export(export_id, time.time())
        except StoreError:
            return self._unavailable(ex)
        if blob is None:
            return self._message(ex, 410, "requests_export_gone", "export_gone_title", "export_gone", back=True)
        try:
            archive = self.compiled.keys.open(blob.sealed, blob.export_id.encode("ascii"))
        except Unsealable:
            log.error("an export does not open with the key ring", extra={"fields": {"request": blob.request_id}})
            return self._message(ex, 410, "requests_export_gone", "export_gone_title", "export_gone", back=True)
        try:
            request = await self.store.get_request(blob.request_id)
        except StoreError:
            request = None
        self._count(request.kind if request is not None else "", "downloaded")
        log.info("data-subject request export downloaded and deleted", extra={"fields": {"request": blob.request_id}})
        return LocalReply(200, "requests_export", body=archive, content_type="application/zip", headers=(
            ("Content-Disposition", f'attachment; filename="privacy-export-{blob.request_id}.zip"'),
            ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
        ))
