"""Consent enforced on cookies: the Cookie header going up, Set-Cookie headers coming down (pure).

Request side: every cookie of a category without consent is cut out of the
Cookie header by :func:`gateway.consent.cookies.filter_cookie_header`, which copies
the kept pairs byte for byte. The gateway's own consent cookie never reaches
the helpdesk; a consent manager's cookie always does (it records consent, so
it is necessary by definition).

Response side: each Set-Cookie header is judged alone and kept exactly as
received, or dropped. The helpdesk can never set the gateway's consent
cookie. A Set-Cookie that deletes a cookie (``Max-Age`` zero or negative)
always passes: deleting stores nothing.

In shadow mode the same judgement is made and reported, and nothing is removed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..lib.bounded import remember
from .cookieclass import CookieClassifier
from .cookies import filter_cookie_header, parse_set_cookie, set_cookie_name


@dataclass(slots=True, init=False)
class Report:
    """What one direction of one exchange removed (or would remove, in shadow mode)."""

    removed: dict[str, int]  # category -> cookies
    unclassified: list[str]  # names no category claims, in order seen
    passed: list[tuple[str, str, str]]  # (category, name, Set-Cookie) kept, not necessary

    def __init__(self) -> None:  # two per request: literals are cheaper than default factories
        self.removed = {}
        self.unclassified = []
        self.passed = []

    def count(self, category: str) -> None:
        self.removed[category] = self.removed.get(category, 0) + 1


def default_path(request_path: str) -> str:
    """The path a browser gives a cookie set without Path (RFC 6265bis §5.1.4)."""
    if not request_path.startswith("/"):
        return "/"
    cut = request_path.rfind("/")
    return request_path[:cut] if cut > 0 else "/"


_DELETION_CACHE = 1024  # Set-Cookie attribute strings whose Max-Age verdict is kept
_CACHED_ATTRIBUTES = 256  # longer attribute strings are parsed every time, never kept


class Enforcer:
    """Judges cookie names against granted categories; one per policy, shared by all requests."""

    def __init__(
        self, classifier: CookieClassifier, *, own_cookie: str, passthrough: Iterable[str] = (), conditional: bool = False,
    ) -> None:
        self.classifier = classifier
        self.own_cookie = own_cookie
        self.passthrough = frozenset(passthrough)
        self.conditional = conditional  # some matcher has a domain or path condition
        self.unclassified = classifier.unclassified
        self.necessary = classifier.necessary
        # A helpdesk sends the same attributes with every response (only the value
        # changes): whether they delete the cookie is worked out once per string.
        self._deletes: dict[str, bool] = {}

    def _keeper(self, granted: frozenset[str], report: Report, shadow: bool) -> Callable[[str], bool]:
        cached, category_of = self.classifier.cached_category, self.classifier.category_of
        own, passthrough, unclassified = self.own_cookie, self.passthrough, self.unclassified
        removed, unclassified_names = report.removed, report.unclassified

        def keep(name: str) -> bool:  # once per cookie of every request: everything bound, nothing called twice
            if name == own:
                return False
            if name in passthrough:
                return True
            category = cached(name) or category_of(name)
            if category == unclassified:
                unclassified_names.append(name)
            if category in granted:
                return True
            removed[category] = removed.get(category, 0) + 1
            return shadow

        return keep

    def filter_request(
        self, headers: list[str], granted: frozenset[str], *, shadow: bool = False
    ) -> tuple[list[str], Report]:
        """The Cookie headers to send upstream (empty ones left out) and what was removed."""
        report = Report()
        keep = self._keeper(granted, report, shadow)
        out: list[str] = []
        for header in headers:
            kept = filter_cookie_header(header, keep)
            if kept is not None:
                out.append(kept)
        return out, report

    def category_of_set_cookie(self, value: str, name: str, host: str, request_path: str) -> str:
        if not self.conditional:
            return self.classifier.category_of(name)
        info = parse_set_cookie(value)
        return self.classifier.category_of(
            name, domain=info.domain or host, path=info.path or default_path(request_path)
        )

    def filter_set_cookies(
        self, values: list[str], granted: frozenset[str], *, host: str, request_path: str, shadow: bool = False,
    ) -> tuple[list[str], Report]:
        """The Set-Cookie values to pass, each unchanged, and what was removed.

        ``report.passed`` lists the kept cookies of consent categories (not
        necessary), so their path and domain can be remembered.
        """
        report = Report()
        kept: list[str] = []
        # Without domain or path conditions the name alone decides: its category is cached.
        cached = None if self.conditional else self.classifier.cached_category
        for value in values:
            name = set_cookie_name(value)
            if name == self.own_cookie:
                continue  # only the gateway sets its consent cookie
            if name in self.passthrough:
                kept.append(value)
                continue
            category = (cached and cached(name)) or self.category_of_set_cookie(value, name, host, request_path)
            if category == self.unclassified:
                report.unclassified.append(name)
            if category in granted:
                kept.append(value)
                if category != self.necessary:
                    report.passed.append((category, name, value))
                continue
            if self.deletes(value):
                kept.append(value)  # a deletion stores nothing
                continue
            report.count(category)
            if shadow:
                kept.append(value)
        return kept, report

    def deletes(self, value: str) -> bool:
        """Whether the Set-Cookie ``value`` deletes its cookie (Max-Age zero or negative)."""
        attributes = value.partition(";")[2]  # all parse_set_cookie reads Max-Age from
        deletes = self._deletes.get(attributes)
        if deletes is None:
            deletes = parse_set_cookie(value).max_age == 0
            if len(attributes) <= _CACHED_ATTRIBUTES:
                # e.g. an Expires date in every response: the cache fills and starts over
                remember(self._deletes, attributes, deletes, _DELETION_CACHE)
        return deletes

    @property
    def deletion_cache_entries(self) -> int:
        return len(self._deletes)
