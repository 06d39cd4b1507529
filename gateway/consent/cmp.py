"""Consent read from an existing consent manager's cookie (Klaro, Cookiebot).

Sites that already show a consent manager (CMP) keep it; the gateway reads
its cookie and enforces the choices on the wire. The policy maps each
category to the CMP's services (Klaro) or purposes (Cookiebot); a category is
granted when every entry mapped to it is accepted, refused when one of them
is refused or missing, and left to its default when the cookie names none.

- Klaro stores a JSON object of service name -> true/false, URL-encoded by
  current versions (``%7B%22matomo%22%3Atrue%7D``), plain by older ones.
- Cookiebot's ``CookieConsent`` is a URL-encoded JavaScript object literal
  (``{stamp:'..',necessary:true,preferences:false,statistics:true,marketing:false,...}``).
  The value ``-1`` means Cookiebot found no consent necessary for the
  visitor's region; the gateway does not share that view and reads it as no
  decision.

Reading never raises; anything unreadable is no decision (None).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import unquote

import orjson

from ..policy.consent import NECESSARY, ConsentManager

MAX_VALUE_CHARS = 4096
DEFAULT_COOKIES = {"klaro": "klaro", "cookiebot": "CookieConsent"}
COOKIEBOT_DEFAULTS = {"analytics": ("statistics",), "preferences": ("preferences",), "marketing": ("marketing",)}
_COOKIEBOT_FLAG = re.compile(r"(?:^|[{,])\s*([A-Za-z_]+)\s*:\s*(true|false)\s*(?=[,}])")


def _klaro(value: str) -> dict[str, bool] | None:
    text = unquote(value) if "%" in value else value
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    return {k: v for k, v in doc.items() if isinstance(k, str) and isinstance(v, bool)}


def _cookiebot(value: str) -> dict[str, bool] | None:
    text = unquote(value) if "%" in value else value
    if not text.startswith("{"):
        return None  # "-1" (no consent required in the visitor's region) or garbage
    flags = {m.group(1): m.group(2) == "true" for m in _COOKIEBOT_FLAG.finditer(text)}
    return flags or None


class CMPReader:
    """Turns one CMP cookie value into category choices (only the categories the cookie speaks of)."""

    def __init__(self, config: ConsentManager, categories: Iterable[str]) -> None:
        self.kind = config.type
        self.cookie_name = config.cookie or DEFAULT_COOKIES[config.type]
        self._parse = _klaro if config.type == "klaro" else _cookiebot
        mapping: dict[str, tuple[str, ...]] = {}
        for category in categories:
            if category == NECESSARY:
                continue
            if category in config.map:
                mapping[category] = config.map[category]
            elif config.type == "cookiebot":
                mapping[category] = COOKIEBOT_DEFAULTS.get(category, (category,))
            else:
                mapping[category] = (category,)
        self.mapping: Mapping[str, tuple[str, ...]] = mapping

    def choices(self, value: str) -> dict[str, bool] | None:
        """Category -> granted for the categories the cookie covers; None when it holds no decision."""
        if not value or len(value) > MAX_VALUE_CHARS:
            return None
        flags = self._parse(value.strip())
        if flags is None:
            return None
        out: dict[str, bool] = {}
        for category, names in self.mapping.items():
            seen = [flags[name] for name in names if name in flags]
            if seen:
                out[category] = len(seen) == len(names) and all(seen)
        return out

    def first(self, values: Iterable[str]) -> dict[str, bool] | None:
        """The choices of the first readable value among several cookies of the CMP's name."""
        for value in values:
            found = self.choices(value)
            if found is not None:
                return found
        return None
