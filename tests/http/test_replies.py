"""The gateway's own answers: rendered by Accept, escaped, never cached, reason in a header."""

from __future__ import annotations

from http import HTTPStatus

import orjson
import pytest

from gateway.exchange import LocalReply
from gateway.http.replies import render

DENIED = LocalReply(403, "firewall_denied", "Access from your network is not allowed here.")


def body_text(reply: LocalReply, accept: str = "") -> str:
    body = render(reply, accept).body
    assert isinstance(body, bytes)
    return body.decode()


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        ("application/json", "application/json"),
        ("application/problem+json", "application/json"),
        ("Application/JSON; charset=utf-8", "application/json"),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "text/html"),
        ("TEXT/HTML", "text/html"),
        ("text/plain", "text/plain"),
        ("*/*", "text/plain"),
        ("", "text/plain"),
        ("image/png", "text/plain"),
        # No q-value parsing: json is preferred whenever it is listed at all.
        ("text/html, application/json;q=0.1", "application/json"),
    ],
)
def test_content_type_by_accept(accept: str, content_type: str) -> None:
    response = render(DENIED, accept)
    assert response.content_type == content_type
    assert response.charset == "utf-8"


@pytest.mark.parametrize("accept", ["application/json", "text/html", "text/plain"])
def test_common_headers(accept: str) -> None:
    response = render(DENIED, accept)
    assert response.status == 403
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers.getall("X-Gateway-Reason") == ["firewall_denied"]


def test_json_body() -> None:
    assert orjson.loads(body_text(DENIED, "application/json")) == {
        "status": 403,
        "reason": "firewall_denied",
        "message": "Access from your network is not allowed here.",
    }


def test_text_body() -> None:
    assert body_text(DENIED) == (
        "403 Forbidden: Access from your network is not allowed here. (reason: firewall_denied)\n"
    )


def test_html_body() -> None:
    html = body_text(DENIED, "text/html")
    assert html.startswith("<!doctype html>")
    assert "<title>403 Forbidden</title>" in html
    assert "<h1>403 Forbidden</h1>" in html
    assert "<p>Access from your network is not allowed here.</p>" in html
    assert "<code>firewall_denied</code>" in html


def test_html_escapes_message_and_reason() -> None:
    reply = LocalReply(400, "bad<reason>", 'x <script>alert("1")</script> & \'q\'')
    html = body_text(reply, "text/html")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;1&quot;)&lt;/script&gt; &amp; &#x27;q&#x27;" in html
    assert "<code>bad&lt;reason&gt;</code>" in html


def test_json_escapes_by_encoding() -> None:
    reply = LocalReply(400, "r", 'quote " backslash \\ newline \n')
    assert orjson.loads(body_text(reply, "application/json"))["message"] == 'quote " backslash \\ newline \n'


def test_empty_message_falls_back_to_the_phrase() -> None:
    reply = LocalReply(413, "body_too_large")
    phrase = HTTPStatus(413).phrase  # the wording changed in Python 3.13
    assert body_text(reply) == f"413 {phrase}: {phrase} (reason: body_too_large)\n"
    assert orjson.loads(body_text(reply, "application/json"))["message"] == phrase


def test_unknown_status_has_a_generic_phrase() -> None:
    reply = LocalReply(599, "odd", "m")
    assert body_text(reply) == "599 Error: m (reason: odd)\n"
    assert "<h1>599 Error</h1>" in body_text(reply, "text/html")


def test_reply_headers_are_added() -> None:
    reply = LocalReply(
        302, "link_expired", "", headers=(("Location", "/login"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"))
    )
    response = render(reply, "text/html")
    assert response.status == 302
    assert response.headers["Location"] == "/login"
    assert response.headers.getall("Set-Cookie") == ["a=1", "b=2"]
    assert response.headers["Cache-Control"] == "no-store"


def test_bodies_are_short() -> None:
    for accept in ("application/json", "text/html", ""):
        assert len(body_text(DENIED, accept)) < 1024


def test_own_body_is_served_as_given() -> None:
    page = b"<!doctype html><p>Please accept cookies</p>"
    reply = LocalReply(200, "consent_required", body=page, content_type="text/html; charset=utf-8",
                       headers=(("Set-Cookie", "c=1"),))
    for accept in ("application/json", "text/html", ""):
        response = render(reply, accept)
        assert response.status == 200
        assert response.body == page
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert response.headers.getall("Cache-Control") == ["no-store"]
        assert response.headers.getall("Set-Cookie") == ["c=1"]


def test_own_body_cache_control_can_be_overridden() -> None:
    reply = LocalReply(200, "page", body=b"{}", content_type="application/json",
                       headers=(("Cache-Control", "private, max-age=60"),))
    assert render(reply).headers.getall("Cache-Control") == ["private, max-age=60"]


@pytest.mark.parametrize("accept", ["text/html", "application/json", ""])
def test_a_concealed_reply_is_a_plain_status_without_the_gateways_words(accept: str) -> None:
    reply = LocalReply(404, "firewall_denied", "Access from your network is not allowed here.", conceal=True)
    response = render(reply, accept)
    assert response.status == 404
    assert response.body == b"Not Found"
    assert response.content_type == "text/plain"
    assert "X-Gateway-Reason" not in response.headers
