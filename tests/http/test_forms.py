"""Body codecs: each encoding's parts, and re-encoding that changes only the replaced bytes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.http.forms import Part, Unreadable, decode, kind_of


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [
        ("application/x-www-form-urlencoded", "form"),
        ("Multipart/Form-Data; boundary=x", "multipart"),
        ("application/json; charset=utf-8", "json"),
        ("application/vnd.api+json", "json"),
        ("text/plain", "text"),
        ("text/html", None),
        ("application/octet-stream", None),
        ("", None),
    ],
)
def test_kind_of(content_type: str, kind: str | None) -> None:
    assert kind_of(content_type)[0] == kind


def test_an_unlisted_kind_is_not_decoded() -> None:
    assert decode("text/plain", b"x", frozenset({"json"})) is None
    assert decode("image/png", b"x") is None


def test_form_values_decoded_and_only_replaced_values_re_encoded() -> None:
    body = b"a=1+2&b=%41%2B%C3%A6&flag&c=&a=again"
    decoded = decode("application/x-www-form-urlencoded", body)
    assert decoded is not None
    assert decoded.parts == (Part("a", "a", "1 2"), Part("b", "b", "A+\u00e6"), Part("c", "c", ""),
                             Part("a", "a", "again"))
    assert decoded.encode({}) is body
    assert decoded.encode({1: "x y&*=\u00f8"}) == b"a=1+2&b=x+y%26*%3D%C3%B8&flag&c=&a=again"


def test_json_string_leaves_with_their_key_and_path_and_layout_kept() -> None:
    body = b'{\n  "a": "x", "n": 1.50, "b": {"c": ["y", 2, {"d": "z\\u00e6"}]}, "t": true, "k": null\n}'
    decoded = decode("application/json", body)
    assert decoded is not None
    assert decoded.parts == (Part("a", "a", "x"), Part("c", "b.c", "y"), Part("d", "b.c.d", "z\u00e6"))
    out = decoded.encode({0: 'q"uote', 2: "\u00f8"})
    assert out == b'{\n  "a": "q\\"uote", "n": 1.50, "b": {"c": ["y", 2, {"d": "\xc3\xb8"}]}, "t": true, "k": null\n}'
    assert decode("application/json", b'"top"').parts == (Part("", "", "top"),)  # type: ignore[union-attr]


@pytest.mark.parametrize("body", [b'{"a": "x"', b"{'a': 1}", b'{"a": "\xff"}', b"NaN", b""])
def test_malformed_json_is_unreadable(body: bytes) -> None:
    with pytest.raises(Unreadable):
        decode("application/json", body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=12,
)


@given(json_values)
def test_json_replacing_every_leaf_keeps_the_structure(value: object) -> None:
    body = json.dumps(value, ensure_ascii=False).encode()
    decoded = decode("application/json", body)
    assert decoded is not None
    out = decoded.encode({i: "#" + p.text for i, p in enumerate(decoded.parts)})

    def marked(v: object) -> object:
        if isinstance(v, str):
            return "#" + v
        if isinstance(v, list):
            return [marked(x) for x in v]
        if isinstance(v, dict):
            return {k: marked(x) for k, x in v.items()}
        return v

    assert json.loads(out) == marked(value)


MULTIPART = (
    b"preamble\r\n--BB\r\nContent-Disposition: form-data; name=\"comment\"\r\n\r\nhello 123\r\n"
    b"--BB\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n"
    b"Content-Type: application/octet-stream\r\n\r\n\x00\xff--B\r\n-- 123\r\n"
    b"--BB\r\nContent-Disposition: form-data; name=\"empty\"\r\n\r\n\r\n--BB--\r\n"
)


def test_multipart_text_fields_only_and_file_parts_untouched() -> None:
    decoded = decode("multipart/form-data; boundary=BB", MULTIPART)
    assert decoded is not None
    assert decoded.parts == (Part("comment", "comment", "hello 123"), Part("empty", "empty", ""))
    out = decoded.encode({0: "hello ***", 1: "x"})
    assert out == MULTIPART.replace(b"hello 123", b"hello ***").replace(b'"empty"\r\n\r\n\r\n', b'"empty"\r\n\r\nx\r\n')


def test_a_replacement_that_would_end_the_part_is_refused() -> None:
    decoded = decode("multipart/form-data; boundary=BB", MULTIPART)
    assert decoded is not None
    with pytest.raises(ValueError):
        decoded.encode({0: "x\r\n--BB--"})


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", MULTIPART),
        ("multipart/form-data; boundary=BB", MULTIPART[: MULTIPART.rindex(b"--BB--")]),
        ("multipart/form-data; boundary=BB", b"no parts at all"),
        ("text/plain; charset=utf-8", b"\xff\xfe bad"),
        ("text/plain; charset=no-such-charset", b"x"),
    ],
)
def test_unreadable_bodies(content_type: str, body: bytes) -> None:
    with pytest.raises(Unreadable):
        decode(content_type, body)


def test_text_in_its_charset() -> None:
    decoded = decode("text/plain; charset=iso-8859-1", "bl\u00e5 123".encode("latin-1"))
    assert decoded is not None and decoded.parts == (Part("", "", "bl\u00e5 123"),)
    assert decoded.encode({0: "bl\u00e5 ***"}) == "bl\u00e5 ***".encode("latin-1")


def test_form_fields_are_removed_whole_and_added_at_the_end() -> None:
    decoded = decode("application/x-www-form-urlencoded", b"a=1&consent=v1&b=x+y")
    assert decoded is not None
    assert decoded.encode({}, remove=[1]) == b"a=1&b=x+y"
    assert decoded.encode({}, remove=[0, 2]) == b"consent=v1"
    assert decoded.encode({2: "z"}, remove=[1], add=[("gdpr", "a b")]) == b"a=1&b=z&gdpr=a+b"


def test_a_multipart_field_is_removed_with_its_delimiter_and_a_new_one_added_before_the_end() -> None:
    body = (b'--B\r\nContent-Disposition: form-data; name="consent"\r\n\r\nv1\r\n'
            b'--B\r\nContent-Disposition: form-data; name="f"; filename="x.bin"\r\n\r\n\x00data\r\n'
            b"--B--\r\n")
    decoded = decode("multipart/form-data; boundary=B", body)
    assert decoded is not None and [p.field for p in decoded.parts] == ["consent"]
    assert decoded.encode({}, remove=[0], add=[("gdpr", "v1")]) == (
        b'--B\r\nContent-Disposition: form-data; name="f"; filename="x.bin"\r\n\r\n\x00data\r\n'
        b'--B\r\nContent-Disposition: form-data; name="gdpr"\r\n\r\nv1\r\n--B--\r\n'
    )


def test_json_and_text_have_no_fields_to_remove() -> None:
    decoded = decode("application/json", b'{"a": "x"}')
    assert decoded is not None
    with pytest.raises(ValueError, match="no fields to remove"):
        decoded.encode({}, remove=[0])
