"""Which consent applies: the gateway's cookie, a CMP cookie, defaults, Global Privacy Control, versions."""

from __future__ import annotations

from gateway.consent.resolve import Resolver
from gateway.consent.state import ConsentState
from tests.consent.support import compiled, section

NOW = 1_700_000_000.0
CID = "abcdefghijklmnopqrstuv"


def resolver(**overrides: object) -> Resolver:
    return compiled(**overrides).resolver


def cookie(r: Resolver, choices: dict[str, bool], *, version: str = "v1", method: str = "banner") -> str:
    token = r.codec.encode(ConsentState(CID, version, choices, method), now=NOW)  # type: ignore[arg-type]
    return f"sessionid=1; {r.cookie_name}={token}"


def test_undecided_visitors_get_the_defaults() -> None:
    categories = section()["categories"]
    categories["preferences"].update(default=True, allow_preticked=True)  # a site outside EU law
    r = resolver(categories=categories)
    res = r.resolve([], False, now=NOW)
    assert not res.decided and res.method is None and res.state is None and not res.invalid
    assert res.choices == {"preferences": True, "analytics": False, "marketing": False}
    assert res.granted == {"necessary", "preferences"}


def test_gpc_refuses_marked_categories_until_the_visitor_opts_in() -> None:
    categories = section()["categories"]
    categories["preferences"].update(default=True, allow_preticked=True)
    categories["analytics"].update(default=True, gpc=False, allow_preticked=True)
    r = resolver(categories=categories)
    assert r.resolve([], True, now=NOW).granted == {"necessary", "analytics"}
    explicit = r.resolve([cookie(r, {"preferences": True, "analytics": True, "marketing": True})], True, now=NOW)
    assert explicit.decided and explicit.granted == {"necessary", "preferences", "analytics", "marketing"}
    # A category the visitor was never asked about keeps its default, which GPC refuses.
    partial = r.resolve([cookie(r, {"analytics": False})], True, now=NOW)
    assert partial.choices == {"preferences": False, "analytics": False, "marketing": False}


def test_a_gpc_decision_only_holds_while_the_browser_sends_gpc() -> None:
    r = resolver()
    header = cookie(r, {"preferences": False, "analytics": False, "marketing": False}, method="gpc")
    assert r.resolve([header], True, now=NOW).decided
    without = r.resolve([header], False, now=NOW)
    assert not without.decided and without.state is not None and without.state.consent_id == CID


def test_a_new_version_asks_again_but_keeps_the_consent_id() -> None:
    r = resolver()
    res = r.resolve([cookie(r, {"analytics": True}, version="v0")], False, now=NOW)
    assert not res.decided and res.invalid
    assert res.granted == {"necessary"}
    assert res.state is not None and res.state.consent_id == CID and res.state.choices == {"analytics": True}


def test_tampered_and_foreign_cookies_count_as_no_decision() -> None:
    r = resolver()
    good = cookie(r, {"analytics": True})
    res = r.resolve([good.replace("=gAAAA", "=gAAAB")], False, now=NOW)
    assert not res.decided and res.invalid and res.state is None and res.granted == {"necessary"}
    other = resolver(keys=[{"id": "x", "secret": "raw:" + "another key of thirty-two bytes!!"}])
    res = other.resolve([good], False, now=NOW)
    assert not res.decided and res.invalid


def test_duplicate_cookies_the_first_authentic_current_one_wins() -> None:
    r = resolver()
    current = cookie(r, {"analytics": True}).split("; ")[1]
    old = cookie(r, {"analytics": False}, version="v0").split("; ")[1]
    assert r.resolve([f"{old}; {current}"], False, now=NOW).granted >= {"analytics"}
    assert r.resolve([f"{r.cookie_name}=junk; {current}"], False, now=NOW).decided


def test_resolutions_of_a_cookie_are_cached() -> None:
    r = resolver()
    header = cookie(r, {"analytics": True})
    assert r.resolve([header], False, now=NOW) is r.resolve([header], False, now=NOW)
    assert r.resolve([header], False, now=NOW) is not r.resolve([header], True, now=NOW)


def test_cmp_cookie_when_the_gateway_has_none() -> None:
    r = resolver(cmp={"type": "klaro"})
    res = r.resolve(['klaro={"analytics":true}; sessionid=1'], False, now=NOW)
    assert res.decided and res.method == "cmp" and res.granted == {"necessary", "analytics"}
    # The gateway's own current cookie comes first.
    own = cookie(r, {"analytics": False})
    assert r.resolve([own + '; klaro={"analytics":true}'], False, now=NOW).method == "banner"
    # A CMP choice beats GPC; unanswered categories get default-and-GPC.
    res = r.resolve(['klaro={"marketing":true}'], True, now=NOW)
    assert res.choices == {"preferences": False, "analytics": False, "marketing": True}
    assert not r.resolve(["klaro=garbage"], False, now=NOW).decided


def test_unclassified_cookies_pass_only_when_the_policy_allows_them() -> None:
    assert "unclassified" not in resolver().resolve([], False).granted
    assert "unclassified" in resolver(unclassified="allow").resolve([], False).granted


def test_effective_choices_ignore_unknown_categories() -> None:
    r = resolver()
    assert r.effective({"analytics": True, "gone": True}, False) == {
        "preferences": False, "analytics": True, "marketing": False
    }
