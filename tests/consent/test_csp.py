"""The page's CSP: load the banner's files as they are, with a nonce, or not at all."""

from __future__ import annotations

import pytest

from gateway.consent.csp import plan


def test_no_csp_loads_both_without_a_nonce() -> None:
    result = plan([])
    assert (result.script_nonce, result.style_nonce, result.headers) == ("", "", ())


@pytest.mark.parametrize(
    "csp",
    [
        "default-src 'self'",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'",
        "script-src 'SELF' https://cdn.example; style-src *",
        "img-src 'none'",  # nothing governs scripts or styles
        "frame-ancestors 'none'; base-uri 'none'",
    ],
)
def test_same_origin_allowed_means_no_change(csp: str) -> None:
    result = plan([csp])
    assert (result.script_nonce, result.style_nonce, result.headers) == ("", "", (csp,))


def _nonce_of(header: str) -> str:
    start = header.index("'nonce-") + 7
    return header[start : header.index("'", start)]


@pytest.mark.parametrize(
    ("csp", "expected"),
    [
        ("script-src 'nonce-abc'; style-src 'self'", "script-src 'nonce-abc' 'nonce-{n}'; style-src 'self'"),
        ("script-src https://cdn.example", "script-src https://cdn.example 'nonce-{n}'"),
        ("script-src 'self' 'strict-dynamic' 'nonce-x'", "script-src 'self' 'strict-dynamic' 'nonce-x' 'nonce-{n}'"),
        ("default-src https:", "default-src https: 'nonce-{n}'"),
        ("script-src-elem 'sha256-abc'; script-src 'self'", "script-src-elem 'sha256-abc' 'nonce-{n}'; script-src 'self'"),
        ("script-src 'unsafe-inline' 'nonce-a'", "script-src 'unsafe-inline' 'nonce-a' 'nonce-{n}'"),
    ],
)
def test_a_nonce_is_added_to_the_governing_directive(csp: str, expected: str) -> None:
    result = plan([csp])
    assert result.script_nonce
    assert result.headers == (expected.format(n=result.script_nonce),)


def test_the_same_nonce_serves_script_and_style() -> None:
    result = plan(["default-src https://cdn.example"])
    assert result.script_nonce == result.style_nonce == _nonce_of(result.headers[0])
    assert result.headers[0].count("'nonce-") == 1


@pytest.mark.parametrize(
    ("csp", "script", "style"),
    [
        ("script-src 'none'", None, ""),
        ("default-src 'none'", None, None),
        ("script-src 'unsafe-inline' https://cdn.example", None, ""),  # a nonce would disable unsafe-inline
        ("style-src 'unsafe-inline'", "", None),
        ("script-src", None, ""),
    ],
)
def test_resources_are_left_out_rather_than_weakening_the_page(csp: str, script: str | None, style: str | None) -> None:
    result = plan([csp])
    assert (result.script_nonce, result.style_nonce) == (script, style)
    assert result.headers == (csp,)


def test_every_enforced_policy_must_allow() -> None:
    result = plan(["default-src 'self'", "script-src https://cdn.example"])
    assert result.script_nonce and result.style_nonce == ""
    assert result.headers[0] == "default-src 'self'"
    assert result.headers[1] == f"script-src https://cdn.example 'nonce-{result.script_nonce}'"
    blocked = plan(["default-src 'self'", "script-src 'none'"])
    assert blocked.script_nonce is None and blocked.headers == ("default-src 'self'", "script-src 'none'")


def test_nonces_are_fresh_per_response() -> None:
    assert plan(["script-src https://x"]).script_nonce != plan(["script-src https://x"]).script_nonce
