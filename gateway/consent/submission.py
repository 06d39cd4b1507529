"""A consent choice as posted to the endpoint: reading, parsing and CSRF checks (no filter state).

Two forms are accepted:

- the banner's form (``application/x-www-form-urlencoded``): ``action`` is
  ``accept``, ``reject`` or ``save`` (with one ``category`` field per
  ticked category), plus ``return`` (where to go back to) and ``lang``;
- JSON (``application/json``): ``{"action": "accept"|"reject"}`` or
  ``{"choices": {"analytics": true, ...}}``, optionally ``"language"`` and
  ``"page"``.

Cross-site request forgery: a form post needs positive proof that it comes
from the site's own pages: ``Sec-Fetch-Site: same-origin``, or, from a
browser that does not send it, an ``Origin`` equal to the site's own. With
neither, it is refused (fail closed). A JSON post is refused when either
header says it came from elsewhere; without them it is a client that is not
a browser (a cross-site page cannot send ``application/json`` without a CORS
preflight, which the gateway never grants).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

import orjson
from aiohttp import web

MAX_BODY_BYTES = 8 * 1024
BODY_TIMEOUT = 10.0
MAX_FIELDS = 64
MAX_RETURN_CHARS = 2048

Action = Literal["accept", "reject", "save"]
Origin = Literal["same", "cross", "unknown"]


class SubmissionError(Exception):
    """The post cannot be used; ``status`` and ``reason`` say what to answer."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class Submission:
    action: Action
    categories: frozenset[str] = frozenset()  # ticked, for "save"
    choices: Mapping[str, bool] = field(default_factory=dict)  # explicit JSON choices
    return_to: str = "/"
    language: str | None = None
    page: str = ""
    form: bool = True


async def read_body(request: web.BaseRequest, *, cap: int = MAX_BODY_BYTES) -> bytes:
    """The request body, at most ``cap`` bytes (413 beyond), read within a deadline (408)."""
    if request.content_length is not None and request.content_length > cap:
        raise SubmissionError(413, "consent_body_too_large", "The consent request is too large.")
    if request.headers.get("Expect", "").lower() == "100-continue":
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    parts: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            while True:
                chunk = await request.content.readany()
                if not chunk:
                    break
                size += len(chunk)
                if size > cap:
                    raise SubmissionError(413, "consent_body_too_large", "The consent request is too large.")
                parts.append(chunk)
    except TimeoutError:
        raise SubmissionError(408, "consent_body_timeout", "The consent request arrived too slowly.") from None
    return b"".join(parts)


def safe_return(value: str) -> str:
    """A local path to go back to; ``/`` for anything that could lead to another site."""
    if (
        not value.startswith("/") or value.startswith(("//", "/\\")) or len(value) > MAX_RETURN_CHARS
        or not value.isprintable() or "\\" in value.partition("?")[0]
    ):
        return "/"
    return value


def origin_of(headers: Mapping[str, str], own_host: str) -> Origin:
    """Whether the request came from the site's own pages, by Sec-Fetch-Site, else Origin."""
    site = headers.get("Sec-Fetch-Site")
    if site is not None:
        return "same" if site.strip().lower() == "same-origin" else "cross"
    origin = headers.get("Origin")
    if origin is None:
        return "unknown"
    try:
        parts = urlsplit(origin.strip())
        netloc = parts.netloc.lower()
    except ValueError:
        return "cross"
    if parts.scheme not in ("http", "https") or not netloc:
        return "cross"  # includes "null" (sandboxed frames, some redirects)
    return "same" if _without_default_port(netloc) == _without_default_port(own_host.strip().lower()) else "cross"


def _without_default_port(host: str) -> str:
    for port in (":80", ":443"):
        if host.endswith(port):
            return host[: -len(port)]
    return host


def _form(body: bytes) -> Submission:
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise SubmissionError(400, "consent_bad_request", "The consent form could not be read.") from None
    fields: dict[str, str] = {}
    categories: set[str] = set()
    for key, value in pairs:
        if key == "category":
            categories.add(value)
        else:
            fields.setdefault(key, value)
    action = fields.get("action", "save")
    if action not in ("accept", "reject", "save"):
        raise SubmissionError(400, "consent_bad_request", "Unknown consent action.")
    return Submission(
        action=action,  # type: ignore[arg-type]  # checked just above
        categories=frozenset(categories),
        return_to=safe_return(fields.get("return", "/")),
        language=fields.get("lang") or None,
        page=safe_return(fields.get("return", "/")),
        form=True,
    )


def _json(body: bytes) -> Submission:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise SubmissionError(400, "consent_bad_request", "The body is not JSON.") from None
    if not isinstance(doc, dict):
        raise SubmissionError(400, "consent_bad_request", "The body must be a JSON object.")
    language = doc.get("language")
    page = doc.get("page", "")
    if not isinstance(language, (str, type(None))) or not isinstance(page, str):
        raise SubmissionError(400, "consent_bad_request", "language and page must be strings.")
    choices = doc.get("choices")
    action = doc.get("action")
    if choices is not None:
        if action is not None or not isinstance(choices, dict) or len(choices) > MAX_FIELDS or not all(
            isinstance(k, str) and isinstance(v, bool) for k, v in choices.items()
        ):
            raise SubmissionError(400, "consent_bad_request", "Give either choices (category: true/false) or an action.")
        return Submission("save", choices=dict(choices), language=language, page=page, form=False)
    if action not in ("accept", "reject"):
        raise SubmissionError(400, "consent_bad_request", "action must be accept or reject (or give choices).")
    return Submission(action, language=language, page=page, form=False)


def parse(content_type: str, body: bytes, headers: Mapping[str, str], own_host: str) -> Submission:
    """The submission in ``body``, after the CSRF check for its kind."""
    media = content_type.partition(";")[0].strip().lower()
    origin = origin_of(headers, own_host)
    if media == "application/x-www-form-urlencoded":
        if origin != "same":
            raise SubmissionError(403, "consent_csrf", "The consent form must be sent from this site's pages.")
        return _form(body)
    if media == "application/json":
        if origin == "cross":
            raise SubmissionError(403, "consent_csrf", "Consent cannot be set from another site.")
        return _json(body)
    raise SubmissionError(415, "consent_bad_media_type", "Send the consent as a form or as JSON.")
