"""The consent section compiled: categories, classifier, expiry hints, the CMP cookie passing through."""

from __future__ import annotations

from tests.consent.support import compiled, section


def test_categories_and_classifier_follow_the_policy() -> None:
    c = compiled()
    assert c.prefix == "/_privacy/consent"
    assert c.categories == ("preferences", "analytics", "marketing")
    assert c.classifier.category_of("_ga_123") == "analytics"
    assert c.classifier.category_of("csrftoken") == "necessary"
    assert c.classifier.category_of("unknown") == "unclassified"
    assert c.exact_names == {"necessary": ("sessionid",), "preferences": ("lang",), "analytics": ("_gid",)}
    assert c.hinted == {} and not c.enforcer.conditional
    assert c.resolver.gpc_denies == {"preferences", "analytics", "marketing"}
    assert list(c.copies) == ["en", "nb"] and c.copy_for("nb").language == "nb" and c.copy_for("de").language == "en"


def test_necessary_exists_even_when_the_policy_leaves_it_out() -> None:
    c = compiled(categories={"analytics": {"cookies": [{"name": "_ga"}]}})
    assert c.categories == ("analytics",)
    assert c.classifier.necessary == "necessary"
    assert c.resolver.resolve([], False).granted == {"necessary"}


def test_rules_with_path_or_domain_become_expiry_hints_and_conditions() -> None:
    categories = section()["categories"]
    categories["analytics"]["cookies"].append({"name": "_pk_id", "domain": "example.com", "path": "/app"})
    categories["analytics"]["gpc"] = False
    c = compiled(categories=categories)
    assert c.hinted == {"_pk_id": [("/app", "example.com")]}
    assert c.enforcer.conditional
    assert c.resolver.gpc_denies == {"preferences", "marketing"}


def test_the_cmp_cookie_passes_and_the_gateway_cookie_is_its_own() -> None:
    c = compiled(cmp={"type": "cookiebot"}, cookie={"name": "consent"})
    assert c.enforcer.passthrough == {"CookieConsent"}
    assert c.enforcer.own_cookie == "consent" == c.resolver.cookie_name
