"""The form as posted: every field checked at once, errors as text keys, what was typed given back."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from gateway.requests.form import normal_email, read_form

TYPES = ("access", "erasure")
LANGUAGES = ("en", "nb")


def form(**fields: str) -> bytes:
    return urlencode({"type": "access", "email": "Kari@Example.NO", "token": "t", "lang": "nb", **fields}).encode()


def test_a_good_form_is_a_submission_with_the_domain_in_lower_case() -> None:
    checked = read_form(form(reference=" support-7 ", text="Hei\r\nhei "), TYPES, LANGUAGES)
    assert checked.submission is not None and not checked.errors
    assert (checked.submission.kind, checked.submission.email, checked.submission.reference,
            checked.submission.text, checked.submission.language) == (
        "access", "Kari@example.no", "support-7", "Hei\nhei", "nb")
    assert checked.token == "t"


@pytest.mark.parametrize(("fields", "errors"), [
    ({"type": "gossip"}, {"type": "error_type"}),
    ({"type": ""}, {"type": "error_type"}),
    ({"email": ""}, {"email": "error_email"}),
    ({"email": "kari"}, {"email": "error_email"}),
    ({"email": "kari@localhost"}, {"email": "error_email"}),
    ({"email": "a b@example.no"}, {"email": "error_email"}),
    ({"email": "x" * 250 + "@e.no"}, {"email": "error_email"}),
    ({"email": "kari@-example.no"}, {"email": "error_email"}),
    ({"reference": "x" * 101}, {"reference": "error_reference"}),
    ({"reference": "line\nbreak"}, {"reference": "error_reference"}),
    ({"text": "x" * 4001}, {"text": "error_text"}),
    ({"type": "gossip", "email": "no"}, {"type": "error_type", "email": "error_email"}),
])
def test_every_bad_field_is_named(fields: dict[str, str], errors: dict[str, str]) -> None:
    checked = read_form(form(**fields), TYPES, LANGUAGES)
    assert checked.submission is None and checked.errors == errors
    assert checked.values["email"] == fields.get("email", "Kari@Example.NO")  # given back as typed


def test_unreadable_or_foreign_bodies_are_an_empty_form_in_the_first_language() -> None:
    for body in (b"\xff\xfe", b"", b"type=access&" * 20):
        checked = read_form(body, TYPES, LANGUAGES)
        assert checked.submission is None and checked.language in LANGUAGES
    assert read_form(form(lang="de"), TYPES, LANGUAGES).language == "en"
    assert read_form(form() + b"&type=erasure", TYPES, LANGUAGES).submission.kind == "access"  # type: ignore[union-attr]


def test_normal_email_keeps_the_mailbox_as_typed() -> None:
    assert normal_email(" Kari.Nordmann@EXAMPLE.no ") == "Kari.Nordmann@example.no"
