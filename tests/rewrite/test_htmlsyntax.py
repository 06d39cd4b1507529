"""The HTML syntax tables and patterns: what SKIP passes over, where it stops, the link tag it takes, URL text."""

from __future__ import annotations

import pytest

from gateway.rewrite import htmlsyntax
from gateway.rewrite.htmlsyntax import (
    A_DONE,
    A_DQ,
    A_NAME,
    A_UQ,
    C0_SPACE,
    SKIP,
    SKIP_TRACKING,
    URL_ATTRIBUTES,
    URL_KINDS,
    advance_attribute,
    attribute_text,
    url_text,
)

ORDINARY = [
    b"plain text, a < b, <3, <= x, & &amp; > ",
    b"<p>", b"</p>", b"<P>", b"</P >", b"<br/>", b"<BR />", b"<hr noshade>", b"<td colspan=2>", b"<TD COLSPAN=2>",
    b'<div class="x">', b"<DIV CLASS='x' ID=y>", b'<span class="badge open" data-id="5">', b"<time datetime=2024-05-03>",
    b"<input-like>", b'<tr class="ticket"\n\tdata-id="5"\r\n>', b"<p/>", b"<p///>", b"<p =x>", b"<p a=b=c>",
    # names that share a prefix with names that matter
    b"<abbr>", b"<ABBR title=x>", b"<areax href=https://e.example>", b"<scripty>", b"<a-b href=https://e.example>",
    b"<svgfoo>", b"<imagex srcset=x>", b"<inputs>", b"<selectx>", b"<mathy>", b"<titles>", b"<xmpp>", b"<noscripts>",
    b"<keygens>", b"<forms action=x>", b"<buttons>", b"<sources>", b"<iframes src=x>", b"<ab>", b"<Aside>",
    # quotes hide ">" and "<a href=" only as values after "="
    b'<div title="x > <a href=https://e.example>">', b"<p data-x='<script>' class=\"a>b\">", b'<p a="x"b=\'y>\'>',
    b'<p a = "x>">', b'<p a="x>"/>', b'<p a"b="c">', b"<p a=b\"c>", b"<p =\"x>",
    # end tags of anything but svg, math and select (see below), with or without attributes
    b"</script>", b"</A>", b'</div class="x>y">', b"</iframe >",
    # comments
    b"<!-- <a href=https://e.example> -->", b"<!---->", b"<!-->", b"<!--->", b"<!-- x --!>", b"<!-- - -- ->-->",
]

LINK_TAGS = [
    b'<a href="https://e.example">', b"<A HREF='x'>", b"<a href=x>", b"<a>", b"<a\nclass=k\nhref=/in>", b"<a href>",
    b"<area href=x>", b"<img src=/i.png>", b"<IMG SRCSET='a 1x'>", b"<form action=/x method=post>", b"<button>",
    b"<source srcset=x>", b"<image srcset=x>", b"<input type=submit formaction=x>", b"<a href=x/>",
]

STOPS = [
    # tags that change the rewriter's state, or that the link tag pattern leaves to the general path
    b"<script>", b"<SCRIPT>", b"<script type=module>", b"<style>", b"<svg>", b"<SVG/>", b"<math>", b"<select>",
    b"<keygen>", b"<iframe src=x>", b"<noscript>", b"<plaintext>", b"<title>", b"<textarea>", b"<xmp>", b"<noembed>",
    b"<noframes>", b"<a href=x href=y>", b"<a href=\"x\" HREF='y'>", b"<a href=x src=y>", b"<a title=x href=y src=z>",
    b'<img srcset="a" srcset=b>',
    # other markup
    b"<!DOCTYPE html>", b"<?xml version='1.0'?>", b"</ x>", b"</>", b"<![CDATA[ x ]]>", b"<!x>", b"<<p>",
    # unfinished: whatever may still complete is left for the next chunk
    b"<", b"<p", b"</p", b"<p class", b'<p class="x>', b"<p class='x", b"<a href=x", b'<a href="x>', b"<!--",
    b"<!-- x --", b"<!", b"<div title=x", b"<a", b"</",
]


@pytest.mark.parametrize("piece", ORDINARY)
def test_skip_passes_over_text_comments_and_ordinary_tags(piece: bytes) -> None:
    doc = b"x" + piece * 3 + b"y"
    for pattern in (SKIP, SKIP_TRACKING):
        m = pattern.match(doc)
        assert m is not None and m.lastindex is None and m.end() == len(doc), pattern is SKIP


@pytest.mark.parametrize("tag", LINK_TAGS)
def test_skip_takes_a_link_tag_whole_as_its_last_piece(tag: bytes) -> None:
    doc = b"<p>x</p>" + tag + b"<p>"
    m = SKIP.match(doc)
    assert m is not None and m.lastindex is not None and m.end() == 8 + len(tag)
    assert m.group(1).lower() == tag[1 : 1 + len(m.group(1))].lower()


@pytest.mark.parametrize("stop", STOPS)
def test_skip_stops_where_the_rewriter_must_look(stop: bytes) -> None:
    doc = b'<p class="a">x</p>' + stop
    for pattern in (SKIP, SKIP_TRACKING):
        m = pattern.match(doc)
        assert m is not None and m.lastindex is None and m.end() == 18, pattern is SKIP


def test_inside_svg_math_select_their_end_tags_and_input_count() -> None:
    for stop in (b"</svg>", b"</SVG >", b"</math/>", b"</select>", b"<input type=text>", b"<INPUT formaction=x>"):
        m = SKIP_TRACKING.match(b"<p>x</p>" + stop)
        assert m is not None and m.lastindex is None and m.end() == 8, stop
    for tag in (b"</svg>", b"</math/>", b"</select>"):
        m = SKIP.match(b"<p>x</p>" + tag)
        assert m is not None and m.end() == 8 + len(tag)
    m = SKIP.match(b"<p>x</p><input formaction=x>")
    assert m is not None and m.lastindex == 6


def test_a_chunk_never_ends_the_skip_inside_a_tag() -> None:
    pieces = ORDINARY + LINK_TAGS[:4] + [b"text ", b"<script>", b"</script>"]
    doc = b"".join(pieces)
    inside = set()
    pos = 0
    for piece in pieces:
        if piece.startswith(b"<"):
            inside.update(range(pos + 1, pos + len(piece)))
        pos += len(piece)
    for i in range(len(doc) + 1):
        for pattern in (SKIP, SKIP_TRACKING):
            m = pattern.match(doc[:i])
            assert m is not None and m.end() not in inside, (i, doc[:i][-40:])


def test_link_tag_groups() -> None:
    def groups(tag: bytes) -> tuple[int | None, tuple[bytes | None, ...]]:
        m = SKIP.match(tag)
        assert m is not None and m.end() == len(tag)
        return m.lastindex, m.groups()

    assert groups(b'<a class=k href="/t" rel=x>') == (4, (b"a", b"href", b"=", b"/t", None, None))
    assert groups(b"<A HREF = '/t'>") == (5, (b"A", b"HREF", b" = ", None, b"/t", None))
    assert groups(b"<a href=/t>") == (6, (b"a", b"href", b"=", None, None, b"/t"))
    assert groups(b"<a href=>") == (3, (b"a", b"href", b"=", None, None, None))
    assert groups(b"<a href >") == (2, (b"a", b"href", None, None, None, None))
    assert groups(b"<a name=x>") == (1, (b"a", None, None, None, None, None))
    assert groups(b"<img src=/i.png alt='a>b'>") == (6, (b"img", b"src", b"=", None, None, b"/i.png"))


def test_url_kinds_follow_the_table() -> None:
    for (element, name), kind in URL_KINDS.items():
        assert kind == URL_ATTRIBUTES[element].get(name, "")
    for element, attributes in URL_ATTRIBUTES.items():
        for name, kind in attributes.items():
            assert URL_KINDS[element, name] == kind


def test_advance_attribute_follows_one_attribute_to_its_end() -> None:
    assert advance_attribute(b'href = "a>b" x', 0, A_NAME) == (A_DONE, 12)
    assert advance_attribute(b"href x", 0, A_NAME) == (A_DONE, 5)
    assert advance_attribute(b"href=a>b", 0, A_NAME) == (A_DONE, 6)
    assert advance_attribute(b'href="a', 0, A_NAME) == (A_DQ, 7)  # unfinished: the state to go on from
    assert advance_attribute(b'bc" x', 0, A_DQ) == (A_DONE, 3)
    assert advance_attribute(b"abc", 0, A_UQ) == (A_UQ, 3)


@pytest.mark.parametrize("raw", [
    b"/in", b"https://e.example/?a=1", b"", b" x ", b"x y", b"a\tb", b"\x7f", b"x\x7f", b"&amp;", b"\xc3\xa9", b"\x00",
    b"https://e.example/\x01", b"~!#$%'()*+,-./:;<=>?@[\\]^_`{|}",
])
def test_url_text_fast_case_reads_as_the_general_case(raw: bytes) -> None:
    assert url_text(raw) == attribute_text(raw).strip(C0_SPACE).replace("\t", "").replace("\n", "").replace("\r", "")


def test_url_text_cache_is_bounded_and_transparent() -> None:
    raw = b"https://example.org/?a=1&amp;b=2"
    assert url_text(raw) == "https://example.org/?a=1&b=2"
    assert url_text(raw) == "https://example.org/?a=1&b=2"  # from the cache
    for i in range(htmlsyntax._URL_TEXT_CACHE_SIZE + 10):
        url_text(b"https://e.org/?x=%d&amp;y" % i)
    assert len(htmlsyntax._URL_TEXT_CACHE) <= htmlsyntax._URL_TEXT_CACHE_SIZE
    assert url_text(b"https://e.org/?x=5&amp;y") == "https://e.org/?x=5&y"
