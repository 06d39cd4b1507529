"""The ``links`` policy section: defaults, a full section, and every error with its exact text."""

from __future__ import annotations

import textwrap

import pytest

from gateway.policy import PolicyError, format_issues, load_policy_text
from gateway.policy.links import DEFAULT_TRACKING_PARAMS, LinkKey, LinkRule, Links, RequireToken

KEY = "raw:" + "a-link-signing-key-of-enough-length-0001"
SHORT = "raw:only-thirty-one-bytes-long!"  # 31 bytes after the prefix
ENV = {"KEY": KEY, "SHORT": "a-secret-that-is-too-short"}
UPSTREAM = "http://helpdesk.test:8000"  # required, and left out of the texts below


def load(text: str, env: dict[str, str] | None = None) -> Links:
    return load_policy_text(textwrap.dedent(text), "site.yaml", env={**ENV, **(env or {})},
                            default_upstream=UPSTREAM).policy.links


def errors_of(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load_policy_text(textwrap.dedent(text), "site.yaml", env={**ENV, **(env or {})}, default_upstream=UPSTREAM)
    return format_issues(info.value).splitlines()


def test_absent_means_disabled_with_documented_defaults() -> None:
    links = load_policy_text("version: 1\n", env={}, default_upstream=UPSTREAM).policy.links
    assert links == Links()
    assert links.enabled is False and links.keys == () and links.current_key is None
    assert links.default_action == "sign" and links.rules == () and links.internal_hosts == ()
    assert links.ttl == 7 * 86400 and links.leeway == 30
    assert links.endpoint == "/_l/" and links.interstitial is True
    assert links.strip_tracking is True and links.tracking_params == DEFAULT_TRACKING_PARAMS
    assert {"utm_*", "fbclid", "gclid", "msclkid"} <= set(links.tracking_params)
    assert links.content_types == ("text/html",) and links.rewrite_in_scripts is False  # text/plain: opt in
    assert links.require_token == () and links.exclude_paths == ()


def test_a_full_section_loads() -> None:
    links = load(
        """\
        links:
          enabled: true
          internal_hosts: ["*.example.com", cdn.example.net]
          default_action: strip
          rules:
            - {hosts: ["*.youtube.com"], action: strip}
            - {hosts: [status.example.org], action: sign, ttl: 1h, direct: true, strip_tracking: false}
          ttl: 2d
          leeway: 1m
          keys:
            - {id: new-2025.1, secret: "${KEY}"}
            - {id: old_2024, secret: "raw:${OLD}"}
          current_key: old_2024
          endpoint: /go/
          interstitial: false
          strip_tracking: false
          tracking_params: [ref]
          require_token: [{path: /case/*}, {path: /agent/, param: t}]
        """,
        {"OLD": "an old key that is at least thirty-two bytes"},
    )
    assert links.enabled and links.current_key == "old_2024"
    assert [k.id for k in links.keys] == ["new-2025.1", "old_2024"]
    assert links.keys[0].secret == KEY
    assert KEY not in repr(links) and "secret" not in repr(links.keys[0])
    assert links.rules[1] == LinkRule(hosts=("status.example.org",), action="sign", ttl=3600.0, direct=True, strip_tracking=False)
    assert links.rules[0].ttl is None and links.rules[0].strip_tracking is None and links.rules[0].direct is False
    assert links.ttl == 2 * 86400 and links.leeway == 60
    assert links.require_token == (RequireToken(path="/case/*", param="_gt"), RequireToken(path="/agent/", param="t"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "links: {enabled: true}",
            "site.yaml:1: links: keys: at least one signing key is required when links are enabled",
        ),
        (
            "links:\n  keys:\n    - {id: a, secret: '${KEY}'}\n    - {id: a, secret: '${KEY}'}",
            "site.yaml:1: links: keys: key ids must be unique",
        ),
        (
            "links:\n  keys: [{id: a, secret: '${KEY}'}]\n  current_key: b",
            "site.yaml:1: links: current_key: 'b' is not the id of a key in links.keys",
        ),
        (
            "links:\n  current_key: a",
            "site.yaml:1: links: current_key: 'a' is not the id of a key in links.keys",
        ),
        (
            "links:\n  keys:\n    - id: 'a b'\n      secret: '${KEY}'",
            "site.yaml:3: links.keys[0].id: 'a b' is not a key id (1-64 of letters, digits, '.', '_', '-')",
        ),
        (
            "links:\n  keys:\n    - {id: '', secret: '${KEY}'}",
            "site.yaml:3: links.keys[0].id: '' is not a key id (1-64 of letters, digits, '.', '_', '-')",
        ),
        (
            f"links:\n  keys:\n    - {{id: '{'k' * 65}', secret: '${{KEY}}'}}",
            f"site.yaml:3: links.keys[0].id: '{'k' * 65}' is not a key id (1-64 of letters, digits, '.', '_', '-')",
        ),
        (
            "links:\n  keys:\n    - {id: a}",
            "site.yaml:3: links.keys[0].secret: required key missing",
        ),
        (
            "links:\n  endpoint: /_l",
            "site.yaml:2: links.endpoint: '/_l' must start and end with '/', e.g. /_l/",
        ),
        (
            "links:\n  endpoint: _l/",
            "site.yaml:2: links.endpoint: '_l/' must start and end with '/', e.g. /_l/",
        ),
        (
            "links:\n  endpoint: /",
            "site.yaml:2: links.endpoint: '/' must start and end with '/', e.g. /_l/",
        ),
        (
            "links:\n  require_token:\n    - path: case/*",
            "site.yaml:3: links.require_token[0].path: 'case/*' must start with '/'",
        ),
        (
            "links:\n  exclude_paths: [/media/, media/]",
            "site.yaml:2: links.exclude_paths[1]: 'media/' must start with '/'",
        ),
        (
            "links:\n  require_token:\n    - path: /case/\n      param: 'a b'",
            "site.yaml:4: links.require_token[0].param: 'a b' is not a query parameter name",
        ),
        (
            "links:\n  require_token:\n    - {path: /case/, param: 'x&y'}",
            "site.yaml:3: links.require_token[0].param: 'x&y' is not a query parameter name",
        ),
        (
            "links:\n  rules:\n    - hosts: []\n      action: sign",
            "site.yaml:3: links.rules[0].hosts: tuple should have at least 1 item after validation, not 0",
        ),
        (
            "links:\n  rules:\n    - hosts: [a.example]\n      action: rewrite",
            "site.yaml:4: links.rules[0].action: must be one of 'keep', 'sign', 'strip', got 'rewrite'",
        ),
        (
            "links:\n  default_action: Sign",
            "site.yaml:2: links.default_action: must be one of 'keep', 'sign', 'strip', got 'Sign'",
        ),
        (
            "links:\n  rules:\n    - {hosts: [a.example]}",
            "site.yaml:3: links.rules[0].action: required key missing",
        ),
        (
            "links:\n  rules:\n    - hosts: [a.example]\n      action: sign\n      ttl: 0",
            "site.yaml:5: links.rules[0].ttl: must be > 0, got 0",
        ),
        (
            "links:\n  rules:\n    - {hosts: [a.example], action: sign, ttl: 0s}",
            "site.yaml:3: links.rules[0].ttl: must be > 0, got '0s'",
        ),
        (
            "links:\n  ttl: 0",
            "site.yaml:2: links.ttl: must be > 0, got 0",
        ),
        (
            "links:\n  rules:\n    - {hosts: [a.example], action: sign, tll: 1h}",
            "site.yaml:3: links.rules[0].tll: unknown key 'tll' (did you mean 'ttl'?)",
        ),
        (
            "links:\n  enabeld: true",
            "site.yaml:2: links.enabeld: unknown key 'enabeld' (did you mean 'enabled'?)",
        ),
    ],
)
def test_errors(text: str, expected: str) -> None:
    assert errors_of(text) == [expected]


def test_every_field_error_is_reported_at_once() -> None:
    assert errors_of("links:\n  endpoint: /_l\n  rules:\n    - {hosts: [], action: x}\n  require_token: [{path: x}]") == [
        "site.yaml:2: links.endpoint: '/_l' must start and end with '/', e.g. /_l/",
        "site.yaml:4: links.rules[0].hosts: tuple should have at least 1 item after validation, not 0",
        "site.yaml:4: links.rules[0].action: must be one of 'keep', 'sign', 'strip', got 'x'",
        "site.yaml:5: links.require_token[0].path: 'x' must start with '/'",
    ]


@pytest.mark.parametrize(
    ("secret", "shown"),
    [
        ("hex:zz-these-are-not-hex-digits-at-all-zz", "zz-these-are-not-hex-digits"),
        ("base64:!!not-base64-at-all-but-long-enough!!", "not-base64-at-all"),
    ],
)
def test_an_undecodable_secret_is_reported_without_echoing_it(secret: str, shown: str) -> None:
    lines = errors_of("links:\n  keys:\n    - id: a\n      secret: '${SECRET}'", {"SECRET": secret})
    assert lines == ["site.yaml:4: links.keys[0].secret: the secret must decode to at least 32 bytes"]
    assert shown not in "\n".join(lines)


# A short link secret passes the policy (LinkKey._check_secret only catches a
# ValueError from decode_secret, which never checks the length), and then
# `check` and `serve` crash with a traceback in KeyRing.from_config
# (filters/link_signing.py:59): "ValueError: key 'a': secret must be at least 32 bytes".
@pytest.mark.parametrize(
    ("secret", "hidden"),
    [(SHORT, "only-thirty-one"), ("hunter2-hunter2", "hunter2"), ("a-secret-that-is-too-short", "too-short"),
     ("hex:abcd", "abcd")],
)
def test_a_short_secret_is_refused_without_echoing_it(secret: str, hidden: str) -> None:
    lines = errors_of("links:\n  keys:\n    - id: a\n      secret: '${SECRET}'", {"SECRET": secret})
    assert lines == ["site.yaml:4: links.keys[0].secret: the secret must decode to at least 32 bytes"]
    assert hidden not in "\n".join(lines)


def test_a_32_byte_secret_is_enough() -> None:
    assert load("links:\n  keys: [{id: a, secret: 'raw:${X}'}]", {"X": "x" * 32}).keys[0].id == "a"


# `_KID.match` with `$` accepts a trailing newline; SigningKey (fullmatch)
# then refuses the id at start-up with a traceback. Same for the param name.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'links:\n  keys:\n    - {id: "k1\\n", secret: "${KEY}"}',
            "site.yaml:3: links.keys[0].id: 'k1\\n' is not a key id (1-64 of letters, digits, '.', '_', '-')",
        ),
        (
            'links:\n  require_token:\n    - {path: /case/, param: "_gt\\n"}',
            "site.yaml:3: links.require_token[0].param: '_gt\\n' is not a query parameter name",
        ),
    ],
)
def test_a_trailing_newline_is_not_part_of_a_valid_name(text: str, expected: str) -> None:
    assert errors_of(text) == [expected]


def test_the_models_validate_on_their_own() -> None:
    assert LinkKey(id="k.1_-", secret=KEY).id == "k.1_-"
    assert RequireToken(path="/p").param == "_gt"
    with pytest.raises(ValueError):
        LinkRule(hosts=(), action="sign")
    with pytest.raises(ValueError):
        Links(enabled=True)
    assert Links(enabled=True, keys=(LinkKey(id="a", secret=KEY),)).current_key is None
