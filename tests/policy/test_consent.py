"""The ``consent`` policy section: defaults, the demo policy, and every error with its exact text."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gateway.policy import PolicyError, format_issues, load_policy, load_policy_text
from gateway.policy.consent import Consent

POLICIES = Path(__file__).resolve().parents[2] / "policies"
KEY = "base64:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="
OLD_KEY = "raw:an old key that is at least thirty-two bytes"
ENV = {"KEY": KEY, "OLD_KEY": OLD_KEY, "SHORT": "short", "NOT_HEX": "hex:zz"}
UPSTREAM = "http://helpdesk.test:8000"  # required, and left out of the texts below


def errors_of(text: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load_policy_text(textwrap.dedent(text), "site.yaml", env=ENV, default_upstream=UPSTREAM)
    return format_issues(info.value).splitlines()


def test_absent_means_disabled_with_documented_defaults() -> None:
    consent = load_policy_text("version: 1\n", env={}, default_upstream=UPSTREAM).policy.consent
    assert consent == Consent()
    assert consent.enabled is False and consent.shadow is False
    assert consent.version == "1" and consent.prefix == "/_privacy/consent"
    assert consent.cookie.name == "pgw_consent" and consent.cookie.max_age == 180 * 86400
    assert consent.cookie.secure == "auto" and consent.cookie.same_site == "lax"
    assert consent.unclassified == "block" and consent.categories == {} and consent.cmp is None
    assert consent.banner.enabled and consent.banner.languages == ("en", "nb") and consent.banner.settings_link


def test_a_full_section_loads() -> None:
    text = """\
    consent:
      enabled: true
      version: "2025-02"
      keys: [{id: new, secret: "${KEY}"}, {id: old, secret: "${OLD_KEY}"}]
      cookie: {name: consent, max_age: 30d, domain: example.com, secure: always, same_site: strict}
      unclassified: allow
      expire_domains: [example.com]
      categories:
        necessary: {cookies: [{name: sessionid}]}
        analytics:
          default: true
          allow_preticked: true
          gpc: false
          label: {en: Statistics, nb: Statistikk}
          cookies: [{glob: "_ga*", domain: .example.com, path: /}]
      cmp: {type: klaro, map: {analytics: [matomo, google-analytics]}}
      banner: {languages: [nb, en, de], title: {de: Cookies}, text: {de: Text}, privacy_url: /privacy,
               exclude_paths: [/privacy]}
    """
    consent = load_policy_text(textwrap.dedent(text), env=ENV, default_upstream=UPSTREAM).policy.consent
    assert [k.id for k in consent.keys] == ["new", "old"]
    assert "secret" not in repr(consent.keys[0])
    assert consent.categories["analytics"].default is True and consent.categories["analytics"].gpc is False
    assert consent.cmp is not None and consent.cmp.map == {"analytics": ("matomo", "google-analytics")}
    assert consent.banner.languages == ("nb", "en", "de")


def test_the_demo_policy_enables_the_banner_with_its_demo_key() -> None:
    consent = load_policy(POLICIES / "demo.yaml").policy.consent
    assert consent.enabled and consent.banner.enabled
    assert {"necessary", "preferences", "analytics"} <= set(consent.categories)
    assert consent.keys[0].secret == (POLICIES / "demo-secrets" / "consent.key").read_text().strip()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("consent: {enabled: true}", "site.yaml:1: consent: keys: at least one key is required when consent is enabled"),
        (
            "consent:\n  categories:\n    unclassified: {}",
            "site.yaml:2: consent.categories: 'unclassified' is the category of cookies no category claims; it lists no cookies",
        ),
        (
            "consent:\n  categories:\n    Bad: {}",
            "site.yaml:2: consent.categories: 'Bad' is not a category name (a-z, 0-9, '_', '-'; starts with a letter)",
        ),
        (
            "consent:\n  categories:\n    necessary: {default: true}",
            "site.yaml:2: consent.categories: necessary: always allowed; default, gpc and allow_preticked cannot be set",
        ),
        (
            "consent:\n  categories:\n    necessary: {allow_preticked: true}",
            "site.yaml:2: consent.categories: necessary: always allowed; default, gpc and allow_preticked cannot be set",
        ),
        (
            "consent:\n  categories:\n    analytics: {default: true}",
            "site.yaml:2: consent.categories: analytics: default: true pre-ticks consent, which is unlawful in the EU "
            "(GDPR Art. 4(11), CJEU C-673/17 Planet49); remove it, or set allow_preticked: true on the category "
            "for a site outside EU law",
        ),
        (
            "consent:\n  categories:\n    a: {cookies: [{name: x, glob: y}]}",
            "site.yaml:3: consent.categories.a.cookies[0]: give exactly one of name and glob",
        ),
        (
            "consent:\n  categories:\n    a: {cookies: [{}]}",
            "site.yaml:3: consent.categories.a.cookies[0]: give exactly one of name and glob",
        ),
        (
            "consent:\n  categories:\n    a: {cookies: [{name: 'a b'}]}",
            "site.yaml:3: consent.categories.a.cookies[0]: 'a b' is not a cookie name (no spaces, ';', '=', ',' or quotes)",
        ),
        (
            "consent:\n  categories:\n    a: {cookies: [{glob: 'x;y*'}]}",
            "site.yaml:3: consent.categories.a.cookies[0]: 'x;y*' is not a cookie name (no spaces, ';', '=', ',' or quotes)",
        ),
        (
            "consent:\n  categories:\n    a: {cookies: [{name: x, path: help}]}",
            "site.yaml:3: consent.categories.a.cookies[0]: path 'help' must start with '/'",
        ),
        (
            "consent:\n  categories:\n    a: {cookies: [{name: x, domain: '.'}]}",
            "site.yaml:3: consent.categories.a.cookies[0]: '.' is not a domain name",
        ),
        ("consent:\n  keys: [{id: a, secret: '${SHORT}'}]", "site.yaml:2: consent.keys[0].secret: the secret must decode to at least 32 bytes"),
        ("consent:\n  keys: [{id: a, secret: '${NOT_HEX}'}]", "site.yaml:2: consent.keys[0].secret: the secret must decode to at least 32 bytes"),
        (
            "consent:\n  keys: [{id: 'a b', secret: '${KEY}'}]",
            "site.yaml:2: consent.keys[0].id: 'a b' is not a key id (1-64 of letters, digits, '.', '_', '-')",
        ),
        ("consent:\n  keys: [{id: a, secret: '${KEY}'}, {id: a, secret: '${KEY}'}]", "site.yaml:1: consent: keys: key ids must be unique"),
        ("consent:\n  prefix: /x/", "site.yaml:2: consent.prefix: '/x/' must be a path like /_privacy/consent (no trailing '/')"),
        ("consent:\n  prefix: x", "site.yaml:2: consent.prefix: 'x' must be a path like /_privacy/consent (no trailing '/')"),
        ("consent:\n  version: ''", "site.yaml:2: consent.version: string should have at least 1 character"),
        ("consent:\n  version: ' v2'", "site.yaml:2: consent.version: ' v2' is not a printable version text"),
        ("consent:\n  banner: {languages: [de]}", "site.yaml:2: consent.banner: languages: 'de' has no built-in texts; give title.de and text.de"),
        ("consent:\n  banner: {languages: [en, en]}", "site.yaml:2: consent.banner.languages: languages must not repeat"),
        ("consent:\n  banner: {languages: []}", "site.yaml:2: consent.banner.languages: tuple should have at least 1 item after validation, not 0"),
        ("consent:\n  banner: {title: {EN: x}}", "site.yaml:2: consent.banner.title: 'EN' is not a language code (en, nb, de-CH ...)"),
        ("consent:\n  banner: {text: {en: ' '}}", "site.yaml:2: consent.banner.text: en: the text is empty"),
        ("consent:\n  banner: {privacy_url: 'javascript:x'}", "site.yaml:2: consent.banner: privacy_url must be a path or an http(s) URL"),
        ("consent:\n  banner: {exclude_paths: [privacy]}", "site.yaml:2: consent.banner: exclude_paths: 'privacy' must start with '/'"),
        ("consent:\n  cmp: {type: klaro, map: {ads: [x]}}", "site.yaml:1: consent: cmp.map: 'ads' is not a consent category of this policy"),
        (
            "consent:\n  categories: {ads: {}}\n  cmp: {type: klaro, map: {ads: []}}",
            "site.yaml:3: consent.cmp.map: ads: list at least one service or purpose",
        ),
        ("consent:\n  cmp: {type: onetrust}", "site.yaml:2: consent.cmp.type: must be one of 'klaro', 'cookiebot', got 'onetrust'"),
        ("consent:\n  cookie: {max_age: 500d}", "site.yaml:2: consent.cookie.max_age: must be <= 34560000, got 43200000"),
        ("consent:\n  cookie: {name: 'a=b'}", "site.yaml:2: consent.cookie: name: 'a=b' is not a cookie name"),
        ("consent:\n  cookie: {path: 'x'}", "site.yaml:2: consent.cookie: path: 'x' is not a cookie path"),
        ("consent:\n  cookie: {domain: 'a;b'}", "site.yaml:2: consent.cookie.domain: 'a;b' is not a domain name"),
        (
            "consent:\n  cookie: {name: __Host-c}",
            "site.yaml:2: consent.cookie: name: a __Host- or __Secure- cookie needs secure: always",
        ),
        (
            "consent:\n  cookie: {name: __Host-c, secure: always, path: /x}",
            "site.yaml:2: consent.cookie: name: a __Host- cookie needs path / and no domain",
        ),
        ("consent:\n  expire_domains: ['exa mple.com']", "site.yaml:2: consent.expire_domains[0]: 'exa mple.com' is not a domain name"),
        ("consent:\n  cookie: {same_site: none}", "site.yaml:2: consent.cookie.same_site: must be one of 'lax', 'strict', got 'none'"),
        ("consent:\n  unclassified: maybe", "site.yaml:2: consent.unclassified: must be one of 'block', 'allow', got 'maybe'"),
        (
            "consent:\n  colour: blue",
            "site.yaml:2: consent.colour: unknown key 'colour' (valid keys: enabled, shadow, version, prefix, keys, "
            "cookie, categories, unclassified, cmp, expire_domains, banner)",
        ),
    ],
)
def test_errors_name_the_key_and_the_problem(text: str, expected: str) -> None:
    assert expected in errors_of(text)
