"""Posted choices: form and JSON parsing, the CSRF checks (fail closed), safe return paths."""

from __future__ import annotations

import json

import pytest

from gateway.consent.submission import Submission, SubmissionError, origin_of, parse, safe_return

FORM = "application/x-www-form-urlencoded"
SAME = {"Sec-Fetch-Site": "same-origin"}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Sec-Fetch-Site": "same-origin"}, "same"),
        ({"Sec-Fetch-Site": "same-site"}, "cross"),
        ({"Sec-Fetch-Site": "cross-site"}, "cross"),
        ({"Sec-Fetch-Site": "none"}, "cross"),
        ({"Sec-Fetch-Site": "cross-site", "Origin": "http://help.example"}, "cross"),  # Sec-Fetch-Site decides
        ({"Origin": "http://help.example"}, "same"),
        ({"Origin": "https://HELP.example:443"}, "same"),
        ({"Origin": "http://help.example:8080"}, "cross"),
        ({"Origin": "http://evil.example"}, "cross"),
        ({"Origin": "null"}, "cross"),
        ({"Origin": "file://"}, "cross"),
        ({"Origin": "http://[bad"}, "cross"),
        ({}, "unknown"),
    ],
)
def test_origin_of(headers: dict[str, str], expected: str) -> None:
    assert origin_of(headers, "help.example") == expected


def test_form_posts_need_proof_of_same_origin() -> None:
    for headers in ({}, {"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        with pytest.raises(SubmissionError) as info:
            parse(FORM, b"action=accept", headers, "help.example")
        assert (info.value.status, info.value.reason) == (403, "consent_csrf")
    assert parse(FORM, b"action=accept", {"Origin": "http://help.example"}, "help.example").action == "accept"


def test_json_posts_are_refused_only_when_they_come_from_elsewhere() -> None:
    assert parse("application/json", b'{"action":"reject"}', {}, "h").action == "reject"
    with pytest.raises(SubmissionError) as info:
        parse("application/json; charset=utf-8", b'{"action":"accept"}', {"Origin": "http://evil"}, "h")
    assert info.value.reason == "consent_csrf"


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=x", ""])
def test_other_media_types_are_refused(content_type: str) -> None:
    with pytest.raises(SubmissionError) as info:
        parse(content_type, b"{}", SAME, "h")
    assert (info.value.status, info.value.reason) == (415, "consent_bad_media_type")


def test_the_banner_form() -> None:
    sub = parse(
        FORM + "; charset=UTF-8", b"category=analytics&category=marketing&action=save&return=%2Ft%3Fa%3D1&lang=nb",
        SAME, "h",
    )
    assert sub == Submission("save", frozenset({"analytics", "marketing"}), {}, "/t?a=1", "nb", "/t?a=1", True)
    assert parse(FORM, b"", SAME, "h").action == "save"
    assert parse(FORM, b"return=https://evil.example/", SAME, "h").return_to == "/"


@pytest.mark.parametrize("body", [b"action=delete", b"\xff\xfe=1", b"&".join([b"category=x"] * 100)])
def test_bad_forms(body: bytes) -> None:
    with pytest.raises(SubmissionError) as info:
        parse(FORM, body, SAME, "h")
    assert (info.value.status, info.value.reason) == (400, "consent_bad_request")


def test_json_bodies() -> None:
    sub = parse("application/json", json.dumps({"choices": {"analytics": True}, "language": "nb", "page": "/p"}).encode(), {}, "h")
    assert (sub.action, dict(sub.choices), sub.language, sub.page, sub.form) == ("save", {"analytics": True}, "nb", "/p", False)


@pytest.mark.parametrize(
    "body",
    [
        b"not json", b"[]", b'{"action": "maybe"}', b"{}", b'{"choices": {"a": 1}}', b'{"choices": []}',
        b'{"choices": {"a": true}, "action": "accept"}', b'{"action": "accept", "language": 5}',
        b'{"action": "accept", "page": null}',
    ],
)
def test_bad_json(body: bytes) -> None:
    with pytest.raises(SubmissionError) as info:
        parse("application/json", body, {}, "h")
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/", "/"), ("/tickets/1?x=1#top", "/tickets/1?x=1#top"), ("", "/"), ("https://evil.example", "/"),
        ("//evil.example", "/"), ("/\\evil.example", "/"), ("/a\\b", "/"), ("/a\nb", "/"), ("x", "/"),
        ("/" + "a" * 3000, "/"), ("/search?q=a\\b", "/search?q=a\\b"),
    ],
)
def test_safe_return(value: str, expected: str) -> None:
    assert safe_return(value) == expected
