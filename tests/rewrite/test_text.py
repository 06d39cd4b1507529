"""The streaming rewriter for bare URLs in plain text: exact outputs, every split point, properties."""

from __future__ import annotations

import re
from collections.abc import Iterable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.rewrite.text import STRIP, TextLinkRewriter, UrlDecision, encode_url
from tests.support.feeding import feed_split


def policy(url: str) -> UrlDecision:
    if url.startswith("https://help.example"):
        return None
    if "tracker" in url:
        return STRIP
    return "<" + url + ">"


def rewrite(text: bytes, decide: object = policy, cuts: Iterable[int] = (), **options: object) -> bytes:
    return feed_split(TextLinkRewriter(decide, **options), text, cuts)  # type: ignore[arg-type]


CASES = [
    (b"see https://e.example/a?b=1&c=2 now", b"see <https://e.example/a?b=1&c=2> now"),
    (b"HTTP://E.example/X", b"<HTTP://E.example/X>"),
    (b"at https://e.example.", b"at <https://e.example>."),
    (b"https://e.example/a, https://e.example/b; https://e.example/c: ok!?", b"<https://e.example/a>, <https://e.example/b>; <https://e.example/c>: ok!?"),
    (b"(see https://e.example/a)", b"(see <https://e.example/a>)"),
    (b"https://en.example/wiki/Foo_(bar) and (https://e.example/x_(y)).", b"<https://en.example/wiki/Foo_(bar)> and (<https://e.example/x_(y)>)."),
    (b"[link](https://e.example/md)", b"[link](<https://e.example/md>)"),
    (b"<https://e.example/wrapped>", b"<<https://e.example/wrapped>>"),
    (b"\"https://e.example/q\" 'https://e.example/s'", b"\"<https://e.example/q>\" '<https://e.example/s>'"),
    (b"nohttps://e.example glued", b"no<https://e.example> glued"),
    (b"https://help.example/kb/1 stays", b"https://help.example/kb/1 stays"),
    (b"gone: https://tracker.example/p?id=1.", b"gone: ."),
    (b"https:// alone, http://. and ftp://e.example", b"https:// alone, http://. and ftp://e.example"),
    ("https://bücher.example/straße。 次".encode(), "<https://bücher.example/straße>。 次".encode()),
    ("https://e.example/a。次".encode(), "<https://e.example/a。次>".encode()),
    ("“https://e.example/q”".encode(), "“<https://e.example/q>”".encode()),
    (b"\xffhttps://e.example/\xff\xfe end", b"\xff<https://e.example/\xef\xbf\xbd\xef\xbf\xbd> end"),
    (b"line\nhttps://e.example/a\thttps://e.example/b\r\n", b"line\n<https://e.example/a>\t<https://e.example/b>\r\n"),
    (b"a https://e.example/a?next=https://e.example/b end", b"a <https://e.example/a?next=https://e.example/b> end"),
    (b"", b""),
    (b"http", b"http"),
    (b"https:/", b"https:/"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_rewrites_exactly(text: bytes, expected: bytes) -> None:
    assert rewrite(text) == expected


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_every_split_point_gives_the_one_shot_output(text: bytes, expected: bytes) -> None:
    for i in range(len(text) + 1):
        assert rewrite(text, cuts=[i]) == expected, i
    assert rewrite(text, cuts=range(len(text))) == expected


def test_an_overlong_url_ends_at_the_cap_and_is_still_decided() -> None:
    seen: list[str] = []
    text = b"x https://e.example/" + b"a" * 100 + b" y"

    def decide(url: str) -> UrlDecision:
        seen.append(url)
        return "S"

    expected = b"x S" + b"a" * 90 + b" y"  # 20 bytes after "://" are decided, the rest is text
    assert rewrite(text, decide, max_url_bytes=20) == expected
    assert seen == ["https://e.example/" + "a" * 10]
    for i in range(len(text)):
        assert rewrite(text, decide, cuts=[i], max_url_bytes=20) == expected
    rw = TextLinkRewriter(decide, max_url_bytes=20)
    for byte in text:
        rw.feed(bytes((byte,)))
        assert len(rw._carry) <= 30


def test_encoding_and_options() -> None:
    assert encode_url("https://e.example/\u2603", "latin-1") == b"https://e.example/%E2%98%83"
    assert encode_url("https://e.example/\u00e9", "latin-1") == b"https://e.example/\xe9"
    assert rewrite("https://e.example/\xe9 x".encode("latin-1"), encoding="latin-1") == "<https://e.example/\xe9> x".encode("latin-1")
    with pytest.raises(ValueError):
        TextLinkRewriter(policy, max_url_bytes=0)
    assert TextLinkRewriter(policy).finish() == b""


TEXT = st.lists(
    st.one_of(
        st.sampled_from(["https://", "http://", "HTTPS://", "ht", "tps:/", "/", "e.example", ".", ",", ")", "(", "<", ">",
                         '"', "'", " ", "\n", "。", "”", "https://tracker.example", "https://help.example/x", "?a=1&b=2"]),
        st.text(max_size=5),
    ),
    max_size=30,
).map(lambda parts: "".join(parts).encode("utf-8", "surrogatepass"))

URL = re.compile(rb"(?i)https?://[^\x00-\x20\x7f<>\"]*?[a-z0-9]")  # a URL with something in it


@settings(max_examples=500)
@given(TEXT, st.lists(st.integers(0, 200), max_size=5))
def test_property_any_split_gives_the_one_shot_output(text: bytes, cuts: list[int]) -> None:
    assert rewrite(text, cuts=cuts) == rewrite(text)
    assert rewrite(text, cuts=cuts, max_url_bytes=7) == rewrite(text, max_url_bytes=7)


@settings(max_examples=500)
@given(st.binary(max_size=300) | TEXT, st.lists(st.integers(0, 300), max_size=4))
@example(b"xhttp", [1])
def test_property_keep_all_leaves_bytes_unchanged(text: bytes, cuts: list[int]) -> None:
    assert rewrite(text, lambda url: None, cuts=cuts) == text


@settings(max_examples=500)
@given(TEXT, st.lists(st.integers(0, 200), max_size=4), st.sampled_from([8192, 5]))
@example("https://.\u3002?a=1&b=2".encode(), [], 5)  # cut at the cap inside what looks like trailing marks
def test_property_no_url_survives_when_all_are_replaced(text: bytes, cuts: list[int], cap: int) -> None:
    out = rewrite(text, lambda url: "[signed]", cuts=cuts, max_url_bytes=cap)
    assert URL.search(out) is None
    assert rewrite(text, lambda url: STRIP, cuts=cuts, max_url_bytes=cap).count(b"://") <= text.count(b"://")
