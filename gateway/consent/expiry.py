"""Expiring withdrawn cookies in the browser, with the path and domain they were set with.

A browser deletes a cookie only through a Set-Cookie with the same name,
domain and path (``Max-Age=0``); from the server this works for HttpOnly
cookies too, which no JavaScript banner can delete. The Cookie header names
a cookie but never says its path or domain, so the gateway gathers what it
can:

- where the helpdesk set cookies of consent categories: every Set-Cookie the
  gateway passes is remembered (name, path, domain), per gateway process and
  bounded (:class:`SeenCookies`);
- the policy: exact cookie names of a category, and a rule's path and domain;
- ``expire_domains`` from the policy, for cookies that scripts set on the
  registrable domain (``_ga`` on ``.example.com``);
- always the host-only cookie at ``/``.

Limits: a cookie set by a script on a path or domain the gateway never saw
and the policy does not name survives in the browser, but it still never
reaches the helpdesk (the request filter removes it on every request).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .cookies import SetCookieInfo, expire_cookie, parse_set_cookie

Place = tuple[str | None, str | None]  # (path, domain); None: default path / host-only


class SeenCookies:
    """Where cookies of consent categories were set, learned from passed Set-Cookie headers."""

    def __init__(self, *, max_names: int = 1024, places_per_name: int = 4) -> None:
        self._places: dict[str, list[Place]] = {}
        self._categories: dict[str, str] = {}
        self._max_names = max_names
        self._per_name = places_per_name
        self._attributes: set[tuple[str, str, str]] = set()  # (name, attributes, default path) already noted

    def note_header(self, category: str, name: str, set_cookie: str, request_path_default: str) -> None:
        """``note`` for a raw Set-Cookie value; parsed only when its attributes are new.

        A helpdesk sets the same cookie with the same attributes on every
        response (only the value changes), so this is a set lookup in the
        common case.
        """
        key = (name, set_cookie.partition(";")[2], request_path_default)
        if key in self._attributes:
            return
        if len(self._attributes) < self._max_names * self._per_name:
            self._attributes.add(key)
        self.note(category, parse_set_cookie(set_cookie), request_path_default)

    def note(self, category: str, info: SetCookieInfo, request_path_default: str) -> None:
        """Remember where ``info`` lives: its Path (or the request's default path) and its Domain."""
        name = info.name
        place: Place = (info.path or request_path_default, info.domain)
        places = self._places.get(name)
        if places is None:
            if len(self._places) >= self._max_names:
                return
            places = self._places[name] = []
        self._categories[name] = category
        if place not in places and len(places) < self._per_name:
            places.append(place)

    def places(self, name: str) -> Sequence[Place]:
        return self._places.get(name, ())

    def names_in(self, categories: frozenset[str]) -> list[str]:
        return [name for name, category in self._categories.items() if category in categories]

    def __len__(self) -> int:
        return len(self._places)


def expiry_headers(
    names: Iterable[str],
    *,
    seen: SeenCookies,
    hinted: dict[str, list[Place]],
    expire_domains: Sequence[str],
    secure: bool,
    limit: int = 64,
) -> list[str]:
    """Set-Cookie values deleting each named cookie at every place it may live (at most ``limit``)."""
    out: list[str] = []
    done: set[tuple[str, Place]] = set()
    for name in dict.fromkeys(names):
        candidates: list[Place] = [*seen.places(name), *hinted.get(name, ()), ("/", None)]
        candidates += [("/", domain) for domain in expire_domains]
        for place in candidates:
            if (name, place) in done:
                continue
            done.add((name, place))
            try:
                out.append(expire_cookie(name, path=place[0], domain=place[1], secure=secure))
            except ValueError:
                break  # a name that cannot be written into a header: nothing to delete it with
            if len(out) >= limit:
                return out
    return out
