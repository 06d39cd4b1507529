"""The ``legal_basis`` policy section: a full section loads; every error names its file:line."""

from __future__ import annotations

import textwrap

import pytest

from gateway.policy import PolicyError, format_issues, load_policy_text

ENV = {"LEGAL_KEY": "raw:" + "a-legal-basis-record-key-00000001"}
FULL = """\
legal_basis:
  enabled: true
  keys: [{id: l1, secret: "${LEGAL_KEY}"}]
  routes:
    - name: signup
      path: /signup
      pages: [/signup, "/forms/*"]
      basis: consent
      purpose: Creating your account
      notice: {en: I agree., nb: Jeg samtykker.}
      email_field: email
      helpdesk_field: gdpr_consent
    - {name: tickets, path: /tickets/, methods: [post, put], basis: contract, purpose: Support, notice: {en: Info.}}
"""


def load(text: str):  # type: ignore[no-untyped-def]
    return load_policy_text(textwrap.dedent(text), "site.yaml", env=ENV, default_upstream="http://h.test").policy


def errors_of(text: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load(text)
    return format_issues(info.value).splitlines()


def test_absent_means_off_and_a_full_section_loads() -> None:
    assert load("version: 1\n").legal_basis.enabled is False
    section = load(FULL).legal_basis
    assert [r.name for r in section.routes] == ["signup", "tickets"]
    assert section.routes[0].consent_field == "privacy_consent" and section.routes[1].methods == ("POST", "PUT")
    assert section.prefix == "/_privacy/legal-basis"


@pytest.mark.parametrize(("change", "expected"), [
    (("  routes:\n", "  routes: []\n  old_routes:\n"), "site.yaml:5: legal_basis.old_routes: unknown key"),
    (("basis: consent", "basis: vibes"), "site.yaml:8: legal_basis.routes[0].basis: must be one of"),
    (("purpose: Creating your account", 'purpose: " "'), "site.yaml:9: legal_basis.routes[0].purpose: must be a "),
    (("notice: {en: I agree., nb: Jeg samtykker.}", "notice: {}"), "site.yaml:10: legal_basis.routes[0].notice: give "),
    (("email_field: email", "email_field: 'e mail'"), "site.yaml:11: legal_basis.routes[0].email_field: 'e mail' is not"),
    (("methods: [post, put]", "methods: [get]"), "site.yaml:13: legal_basis.routes[1].methods: 'GET': a submission"),
    (("basis: contract, purpose", "basis: contract, helpdesk_field: x, purpose"),
     "site.yaml:13: legal_basis.routes[1]: helpdesk_field forwards a consent"),
    (("keys: [{id: l1, secret: \"${LEGAL_KEY}\"}]", "keys: []"), "site.yaml:1: legal_basis: keys: required when enabled"),
    (("helpdesk_field: gdpr_consent", "helpdesk_field: privacy_consent"),
     "site.yaml:5: legal_basis.routes[0]: consent_field, helpdesk_field and record_field must be different"),
    (("basis: contract, purpose", "basis: contract, record_field: r, purpose"),
     "site.yaml:13: legal_basis.routes[1]: record_field forwards a consent record"),
    (("  routes:\n", "  webhook: {adapter: zendesk, url: 'https://x.zendesk.com', email: a@b.example, "
      "api_token: \"${LEGAL_KEY}\", queue: 1}\n  routes:\n"), "site.yaml:1: legal_basis: webhook: adapter must be webhook"),
])
def test_errors_name_file_line_and_path(change: tuple[str, str], expected: str) -> None:
    lines = errors_of(FULL.replace(*change))
    assert any(line.startswith(expected) for line in lines), lines


def test_an_enabled_section_without_routes_is_an_error() -> None:
    assert errors_of("legal_basis: {enabled: true, keys: [{id: l1, secret: \"${LEGAL_KEY}\"}]}\n") == [
        "site.yaml:1: legal_basis: routes: an enabled section needs at least one route (or set enabled: false)"]


def test_an_inline_key_is_refused() -> None:
    lines = errors_of(FULL.replace('"${LEGAL_KEY}"', '"raw:a-legal-basis-record-key-00000001"'))
    assert any("legal_basis.keys[0].secret" in line for line in lines), lines
