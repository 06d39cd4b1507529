"""The HTTP side all helpdesk adapters share: JSON over aiohttp, bounded retries, errors without personal data.

- Timeouts come from the policy: ``timeout`` for a whole request and its
  answer, ``connect_timeout`` for the connection.
- A 429 or 5xx answer, a timeout or a lost connection is tried again up to
  ``retries`` times, after ``backoff`` doubled for each try (with jitter) or
  after what ``Retry-After`` asks (seconds or an HTTP date). A wait longer than
  ``max_wait`` ends the tries at once. The error after the last try is
  retryable: the caller keeps the work and tries again later.
- A request that is not idempotent (a POST that opens a case in a helpdesk
  without idempotency keys) is only repeated when it cannot have been acted
  on: the connection was never made, or the answer was 429 or 503.
- Other 4xx answers, redirects, TLS certificate failures and answers that are
  not the JSON expected are not retryable: trying again would not help.
- No message or log line holds a URL (a search URL holds an e-mail address),
  a header or a body: only the adapter, the operation, the status, the try.
- Redirects are never followed, so credentials go to the configured host only;
  adapters build every URL (pagination included) on the configured base.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp

from ..policy.helpdesks import HelpdeskSettings
from ..policy.schema import upstream_ssl_context
from .base import HelpdeskError

log = logging.getLogger("gateway.helpdesks")

#: The largest answer read (a search page with its cases' messages, a long case).
MAX_ANSWER_BYTES = 32 * 1024 * 1024
#: Answers saying the request was not acted on, so even a non-idempotent one may be sent again.
NOT_ACTED_ON = frozenset({429, 503})
_HINTS = {
    401: " (check the credentials)",
    403: " (check the credentials and their permissions)",
    404: " (not found)",
}

Sleep = Callable[[float], Awaitable[None]]


class _Unsent(Exception):
    """The connection was never made: the helpdesk saw nothing."""


class _Lost(Exception):
    """The request may have reached the helpdesk, but no whole answer came back."""


class HelpdeskClient:
    """One helpdesk's HTTP API for one adapter. Uses ``session`` if given (not closed here), else its own."""

    def __init__(
        self,
        settings: HelpdeskSettings,
        *,
        adapter: str,
        headers: Mapping[str, str],
        session: aiohttp.ClientSession | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.adapter = adapter
        self.base = settings.url.rstrip("/")
        self._headers = dict(headers)
        self._session = session
        self._own_session = session is None
        self._sleep = sleep
        self._retries = settings.retries
        self._backoff = settings.backoff
        self._max_wait = settings.max_wait
        self._timeout = aiohttp.ClientTimeout(total=settings.timeout, sock_connect=settings.connect_timeout)
        self._ssl: Any = True
        if settings.url.startswith("https://") and settings.tls_ca is not None:
            self._ssl = upstream_ssl_context(settings.tls_ca)

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None:  # made on first use, inside the running loop
            self._session = aiohttp.ClientSession(trust_env=False, cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    async def get(self, path: str, *, operation: str, params: Mapping[str, str | int] | None = None) -> Any:
        """GET ``base + path``; the JSON answer."""
        return await self.request("GET", path, operation=operation, params=params)

    async def post(self, path: str, body: Any, *, operation: str, idempotent: bool = False,
                   headers: Mapping[str, str] | None = None) -> Any:
        """POST ``body`` as JSON to ``base + path``; the JSON answer."""
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        return await self.request("POST", path, operation=operation, data=data, idempotent=idempotent,
                                  headers={"Content-Type": "application/json", **(headers or {})})

    async def send_json(self, method: str, path: str, body: Any = None, *, operation: str,
                        idempotent: bool = True) -> Any:
        """PUT, PATCH or DELETE ``base + path`` (with ``body`` as JSON, if given); the JSON answer.

        Idempotent by default: setting a value twice, or deleting what is gone, does nothing more.
        """
        if body is None:
            return await self.request(method, path, operation=operation, idempotent=idempotent)
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        return await self.request(method, path, operation=operation, data=data, idempotent=idempotent,
                                  headers={"Content-Type": "application/json"})

    async def request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        params: Mapping[str, str | int] | None = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        want_json: bool = True,
        per_try: Callable[[], Mapping[str, str]] | None = None,
    ) -> Any:
        """Send with retries; the answer's JSON (None for an empty answer, or for a non-JSON one unless ``want_json``).

        ``idempotent`` defaults to true for GET and false otherwise; ``per_try``
        gives headers made afresh for each try (a signature over the time).
        """
        repeatable = method == "GET" if idempotent is None else idempotent
        url = self.base + path
        sent_headers = {**self._headers, **(headers or {})}
        for attempt in range(self._retries + 1):
            status: int | None = None
            retry_after: float | None = None
            try_headers = {**sent_headers, **per_try()} if per_try is not None else sent_headers
            try:
                status, answer_headers, body = await self._send(method, url, params, data, try_headers, operation)
            except _Unsent:
                problem, may_repeat = "cannot connect", True
            except _Lost as exc:
                problem, may_repeat = str(exc), repeatable
            else:
                if status < 300:
                    return self._parse(body, answer_headers.get("Content-Type", ""), operation, status, want_json)
                if status != 429 and status < 500:
                    hint = " (redirected: check url)" if status < 400 else _HINTS.get(status, "")
                    raise HelpdeskError(self._says(operation, f"answered {status}{hint}"), retryable=False,
                                        status=status)
                problem, may_repeat = f"answered {status}", repeatable or status in NOT_ACTED_ON
                retry_after = retry_after_seconds(answer_headers.get("Retry-After"))
            wait = retry_after if retry_after is not None else self._backoff_for(attempt)
            if attempt == self._retries or not may_repeat or wait > self._max_wait:
                tried = f" after {attempt + 1} tries" if attempt else ""
                raise HelpdeskError(self._says(operation, f"{problem}{tried}"), retryable=True, status=status)
            log.warning("helpdesk request tried again", extra={"fields": {
                "adapter": self.adapter, "operation": operation, "problem": problem,
                "attempt": attempt + 1, "wait_seconds": round(wait, 3),
            }})
            await self._sleep(wait)
        raise AssertionError("unreachable: the last try returns or raises")

    async def _send(
        self, method: str, url: str, params: Mapping[str, str | int] | None,
        data: bytes | None, headers: Mapping[str, str], operation: str,
    ) -> tuple[int, Any, bytes]:
        session = self._session_now()
        try:
            async with session.request(
                method, url, params=params, data=data, headers=headers, timeout=self._timeout,
                ssl=self._ssl, allow_redirects=False,
            ) as response:
                body = await self._read(response, operation)
                return response.status, response.headers, body
        except aiohttp.ClientConnectorCertificateError:
            raise HelpdeskError(self._says(operation, "its TLS certificate is not trusted (tls_ca?)"),
                                retryable=False) from None
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError):
            raise _Unsent() from None
        except TimeoutError:
            raise _Lost("timed out") from None
        except aiohttp.ClientError:  # disconnected, reset, a broken answer
            raise _Lost("connection lost") from None

    async def _read(self, response: aiohttp.ClientResponse, operation: str) -> bytes:
        too_large = HelpdeskError(self._says(operation, f"answer larger than {MAX_ANSWER_BYTES} bytes"),
                                  retryable=False, status=response.status)
        if response.content_length is not None and response.content_length > MAX_ANSWER_BYTES:
            raise too_large
        body = bytearray()
        async for chunk in response.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > MAX_ANSWER_BYTES:
                raise too_large
        return bytes(body)

    def _parse(self, body: bytes, content_type: str, operation: str, status: int, want_json: bool) -> Any:
        if not body.strip():
            return None
        if not want_json and "json" not in content_type.lower():
            return None
        try:
            return json.loads(body)
        except ValueError:
            if not want_json:
                return None
            raise HelpdeskError(self._says(operation, f"answered {status} with something other than JSON"),
                                retryable=False, status=status) from None

    def _backoff_for(self, attempt: int) -> float:
        return min(self._max_wait, self._backoff * 2.0**attempt) * (0.5 + random.random() / 2)

    def _says(self, operation: str, problem: str) -> str:
        return f"{self.adapter}: {operation}: {problem}"

    def unexpected(self, operation: str, what: str) -> HelpdeskError:
        """The error for an answer whose shape is not the API's (``what``: which part was wrong)."""
        return HelpdeskError(self._says(operation, f"unexpected answer ({what})"), retryable=False)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT
        return None
    seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


def basic_auth(user: str, password: str) -> str:
    """An ``Authorization`` value for HTTP Basic."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def token_or_basic(token: str | None, username: str | None, password: str | None, *, token_format: str) -> str:
    """The ``Authorization`` value: the token in the helpdesk's own format (``Token {token}``) when one is
    configured, else Basic with the user and password (the settings model requires one of the two)."""
    if token is not None:
        return token_format.format(token=token)
    return basic_auth(username or "", password or "")
