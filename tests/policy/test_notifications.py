"""The ``notifications`` policy section: a full section loads; every error has its file:line and text."""

from __future__ import annotations

import textwrap

import pytest

from gateway.policy import PolicyError, format_issues, load_policy_text
from gateway.policy.notifications import EgressRoute, Notifications, placeholders_of

UPSTREAM = "http://helpdesk.test:8000"
ENV = {"KEY": "raw:" + "a-link-signing-key-of-enough-length-0001", "SALT": "s" * 32, "SMTP_PASSWORD": "pw"}

FULL = """\
ip_lists:
  helpdesk-hosts: [10.1.2.0/24]
links:
  enabled: true
  keys: [{id: k1, secret: "${KEY}"}]
notifications:
  enabled: true
  audiences:
    agents: {addresses: [helpdesk.example, "*.helpdesk.example"]}
  rules:
    - {name: agents, audience: agents, action: pass}
    - {name: no-passwords, subject: "(?i)password", action: block}
    - {name: tagged, subject: '\\[(?P<case_id>support-\\d+)\\]', action: hide, subject_line: case_id_only}
  default_action: hide
  templates:
    default:
      subject: "New reply on your case {case_id}"
      text: "Hello {recipient_name}, see {link}"
      languages:
        nb: {subject: "Ny melding i sak {case_id}", text: "Hei {recipient_name}, se {link}"}
  link:
    find: 'https://help\\.example/helpdesk/view/\\?ticket=\\S+'
    base: https://gw.example/
    recipient_salt: "${SALT}"
  on_error: reject
  smtp:
    listen: {host: 127.0.0.1, port: 2525}
    upstream: {host: smtp.example, port: 587, tls: starttls, username: relay, password: "${SMTP_PASSWORD}"}
    allow: [helpdesk-hosts, 127.0.0.1]
    max_message_bytes: 10MiB
"""


def load(text: str) -> Notifications:
    return load_policy_text(textwrap.dedent(text), "site.yaml", env=ENV, default_upstream=UPSTREAM).policy.notifications


def errors_of(text: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load_policy_text(textwrap.dedent(text), "site.yaml", env=ENV, default_upstream=UPSTREAM)
    return format_issues(info.value).splitlines()


def test_absent_means_off() -> None:
    notifications = load("version: 1\n")
    assert notifications.enabled is False and notifications.smtp is None and notifications.on_error == "defer"


def test_a_full_section_loads() -> None:
    n = load(FULL)
    assert n.enabled and [r.name for r in n.rules] == ["agents", "no-passwords", "tagged"]
    assert n.rules[2].subject_line == "case_id_only"
    assert n.link is not None and n.link.base == "https://gw.example"
    assert n.smtp is not None and n.smtp.max_message_bytes == 10 * 1024 * 1024 and n.smtp.upstream.port == 587
    assert "SALT" not in repr(n) and "s" * 32 not in repr(n) and "pw" not in repr(n.smtp.upstream)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("audience: agents, action: pass", "audience: agnts, action: pass"),
         "site.yaml:11: notifications.rules[0].audience: unknown audience 'agnts' (did you mean 'agents'?)"),
        (("subject_line: case_id_only", "subject_line: case_id_only, template: shrt"),
         "site.yaml:13: notifications.rules[2].template: unknown template 'shrt'"),
        (('"(?i)password"', '"(unclosed"'),
         "site.yaml:12: notifications.rules[1].subject: '(unclosed' is not a regular expression: missing ), "
         "unterminated subpattern at position 0"),
        (("see {link}\"\n      languages", "see {lnk}\"\n      languages"),
         "site.yaml:18: notifications.templates.default.text: unknown placeholder {lnk}; a template may use "
         "{case_id}, {link}, {recipient_name}"),
        (("allow: [helpdesk-hosts, 127.0.0.1]", "allow: [helpdesk-host, 127.0.0.1]"),
         "site.yaml:29: notifications.smtp.allow[0]: unknown ip list 'helpdesk-host' (did you mean 'helpdesk-hosts'?)"),
        (('password: "${SMTP_PASSWORD}"', "password: hunter2"),
         "site.yaml:28: notifications.smtp.upstream.password: key material must be a reference, not inline: "
         "write ${ENV_VAR} or ${file:path}"),
        (("action: block", "action: drop"),
         "site.yaml:12: notifications.rules[1].action: must be one of 'hide', 'pass', 'block', got 'drop'"),
    ],
)
def test_errors(change: tuple[str, str], expected: str) -> None:
    old, new = change
    assert old in FULL
    assert expected in errors_of(FULL.replace(old, new, 1))


def test_section_level_requirements() -> None:
    without_templates = FULL.replace(FULL[FULL.index("  templates:"):FULL.index("  link:")], "")
    assert any("define templates.default" in line for line in errors_of(without_templates))
    without_channel = FULL[: FULL.index("  smtp:")]
    assert any("enabled without a channel: define notifications.smtp or notifications.egress" in line for line in errors_of(without_channel))
    without_link = FULL.replace(FULL[FULL.index("  link:"):FULL.index("  on_error:")], "")
    assert any("a template uses {link}: define notifications.link" in line for line in errors_of(without_link))


def test_placeholders_of() -> None:
    assert placeholders_of("{case_id} {{literal}} {link}") == {"case_id", "link"}
    with pytest.raises(ValueError, match="bad braces"):
        placeholders_of("{case_id")
    with pytest.raises(ValueError, match="unknown placeholder"):
        placeholders_of("{case_id!r}")


def test_an_egress_route_may_sit_at_the_root() -> None:
    # For SDKs that drop the base URL's path (postmarker joins /email to the host).
    assert EgressRoute(provider="postmark", upstream="https://api.postmarkapp.com", prefix="/").path_prefix == "/"
    for bad in ("//", "/postmark", "postmark/"):
        with pytest.raises(ValueError, match="is not a path prefix like /sendgrid/"):
            EgressRoute(provider="postmark", upstream="https://api.postmarkapp.com", prefix=bad)


def test_a_case_link_needs_the_links_key_ring_and_endpoint() -> None:
    without_links = FULL.replace('links:\n  enabled: true\n  keys: [{id: k1, secret: "${KEY}"}]\n', "")
    assert "site.yaml:18: notifications.link: the case link is signed and served by links: set links.enabled: " \
        "true and links.keys" in errors_of(without_links)
