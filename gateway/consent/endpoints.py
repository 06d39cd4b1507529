"""The consent endpoints under the reserved prefix (default ``/_privacy/consent``); never forwarded.

==========================  ======================================================
``GET  {prefix}``           the current choices as JSON
``POST {prefix}``           set them: the banner's form (answered with 303 back
                            to the page, or JSON when asked for) or JSON
``GET  {prefix}/settings``  the settings page: the banner's form as a page, to
                            change or withdraw consent (``?return=`` path)
``GET  {prefix}/banner.js`` the banner's script and stylesheet
``GET  {prefix}/banner.css``
==========================  ======================================================

Withdrawing is as easy as giving: one post, from the banner, the settings
page or the API, with the same buttons.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import orjson

from ..exchange import Exchange, LocalReply
from ..http.language import pick_language
from ..http.organisation import organisation_block
from ..policy.organisation import Organisation
from .assets import ASSETS
from .banner import settings_page
from .compiled import Compiled
from .decide import Decider
from .resolve import Resolution
from .submission import Submission, SubmissionError, parse, read_body, safe_return
from .texts import Copy

PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_ASSET_HEADERS = (("Cache-Control", "public, max-age=86400"), ("X-Content-Type-Options", "nosniff"))
_NOT_FOUND = LocalReply(404, "consent_not_found", "There is nothing here.")
_APPLIED_NOT_RECORDED = (
    "Your choice applies in this browser, but it could not be recorded; please try again in a moment."
)


def _method_not_allowed(allow: str) -> LocalReply:
    return LocalReply(405, "consent_method_not_allowed", "This method is not allowed here.", headers=(("Allow", allow),))


def state_document(compiled: Compiled, resolution: Resolution, copy: Copy) -> dict[str, object]:
    """The JSON the GET endpoint (and a JSON post) answers with."""
    return {
        "version": compiled.resolver.version,
        "decided": resolution.decided,
        "method": resolution.method,
        "consent_id": resolution.state.consent_id if resolution.state is not None and resolution.decided else None,
        "gpc": resolution.gpc,
        "language": copy.language,
        "text_hash": copy.text_hash,
        "categories": [
            {
                "name": c.name, "label": c.label, "description": c.description, "required": c.name == "necessary",
                "granted": c.name == "necessary" or bool(resolution.choices.get(c.name)),
            }
            for c in copy.categories
        ],
    }


def _json(status: int, reason: str, doc: dict[str, object], headers: tuple[tuple[str, str], ...] = ()) -> LocalReply:
    return LocalReply(status, reason, body=orjson.dumps(doc), content_type="application/json", headers=headers)


class Endpoints:
    def __init__(self, compiled: Compiled, decider: Decider, organisation: Organisation | None = None) -> None:
        self.c = compiled
        self.decider = decider
        # The controller's block on the settings page, once per offered language.
        self.organisation = {language: organisation_block(organisation, language) for language in compiled.copies}

    def _copy(self, ex: Exchange, language: str | None = None) -> Copy:
        if language is not None and language in self.c.copies:
            return self.c.copies[language]
        offered = tuple(self.c.copies)
        return self.c.copies[pick_language(ex.request.headers.get("Accept-Language", ""), offered)]

    async def handle(self, ex: Exchange, resolution: Resolution) -> LocalReply:
        sub = ex.path[len(self.c.prefix):]
        method = ex.method
        if sub in ("", "/"):
            if method in ("GET", "HEAD"):
                return _json(200, "consent_state", state_document(self.c, resolution, self._copy(ex)))
            if method == "POST":
                return await self._post(ex, resolution)
            return _method_not_allowed("GET, HEAD, POST")
        if sub == "/settings":
            if method not in ("GET", "HEAD"):
                return _method_not_allowed("GET, HEAD")
            return self._settings(ex, resolution)
        asset = ASSETS.get(sub[1:])
        if asset is not None:
            if method not in ("GET", "HEAD"):
                return _method_not_allowed("GET, HEAD")
            return LocalReply(200, "consent_asset", body=asset.body, content_type=asset.content_type, headers=_ASSET_HEADERS)
        return _NOT_FOUND

    def _settings(self, ex: Exchange, resolution: Resolution) -> LocalReply:
        query = ex.request.raw_path.partition("?")[2]
        fields = dict(parse_qsl(query, max_num_fields=16)) if query else {}
        copy = self._copy(ex)
        body = settings_page(
            copy, prefix=self.c.prefix, choices=resolution.choices,
            return_to=safe_return(fields.get("return", "/")), gpc=resolution.gpc and resolution.method in (None, "gpc"),
            privacy_url=self.c.config.banner.privacy_url, organisation=self.organisation[copy.language],
        )
        headers = (
            ("Content-Security-Policy", PAGE_CSP), ("X-Frame-Options", "DENY"), ("X-Content-Type-Options", "nosniff"),
            ("Vary", "Cookie"),
        )
        return LocalReply(200, "consent_settings", body=body, content_type="text/html; charset=utf-8", headers=headers)

    def _explicit(self, submission: Submission, resolution: Resolution) -> dict[str, bool]:
        categories = self.c.categories
        if submission.action == "accept":
            return dict.fromkeys(categories, True)
        if submission.action == "reject":
            return dict.fromkeys(categories, False)
        if submission.form:
            return {c: c in submission.categories for c in categories}
        unknown = sorted(set(submission.choices) - set(categories) - {"necessary"})
        if unknown:
            raise SubmissionError(400, "consent_bad_request", f"Unknown categories: {', '.join(unknown)[:200]}.")
        base = dict(resolution.state.choices) if resolution.decided and resolution.state is not None else {}
        return {c: bool(submission.choices.get(c, base.get(c, False))) for c in categories}

    async def _post(self, ex: Exchange, resolution: Resolution) -> LocalReply:
        headers = ex.request.headers
        own_host = ex.upstream_headers.get("X-Forwarded-Host") or headers.get("Host") or ""
        try:
            body = await read_body(ex.request)
            submission = parse(headers.get("Content-Type", ""), body, headers, own_host)
            explicit = self._explicit(submission, resolution)
        except SubmissionError as exc:
            return LocalReply(exc.status, exc.reason, exc.message)
        copy = self._copy(ex, submission.language)
        page = submission.page if submission.form else (submission.page or _referer_path(headers.get("Referer", "")))
        decision = await self.decider.decide(
            ex, explicit=explicit, method="banner" if submission.form else "api", language=copy.language,
            page=page, previous=resolution,
        )
        if decision is None:
            return LocalReply(503, "consent_not_recorded", "Your consent could not be recorded; nothing was changed.")
        cookies = tuple(("Set-Cookie", value) for value in decision.set_cookies)
        if not decision.recorded:
            # A refusal or withdrawal takes effect anyway (its cookies go out), but without a
            # receipt it is not "saved": say so, and let the visitor try again later.
            if submission.form and "application/json" not in headers.get("Accept", ""):
                return LocalReply(503, "consent_not_recorded", _APPLIED_NOT_RECORDED, headers=cookies)
            doc = {**state_document(self.c, decision.resolution, copy), "recorded": False}
            return _json(503, "consent_not_recorded", doc, cookies)
        if submission.form and "application/json" not in headers.get("Accept", ""):
            return LocalReply(303, "consent_saved", body=b"", headers=(("Location", submission.return_to), *cookies))
        return _json(200, "consent_saved", state_document(self.c, decision.resolution, copy), cookies)


def _referer_path(referer: str) -> str:
    try:
        return urlsplit(referer).path if referer else ""
    except ValueError:
        return ""
