"""The banner's script and stylesheet: versioned URLs, no constructs a strict CSP forbids."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gateway.consent.assets import ASSETS, CSS, JS, SCRIPT, STYLESHEET


def test_urls_carry_a_content_hash() -> None:
    assert SCRIPT.url("/p") == f"/p/banner.js?v={hashlib.sha256(JS.encode()).hexdigest()[:16]}"
    assert STYLESHEET.url("/p").startswith("/p/banner.css?v=")
    assert set(ASSETS) == {"banner.js", "banner.css"}
    assert SCRIPT.content_type.startswith("text/javascript") and STYLESHEET.content_type.startswith("text/css")
    assert SCRIPT.body == JS.encode("utf-8")


def test_the_script_needs_nothing_a_strict_csp_forbids() -> None:
    for forbidden in ("eval(", "new Function", "innerHTML", "setAttribute(\"style\"", ".style.", "document.write"):
        assert forbidden not in JS
    assert "setTimeout(function" in JS  # a function, never a string
    assert JS.startswith("(function () {\n  \"use strict\";") and JS.strip().endswith("})();")


def test_the_script_falls_back_to_the_plain_form() -> None:
    assert "HTMLFormElement.prototype.submit.call(form)" in JS
    assert '"Accept": "application/json"' in JS
    assert "privacy-gateway:consent" in JS


def test_the_stylesheet_is_scoped_to_the_banner() -> None:
    selectors = re.findall(r"(?:^|\})\s*([^{}@]+)\{", CSS)
    for selector in selectors:
        for part in selector.split(","):
            assert part.strip().startswith(("#pgw-consent", "#pgw-settings")), part
    assert ":focus-visible" in CSS and "@media print" in CSS


def test_the_stylesheet_resets_the_page_and_wins_over_its_important_rules() -> None:
    rules = [(selector.strip(), body) for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", CSS)]
    assert rules[0] == ("#pgw-consent,#pgw-settings", "all:initial !important")
    assert rules[1][0].startswith("#pgw-consent *,") and rules[1][1] == "all:revert !important"
    for selector, body in rules:
        for declaration in body.split(";"):
            assert declaration.endswith(" !important"), (selector, declaration)
    assert "rem" not in re.sub(r"[a-z-]+rem\b|rem[a-z-]+", "", CSS)  # px: the page's html{font-size} must not scale it


def test_the_script_posts_to_the_form_attribute_not_its_buttons() -> None:
    # The buttons are named "action": form.action is them (a RadioNodeList), not the URL.
    assert "form.action" not in JS
    assert 'form.getAttribute("action")' in JS
    assert "body.set(button.name, button.value)" in JS


def test_the_script_parses(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the browser test runs the script instead")
    script = tmp_path / "banner.js"
    script.write_text(JS)
    result = subprocess.run([node, "--check", str(script)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
