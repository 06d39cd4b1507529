"""Feeding a streaming body rewriter in pieces, as the proxy does with network reads."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.exchange import BodyRewriter


def feed_split(rewriter: BodyRewriter, data: bytes, cuts: Iterable[int]) -> bytes:
    """``data`` fed in pieces ending at each of ``cuts`` (sorted, duplicates ignored), then finished."""
    out, last = [], 0
    for cut in sorted(set(cuts)):
        out.append(rewriter.feed(data[last:cut]))
        last = cut
    out.append(rewriter.feed(data[last:]))
    return b"".join(out) + rewriter.finish()
