"""Recording decisions: receipts first, consent cookie, expiring withdrawn cookies, failures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.consent.cookies import parse_set_cookie
from gateway.consent.decide import Decider, choice_kind, request_is_secure
from gateway.consent.metrics import consent_metrics
from gateway.consent.resolve import Resolution
from gateway.consent.state import ConsentState
from gateway.metrics import Metrics
from gateway.store import SQLiteStore, Store, StoreError
from tests.consent.support import compiled, make_exchange

CID = "abcdefghijklmnopqrstuv"


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    async with SQLiteStore(":memory:") as s:
        yield s


def decider(store: Store | None, *, shadow: bool = False, **overrides: Any) -> tuple[Decider, Metrics]:
    metrics = Metrics()
    return Decider(compiled(**overrides), consent_metrics(metrics), store=store, retention=None, shadow=shadow), metrics


def previous(d: Decider, choices: dict[str, bool] | None = None, *, gpc: bool = False) -> Resolution:
    if choices is None:
        return d.c.resolver.resolve([], gpc)
    return d.c.resolver.from_state(ConsentState(CID, "v1", choices, "banner"), gpc)


@pytest.mark.parametrize(
    ("choices", "kind"),
    [({"a": True, "b": True}, "accept_all"), ({"a": False, "b": False}, "reject_all"), ({"a": True, "b": False}, "custom")],
)
def test_choice_kind(choices: dict[str, bool], kind: str) -> None:
    assert choice_kind(choices) == kind


async def test_an_acceptance_is_recorded_then_stored_in_the_cookie(store: Store) -> None:
    d, metrics = decider(store)
    ex = make_exchange("/_privacy/consent", method="POST", headers={"User-Agent": "Firefox/128.0"}, proto="https")
    assert request_is_secure(ex)
    decision = await d.decide(
        ex, explicit=dict.fromkeys(d.c.categories, True), method="banner", language="nb", page="/t?x=1", previous=previous(d)
    )
    assert decision is not None and decision.recorded and decision.choice == "accept_all"
    assert decision.resolution.decided and decision.resolution.granted >= {"analytics", "marketing"}
    cookie = parse_set_cookie(decision.set_cookies[0])
    assert (cookie.name, cookie.httponly, cookie.secure, cookie.samesite, cookie.path) == ("pgw_consent", True, True, "lax", "/")
    assert len(decision.set_cookies) == 1  # nothing refused, nothing to expire
    [receipt] = await store.receipts_for(decision.state.consent_id)
    assert receipt.method == "banner" and receipt.page_path == "/t" and receipt.user_agent_family == "Firefox"
    assert receipt.text_hash == d.c.copies["nb"].text_hash and receipt.consent_version == "v1"
    assert receipt.ip_truncated == "203.0.113.0/24"
    assert receipt.choices == {"necessary": True, "preferences": True, "analytics": True, "marketing": True}
    assert metrics.registry.get_sample_value(
        "privacy_gateway_consent_decisions_total", {"method": "banner", "choice": "accept_all"}
    ) == 1


async def test_a_withdrawal_keeps_the_id_and_expires_the_category(store: Store) -> None:
    d, metrics = decider(store)
    d.c.seen.note("analytics", parse_set_cookie("_ga_XYZ=1; Path=/app"), "/")
    ex = make_exchange("/_privacy/consent", method="POST", headers={"Cookie": "sessionid=1; _ga=2; lang=en; x=1"})
    before = previous(d, {"preferences": True, "analytics": True, "marketing": False})
    decision = await d.decide(
        ex, explicit={"preferences": True, "analytics": False, "marketing": False}, method="api", language=None,
        page="", previous=before,
    )
    assert decision is not None and decision.state.consent_id == CID and decision.choice == "custom"
    expired = [parse_set_cookie(v) for v in decision.set_cookies[1:]]
    assert {(c.name, c.path) for c in expired} == {("_ga", "/"), ("_gid", "/"), ("_ga_XYZ", "/app"), ("_ga_XYZ", "/")}
    assert all(c.max_age == 0 for c in expired)
    assert metrics.registry.get_sample_value("privacy_gateway_consent_cookies_expired_total", {"category": "analytics"}) == 3
    assert len(await store.receipts_for(CID)) == 1


async def test_a_first_refusal_expires_only_the_refused_cookies_present(store: Store) -> None:
    d, _ = decider(store, expire_domains=["example.com"])
    ex = make_exchange(method="POST", headers={"Cookie": "_fbp=1; sessionid=1; tracker=2"})
    decision = await d.decide(
        ex, explicit=dict.fromkeys(d.c.categories, False), method="banner", language="en", page="/", previous=previous(d)
    )
    assert decision is not None
    assert [parse_set_cookie(v)[:3] for v in decision.set_cookies[1:]] == [
        ("_fbp", None, "/"), ("_fbp", "example.com", "/")
    ]


async def test_shadow_mode_expires_nothing(store: Store) -> None:
    d, _ = decider(store, shadow=True)
    ex = make_exchange(method="POST", headers={"Cookie": "_ga=1"})
    decision = await d.decide(
        ex, explicit={}, method="api", language=None, page="", previous=previous(d, {"analytics": True})
    )
    assert decision is not None and len(decision.set_cookies) == 1


class Broken(SQLiteStore):
    async def _add_receipt(self, receipt: object) -> None:
        raise StoreError("down")


async def test_without_a_receipt_nothing_is_granted_but_withdrawal_works() -> None:
    async with Broken(":memory:") as broken:
        d, metrics = decider(broken)
        ex = make_exchange(method="POST")
        grant = await d.decide(ex, explicit={"analytics": True}, method="banner", language="en", page="/", previous=previous(d))
        assert grant is None
        regrant = await d.decide(
            ex, explicit={"analytics": True, "marketing": True}, method="api", language="en", page="/",
            previous=previous(d, {"analytics": True}),
        )
        assert regrant is None
        withdraw = await d.decide(
            ex, explicit={"analytics": False}, method="api", language="en", page="/", previous=previous(d, {"analytics": True})
        )
        assert withdraw is not None and not withdraw.recorded and withdraw.resolution.granted == {"necessary"}
        refuse = await d.decide(ex, explicit={}, method="banner", language="en", page="/", previous=previous(d))
        assert refuse is not None
        assert metrics.registry.get_sample_value("privacy_gateway_consent_receipt_failures_total", {"method": "api"}) == 2


async def test_a_gpc_decision(store: Store) -> None:
    d, _ = decider(store)
    ex = make_exchange(headers={"Sec-GPC": "1"})
    decision = await d.decide(ex, explicit={}, method="gpc", language="en", page="/", previous=previous(d, gpc=True))
    assert decision is not None and decision.choice == "reject_all" and decision.state.method == "gpc"
    assert decision.resolution.decided and decision.resolution.method == "gpc"
    [receipt] = await store.receipts_for(decision.state.consent_id)
    assert receipt.method == "gpc"
