"""Consent managers' cookies (Klaro, Cookiebot) read as category choices."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from gateway.consent.cmp import CMPReader
from gateway.policy.consent import ConsentManager

CATEGORIES = ("necessary", "preferences", "analytics", "marketing")


def reader(kind: str, mapping: dict[str, list[str]] | None = None, cookie: str | None = None) -> CMPReader:
    return CMPReader(ConsentManager.model_validate({"type": kind, "map": mapping or {}, "cookie": cookie}), CATEGORIES)


def test_default_cookie_names_and_mapping() -> None:
    klaro, cookiebot = reader("klaro"), reader("cookiebot")
    assert klaro.cookie_name == "klaro" and cookiebot.cookie_name == "CookieConsent"
    assert reader("klaro", cookie="consent").cookie_name == "consent"
    assert dict(klaro.mapping) == {"preferences": ("preferences",), "analytics": ("analytics",), "marketing": ("marketing",)}
    assert dict(cookiebot.mapping)["analytics"] == ("statistics",)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('{"analytics":true,"marketing":false}', {"analytics": True, "marketing": False}),
        (quote('{"analytics":true,"preferences":true}'), {"analytics": True, "preferences": True}),
        ('{"analytics":"yes"}', {}),
        ('{"other":true}', {}),
        ("[true]", None),
        ("{broken", None),
        ("", None),
        ("x" * 5000, None),
    ],
)
def test_klaro(value: str, expected: dict[str, bool] | None) -> None:
    assert reader("klaro").choices(value) == expected


def test_klaro_services_mapped_to_a_category_must_all_be_accepted() -> None:
    r = reader("klaro", {"analytics": ["matomo", "google-analytics"]})
    assert r.choices('{"matomo":true,"google-analytics":true}') == {"analytics": True}
    assert r.choices('{"matomo":true,"google-analytics":false}') == {"analytics": False}
    assert r.choices('{"matomo":true}') == {"analytics": False}  # one unanswered: not all accepted
    assert r.choices('{"unrelated":true}') == {}  # the cookie says nothing about analytics


COOKIEBOT = (
    "{stamp:%27-1a2b3c%27%2Cnecessary:true%2Cpreferences:false%2Cstatistics:true%2Cmarketing:false"
    "%2Cmethod:%27explicit%27%2Cver:1%2Cutc:1700000000000%2Cregion:%27no%27}"
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (COOKIEBOT, {"analytics": True, "preferences": False, "marketing": False}),
        (
            "{stamp:'x',necessary:true,preferences:true,statistics:false,marketing:true,method:'implied'}",
            {"analytics": False, "preferences": True, "marketing": True},
        ),
        ("-1", None),
        ("{}", None),
        ("{stamp:'statistics:true'}", None),
        ("garbage", None),
    ],
)
def test_cookiebot(value: str, expected: dict[str, bool] | None) -> None:
    assert reader("cookiebot").choices(value) == expected


def test_first_readable_value_wins() -> None:
    r = reader("klaro")
    assert r.first(["{bad", '{"analytics":true}', '{"analytics":false}']) == {"analytics": True}
    assert r.first(["{bad"]) is None
