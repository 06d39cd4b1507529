"""strip_tracking: only the tracking ``name=value`` pieces go, every other byte stays."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.links.tracking import compile_names, strip_tracking
from gateway.policy.links import DEFAULT_TRACKING_PARAMS

NAMES = compile_names(DEFAULT_TRACKING_PARAMS)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org",
        "https://example.org/",
        "https://example.org/p?a=1&b=2",
        "https://example.org/p?q=%E2%9C%93&x=a+b%20c&y=%26%3D",  # encoded values stay encoded
        "https://example.org/p?a=1&a=2&a=1",  # repeated parameters stay, in order
        "https://example.org/p?a=1#frag",
        "https://example.org/p#utm_source=x",  # a fragment is not a query
        "https://example.org/p?utm=1&xutm_source=2&fbclid2=3&gclid_x=4&my_utm_source=5",
        "https://example.org/p?k=utm_source&v=fbclid",  # values are not names
        "https://example.org/p?=utm_source",
        "https://example.org/p?a;utm_source=1",  # ';' is not a separator here
    ],
)
def test_urls_without_tracking_parameters_are_returned_unchanged(url: str) -> None:
    assert strip_tracking(url, NAMES) == url


# The module promises "every other byte of the URL stays as it was", and the
# function returns ``url`` unchanged when nothing matched, but empty pieces
# (from '?' alone, '&&', a leading or trailing '&') are dropped and counted as
# removed, so URLs without any tracking parameter are rewritten.
@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/?",
        "https://example.org/p?#frag",
        "https://example.org/p?a=1&&b=2",
        "https://example.org/p?a=1&",
        "https://example.org/p?&a=1",
    ],
)
def test_empty_query_pieces_without_tracking_are_kept(url: str) -> None:
    assert strip_tracking(url, NAMES) == url


@pytest.mark.parametrize("url", ["https://example.org/p#section?utm_source=a", "https://example.org/p#a?b=1&fbclid=2"])
def test_a_question_mark_in_the_fragment_does_not_start_a_query(url: str) -> None:
    assert strip_tracking(url, NAMES) == url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/p?utm_source=a", "https://example.org/p"),
        ("https://example.org/p?utm_source=a#f", "https://example.org/p#f"),
        ("https://example.org/p?utm_source=a#utm_medium=b", "https://example.org/p#utm_medium=b"),
        ("https://example.org/p?a=1&utm_source=x&b=2&fbclid=y#f", "https://example.org/p?a=1&b=2#f"),
        ("https://example.org/p?utm_source=a&x=1&utm_source=b", "https://example.org/p?x=1"),
        ("https://example.org/p?x=1&x=2&gclid=z&x=3", "https://example.org/p?x=1&x=2&x=3"),
        ("https://example.org/p?q=%E2%9C%93&utm_medium=x&r=a+b%20c", "https://example.org/p?q=%E2%9C%93&r=a+b%20c"),
        ("https://example.org/p?next=utm_source%3D1&fbclid=1", "https://example.org/p?next=utm_source%3D1"),
        ("https://example.org/p?k=a=b&gclid=1", "https://example.org/p?k=a=b"),
        ("https://example.org/p?utm%5Fsource=1&q=1", "https://example.org/p?q=1"),  # encoded names are read decoded
        ("https://example.org/p?%75tm_campaign=1&q=1", "https://example.org/p?q=1"),
        ("https://example.org/p?UTM_Source=1&FBCLID=2&k=V", "https://example.org/p?k=V"),  # case-insensitive
        ("https://example.org/p?utm_source&k=1", "https://example.org/p?k=1"),  # a name without a value
        ("https://example.org/p?fbclid=&k=1", "https://example.org/p?k=1"),
        ("https://example.org/p?utm_=1&utm_x_y=2&k=1", "https://example.org/p?k=1"),
        ("https://example.org/p?mc_cid=1&mc_eid=2&_hsenc=3&k=1", "https://example.org/p?k=1"),
        ("HTTPS://EXAMPLE.ORG/P?K=1&UTM_TERM=2", "HTTPS://EXAMPLE.ORG/P?K=1"),
    ],
)
def test_tracking_parameters_are_cut_out(url: str, expected: str) -> None:
    assert strip_tracking(url, NAMES) == expected


def test_names_with_spaces_match_plus_and_percent_20() -> None:
    names = compile_names(["my param", "ref"])
    url = "https://example.org/?my+param=1&my%20param=2&REF=3&referrer=4&my_param=5&ref=&x=my+param"
    assert strip_tracking(url, names) == "https://example.org/?referrer=4&my_param=5&x=my+param"


@pytest.mark.parametrize(
    ("patterns", "name", "matches"),
    [
        (["utm_*"], "utm_", True),
        (["utm_*"], "utm_source", True),
        (["utm_*"], "UTM_SOURCE", True),
        (["utm_*"], "utm", False),
        (["utm_*"], "x_utm_source", False),
        (["mc_?id"], "mc_cid", True),
        (["mc_?id"], "mc_id", False),
        (["mc_?id"], "mc_ccid", False),
        (["a.b"], "a.b", True),
        (["a.b"], "axb", False),  # only * and ? are glob characters
        (["a+b"], "a+b", True),
        (["a+b"], "aab", False),
        (["(x)"], "(x)", True),
        (["x|y"], "x", False),
        ([], "utm_source", False),
    ],
)
def test_compile_names_globs(patterns: list[str], name: str, matches: bool) -> None:
    assert (compile_names(patterns).fullmatch(name) is not None) is matches


_NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-.%+", min_size=1, max_size=12)
_VALUE = st.text(alphabet="abcXYZ019%+=-._~:/?@!$'()*,;", max_size=12)
_TRACKING = st.sampled_from(["utm_source", "UTM_Medium", "utm%5Fcampaign", "fbclid", "gclid", "msclkid", "utm_"])


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(st.tuples(st.booleans(), _NAME, st.one_of(st.none(), _VALUE)), max_size=8),
    tracking_names=st.lists(_TRACKING, min_size=8, max_size=8),
    fragment=st.one_of(st.none(), st.text(alphabet="abc=&#?utm_", max_size=10)),
)
def test_exactly_the_tracking_pieces_are_removed(
    pieces: list[tuple[bool, str, str | None]], tracking_names: list[str], fragment: str | None
) -> None:
    query, kept = [], []
    for i, (tracking, name, value) in enumerate(pieces):
        if tracking:
            name = tracking_names[i]
        elif NAMES.fullmatch(name.replace("+", " ").replace("%", "")) or "%" in name:
            name = "k" + name.replace("%", "")  # keep generated names clearly non-tracking
        piece = name if value is None else f"{name}={value}"
        query.append(piece)
        if not tracking:
            kept.append(piece)
    base = "https://example.org/p"
    tail = "" if fragment is None else "#" + fragment
    url = f"{base}?{'&'.join(query)}{tail}" if query else base + tail
    expected = f"{base}?{'&'.join(kept)}{tail}" if kept else base + tail
    assert strip_tracking(url, NAMES) == expected
