"""Rule matching per recipient: addresses, domains, globs, audiences, sender, subject; shadow rules."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.notify.rules import AddressMatcher, RuleSet
from gateway.policy.notifications import Notifications


@pytest.mark.parametrize(
    ("patterns", "address", "expected"),
    [
        (["kari@customer.example"], "Kari@Customer.Example", True),
        (["kari@customer.example"], "ola@customer.example", False),
        (["customer.example"], "ola@customer.example", True),
        (["@customer.example"], "ola@customer.example", True),
        (["customer.example"], "ola@sub.customer.example", False),
        (["*.customer.example"], "ola@sub.customer.example", True),
        (["*.customer.example"], "ola@customer.example", False),  # as NGINX reads *.
        (["*.customer.example"], "ola@evilcustomer.example", False),
        (["*"], "anyone@anywhere.example", True),
        ([], "anyone@anywhere.example", False),
    ],
)
def test_address_patterns(patterns: list[str], address: str, expected: bool) -> None:
    assert AddressMatcher(patterns)(address) is expected


def rules(*rules: dict[str, Any], default: str = "hide") -> RuleSet:
    return RuleSet(Notifications.model_validate({
        "audiences": {"agents": {"addresses": ["helpdesk.example"]}},
        "rules": list(rules),
        "default_action": default,
        "templates": {"default": {"subject": "s", "text": "t"}, "short": {"subject": "s", "text": "t"}},
    }))


def test_first_match_wins_and_every_condition_must_hold() -> None:
    ruleset = rules(
        {"name": "agents", "audience": "agents", "action": "pass"},
        {"name": "passwords", "subject": "(?i)password", "action": "block"},
        {"name": "from-billing", "sender": ["billing@helpdesk.example"], "subject": "Invoice", "action": "hide",
         "template": "short", "subject_line": "keep"},
    )
    assert ruleset.decide("a@helpdesk.example", "x@y.z", "your password").rule == "agents"
    assert ruleset.decide("kari@c.example", "x@y.z", "Your Password").action == "block"
    billing = ruleset.decide("kari@c.example", "billing@helpdesk.example", "Invoice 7")
    assert (billing.rule, billing.template, billing.subject_line) == ("from-billing", "short", "keep")
    assert ruleset.decide("kari@c.example", "other@helpdesk.example", "Invoice 7").rule == "default"


def test_shadow_rules_are_recorded_and_the_next_rule_decides() -> None:
    ruleset = rules(
        {"name": "try", "subject": "Updated", "action": "block", "shadow": True},
        {"name": "agents", "audience": "agents", "action": "pass"},
    )
    agent = ruleset.decide("a@helpdesk.example", "s@x", "(Updated)")
    assert (agent.rule, agent.action, agent.shadowed) == ("agents", "pass", (("try", "block"),))
    customer = ruleset.decide("k@c.example", "s@x", "(Updated)")
    assert (customer.rule, customer.action, customer.shadowed) == ("default", "hide", (("try", "block"),))
    assert ruleset.decide("k@c.example", "s@x", "other").shadowed == ()


def test_a_subject_rule_with_a_case_id_group_lends_it_to_the_decision() -> None:
    ruleset = rules({"name": "tagged", "subject": r"\[(?P<case_id>T\d+)\]", "action": "hide"})
    decision = ruleset.decide("k@c.example", "s@x", "[T7] hi")
    assert decision.case_pattern is not None and decision.case_pattern.pattern == r"\[(?P<case_id>T\d+)\]"
    assert rules({"name": "plain", "subject": "hi", "action": "hide"}).decide("k@c", "s", "hi").case_pattern is None
