"""The ``sensitive`` policy section: a full section loads; every error has its file:line and text."""

from __future__ import annotations

import textwrap

import pytest

from gateway.policy import PolicyError, format_issues, load_policy_text
from gateway.policy.sensitive import KINDS, Sensitive

UPSTREAM = "http://helpdesk.test:8000"
ENV = {"TOKEN_KEY": "raw:" + "a-sensitive-data-token-key-0000001"}

FULL = """\
routes:
  - {name: tickets, path: /tickets/}
sensitive:
  enabled: true
  floor: 0.9
  rules:
    - {name: no-ids, routes: [tickets, default], detectors: [no_fnr, se_pnr], action: reject}
    - {name: cards, path: "/api/**", fields: [comment, "ticket.*"], detectors: [card], action: mask, mask: token}
    - {name: rest, action: flag, shadow: true}
  sensitive_fields:
    - {field: "password*", action: mask}
    - {field: ssn, action: reject, shadow: true}
  content_types: [form, json]
  keys: [{id: t1, secret: "${TOKEN_KEY}"}]
"""


def load(text: str) -> Sensitive:
    return load_policy_text(textwrap.dedent(text), "site.yaml", env=ENV, default_upstream=UPSTREAM).policy.sensitive


def errors_of(text: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load_policy_text(textwrap.dedent(text), "site.yaml", env=ENV, default_upstream=UPSTREAM)
    return format_issues(info.value).splitlines()


def test_absent_means_off_with_the_documented_defaults() -> None:
    sensitive = load("version: 1\n")
    assert sensitive.enabled is False and sensitive.floor == 0.8 and sensitive.rules == ()
    assert sensitive.content_types == ("form", "multipart", "json", "text")


def test_a_full_section_loads() -> None:
    s = load(FULL)
    assert s.enabled and s.floor == 0.9 and [r.name for r in s.rules] == ["no-ids", "cards", "rest"]
    assert s.rules[0].routes == ("tickets", "default") and s.rules[0].fields == ("*",)
    assert s.rules[1].path == "/api/**" and s.rules[1].mask == "token" and s.rules[2].detectors is None
    assert s.rules[2].shadow and s.sensitive_fields[0].mask == "last4" and s.content_types == ("form", "json")
    assert "sensitive-data-token-key" not in repr(s)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("floor: 0.9", "floor: 1.5"), "site.yaml:5: sensitive.floor: must be <= 1, got 1.5"),
        (("routes: [tickets, default]", "routes: [tikets]"),
         "site.yaml:7: sensitive.rules[0].routes[0]: unknown route 'tikets' (did you mean 'tickets'?)"),
        (("routes: [tickets, default]", "routes: [helpdesk]"),
         "site.yaml:7: sensitive.rules[0].routes[0]: unknown route 'helpdesk' (define it in routes)"),
        (("routes: [tickets, default]", "routes: []"),
         "site.yaml:7: sensitive.rules[0]: routes: must not be empty (leave it out for every route)"),
        (("routes: [tickets, default]", "routes: [tickets], path: /x"),
         "site.yaml:7: sensitive.rules[0]: give either routes or path, not both"),
        (('path: "/api/**"', "path: api"), "site.yaml:8: sensitive.rules[1].path: 'api' must start with '/'"),
        (("detectors: [no_fnr, se_pnr]", "detectors: [no_fnr, ssn]"),
         f"site.yaml:7: sensitive.rules[0].detectors[1]: 'ssn' is not a kind of data the gateway detects "
         f"({', '.join(KINDS)})"),
        (("detectors: [no_fnr, se_pnr]", "detectors: []"),
         "site.yaml:7: sensitive.rules[0].detectors: must not be empty (leave it out for every kind)"),
        (('fields: [comment, "ticket.*"]', "fields: []"),
         "site.yaml:8: sensitive.rules[1].fields: must not be empty (leave it out for every field)"),
        (("action: reject}", "action: hide}"),
         "site.yaml:7: sensitive.rules[0].action: must be one of 'flag', 'mask', 'reject', got 'hide'"),
        (("mask: token", "mask: hash"), "site.yaml:8: sensitive.rules[1].mask: must be one of 'last4', 'token', got 'hash'"),
        (("name: rest", "name: cards"), "site.yaml:9: sensitive.rules[2].name: duplicate rule name 'cards' (first at line 8)"),
        (("shadow: true}\n  sensitive", "shadow: maybe}\n  sensitive"),
         "site.yaml:9: sensitive.rules[2].shadow: expected true or false, got 'maybe'"),
        (('field: "password*", action: mask', 'field: "password*", action: flag'),
         "site.yaml:11: sensitive.sensitive_fields[0].action: must be one of 'mask', 'reject', got 'flag'"),
        (("content_types: [form, json]", "content_types: [form, xml]"),
         "site.yaml:13: sensitive.content_types[1]: must be one of 'form', 'multipart', 'json', 'text', got 'xml'"),
        (("content_types: [form, json]", "content_types: []"),
         "site.yaml:13: sensitive.content_types: must not be empty (leave it out for all four, or set enabled: false)"),
        (('secret: "${TOKEN_KEY}"', "secret: inline-secret-of-sufficient-length-123"),
         "site.yaml:14: sensitive.keys[0].secret: key material must be a reference, not inline: write ${ENV_VAR} "
         "or ${file:path}"),
        (('keys: [{id: t1, secret: "${TOKEN_KEY}"}]', "keys: []"),
         "site.yaml:3: sensitive: keys: a key is required when a rule or sensitive field masks with token"),
        (('keys: [{id: t1, secret: "${TOKEN_KEY}"}]', 'keys: [{id: t1, secret: "${TOKEN_KEY}"}, {id: t1, secret: "${TOKEN_KEY}"}]'),
         "site.yaml:3: sensitive: keys: key ids must be unique"),
        (("  floor: 0.9\n", "  floor: 0.9\n  flor: 1\n"),
         "site.yaml:6: sensitive.flor: unknown key 'flor' (did you mean 'floor'?)"),
    ],
)
def test_errors_name_file_line_and_path(change: tuple[str, str], expected: str) -> None:
    old, new = change
    assert old in FULL
    assert errors_of(FULL.replace(old, new, 1)) == [expected]


def test_every_error_is_reported_at_once() -> None:
    text = FULL.replace("floor: 0.9", "floor: -1").replace("action: flag", "action: log")
    assert errors_of(text) == [
        "site.yaml:5: sensitive.floor: must be >= 0, got -1",
        "site.yaml:9: sensitive.rules[2].action: must be one of 'flag', 'mask', 'reject', got 'log'",
    ]
