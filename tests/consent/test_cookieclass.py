"""The cookie classifier: exact names and globs, precedence, domain and path conditions, the cache."""

from __future__ import annotations

import re
import time
from fnmatch import fnmatchcase

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.consent.cookieclass import CookieClassifier, CookieMatcher, glob_pattern
from gateway.consent.cookies import filter_cookie_header

M = CookieMatcher

SITE = CookieClassifier(
    {
        "necessary": [M(name="sessionid"), M(name="csrftoken"), M(name="")],
        "preferences": [M(name="lang"), M(glob="*_pref")],
        "analytics": [M(glob="_ga*"), M(glob="_ga_*"), M(name="_gid"), M(glob="_pk_id.*"), M(glob="utm_?")],
        "marketing": [M(glob="_fb?"), M(glob="*_session"), M(glob="cart[*]")],
    }
)


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("sessionid", "necessary"),
        ("csrftoken", "necessary"),
        ("", "necessary"),  # name-less cookies, listed by the empty name
        ("lang", "preferences"),
        ("theme_pref", "preferences"),
        ("_pref", "preferences"),  # '*' matches nothing too
        ("_ga", "analytics"),
        ("_ga_ABC123", "analytics"),
        ("_gid", "analytics"),
        ("_pk_id.1.abcd", "analytics"),
        ("_pk_idX1", "unclassified"),  # '.' is literal
        ("utm_1", "analytics"),
        ("utm_12", "unclassified"),  # '?' is exactly one character
        ("utm_", "unclassified"),
        ("_fbp", "marketing"),
        ("_fbc", "marketing"),
        ("_fb", "unclassified"),
        ("helpdesk_session", "marketing"),
        ("cart[items]", "marketing"),  # '[' and ']' are literal
        ("carti", "unclassified"),
        ("cart[]", "marketing"),
        # Names are case-sensitive; nothing is trimmed or folded.
        ("SessionID", "unclassified"),
        ("_GA", "unclassified"),
        ("sessionid ", "unclassified"),
        ("other", "unclassified"),
        ("x\n_session", "marketing"),  # '*' crosses any character
    ],
)
def test_category_of(name: str, category: str) -> None:
    assert SITE.category_of(name) == category
    assert SITE.category_of(name) == category  # and again, from the cache


def classify(categories: dict[str, list[CookieMatcher]], name: str, **where: str) -> str:
    return CookieClassifier(categories).category_of(name, **where)


def test_an_exact_name_beats_a_glob_of_an_earlier_category() -> None:
    categories = {"analytics": [M(glob="_ga*")], "necessary": [M(name="_ga_consent")]}
    assert classify(categories, "_ga_consent") == "necessary"
    assert classify(categories, "_ga_other") == "analytics"


def test_a_glob_without_wildcards_is_an_exact_name() -> None:
    categories = {"analytics": [M(glob="_g*")], "necessary": [M(glob="_gat")]}
    assert classify(categories, "_gat") == "necessary"
    assert classify(categories, "_gat2") == "analytics"


@pytest.mark.parametrize(
    ("order", "category"),
    [(("analytics", "marketing"), "analytics"), (("marketing", "analytics"), "marketing")],
)
def test_overlapping_matchers_of_one_kind_go_to_the_first_category(order: tuple[str, str], category: str) -> None:
    globs = {"analytics": [M(glob="*_id")], "marketing": [M(glob="_fb*")]}
    exacts = {"analytics": [M(name="uid")], "marketing": [M(name="uid")]}
    assert classify({key: globs[key] for key in order}, "_fb_id") == category
    assert classify({key: exacts[key] for key in order}, "uid") == category


@pytest.mark.parametrize(
    ("glob", "matches", "misses"),
    [
        ("*", ["", "a", "anything at all"], []),
        ("", [""], ["a"]),
        ("**a**", ["a", "xax", "aaa"], ["", "b"]),
        ("*_*_*", ["a_b_c", "__", "___"], ["a_b", "_", ""]),
        ("a.b*", ["a.b", "a.bc"], ["axb", "axbc"]),
        ("(x)|y*", ["(x)|y", "(x)|yz"], ["x", "y", "(x)"]),
        ("\\d+?", ["\\d+a"], ["1+a", "\\dd"]),
        ("[a]*", ["[a]", "[a]x"], ["a", "ax"]),
        ("[!a]", ["[!a]"], ["b"]),
        ("$^", ["$^"], [""]),
        ("?", ["a", "\n", "é"], ["", "ab"]),
        ("*ab*ab", ["abab", "xabyab", "ababab"], ["ab", "aab", "abba"]),
    ],
)
def test_glob_pattern(glob: str, matches: list[str], misses: list[str]) -> None:
    pattern = re.compile(glob_pattern(glob), re.DOTALL)
    assert [name for name in matches if pattern.fullmatch(name)] == matches
    assert [name for name in misses if pattern.fullmatch(name)] == []
    classifier = CookieClassifier({"c": [M(glob=glob)]})
    assert {classifier.category_of(name) for name in matches} <= {"c"}
    assert {classifier.category_of(name) for name in misses} <= {"unclassified"}


def test_glob_matching_stays_linear_for_hostile_names() -> None:
    classifier = CookieClassifier({"a": [M(glob="*a*a*a*a*a*a*b")], "b": [M(glob="*a*a*a*a*a*a*a*c", path="/")]})
    name = "a" * 8000
    started = time.perf_counter()
    assert classifier.category_of(name) == "unclassified"
    assert classifier.category_of(name, path="/") == "unclassified"
    assert classifier.category_of(name + "b") == "a"
    assert time.perf_counter() - started < 0.5  # backtracking would take far longer than a lifetime


# Globs and names over a small alphabet, compared with fnmatch (which agrees without '[').
_glob = st.text(alphabet="ab*?._", max_size=8)
_name = st.text(alphabet="ab._", max_size=10)
_matcher = st.builds(lambda exact, text: M(name=text) if exact else M(glob=text), st.booleans(), _glob)


@settings(max_examples=500, deadline=None)
@given(glob=_glob, name=_name)
def test_glob_pattern_agrees_with_fnmatch(glob: str, name: str) -> None:
    assert (re.fullmatch(glob_pattern(glob), name, re.DOTALL) is not None) == fnmatchcase(name, glob)


@settings(max_examples=300, deadline=None)
@given(
    categories=st.lists(st.lists(_matcher, max_size=4), max_size=5),
    names=st.lists(_name, max_size=6),
)
def test_classifier_agrees_with_the_stated_rules(categories: list[list[CookieMatcher]], names: list[str]) -> None:
    mapping = {f"cat{index}": matchers for index, matchers in enumerate(categories)}
    classifier = CookieClassifier(mapping)

    def reference(name: str) -> str:
        for exact_round in (True, False):  # exact names (and globs without wildcards) first
            for category, matchers in mapping.items():
                for matcher in matchers:
                    text = matcher.name if matcher.name is not None else matcher.glob or ""
                    is_exact = matcher.name is not None or not set(text) & set("*?")
                    if is_exact == exact_round and (text == name if is_exact else fnmatchcase(name, text)):
                        return category
        return "unclassified"

    for name in names:
        assert classifier.category_of(name) == reference(name)


# --- Domain and path conditions --------------------------------------------------------------

CONDITIONAL = CookieClassifier(
    {
        "necessary": [M(name="sid", domain="Example.COM"), M(glob="app_*", path="/app")],
        "support": [M(name="chat", domain="help.example.com", path="/chat/")],
        "analytics": [M(name="sid"), M(glob="app_*"), M(glob="chat")],
    }
)


@pytest.mark.parametrize(
    ("name", "domain", "path", "category"),
    [
        # No domain known: a domain-bound matcher does not apply.
        ("sid", None, None, "analytics"),
        ("sid", None, "/", "analytics"),
        # The domain or one of its subdomains, in any case, with a leading or trailing dot.
        ("sid", "example.com", None, "necessary"),
        ("sid", "help.example.com", None, "necessary"),
        ("sid", "HELP.Example.COM.", None, "necessary"),
        ("sid", ".example.com", None, "necessary"),
        # Suffixes that do not end on a label boundary, and parents, are other domains.
        ("sid", "badexample.com", None, "analytics"),
        ("sid", "example.com.evil.net", None, "analytics"),
        ("sid", "com", None, "analytics"),
        ("sid", "", None, "analytics"),
        # Path prefixes on '/' boundaries (RFC 6265 path-match).
        ("app_x", None, "/app", "necessary"),
        ("app_x", None, "/app/", "necessary"),
        ("app_x", None, "/app/x/y", "necessary"),
        ("app_x", None, "/application", "analytics"),
        ("app_x", None, "/", "analytics"),
        ("app_x", None, None, "analytics"),
        ("app_x", "example.com", None, "analytics"),
        # Both conditions must hold; a matcher path ending in '/' needs the slash.
        ("chat", "help.example.com", "/chat/", "support"),
        ("chat", "eu.help.example.com", "/chat/x", "support"),
        ("chat", "help.example.com", "/chat", "analytics"),
        ("chat", "example.com", "/chat/", "analytics"),
        ("chat", None, "/chat/", "analytics"),
        ("other", "example.com", "/app", "unclassified"),
    ],
)
def test_domain_and_path_conditions(name: str, domain: str | None, path: str | None, category: str) -> None:
    assert CONDITIONAL.category_of(name, domain=domain, path=path) == category


def test_conditions_gate_matchers_but_add_no_precedence() -> None:
    # Among exact names the first category wins, conditional or not.
    first = {"analytics": [M(name="sid")], "necessary": [M(name="sid", domain="example.com")]}
    assert classify(first, "sid", domain="example.com") == "analytics"
    # A conditional exact name still beats an earlier glob.
    exact = {"analytics": [M(glob="s*")], "necessary": [M(name="sid", domain="example.com")]}
    assert classify(exact, "sid", domain="example.com") == "necessary"
    assert classify(exact, "sid", domain="example.org") == "analytics"
    assert classify(exact, "sid") == "analytics"
    # Among globs the first category whose matcher applies wins.
    globs = {"analytics": [M(glob="a*", domain="x.com")], "marketing": [M(glob="a*")]}
    assert classify(globs, "ab", domain="x.com") == "analytics"
    assert classify(globs, "ab", domain="y.com") == "marketing"
    later = {"marketing": [M(glob="a*")], "analytics": [M(glob="a*", domain="x.com")]}
    assert classify(later, "ab", domain="x.com") == "marketing"
    only = {"analytics": [M(glob="a*", domain="x.com")]}
    assert classify(only, "ab", domain="x.com") == "analytics"
    assert classify(only, "ab", domain="y.com") == "unclassified"


def test_domain_and_path_do_not_matter_without_conditional_matchers() -> None:
    classifier = CookieClassifier({"analytics": [M(glob="_ga*")]})
    assert classifier.category_of("_ga", domain="example.com", path="/x") == "analytics"
    assert classifier.cache_entries == 1  # served by the name cache


# --- The cache -------------------------------------------------------------------------------


def test_the_cache_is_bounded_and_lookups_stay_right_beyond_it() -> None:
    classifier = CookieClassifier({"analytics": [M(glob="_ga*")], "necessary": [M(name="sid")]}, cache_size=3)
    names = [f"_ga{index}" for index in range(5)] + [f"random{index}" for index in range(5)] + ["sid"]
    for _ in range(2):
        assert [classifier.category_of(name) for name in names] == ["analytics"] * 5 + ["unclassified"] * 5 + [
            "necessary"
        ]
    assert classifier.cache_entries == 3


def test_long_names_are_not_cached() -> None:
    classifier = CookieClassifier({"analytics": [M(glob="_ga*")]})
    assert classifier.category_of("_ga" + "x" * 300) == "analytics"
    assert classifier.category_of("y" * 257) == "unclassified"
    assert classifier.cache_entries == 0
    assert classifier.category_of("x" * 256) == "unclassified"
    assert classifier.cache_entries == 1


def test_cached_category_answers_only_from_the_cache() -> None:
    classifier = CookieClassifier({"analytics": [M(glob="_ga*")]}, cache_size=1)
    assert classifier.cached_category("_ga") is None
    assert classifier.category_of("_ga") == "analytics"
    assert classifier.cached_category("_ga") == "analytics"
    assert classifier.category_of("_ga2") == "analytics"  # beyond the bound: answered, not cached
    assert classifier.cached_category("_ga2") is None
    assert classifier.cache_entries == 1


def test_conditional_lookups_are_not_cached() -> None:
    assert CONDITIONAL.category_of("sid", domain="example.com") == "necessary"
    assert CONDITIONAL.category_of("sid") == "analytics"
    assert CONDITIONAL.category_of("sid", domain="example.com") == "necessary"


# --- Consent ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "consent", "allowed"),
    [
        ("necessary", {}, True),
        ("necessary", {"necessary": False}, True),
        ("analytics", {}, False),
        ("analytics", {"analytics": True}, True),
        ("analytics", {"analytics": False, "marketing": True}, False),
        ("unclassified", {}, False),
        ("unclassified", {"unclassified": True}, True),
        ("unclassified", {"analytics": True}, False),
    ],
)
def test_allowed(category: str, consent: dict[str, bool], allowed: bool) -> None:
    assert SITE.allowed(category, consent) is allowed


def test_custom_category_labels() -> None:
    classifier = CookieClassifier({"essential": [M(name="sid")]}, necessary="essential", unclassified="unknown")
    assert classifier.category_of("sid") == "essential"
    assert classifier.category_of("x") == "unknown"
    assert classifier.allowed("essential", {})
    assert not classifier.allowed("unknown", {})
    assert classifier.allowed("unknown", {"unknown": True})


def test_keeper_filters_a_cookie_header() -> None:
    header = "sessionid=1; _ga=GA1.2.3; lang=nb; _fbp=fb.1; mystery=x; abc"
    assert filter_cookie_header(header, SITE.keeper({"analytics": True})) == "sessionid=1; _ga=GA1.2.3; abc"
    assert filter_cookie_header(header, SITE.keeper({})) == "sessionid=1; abc"
    everything = {"preferences": True, "analytics": True, "marketing": True, "unclassified": True}
    assert filter_cookie_header(header, SITE.keeper(everything)) is header


# --- Bad definitions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "a cookie matcher needs exactly one of name and glob"),
        ({"name": "a", "glob": "a*"}, "a cookie matcher needs exactly one of name and glob"),
        ({"domain": "example.com"}, "a cookie matcher needs exactly one of name and glob"),
        ({"name": "a", "domain": ""}, "cookie matcher domain '' is empty"),
        ({"name": "a", "domain": "."}, "cookie matcher domain '.' is empty"),
        ({"name": "a", "path": "app"}, "cookie matcher path 'app' does not start with '/'"),
        ({"name": "a", "path": ""}, "cookie matcher path '' does not start with '/'"),
    ],
)
def test_bad_matchers(arguments: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError) as error:
        CookieMatcher(**arguments)
    assert str(error.value) == message


def test_matcher_domain_is_normalised() -> None:
    assert M(name="a", domain=" .Example.COM. ").domain == "example.com"


def test_bad_classifiers() -> None:
    with pytest.raises(ValueError, match="'unclassified' is the category of cookies no matcher claims"):
        CookieClassifier({"unclassified": [M(name="a")]})
    with pytest.raises(ValueError, match="must differ"):
        CookieClassifier({}, necessary="x", unclassified="x")


def test_category_names_need_not_be_identifiers() -> None:
    classifier = CookieClassifier({"støtte (chat)": [M(glob="zd_*")], "c0": [M(glob="x*")]})
    assert classifier.category_of("zd_1") == "støtte (chat)"
    assert classifier.category_of("x1") == "c0"
    assert CookieClassifier({}).category_of("anything") == "unclassified"
