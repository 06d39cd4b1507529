"""Request matching shared by routes and firewall rules, compiled once.

A ``path`` is a prefix matched on segment boundaries unless it holds a glob
character (``*``, ``?``, ``[``): ``/agent`` and ``/agent/`` both match
``/agent``, ``/agent/`` and ``/agent/x`` but not ``/agents`` — an upstream that
ignores a trailing slash must not serve ``/agent`` outside a rule written as
``/agent/``. In a glob, ``*`` matches within one path segment and ``**`` across
segments; write ``/upload*`` to also match ``/uploads``. A ``path_exact`` is
one path compared whole. Hosts are compared case-insensitively without the
port and may be globs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from .http.headers import UnderscoreAction
from .policy.schema import Policy, RouteMatch

_GLOB_CHARS = frozenset("*?[")


def glob_to_regex(pattern: str, *, segment_char: str = "/") -> str:
    """Translate a glob into an anchored regex; ``*`` stops at ``segment_char``."""
    out: list[str] = []
    i = 0
    not_sep = f"[^{re.escape(segment_char)}]"
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append(f"{not_sep}*")
        elif c == "?":
            out.append(not_sep)
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                if _valid_class(body):
                    out.append(f"[{body}]")
                    i = end
                else:  # an empty or reversed class is taken literally, never a compile error
                    out.append(re.escape(c))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _valid_class(body: str) -> bool:
    if not body or body == "^":
        return False
    try:
        re.compile(f"[{body}]")
    except re.error:
        return False
    return True


def _path_predicate(path: str | None) -> Callable[[str], bool] | None:
    if path is None or path == "/":
        return None
    if _GLOB_CHARS.intersection(path):
        return re.compile(glob_to_regex(path), re.DOTALL).fullmatch  # type: ignore[return-value]
    base = path.rstrip("/")
    below = base + "/"
    return lambda p: p == base or p.startswith(below)


def _host_predicate(host: str | None) -> Callable[[str], bool] | None:
    if host is None:
        return None
    host = host.lower()
    if _GLOB_CHARS.intersection(host):
        return re.compile(glob_to_regex(host, segment_char="."), re.DOTALL | re.IGNORECASE).fullmatch  # type: ignore[return-value]
    return host.__eq__


class Matcher:
    """Decides whether a request (method, host without port, normalised path) fits."""

    __slots__ = ("_path", "_host", "_methods")

    def __init__(self, match: RouteMatch) -> None:
        self._path = match.path_exact.__eq__ if match.path_exact is not None else _path_predicate(match.path)
        self._host = _host_predicate(match.host)
        self._methods = frozenset(match.methods) if match.methods else None

    def matches(self, method: str, host: str, path: str) -> bool:
        """``host`` is lower-case without port (the proxy normalises it once per request)."""
        if self._methods is not None and method not in self._methods:
            return False
        if self._path is not None and not self._path(path):
            return False
        if self._host is not None and not self._host(host):
            return False
        return True


@dataclass(frozen=True, slots=True)
class CompiledRoute:
    name: str
    max_body_bytes: int
    first_byte_timeout: float
    rewrite: bool = True  # response bodies may be rewritten (routes[].rewrite)
    # Request header names with '_': drop, reject or allow (routes[] over listen.headers_with_underscores).
    underscores: UnderscoreAction = "drop"


class RouteTable:
    """First matching route wins; ``default`` catches the rest."""

    def __init__(self, policy: Policy) -> None:
        underscores = policy.listen.headers_with_underscores
        self.default = CompiledRoute(
            "default", policy.limits.max_body_bytes, policy.upstream.timeouts.first_byte,
            underscores=underscores,
        )
        self._routes = tuple(
            (
                Matcher(route),
                CompiledRoute(
                    route.name,
                    route.max_body_bytes if route.max_body_bytes is not None else policy.limits.max_body_bytes,
                    route.first_byte_timeout
                    if route.first_byte_timeout is not None
                    else policy.upstream.timeouts.first_byte,
                    route.rewrite,
                    underscores=route.headers_with_underscores or underscores,
                ),
            )
            for route in policy.routes
        )

    def lookup(self, method: str, host: str, path: str) -> CompiledRoute:
        for matcher, route in self._routes:
            if matcher.matches(method, host, path):
                return route
        return self.default
