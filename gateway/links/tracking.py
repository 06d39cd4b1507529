"""Removal of tracking parameters (utm_*, fbclid, gclid…) from a URL's query.

Only the matching ``name=value`` pieces are cut; every other byte of the URL
stays as it was (no re-encoding of the parameters that remain).
"""

from __future__ import annotations

import re
from typing import Iterable
from urllib.parse import unquote_plus


def compile_names(patterns: Iterable[str]) -> re.Pattern[str]:
    """One regex for parameter names and globs (``*`` and ``?``), case-insensitive."""
    parts = [re.escape(p).replace(r"\*", ".*").replace(r"\?", ".") for p in patterns]
    return re.compile("(?:" + "|".join(parts or ["(?!)"]) + ")", re.IGNORECASE)


def strip_tracking(url: str, names: re.Pattern[str]) -> str:
    query_start = url.find("?")
    if query_start == -1:
        return url
    fragment_start = url.find("#", query_start)
    end = fragment_start if fragment_start != -1 else len(url)
    query = url[query_start + 1 : end]
    kept = [
        piece for piece in query.split("&")
        if piece and not names.fullmatch(unquote_plus(piece.partition("=")[0]))
    ]
    if len(kept) == query.count("&") + 1:
        return url
    base = url[:query_start] + ("?" + "&".join(kept) if kept else "")
    return base + url[end:]
