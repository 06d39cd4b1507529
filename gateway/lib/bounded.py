"""Bounded memo dictionaries: the hot paths remember answers per header value, URL or token.

A full cache is emptied rather than trimmed: the keys repeat (a site sends a
handful of distinct values), so it refills at once, and no per-hit
bookkeeping (LRU order) is paid.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def remember(cache: dict[K, V], key: K, value: V, limit: int) -> V:
    """Store ``value`` under ``key``, emptying ``cache`` first when it holds ``limit`` entries; returns ``value``."""
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value
    return value
