"""Both languages say everything: the same keys and placeholders in English and Bokmål."""

from __future__ import annotations

import string

from gateway.policy.requests import LANGUAGES, REQUEST_TYPES
from gateway.requests.texts import MAIL, PAGE, STATES, SUBJECTS, TYPES, days, hours, iso_date, iso_time


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_language_has_every_text_with_the_same_placeholders() -> None:
    for table in (PAGE, MAIL):
        english = table["en"]
        for language in LANGUAGES:
            assert set(table[language]) == set(english), language
            for key, text in english.items():
                assert placeholders(table[language][key]) == placeholders(text), (language, key)
    for kind in REQUEST_TYPES:
        assert set(TYPES[kind]) == set(LANGUAGES)
    for by_language in (*STATES.values(), *SUBJECTS.values()):
        assert set(by_language) == set(LANGUAGES)
    assert set(SUBJECTS) == set(MAIL["en"]) - {"footer", "dpo"}


def test_durations_and_dates_read_naturally() -> None:
    assert (hours(3600, "en"), hours(86400, "en"), hours(7200, "nb")) == ("1 hour", "24 hours", "2 timer")
    assert (days(86400, "en"), days(7 * 86400, "nb"), days(1, "en")) == ("1 day", "7 dager", "1 day")
    assert iso_date(0) == "1970-01-01" and iso_time(90) == "1970-01-01 00:01 UTC"
