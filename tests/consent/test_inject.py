"""Streaming injection before </body>: every chunk boundary, any case, bounded memory."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.consent.inject import Injector, charset_compatible

FRAGMENT = b"<div id=x>banner</div>"


def run(body: bytes, sizes: list[int]) -> tuple[bytes, Injector]:
    injector = Injector(FRAGMENT)
    out: list[bytes] = []
    pos = 0
    for size in sizes:
        out.append(injector.feed(body[pos : pos + size]))
        pos += size
    out.append(injector.feed(body[pos:]))
    out.append(injector.finish())
    return b"".join(out), injector


PAGE = b"<!doctype html><html><head><title>t</title></head><body><p>hello</p></body></html>\n"
EXPECTED = PAGE.replace(b"</body>", FRAGMENT + b"</body>")


def test_every_split_into_two_chunks() -> None:
    for cut in range(len(PAGE) + 1):
        assert run(PAGE, [cut])[0] == EXPECTED, cut


def test_every_split_into_single_bytes() -> None:
    assert run(PAGE, [1] * len(PAGE))[0] == EXPECTED


@given(st.lists(st.integers(min_value=0, max_value=20), max_size=30))
def test_arbitrary_chunkings(sizes: list[int]) -> None:
    assert run(PAGE, sizes)[0] == EXPECTED


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<BODY>x</BODY>", b"<BODY>x" + FRAGMENT + b"</BODY>"),
        (b"<body>x</Body >", b"<body>x" + FRAGMENT + b"</Body >"),
        (b"<body>x</body\n>", b"<body>x" + FRAGMENT + b"</body\n>"),
        (b"<body>x</bodyguard></body>", b"<body>x</bodyguard>" + FRAGMENT + b"</body>"),
        (b"<body>a</body>b</body>", b"<body>a" + FRAGMENT + b"</body>b</body>"),  # only once
        (b"<html><body>no closing tag", b"<html><body>no closing tag" + FRAGMENT),  # minified page
        (b"<HTML>\n", b"<HTML>\n" + FRAGMENT),
        (b"<div>a fragment</div>", b"<div>a fragment</div>"),  # not a document: nothing added
        (b"", b""),
        (b"</body>", FRAGMENT + b"</body>"),
        ("<body>\u00e6\u00f8\u00e5</body>".encode(), "<body>\u00e6\u00f8\u00e5".encode() + FRAGMENT + b"</body>"),
    ],
)
def test_edge_cases(body: bytes, expected: bytes) -> None:
    for cut in range(len(body) + 1):
        assert run(body, [cut])[0] == expected


def test_injected_flag() -> None:
    assert run(PAGE, [10])[1].injected
    assert not run(b"<p>fragment</p>", [3])[1].injected


def test_memory_is_bounded_by_a_constant() -> None:
    injector = Injector(FRAGMENT)
    chunk = b"<p>" + b"x" * 4093
    held = 0
    for _ in range(1000):
        out = injector.feed(chunk)
        held = max(held, len(injector._carry))
        assert len(out) >= len(chunk) - 6
    assert held <= 6
    assert injector.feed(b"</body></html>").endswith(b"x" * 6 + FRAGMENT + b"</body></html>")
    assert injector.finish() == b""


def test_after_injection_chunks_pass_untouched() -> None:
    injector = Injector(FRAGMENT)
    injector.feed(b"<body></body>")
    chunk = b"</body>" * 3
    assert injector.feed(chunk) is chunk


@pytest.mark.parametrize(
    ("content_type", "ok"),
    [
        ("text/html", True),
        ("text/html; charset=utf-8", True),
        ("text/html; charset=ISO-8859-1", True),
        ("text/html; charset=UTF-16", False),
        ("text/html;charset=utf-32le", False),
    ],
)
def test_charset_compatibility(content_type: str, ok: bool) -> None:
    assert charset_compatible(content_type) is ok
