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
         f"site.yaml:7: sensitive.rules[0].detectors[1]: unknown kind 'ssn' "
         f"(known: {', '.join(KINDS)}; or add a detector in sensitive.detectors or presidio)"),
        (("detectors: [no_fnr, se_pnr]", "detectors: [no_fnr, se_prn]"),
         "site.yaml:7: sensitive.rules[0].detectors[1]: unknown kind 'se_prn' (did you mean 'se_pnr'?)"),
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
         "site.yaml:3: sensitive: keys: a key is required when a rule, page or sensitive field masks with token"),
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


PAGES_AND_DETECTORS = """\
sensitive:
  enabled: true
  detectors:
    - name: order_ref
      patterns: [{regex: 'ORD-[0-9]{6}', score: 0.9}]
      context: [order]
  presidio:
    - "${file:recognizers.yaml}"
    - recognizers:
        - {supported_entity: ZIP, patterns: [{regex: '\\\\b[0-9]{5}\\\\b', score: 0.9}]}
  pages:
    - {name: staff, path: "/staff/**", detectors: [card, order_ref, TITLE], mark: mask, mask: last4}
    - {name: rest, notice: false, shadow: true}
"""
RECOGNIZERS = "recognizers:\n  - {supported_entity: TITLE, deny_list: [Mr., Mrs.]}\n"


def test_pages_custom_detectors_and_presidio_documents_load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "recognizers.yaml").write_text(RECOGNIZERS)
    policy = load_policy_text(PAGES_AND_DETECTORS, "site.yaml", env=ENV, default_upstream=UPSTREAM, base_dir=tmp_path)
    s = policy.policy.sensitive
    assert [p.name for p in s.pages] == ["staff", "rest"]
    assert s.pages[0].mark == "mask" and s.pages[1].mark == "highlight" and s.pages[1].shadow
    assert s.custom_kinds() == ("order_ref", "TITLE", "ZIP")


def test_a_page_naming_an_unknown_kind_or_route_is_an_error_at_its_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "recognizers.yaml").write_text(RECOGNIZERS)
    text = PAGES_AND_DETECTORS.replace("TITLE]", "TITEL]").replace("{name: rest,", "{name: rest, routes: [staf],")
    with pytest.raises(PolicyError) as info:
        load_policy_text(text, "site.yaml", env=ENV, default_upstream=UPSTREAM, base_dir=tmp_path)
    assert format_issues(info.value).splitlines() == [
        "site.yaml:12: sensitive.pages[0].detectors[2]: unknown kind 'TITEL' (did you mean 'TITLE'?)",
        "site.yaml:13: sensitive.pages[1].routes[0]: unknown route 'staf' (define it in routes)",
    ]


def test_a_broken_presidio_file_or_custom_detector_is_an_error_at_its_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "recognizers.yaml").write_text("recognizers:\n  - {supported_entity: TITLE, colour: red}\n")
    text = PAGES_AND_DETECTORS.replace("'ORD-[0-9]{6}'", "'ORD-[0-9'")
    with pytest.raises(PolicyError) as info:
        load_policy_text(text, "site.yaml", env=ENV, default_upstream=UPSTREAM, base_dir=tmp_path)
    lines = format_issues(info.value).splitlines()
    assert lines[0].startswith("site.yaml:4: sensitive.detectors[0]: patterns[0]: invalid regex")
    assert lines[1] == "site.yaml:8: sensitive.presidio[0]: document: recognizers[0]: unknown key(s): colour"
    assert len(lines) == 2
