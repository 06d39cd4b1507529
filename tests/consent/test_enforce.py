"""Cookies removed by consent: hostile Cookie headers kept byte for byte, Set-Cookie judged per header."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.consent import enforce
from gateway.consent.cookieclass import CookieClassifier, CookieMatcher
from gateway.consent.cookies import cookie_names, parse_set_cookie
from gateway.consent.enforce import Enforcer, default_path
from tests.consent.support import compiled

CLASSIFIER = CookieClassifier(
    {
        "necessary": [CookieMatcher(name="sessionid"), CookieMatcher(glob="csrf*")],
        "preferences": [CookieMatcher(name="lang")],
        "analytics": [CookieMatcher(glob="_ga*"), CookieMatcher(name="_gid")],
    }
)
ENFORCER = Enforcer(CLASSIFIER, own_cookie="pgw_consent", passthrough=("klaro",))
NONE = frozenset({"necessary"})
ANALYTICS = frozenset({"necessary", "analytics"})


@pytest.mark.parametrize(
    ("header", "granted", "expected", "removed"),
    [
        ("sessionid=1; _ga=2", NONE, "sessionid=1", {"analytics": 1}),
        ("sessionid=1; _ga=2", ANALYTICS, "sessionid=1; _ga=2", {}),
        ("_ga=1; _ga=2; _ga_X=3", NONE, None, {"analytics": 3}),
        ('a=1; sessionid="quoted;value"; _ga=x', NONE, 'sessionid="quoted', {"unclassified": 2, "analytics": 1}),
        ("sessionid=  odd  value ; lang=nb", NONE, "sessionid=  odd  value", {"preferences": 1}),
        ("sessionid=%E2%9C%93=;;;  ;_gid=1", NONE, "sessionid=%E2%9C%93=", {"analytics": 1}),
        ("=nameless; sessionid=1", NONE, "sessionid=1", {"unclassified": 1}),
        ("novalue; sessionid=1", NONE, "sessionid=1", {"unclassified": 1}),
        ("sessionid=1;pgw_consent=token;klaro={}", ANALYTICS, "sessionid=1; klaro={}", {}),
        ("csrftoken=abc\u00e6\u00f8\u00e5; _ga=1", ANALYTICS, "csrftoken=abc\u00e6\u00f8\u00e5; _ga=1", {}),
        ("SESSIONID=1; sessionid=2", NONE, "sessionid=2", {"unclassified": 1}),
        ("", NONE, "", {}),
        (";;", NONE, ";;", {}),
    ],
)
def test_request_cookies(header: str, granted: frozenset[str], expected: str | None, removed: dict[str, int]) -> None:
    kept, report = ENFORCER.filter_request([header], granted)
    assert kept == ([] if expected is None else [expected])
    assert report.removed == removed


def test_unchanged_headers_are_the_same_objects() -> None:
    header = "sessionid=1;  _ga=2 ;;x"
    kept, _ = ENFORCER.filter_request([header], frozenset({"necessary", "analytics", "unclassified"}))
    assert kept[0] is header


def test_several_cookie_headers_are_filtered_one_by_one() -> None:
    kept, report = ENFORCER.filter_request(["_ga=1", "sessionid=1; _gid=2", "lang=en"], NONE)
    assert kept == ["sessionid=1"]
    assert report.removed == {"analytics": 2, "preferences": 1}


def test_a_very_long_header_is_filtered_linearly() -> None:
    header = "; ".join(f"c{i}=v{i}" if i % 2 else f"_ga{i}=v" for i in range(5000))
    kept, report = ENFORCER.filter_request([header], frozenset({"necessary", "unclassified"}))
    assert report.removed == {"analytics": 2500}
    assert kept[0] == "; ".join(f"c{i}=v{i}" for i in range(1, 5000, 2))


def test_unclassified_names_are_reported_in_order() -> None:
    _, report = ENFORCER.filter_request(["b=1; a=2; b=3; sessionid=1"], NONE)
    assert report.unclassified == ["b", "a", "b"]


def test_shadow_mode_reports_and_keeps_everything_but_the_gateways_cookie() -> None:
    kept, report = ENFORCER.filter_request(["sessionid=1; _ga=2; pgw_consent=t; x=1"], NONE, shadow=True)
    assert kept == ["sessionid=1; _ga=2; x=1"]
    assert report.removed == {"analytics": 1, "unclassified": 1}


@given(st.lists(st.sampled_from(["sessionid", "_ga", "lang", "x", "", " a b ", "csrf1", "_gid", "klaro"]), max_size=12),
       st.lists(st.text(alphabet=st.characters(blacklist_characters=";"), max_size=8), min_size=12, max_size=12))
def test_kept_pairs_are_exact_copies_in_order(names: list[str], values: list[str]) -> None:
    pairs = [f"{name}={value}" for name, value in zip(names, values)]
    header = ";".join(pairs)
    kept, _ = ENFORCER.filter_request([header], ANALYTICS)
    allowed = {"sessionid", "_ga", "csrf1", "_gid", "klaro"}
    expected = [p.strip(" \t") for p in pairs if p.strip(" \t") and cookie_names(p) and cookie_names(p)[0] in allowed]
    if kept:
        assert kept[0] == header or kept[0].split("; ") == expected
    else:
        assert not expected


SET_COOKIES = [
    "sessionid=abc; Path=/; HttpOnly",
    "_ga=GA1; Max-Age=63072000; Path=/",
    "lang=nb",
    "tracker=1; Path=/",
    "pgw_consent=forged; Path=/",
    "klaro=%7B%7D; Path=/",
    "_gid=; Max-Age=0; Path=/",
    "no-equals-sign",
]


def test_set_cookie_headers_are_judged_one_by_one() -> None:
    kept, report = ENFORCER.filter_set_cookies(SET_COOKIES, NONE, host="h", request_path="/")
    assert kept == ["sessionid=abc; Path=/; HttpOnly", "klaro=%7B%7D; Path=/", "_gid=; Max-Age=0; Path=/"]
    assert report.removed == {"analytics": 1, "preferences": 1, "unclassified": 2}
    assert report.unclassified == ["tracker", ""]
    assert report.passed == []


def test_granted_set_cookies_pass_unchanged_and_are_reported_with_attributes() -> None:
    kept, report = ENFORCER.filter_set_cookies(SET_COOKIES, ANALYTICS | {"preferences"}, host="h", request_path="/")
    assert kept == [v for v in SET_COOKIES if not v.startswith(("tracker", "pgw_consent", "no-equals"))]
    assert report.passed == [
        ("analytics", "_ga", "_ga=GA1; Max-Age=63072000; Path=/"), ("preferences", "lang", "lang=nb"),
        ("analytics", "_gid", "_gid=; Max-Age=0; Path=/"),
    ]


def test_shadow_mode_keeps_set_cookies_but_never_the_forged_consent_cookie() -> None:
    kept, report = ENFORCER.filter_set_cookies(SET_COOKIES, NONE, host="h", request_path="/", shadow=True)
    assert kept == [v for v in SET_COOKIES if not v.startswith("pgw_consent")]
    assert report.removed == {"analytics": 1, "preferences": 1, "unclassified": 2}


@pytest.mark.parametrize(
    "attributes",
    ["Max-Age=0", "max-age=-1; Path=/", "Max-Age=0; Max-Age=5", "Max-Age=5; Max-Age=0", "Max-Age=x", "Max-Age= 0 ",
     "Max-Age=" + "0" * 2000, "Expires=Thu, 01 Jan 1970 00:00:00 GMT", "Path=/", ""],
)
def test_deletions_are_recognised_like_parse_set_cookie_does_from_the_cache_too(attributes: str) -> None:
    enforcer = Enforcer(CLASSIFIER, own_cookie="pgw_consent")
    for value in ("1", "other-value"):  # the second answer comes from the cache
        set_cookie = f"_ga={value}; {attributes}"
        deleted = parse_set_cookie(set_cookie).max_age == 0
        assert enforcer.deletes(set_cookie) is deleted
        kept, report = enforcer.filter_set_cookies([set_cookie], NONE, host="h", request_path="/")
        assert kept == ([set_cookie] if deleted else []) and report.removed == ({} if deleted else {"analytics": 1})


def test_the_deletion_cache_is_bounded_and_skips_long_attributes() -> None:
    enforcer = Enforcer(CLASSIFIER, own_cookie="pgw_consent")
    for seconds in range(enforce._DELETION_CACHE * 2 + 10):  # e.g. a fresh Expires date on every response
        assert not enforcer.deletes(f"_ga=1; Max-Age={seconds + 1}")
        assert enforcer.deletion_cache_entries <= enforce._DELETION_CACHE
    assert enforcer.deletes("_ga=1; Max-Age=0")
    long = "_ga=1; Max-Age=0; Path=/" + "a" * enforce._CACHED_ATTRIBUTES
    entries = enforcer.deletion_cache_entries
    assert enforcer.deletes(long) and enforcer.deletion_cache_entries == entries


def test_each_policy_has_its_own_caches() -> None:
    first, second = compiled(), compiled(categories={"necessary": {"cookies": [{"glob": "_ga*"}]}})
    assert first.enforcer.filter_set_cookies(["_ga=1; Max-Age=9"], NONE, host="h", request_path="/")[0] == []
    assert first.enforcer.deletion_cache_entries == 1 and second.enforcer.deletion_cache_entries == 0
    # A reloaded policy that calls _ga necessary keeps it, whatever the old policy's caches hold.
    assert second.enforcer.filter_set_cookies(["_ga=1; Max-Age=9"], NONE, host="h", request_path="/")[0] == [
        "_ga=1; Max-Age=9"
    ]
    assert second.enforcer.filter_request(["_ga=1"], NONE)[0] == ["_ga=1"]
    assert first.enforcer.filter_request(["_ga=1"], NONE)[0] == []


def test_domain_and_path_conditions_apply_to_set_cookie() -> None:
    classifier = CookieClassifier(
        {"necessary": [CookieMatcher(name="id", domain="help.example")], "marketing": [CookieMatcher(glob="*")]}
    )
    enforcer = Enforcer(classifier, own_cookie="pgw", conditional=True)
    values = ["id=1; Domain=ads.example", "id=2", "id=3; Domain=.HELP.example"]
    kept, report = enforcer.filter_set_cookies(values, NONE, host="help.example", request_path="/a/b")
    assert kept == ["id=2", "id=3; Domain=.HELP.example"]
    assert report.removed == {"marketing": 1}
    # Cookie headers carry no domain: the conditional rule cannot claim them.
    assert enforcer.filter_request(["id=1"], NONE)[0] == []


@pytest.mark.parametrize(
    ("path", "expected"), [("/", "/"), ("/a", "/"), ("/a/", "/a"), ("/a/b", "/a"), ("/a/b/c", "/a/b"), ("", "/"), ("x", "/")]
)
def test_default_path(path: str, expected: str) -> None:
    assert default_path(path) == expected
