"""A route's notice: versions by language and the field that shows it."""

from __future__ import annotations

from gateway.legal.notice import Notice, contact_html, version_of
from gateway.policy.legal_basis import LegalBasisRoute
from gateway.policy.organisation import Organisation


def route(**kw: object) -> LegalBasisRoute:
    fields: dict[str, object] = {"name": "signup", "path": "/signup", "basis": "consent", "purpose": "Accounts",
                                 "notice": {"en": "I agree <to> this & that.", "nb": "Jeg samtykker."}}
    fields.update(kw)
    return LegalBasisRoute.model_validate(fields)


def test_each_language_is_a_version_named_by_its_hash() -> None:
    notice = Notice.of(route(), None)
    assert notice.versions == {"en": version_of("I agree <to> this & that."), "nb": version_of("Jeg samtykker.")}
    assert len(notice.versions["en"]) == 16 and notice.is_version(notice.versions["nb"])
    assert not notice.is_version("0" * 16)
    assert notice.language("nb-NO, en;q=0.5") == "nb" and notice.language("fr") == "en"


def test_consent_is_an_unticked_required_checkbox_and_other_bases_a_hidden_field() -> None:
    fragment = Notice.of(route(), None).fragment("en").decode()
    assert '<input type="checkbox" name="privacy_consent" value="' in fragment and " required>" in fragment
    assert "checked" not in fragment and "I agree &lt;to&gt; this &amp; that." in fragment
    hidden = Notice.of(route(basis="contract"), None).fragment("en").decode()
    assert '<input type="hidden" name="privacy_consent"' in hidden and "checkbox" not in hidden


def test_the_controller_and_its_dpo_are_named_escaped() -> None:
    organisation = Organisation.model_validate({
        "name": "Smith & <Sons>", "dpo": {"name": "DPO", "email": "dpo@example.org"}, "privacy_notice_url": "/privacy",
    })
    assert contact_html(organisation) == (
        'Smith &amp; &lt;Sons&gt; · DPO: <a href="mailto:dpo@example.org">dpo@example.org</a> · '
        '<a href="/privacy">Privacy notice</a>'
    )
    assert contact_html(None) == ""
    assert "Smith &amp;" in Notice.of(route(), organisation).fragment("nb").decode()
