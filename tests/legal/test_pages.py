"""The 422 page that asks for consent again, and the withdrawal page."""

from __future__ import annotations

from gateway.legal import pages
from gateway.legal.notice import Notice
from gateway.policy.legal_basis import LegalBasisRoute

NOTICE = Notice.of(LegalBasisRoute.model_validate({
    "name": "signup", "path": "/signup", "basis": "consent", "purpose": "Accounts", "notice": {"en": "I agree."},
}), None)


def test_the_page_keeps_typed_fields_escaped_and_drops_the_old_consent_value() -> None:
    page = pages.consent_again(NOTICE, "en", "/signup?x=1&y=<2>", [("q", '"><script>'), ("privacy_consent", "old")],
                               files=False, stale=True).decode()
    assert '<input type="hidden" name="q" value="&quot;&gt;&lt;script&gt;">' in page
    assert 'action="/signup?x=1&amp;y=&lt;2&gt;"' in page and "value=\"old\"" not in page
    assert "has changed since the form was loaded" in page and "<script>" not in page


def test_files_cannot_be_kept_so_the_page_says_go_back() -> None:
    page = pages.consent_again(NOTICE, "en", "/signup", [("q", "x")], files=True, stale=False).decode()
    assert "go back" in page and "<form" not in page


def test_the_withdrawal_page_lists_consents_with_a_button_each() -> None:
    items = [pages.Given("a" * 32, "Accounts <&>", "2026-12-01 10:00 UTC", False),
             pages.Given("b" * 32, "Newsletter", "2026-11-01 10:00 UTC", True)]
    page = pages.withdrawal(items, action="/_privacy/legal-basis", token="t", contact="").decode()
    assert page.count("Withdraw</button>") == 1 and "Accounts &lt;&amp;&gt;" in page
    assert "<strong>withdrawn</strong>" in page
    assert "has given no consent" in pages.withdrawal([], action="/x", token="t", contact="").decode()
