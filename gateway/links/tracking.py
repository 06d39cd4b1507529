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
    fragment_start = url.find("#")
    end = fragment_start if fragment_start != -1 else len(url)
    query_start = url.find("?", 0, end)  # a '?' inside the fragment is not a query
    if query_start == -1:
        return url
    pieces = url[query_start + 1 : end].split("&")
    kept = [p for p in pieces if not (p and names.fullmatch(unquote_plus(p.partition("=")[0])))]
    if len(kept) == len(pieces):
        return url  # nothing removed: every byte stays
    query = "&".join(kept)
    return url[:query_start] + ("?" + query if query else "") + url[end:]
