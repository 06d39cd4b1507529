"""The HTML text-node rewriter: only shown text is marked, at any chunk boundary, with bounded memory."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

import pytest

from gateway.rewrite.htmlstream import HtmlStreamRewriter, Mark

NUMBER = re.compile(r"\d{5,}")


def highlight(text: str, before: str) -> list[Mark]:
    return [(m.start(), m.end(), ("<mark>", "</mark>")) for m in NUMBER.finditer(text)]


def run(page: bytes, sizes: Sequence[int] | None = None, **options: object) -> bytes:
    rewriter = HtmlStreamRewriter(highlight, at_body_end=lambda: b"<aside>NOTICE</aside>", **options)  # type: ignore[arg-type]
    if sizes is None:
        return rewriter.feed(page) + rewriter.finish()
    out, at, i = [], 0, 0
    while at < len(page):
        size = sizes[i % len(sizes)]
        out.append(rewriter.feed(page[at:at + size]))
        at, i = at + size, i + 1
    return b"".join(out) + rewriter.finish()


PAGE = (
    b'<!DOCTYPE html><html><head><title>Case 123456</title>'
    b'<style>p::after { content: "<b>7777777</b>" }</style>'
    b'<script>var s = "</p>12345678"; if (a<b) {}</script></head>'
    b'<body class="x"><h1>Case 2024-99</h1>'
    b'<p title="no 55555555 > here" data-x=\'a>66666666\'>Customer wrote: my number is 12345678901.</p>'
    b'<!-- an old number 88888888 --><!--> 2222222 <!---> 3333333 '
    b'<textarea name="reply">quote 44444444</textarea>'
    b'<svg><text>99999999</text><style>11111111</style></svg>'
    b'<p>a &lt; b, 12345&#54;789 and 1234&nbsp;5678 &copyx 7654321</p>'
    b'<noscript>00000000</noscript> tail 31415926 </BODY></html>'
)
EXPECTED = (
    b'<!DOCTYPE html><html><head><title>Case 123456</title>'
    b'<style>p::after { content: "<b>7777777</b>" }</style>'
    b'<script>var s = "</p>12345678"; if (a<b) {}</script></head>'
    b'<body class="x"><h1>Case 2024-99</h1>'
    b'<p title="no 55555555 > here" data-x=\'a>66666666\'>Customer wrote: my number is <mark>12345678901</mark>.</p>'
    b'<!-- an old number 88888888 --><!--> <mark>2222222</mark> <!---> <mark>3333333</mark> '
    b'<textarea name="reply">quote 44444444</textarea>'
    b'<svg><text>99999999</text><style>11111111</style></svg>'
    b'<p>a &lt; b, <mark>12345&#54;789</mark> and 1234&nbsp;5678 &copyx <mark>7654321</mark></p>'
    b'<noscript>00000000</noscript> tail <mark>31415926</mark> <aside>NOTICE</aside></BODY></html>'
)


def test_only_shown_text_is_marked_and_every_other_byte_stays() -> None:
    assert run(PAGE) == EXPECTED


@pytest.mark.parametrize("seed", range(40))
def test_output_does_not_depend_on_chunk_boundaries(seed: int) -> None:
    rnd = random.Random(seed)
    sizes = [rnd.choice((1, 2, 3, 5, 8, 13, 64)) for _ in range(50)]
    assert run(PAGE, sizes) == EXPECTED


def test_a_reference_is_decoded_for_the_callback_and_replaced_whole() -> None:
    seen: list[str] = []

    def mask(text: str, before: str) -> list[Mark]:
        seen.append(text)
        return [(m.start(), m.end(), "#" * (m.end() - m.start())) for m in NUMBER.finditer(text)]

    rewriter = HtmlStreamRewriter(mask)
    out = rewriter.feed(b"<p>id 0101&#x30;012&#51;56, &amp;c</p>") + rewriter.finish()
    assert seen == ["id 01010012356, &c"]
    assert out == b"<p>id ###########, &amp;c</p>"


def test_the_text_before_a_node_is_its_context() -> None:
    calls: list[tuple[str, str]] = []

    def record(text: str, before: str) -> list[Mark]:
        calls.append((text, before))
        return []

    rewriter = HtmlStreamRewriter(record, context=12)
    rewriter.feed(b"<p><b>CPR-nummer:</b> 010190-1234</p><script>x</script><p>later</p>")
    rewriter.finish()
    assert calls == [("CPR-nummer:", ""), (" 010190-1234", " CPR-nummer:"), ("later", "")]


def test_the_notice_goes_before_the_first_body_end_or_at_the_end_of_a_document() -> None:
    assert run(b"<html><body>x</body></html>") == b"<html><body>x<aside>NOTICE</aside></body></html>"
    assert run(b"<html><body>x") == b"<html><body>x<aside>NOTICE</aside>"
    assert run(b"<p>a fragment</p>") == b"<p>a fragment</p>"  # not a document: nothing added
    assert run(b'<body><p title="</body>">x</p><svg></body></svg></body>') == (
        b'<body><p title="</body>">x</p><svg></body></svg><aside>NOTICE</aside></body>'
    )


def test_a_long_text_is_held_only_up_to_its_limit() -> None:
    rewriter = HtmlStreamRewriter(highlight, max_text_bytes=1024)
    sizes = []
    for _ in range(100):
        sizes.append(len(rewriter.feed(b"word " * 100)))
    assert sum(sizes) >= 100 * 500 - 1024  # all but the held tail came out while streaming
    assert len(rewriter._carry) <= 1024


def test_plaintext_ends_markup_and_a_lone_lt_is_text() -> None:
    assert run(b"<p>1 < 2 and 12345678</p><plaintext><b>87654321") == (
        b"<p>1 < 2 and <mark>12345678</mark></p><plaintext><b>87654321"
    )
    assert run(b"12345678 <") == b"<mark>12345678</mark> <"


def test_an_ascii_incompatible_encoding_is_refused_and_latin1_works() -> None:
    with pytest.raises(ValueError):
        HtmlStreamRewriter(highlight, encoding="utf-16")
    rewriter = HtmlStreamRewriter(highlight, encoding="iso-8859-1")
    assert rewriter.feed("<p>fødselsnummer 12345678</p>".encode("latin-1")) + rewriter.finish() == (
        "<p>fødselsnummer <mark>12345678</mark></p>".encode("latin-1")
    )


def test_a_tag_hook_sees_each_whole_tag_and_inserts_before_it() -> None:
    seen: list[tuple[bytes, bool, bytes]] = []

    def before_buttons(name: bytes, end: bool, raw: bytes) -> bytes | None:
        seen.append((name, end, raw))
        return b"<hr>" if name == b"button" and not end else None

    page = b'<form action="/t" data-x="a>b"><BUTTON type=submit>Go</BUTTON><!-- <button> --></form>'
    expected = b'<form action="/t" data-x="a>b"><hr><BUTTON type=submit>Go</BUTTON><!-- <button> --></form>'
    for size in (1, 2, 3, 7, len(page)):
        seen.clear()
        rewriter = HtmlStreamRewriter(tag=before_buttons)
        out = b"".join(rewriter.feed(page[i:i + size]) for i in range(0, len(page), size)) + rewriter.finish()
        assert out == expected
        assert seen == [(b"form", False, b'<form action="/t" data-x="a>b">'), (b"button", False, b"<BUTTON type=submit>"),
                        (b"button", True, b"</BUTTON>"), (b"form", True, b"</form>")]


def test_a_tag_longer_than_the_limit_passes_without_the_hook() -> None:
    calls: list[bytes] = []
    rewriter = HtmlStreamRewriter(tag=lambda n, e, raw: calls.append(n) or b"!", max_tag_bytes=100)
    page = b'<p title="' + b"x" * 300 + b'">a</p>'
    out = b"".join(rewriter.feed(page[i:i + 10]) for i in range(0, len(page), 10)) + rewriter.finish()
    assert out == page.replace(b"</p>", b"!</p>") and calls == [b"p"]
