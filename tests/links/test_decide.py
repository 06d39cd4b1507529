"""LinkPolicy: which links are external, and what each rule makes of them."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.lib.keyring import KeyRing
from gateway.links.decide import LinkDecision, LinkPolicy
from gateway.links.signing import LinkSigner
from gateway.policy.links import Links

OWN = "help.example.com"


def policy(**links: Any) -> LinkPolicy:
    return LinkPolicy(Links.model_validate(links))


def action(lp: LinkPolicy, url: str, own_host: str = OWN) -> str | None:
    decision = lp.decide(url, own_host)
    return None if decision is None else decision.action


# -- external or internal ---------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://help.example.com/tickets/1",
        "http://help.example.com",
        "HTTPS://HELP.EXAMPLE.COM/x",
        "https://help.example.com:8443/x",  # the port does not make it another site
        "https://help.example.com./x",  # nor does the root dot
        "https://user@help.example.com/x",
        "//help.example.com/x",
    ],
)
def test_the_own_host_is_internal(url: str) -> None:
    lp = policy()
    assert lp.external_host(url, OWN) is None
    assert lp.decide(url, OWN) is None


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://example.org/docs", "example.org"),
        ("HTTP://Example.ORG/Docs", "example.org"),
        ("https://help.example.com.evil.org/", "help.example.com.evil.org"),
        ("https://evilhelp.example.com/", "evilhelp.example.com"),
        ("https://help.example.com@evil.org/", "evil.org"),  # userinfo is not the host
        ("https://evil.org/?next=https://help.example.com/", "evil.org"),
        ("https://evil.org#@help.example.com", "evil.org"),
        ("//evil.org/a", "evil.org"),
        ("https://127.0.0.1:8080/", "127.0.0.1"),
        ("https://[2001:db8::1]/", "2001:db8::1"),
    ],
)
def test_other_hosts_are_external(url: str, host: str) -> None:
    assert policy().external_host(url, OWN) == host


def test_another_own_host_makes_the_same_link_external() -> None:
    lp = policy()
    assert lp.decide("https://help.example.com/x", "other.example.net") is not None
    assert lp.decide("https://help.example.com/x", OWN) is None


@pytest.mark.parametrize(
    ("host", "internal"),
    [
        ("www.example.com", True),
        ("WWW.Example.COM", True),
        ("cdn.example.net", True),
        ("cdn7.example.net", True),
        ("example.com", False),  # "*." needs a label
        ("a.b.example.com", False),  # "*" stops at a dot
        ("wwwexample.com", False),
        ("www.example.com.evil.org", False),
        ("cdn.example.net.evil.org", False),
        ("cdnx.example.net", True),
        ("cdn77.example.net", False),
        ("x.deep.example.org", True),
        ("a.b.c.deep.example.org", True),  # "**" crosses dots
        ("deep.example.org", False),
    ],
)
def test_internal_host_globs(host: str, internal: bool) -> None:
    lp = policy(internal_hosts=["*.example.com", "cdn.example.net", "cdn?.example.net", "**.deep.example.org"])
    assert (lp.decide(f"https://{host}/path", OWN) is None) is internal
    assert (lp.decide(f"//{host}/path", OWN) is None) is internal


@pytest.mark.parametrize(
    "url",
    [
        "/tickets/1",
        "tickets/1",
        "../up",
        "#top",
        "?page=2",
        "",
        "mailto:someone@evil.org",
        "MAILTO:someone@evil.org",
        "tel:+4712345678",
        "javascript:alert(1)",
        "JavaScript:location='https://evil.org'",
        "data:text/html,<a href=https://evil.org>",
        "ftp://evil.org/file",
        "httpx://evil.org/",
        "https-evil.org/x",  # a relative path that only starts like a scheme
    ],
)
def test_relative_links_and_other_schemes_are_kept(url: str) -> None:
    lp = policy(default_action="strip")
    assert lp.external_host(url, OWN) is None
    assert lp.decide(url, OWN) is None


@pytest.mark.parametrize("url", ["http://[::1", "https://[bad/", "http://", "https:///evil.org", "https:evil.org", "http:/evil.org/"])
def test_absolute_urls_without_a_readable_host_are_never_kept(url: str) -> None:
    assert policy().external_host(url, OWN) == ""
    for lp in (policy(default_action="keep"), policy(rules=[{"hosts": ["*"], "action": "keep"}])):
        decision = lp.decide(url, OWN)
        assert decision is not None and decision.action == "strip"
        assert decision.url == url


# These are read by browsers (WHATWG URL: "\" is "/" in http(s) URLs) as links
# to evil.org, but decide() takes them for relative or own-host links and keeps
# them: the visitor leaves unsigned, with the referrer, and no rule applies.
@pytest.mark.parametrize(
    "url",
    [
        "/\\evil.org/x",
        "\\\\evil.org/x",
        "https://evil.org\\@help.example.com/",
    ],
)
def test_backslash_forms_that_browsers_follow_to_another_host_are_external(url: str) -> None:
    lp = policy(default_action="strip")
    assert lp.decide(url, OWN) is not None


# -- signing only what can be signed ----------------------------------------

SIGNER = LinkSigner(KeyRing.from_config([("k1", "raw:" + "k" * 40)], "k1"), ttl=3600)


@pytest.mark.parametrize(
    "url", ["https://evil.org/", "HTTPS://EVIL.ORG/A?b=c", "//evil.org/x?utm_source=y", "http://evil.org:99999/", "https://[2001:db8::1]/"]
)
def test_a_url_decided_for_signing_can_be_signed(url: str) -> None:
    decision = policy().decide(url, OWN)
    assert decision is not None and decision.action == "sign"
    assert SIGNER.verify(SIGNER.sign(decision.url, ttl=decision.ttl)).url == decision.url


# With the default action (sign), decide() asks to sign a URL without a
# readable host; LinkSigner.sign raises ValueError, and that exception escapes
# the response rewriter (LinkSigning._decider), so any page containing such an
# href (e.g. written by a customer in a ticket) fails to render.
@pytest.mark.parametrize("url", ["http://[::1", "https:///evil.org", "http:/evil.org/", "https:evil.org"])
def test_an_unreadable_absolute_url_is_not_handed_to_the_signer(url: str) -> None:
    decision = policy().decide(url, OWN)
    assert decision is not None
    if decision.action == "sign":
        SIGNER.sign(decision.url, ttl=decision.ttl)


# -- rules ----------------------------------------------------------------------


def test_the_first_matching_rule_wins() -> None:
    strip_first = policy(rules=[{"hosts": ["*.youtube.com"], "action": "strip"}, {"hosts": ["www.youtube.com"], "action": "keep"}])
    keep_first = policy(rules=[{"hosts": ["www.youtube.com"], "action": "keep"}, {"hosts": ["*.youtube.com"], "action": "strip"}])
    assert action(strip_first, "https://www.youtube.com/watch") == "strip"
    assert action(keep_first, "https://www.youtube.com/watch") == "keep"
    assert action(keep_first, "https://m.youtube.com/watch") == "strip"


def test_a_rule_matches_any_of_its_hosts_and_nothing_else() -> None:
    lp = policy(
        default_action="sign",
        rules=[{"hosts": ["docs.example.org", "*.Example.NET"], "action": "keep"}],
    )
    assert action(lp, "https://docs.example.org/a") == "keep"
    assert action(lp, "https://DOCS.EXAMPLE.ORG/a") == "keep"
    assert action(lp, "https://www.example.net/") == "keep"
    assert action(lp, "https://example.net/") == "sign"
    assert action(lp, "https://docs.example.org.evil.org/") == "sign"
    assert action(lp, "https://xdocs.example.org/") == "sign"


@pytest.mark.parametrize("default", ["keep", "sign", "strip"])
def test_the_default_action_applies_when_no_rule_matches(default: str) -> None:
    lp = policy(default_action=default, rules=[{"hosts": ["ruled.example.org"], "action": "keep" if default != "keep" else "strip"}])
    assert action(lp, "https://unruled.example.org/") == default
    assert action(lp, "https://ruled.example.org/") != default


def test_a_keep_decision_is_returned_for_an_external_host() -> None:
    # Not None: the caller counts kept external links.
    decision = policy(default_action="keep").decide("https://example.org/?utm_source=x", OWN)
    assert decision == LinkDecision("keep", "https://example.org/", 7 * 86400.0, False)


def test_ttl_per_rule_falls_back_to_links_ttl() -> None:
    lp = policy(ttl="2d", rules=[{"hosts": ["short.example.org"], "action": "sign", "ttl": "1h"}, {"hosts": ["plain.example.org"], "action": "sign"}])
    assert _decide(lp, "https://short.example.org/").ttl == 3600.0
    assert _decide(lp, "https://plain.example.org/").ttl == 2 * 86400.0
    assert _decide(lp, "https://other.example.org/").ttl == 2 * 86400.0


def _decide(lp: LinkPolicy, url: str) -> LinkDecision:
    decision = lp.decide(url, OWN)
    assert decision is not None
    return decision


def test_direct_per_rule_with_the_interstitial_on() -> None:
    lp = policy(rules=[{"hosts": ["status.example.org"], "action": "sign", "direct": True}, {"hosts": ["docs.example.org"], "action": "sign"}])
    assert _decide(lp, "https://status.example.org/").direct is True
    assert _decide(lp, "https://docs.example.org/").direct is False
    assert _decide(lp, "https://other.example.org/").direct is False


def test_without_the_interstitial_every_decision_is_direct() -> None:
    lp = policy(interstitial=False, rules=[{"hosts": ["docs.example.org"], "action": "sign", "direct": False}])
    assert _decide(lp, "https://docs.example.org/").direct is True
    assert _decide(lp, "https://other.example.org/").direct is True


def test_is_direct() -> None:
    lp = policy(
        internal_hosts=["*.example.com"],
        rules=[{"hosts": ["status.example.org"], "action": "sign", "direct": True}, {"hosts": ["docs.example.org"], "action": "sign"}],
    )
    assert lp.is_direct("https://status.example.org/incident/1") is True
    assert lp.is_direct("//status.example.org/") is True
    assert lp.is_direct("https://docs.example.org/") is False
    assert lp.is_direct("https://other.example.org/") is False
    assert lp.is_direct("https://www.example.com/") is False  # internal: no decision
    assert lp.is_direct("mailto:x@status.example.org") is False
    assert policy(interstitial=False).is_direct("https://other.example.org/") is True


# -- tracking parameters ----------------------------------------------------

TRACKED = "https://example.org/a?id=7&utm_source=mail&fbclid=abc#part"
CLEAN = "https://example.org/a?id=7#part"


@pytest.mark.parametrize(
    ("links_strip", "rule_strip", "stripped"),
    [(True, None, True), (False, None, False), (True, False, False), (False, True, True), (True, True, True), (False, False, False)],
)
def test_strip_tracking_per_rule_overrides_the_global_switch(links_strip: bool, rule_strip: bool | None, stripped: bool) -> None:
    rule: dict[str, Any] = {"hosts": ["example.org"], "action": "sign"}
    if rule_strip is not None:
        rule["strip_tracking"] = rule_strip
    lp = policy(strip_tracking=links_strip, rules=[rule])
    assert _decide(lp, TRACKED).url == (CLEAN if stripped else TRACKED)
    # The default rule follows the global switch.
    other = TRACKED.replace("example.org", "other.example.org")
    assert _decide(lp, other).url == (other.replace("&utm_source=mail&fbclid=abc", "") if links_strip else other)


def test_tracking_params_replace_the_built_in_list() -> None:
    lp = policy(tracking_params=["ref", "src_*"])
    assert _decide(lp, "https://example.org/?utm_source=a&ref=b&SRC_x=c&k=1").url == "https://example.org/?utm_source=a&k=1"


def test_a_protocol_relative_link_is_signed_as_an_absolute_url() -> None:
    decision = _decide(policy(), "//example.org/a?utm_medium=x&k=1")
    assert decision.action == "sign"
    assert decision.url.endswith("//example.org/a?k=1")
    assert SIGNER.verify(SIGNER.sign(decision.url)).url == decision.url


def test_the_signed_url_keeps_every_other_byte() -> None:
    url = "HTTPS://Example.ORG:443/p%20q/./r?a=%41&b=x+y&utm_source=z#Frag%20"
    assert _decide(policy(), url).url == "HTTPS://Example.ORG:443/p%20q/./r?a=%41&b=x+y#Frag%20"
