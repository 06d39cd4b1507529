"""The notice injected into a route's form on the page that shows it, as the page streams.

A form is the route's when its method is the route's (POST by default) and
its ``action`` (absent or empty: the page's own path; relative: resolved
against the page's URL; absolute: only on the page's own host) has a path the
route's submission path matches. Into each such form the notice goes before
its first submit control (a ``button`` of type submit, the default, or an
``input`` of type submit or image), or before ``</form>`` when it has none;
the helpdesk's own fields and scripts are left as they are. Forms elsewhere
in the page, and every other byte, pass unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

from ..rewrite.htmlsyntax import tag_attributes

_SUBMIT_INPUTS = frozenset({"submit", "image"})


class FormInjector:
    """A ``tag`` hook for ``HtmlStreamRewriter``: one page's forms of one route."""

    __slots__ = ("_page_url", "_host", "_is_route", "_methods", "_fragment", "_encoding", "_inside", "injected")

    def __init__(self, page_url: str, is_route_path: Callable[[str], bool], methods: tuple[str, ...],
                 fragment: bytes, *, encoding: str = "utf-8") -> None:
        self._page_url = page_url
        self._host = urlsplit(page_url).hostname
        self._is_route = is_route_path
        self._methods = methods
        self._fragment = fragment
        self._encoding = encoding
        self._inside = False  # in one of the route's forms that has no notice yet
        self.injected = 0

    def __call__(self, name: bytes, end: bool, raw: bytes) -> bytes | None:
        if name == b"form":
            if end:
                return self._inject() if self._inside else None
            self._inside = self._matches(tag_attributes(raw, self._encoding))
            return None
        if not self._inside or end or name not in (b"button", b"input"):
            return None
        kind = tag_attributes(raw, self._encoding).get("type", "submit" if name == b"button" else "text")
        if (name == b"button" and kind.strip().lower() == "submit") or (
                name == b"input" and kind.strip().lower() in _SUBMIT_INPUTS):
            return self._inject()
        return None

    def _inject(self) -> bytes:
        self._inside = False
        self.injected += 1
        return self._fragment

    def _matches(self, attributes: dict[str, str]) -> bool:
        method = attributes.get("method", "get").strip().upper() or "GET"
        if method not in self._methods:
            return False
        target = urlsplit(urljoin(self._page_url, attributes.get("action", "").strip()))
        if target.hostname != self._host:
            return False
        return self._is_route(target.path or "/")
