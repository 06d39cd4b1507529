"""Streaming rewriters (HTML, plain text): correct at any chunk boundary, memory bounded by a constant.

A rewriter is ``feed(chunk) -> bytes`` then ``finish() -> bytes``; what it
does to a URL is asked of a decider (see :mod:`gateway.rewrite.text`).
"""
