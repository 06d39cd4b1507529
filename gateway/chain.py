"""Runs the filter phases with an error boundary.

An exception inside a filter is logged with the filter's name, counted, and
turned into a generic local reply: the request fails closed and is never
forwarded unfiltered.
"""

from __future__ import annotations

import logging
from typing import Sequence

from .exchange import BodyRewriter, Exchange, LocalReply
from .filters.base import Filter
from .metrics import Metrics

log = logging.getLogger("gateway.chain")

FILTER_FAILED = LocalReply(
    502, "filter_error", "The gateway could not apply its privacy policy to this request."
)


class FilterError(Exception):
    """A filter raised (or refused the body); carries the local reply that replaces the response."""

    def __init__(self, filter_name: str, reply: LocalReply = FILTER_FAILED) -> None:
        super().__init__(filter_name)
        self.filter_name = filter_name
        self.reply = reply


class RejectBody(Exception):
    """Raised by ``on_request_body`` to answer locally (the body phase returns bytes, not a reply)."""

    def __init__(self, reply: LocalReply) -> None:
        super().__init__(reply.reason)
        self.reply = reply


def _failed(flt: Filter, phase: str, metrics: Metrics) -> FilterError:
    log.exception("filter failed", extra={"fields": {"filter": flt.name, "phase": phase}})
    metrics.filter_errors.labels(flt.name).inc()
    return FilterError(flt.name)


class Chain:
    """The compiled filters of one policy, with their phases."""

    def __init__(self, filters: Sequence[Filter], metrics: Metrics) -> None:
        self.filters = tuple(filters)
        self.reverse = tuple(reversed(self.filters))
        self.metrics = metrics
        # Per phase, only the filters that take part in it: the base class's hooks do nothing,
        # and awaiting them on every request is measurable.
        self._on_request = _overriding(self.filters, "on_request")
        self._wants_body = _overriding(self.filters, "wants_request_body")
        self._on_response = _overriding(self.reverse, "on_response_headers")
        self._log_path = _overriding(self.filters, "log_path")
        self.redacts_paths = bool(self._log_path)

    async def request(self, ex: Exchange) -> LocalReply | None:
        for flt in self._on_request:
            try:
                reply = await flt.on_request(ex)
            except Exception:
                return _failed(flt, "request", self.metrics).reply
            if reply is not None:
                return reply
        return None

    def body_filters(self, ex: Exchange) -> tuple[Filter, ...]:
        """The filters that want this request's body (raises FilterError on failure)."""
        wanted = []
        for flt in self._wants_body:
            try:
                if flt.wants_request_body(ex):
                    wanted.append(flt)
            except Exception:
                raise _failed(flt, "wants_request_body", self.metrics) from None
        return tuple(wanted)

    async def request_body(self, ex: Exchange, filters: Sequence[Filter], body: bytes) -> bytes:
        for flt in filters:
            try:
                body = await flt.on_request_body(ex, body)
            except RejectBody as exc:
                raise FilterError(flt.name, exc.reply) from None
            except Exception:
                raise _failed(flt, "request_body", self.metrics) from None
        return body

    async def response_headers(self, ex: Exchange) -> list[BodyRewriter]:
        ex.rewrite_body = may_rewrite(ex)
        rewriters: list[BodyRewriter] = []
        for flt in self._on_response:
            try:
                rewriter = await flt.on_response_headers(ex)
            except Exception:
                raise _failed(flt, "response_headers", self.metrics) from None
            if rewriter is not None and ex.rewrite_body:
                rewriters.append(rewriter)
        return rewriters

    def log_path(self, path: str) -> str:
        """``path`` as the access log may show it: a filter replaces a secret it carries (a link token)."""
        for flt in self._log_path:
            try:
                shown = flt.log_path(path)
            except Exception:
                # Neither the exception nor the path is logged: either may hold the secret.
                log.error("log path redaction failed", extra={"fields": {"filter": flt.name}})
                return "-"
            if shown is not None:
                return shown
        return path


def may_rewrite(ex: Exchange) -> bool:
    """Whether this response's body may be rewritten by any filter.

    Not on a route with ``rewrite: false``, and never for a download: a
    ``Content-Disposition`` other than ``inline`` (unknown types count as
    ``attachment``, RFC 6266 4.2) means the file must arrive byte for byte.
    """
    if not ex.route.rewrite:
        return False
    for value in ex.response_headers.getall("Content-Disposition", ()):
        if value.partition(";")[0].strip().lower() != "inline":
            return False
    return True


def _overriding(filters: Sequence[Filter], hook: str) -> tuple[Filter, ...]:
    return tuple(flt for flt in filters if getattr(type(flt), hook) is not getattr(Filter, hook))


class RewriteError(Exception):
    """A body rewriter raised mid-stream; the response must be aborted."""


def rewrite(rewriters: Sequence[BodyRewriter], chunk: bytes, metrics: Metrics) -> bytes:
    for rewriter in rewriters:
        try:
            chunk = rewriter.feed(chunk)
        except Exception:
            log.exception("body rewriter failed", extra={"fields": {"rewriter": type(rewriter).__name__}})
            metrics.filter_errors.labels(type(rewriter).__name__).inc()
            raise RewriteError from None
    return chunk


def finish(rewriters: Sequence[BodyRewriter], metrics: Metrics) -> bytes:
    """Flush every rewriter in order; what one flushes passes through the next."""
    tail = b""
    for rewriter in rewriters:
        try:
            tail = rewriter.feed(tail) + rewriter.finish() if tail else rewriter.finish()
        except Exception:
            log.exception("body rewriter failed", extra={"fields": {"rewriter": type(rewriter).__name__}})
            metrics.filter_errors.labels(type(rewriter).__name__).inc()
            raise RewriteError from None
    return tail
