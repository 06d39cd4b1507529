"""How a push is decided (one recipient "", sender "", its title as the subject) and what its data becomes."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.notify.providers.base import strings_of
from gateway.notify.providers.push import HiddenPush, decide_push
from gateway.notify.rewriter import ApiContent, Notifier, Refusal
from gateway.policy.links import Links
from gateway.policy.notifications import EgressRoute, Notifications
from tests.support.smarthost import relay_policy

LINKS = Links.model_validate({"enabled": True, "keys": [{"id": "k1", "secret": "n" * 40}]})
TEMPLATE = {"subject": "Case {case_id}", "text": "New reply on {case_id}.\n", "push_body": "Open the app."}
CONTENT = ApiContent("[support-12] Bjørn wrote", ("[support-12] Bjørn wrote", "https://help.example/t/12"))


def notifier(**changes: Any) -> Notifier:
    section = relay_policy(25)["notifications"]
    section.update({"templates": {"default": TEMPLATE}, **changes})
    return Notifier(Notifications.model_validate(section), LINKS)


def route(**fields: Any) -> EgressRoute:
    return EgressRoute.model_validate({"provider": "fcm", "upstream": "https://fcm.googleapis.com", **fields})


@pytest.mark.parametrize(
    ("rule", "action"),
    [
        ({"audience": "agents"}, "hide"),  # an audience rule never matches a push
        ({"recipients": ["helpdesk.example"]}, "hide"),
        ({"sender": ["help@helpdesk.example"]}, "hide"),
        ({"recipients": ["*"]}, "pass"),
        ({"subject": r"^\[support-"}, "pass"),
        ({}, "pass"),
    ],
)
def test_a_push_is_decided_for_the_one_recipient_nobody(rule: dict[str, Any], action: str) -> None:
    rules = [{"name": "r", "action": "pass", **rule}]
    decisions, push = decide_push(notifier(rules=rules), route(), CONTENT)
    assert [d.action for d in decisions] == [action]
    assert (push is None) == (action == "pass")


def test_a_hidden_push_gets_the_push_texts_and_the_data_keys() -> None:
    _, push = decide_push(notifier(rules=[]), route(data_keys=["ticket_id"]), CONTENT)
    assert push is not None and (push.title, push.body) == ("Case support-12", "Open the app.")
    assert push.data({"ticket_id": "support-12", "preview": "Bjørn"}) == {"ticket_id": "support-12"}
    assert push.data(None) == {} and push.data("not a map") == {}


def test_id_only_data_is_the_case_id_and_its_signed_token() -> None:
    _, push = decide_push(notifier(rules=[]), route(push_mode="id_only", data_keys=["ticket_id"]), CONTENT)
    assert push is not None and push.ids is not None
    assert push.data({"ticket_id": "x", "preview": "Bjørn"}) == push.ids
    assert set(push.ids) == {"case_id", "token"} and push.ids["case_id"] == "support-12"


@pytest.mark.parametrize(
    ("changes", "content", "reason"),
    [
        ({}, ApiContent("Bjørn wrote", ("no id here",)), "no_case_id"),
        ({"link": None}, CONTENT, "no_link"),
    ],
)
def test_id_only_refuses_as_on_error_says(changes: dict[str, Any], content: ApiContent, reason: str) -> None:
    with pytest.raises(Refusal) as refused:
        decide_push(notifier(rules=[], on_error="reject", **changes), route(push_mode="id_only"), content)
    assert (refused.value.code, refused.value.reason) == (554, reason)


def test_neutral_mode_needs_no_case_id_when_the_template_does_not() -> None:
    plain = {"subject": "New reply", "text": "There is a new reply.\n"}
    _, push = decide_push(notifier(rules=[], templates={"default": plain}), route(),
                          ApiContent("Bjørn wrote", ()))
    assert push == HiddenPush("New reply", "There is a new reply.", frozenset(), None)


def test_strings_of_finds_every_string_of_a_json_value() -> None:
    assert strings_of({"a": ["x", {"b": "y"}, 1, None], "c": "z"}) == ["x", "y", "z"]
