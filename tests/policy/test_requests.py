"""The ``requests`` policy section: a full section loads; an enabled portal missing what it needs is an error at
its line, never a portal that is silently off."""

from __future__ import annotations

import textwrap

import pytest

from gateway.policy import PolicyError, format_issues, load_policy_text

ENV = {"REQ_KEY": "raw:" + "a-data-subject-request-key-000001", "HOOK": "a-webhook-secret-of-32-bytes-000001",
       "OPS": "raw:" + "an-operators-bearer-token-00000001"}
SMTP = """\
notifications:
  smtp:
    listen: {port: 2525}
    allow: [127.0.0.1]
    upstream: {host: smtp.example.org, port: 587}
"""
FULL = SMTP + """\
requests:
  enabled: true
  public_url: https://help.example.org/
  keys: [{id: r1, secret: "${REQ_KEY}"}]
  mail:
    from: Example AS <privacy@example.org>
    subjects: {verify: {nb: Bekreft}}
  types: [access, portability, erasure]
  approval: {portability: automatic}
  due_days: 30
  rate_limits: {per_client: {requests: 5, per: 1h}}
  helpdesk: {adapter: webhook, url: "https://hooks.example.org/dsar", secret: "${HOOK}"}
  api_tokens: [{id: ops, secret: "${OPS}"}]
"""


def load(text: str):  # type: ignore[no-untyped-def]
    return load_policy_text(textwrap.dedent(text), "site.yaml", env=ENV, default_upstream="http://h.test").policy


def errors_of(text: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load(text)
    return format_issues(info.value).splitlines()


def test_absent_means_off_and_a_full_section_loads() -> None:
    assert load("version: 1\n").requests.enabled is False
    section = load(FULL).requests
    assert section.public_url == "https://help.example.org" and section.prefix == "/_privacy/requests"
    assert section.mail is not None and section.mail.sender == "Example AS <privacy@example.org>"
    assert section.approval_of("portability") == "automatic" and section.approval_of("access") == "manual"
    assert section.rate_limits.per_client.requests == 5 and section.rate_limits.per_email.per == 86400
    assert section.languages == ("en", "nb") and section.verification_ttl == 86400
    assert section.helpdesk is not None and section.helpdesk.adapter == "webhook"


@pytest.mark.parametrize(("change", "expected"), [
    (("  keys: [{id: r1, secret: \"${REQ_KEY}\"}]\n", ""), "site.yaml:6: requests: an enabled portal needs keys (or set enabled: false)"),
    (("  public_url: https://help.example.org/\n", ""), "site.yaml:6: requests: an enabled portal needs public_url"),
    (("  helpdesk: {adapter: webhook, url: \"https://hooks.example.org/dsar\", secret: \"${HOOK}\"}\n", ""),
     "site.yaml:6: requests: an enabled portal needs helpdesk"),
    (("approval: {portability: automatic}", "approval: {erasure: automatic}"),
     "site.yaml:14: requests.approval: erasure: only access and portability can be automatic"),
    (("from: Example AS <privacy@example.org>", "from: nobody"), "site.yaml:11: requests.mail.from: 'nobody' is not an address or 'Name <address>'"),
    (("subjects: {verify: {nb: Bekreft}}", "subjects: {verify: {de: Bestätigen}}"),
     "site.yaml:12: requests.mail.subjects: verify: 'de': the portal speaks en, nb"),
    (("types: [access, portability, erasure]", "types: [access, gossip]"), "site.yaml:13: requests.types[1]: must be one of 'access'"),
    (("types: [access, portability, erasure]", "types: []"), "site.yaml:13: requests.types: must not be empty"),
    (("due_days: 30", "due_days: 45"), "site.yaml:15: requests.due_days: must be <= 31, got 45"),
    (("public_url: https://help.example.org/", "public_url: help.example.org"), "site.yaml:8: requests.public_url: 'help.example.org' is not an http(s) base URL"),
    (("enabled: true", "enabled: true\n  prefix: /privacy/"), "site.yaml:8: requests.prefix: '/privacy/' must be a path"),
    (("[{id: ops, secret: \"${OPS}\"}]", "[{id: ops, secret: an-inline-token-that-is-long-enough-000}]"),
     "site.yaml:18: requests.api_tokens[0].secret: key material must be a reference"),
    (("  mail:\n", "  mailer:\n"), "site.yaml:10: requests.mailer: unknown key 'mailer' (did you mean 'mail'?)"),
])
def test_errors_name_file_line_and_path(change: tuple[str, str], expected: str) -> None:
    assert change[0] in FULL
    lines = errors_of(FULL.replace(*change))
    assert any(line.startswith(expected) for line in lines), lines


def test_the_portals_mail_needs_the_smarthost_of_notifications_smtp() -> None:
    lines = errors_of(FULL.replace(SMTP, ""))
    assert lines[0] == ("site.yaml:5: requests.mail: the portal's mail goes through the smarthost: define "
                        "notifications.smtp (its upstream is the smarthost)")
    without_mail = FULL.replace(SMTP, "").replace("  mail:\n    from: Example AS <privacy@example.org>\n"
                                                  "    subjects: {verify: {nb: Bekreft}}\n", "")
    assert any(line.startswith("site.yaml:2: requests.enabled: the portal's mail goes through the smarthost")
               for line in errors_of(without_mail))


def test_a_disabled_section_may_be_partial() -> None:
    section = load("requests: {enabled: false, types: [access]}\n").requests
    assert section.enabled is False and section.types == ("access",)
