"""Consent enforced on cookies: the Cookie header going up, Set-Cookie headers coming down (pure).

Request side: every cookie of a category without consent is cut out of the
Cookie header by :func:`gateway.cookies.filter_cookie_header`, which copies
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
from dataclasses import dataclass, field

from ..cookieclass import CookieClassifier
from ..cookies import filter_cookie_header, parse_set_cookie, set_cookie_name


@dataclass(slots=True)
class Report:
    """What one direction of one exchange removed (or would remove, in shadow mode)."""

    removed: dict[str, int] = field(default_factory=dict)  # category -> cookies
    unclassified: list[str] = field(default_factory=list)  # names no category claims, in order seen
    passed: list[tuple[str, str, str]] = field(default_factory=list)  # (category, name, Set-Cookie) kept, not necessary

    def count(self, category: str) -> None:
        self.removed[category] = self.removed.get(category, 0) + 1


def default_path(request_path: str) -> str:
    """The path a browser gives a cookie set without Path (RFC 6265bis §5.1.4)."""
    if not request_path.startswith("/"):
        return "/"
    cut = request_path.rfind("/")
    return request_path[:cut] if cut > 0 else "/"


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

    def _keeper(self, granted: frozenset[str], report: Report, shadow: bool) -> Callable[[str], bool]:
        category_of = self.classifier.category_of
        own, passthrough, unclassified = self.own_cookie, self.passthrough, self.unclassified

        def keep(name: str) -> bool:
            if name == own:
                return False
            if name in passthrough:
                return True
            category = category_of(name)
            if category == unclassified:
                report.unclassified.append(name)
            if category in granted:
                return True
            report.count(category)
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
        for value in values:
            name = set_cookie_name(value)
            if name == self.own_cookie:
                continue  # only the gateway sets its consent cookie
            if name in self.passthrough:
                kept.append(value)
                continue
            category = self.category_of_set_cookie(value, name, host, request_path)
            if category == self.unclassified:
                report.unclassified.append(name)
            if category in granted:
                kept.append(value)
                if category != self.necessary:
                    report.passed.append((category, name, value))
                continue
            if parse_set_cookie(value).max_age == 0:
                kept.append(value)  # a deletion stores nothing
                continue
            report.count(category)
            if shadow:
                kept.append(value)
        return kept, report
