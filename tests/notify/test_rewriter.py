"""The shared rewriter: per-recipient plans, templates filled in, failures refused as the policy says."""

from __future__ import annotations

from email import message_from_bytes, policy
from typing import Any

import pytest

from gateway.notify.rewriter import Notifier, Refusal
from gateway.policy.links import Links
from gateway.policy.notifications import Notifications
from tests.notify.samples import AGENT, CUSTOMER, QUEUE, SENDER, leaks, ticket_update
from tests.support.smarthost import relay_policy

LINKS = Links.model_validate({"enabled": True, "keys": [{"id": "k1", "secret": "n" * 40}]})


def notifier(**changes: Any) -> Notifier:
    section = relay_policy(25)["notifications"]
    section.update(changes)
    return Notifier(Notifications.model_validate(section), LINKS)


def parsed(data: bytes) -> Any:
    return message_from_bytes(data, policy=policy.default)


def test_pass_recipients_share_one_unchanged_copy_and_hidden_ones_get_their_own() -> None:
    raw = ticket_update()
    plan = notifier().plan(raw, SENDER, [CUSTOMER, AGENT, QUEUE])
    by_action = {(d.action, d.recipients) for d in plan.deliveries}
    assert by_action == {("pass", (AGENT, QUEUE)), ("hide", (CUSTOMER,))}
    assert next(d.data for d in plan.deliveries if d.action == "pass") is raw
    assert [d.rule for d in plan.decisions] == ["default", "agents", "agents"]


def test_no_original_string_survives_in_any_encoding() -> None:
    [delivery] = notifier().plan(ticket_update(), SENDER, [CUSTOMER]).deliveries
    assert leaks(delivery.data) == []


@pytest.mark.parametrize(
    ("subject_line", "expected"),
    [
        ("template", "New reply on your case support-12"),
        ("case_id_only", "[support-12] New reply on your case support-12"),
        ("keep", "[support-12] (Updated) Ny melding fra Bjørn Ålesund"),
    ],
)
def test_subject_lines(subject_line: str, expected: str) -> None:
    rules = [{"name": "all", "action": "hide", "subject_line": subject_line}]
    [delivery] = notifier(rules=rules).plan(ticket_update(), SENDER, [CUSTOMER]).deliveries
    assert str(parsed(delivery.data)["Subject"]) == expected


def test_the_case_id_may_come_from_the_rules_subject_pattern() -> None:
    rules = [{"name": "zammad", "subject": r"\[Ticket#(?P<case_id>\d+)\]", "action": "hide"}]
    [delivery] = notifier(rules=rules).plan(ticket_update(subject="[Ticket#4711] hello"), SENDER,
                                            [CUSTOMER]).deliveries
    assert str(parsed(delivery.data)["Subject"]) == "New reply on your case 4711"


def test_a_translation_is_chosen_by_content_language() -> None:
    templates = relay_policy(25)["notifications"]["templates"]
    templates["default"]["languages"] = {"nb": {"subject": "Ny melding i sak {case_id}", "text": "Se {link}"}}
    raw = ticket_update().replace(b"Subject:", b"Content-Language: nb\r\nSubject:", 1)
    [delivery] = notifier(templates=templates).plan(raw, SENDER, [CUSTOMER]).deliveries
    assert str(parsed(delivery.data)["Subject"]) == "Ny melding i sak support-12"


def test_block_refuses_the_whole_message() -> None:
    rules = [{"name": "no", "recipients": [QUEUE], "action": "block"}]
    with pytest.raises(Refusal) as refused:
        notifier(rules=rules).plan(ticket_update(), SENDER, [CUSTOMER, QUEUE])
    assert (refused.value.code, refused.value.reason) == (550, "blocked")


@pytest.mark.parametrize(("on_error", "code"), [("defer", 451), ("reject", 554)])
def test_what_cannot_be_rewritten_is_refused_as_on_error_says(on_error: str, code: int) -> None:
    link = {"url": "https://help.example/helpdesk/view/?ticket={case_id}", "base": "https://gw.example"}
    untagged = ticket_update(subject="no tag").replace(b"support-12", b"nothing")
    with pytest.raises(Refusal) as refused:
        notifier(on_error=on_error, link=link).plan(untagged, SENDER, [CUSTOMER])
    assert (refused.value.code, refused.value.reason) == (code, "no_case_id")
    with pytest.raises(Refusal) as unreadable:
        notifier(on_error=on_error).plan(b"no header line\r\n\r\nbody", SENDER, [CUSTOMER])
    assert (unreadable.value.code, unreadable.value.reason) == (code, "bad_header")


def test_a_link_that_cannot_be_found_or_built_is_refused() -> None:
    link = {"find": r"https://nowhere\.example/\S+", "base": "https://gw.example"}
    with pytest.raises(Refusal) as refused:
        notifier(link=link).plan(ticket_update(), SENDER, [CUSTOMER])
    assert refused.value.reason == "no_link"


def test_the_recipient_binding_needs_the_salt_and_never_holds_the_address() -> None:
    import base64
    import json

    link = {**relay_policy(25)["notifications"]["link"], "recipient_salt": "s" * 32}
    [delivery] = notifier(link=link).plan(ticket_update(), SENDER, [CUSTOMER]).deliveries
    text = parsed(delivery.data).get_body(("plain",)).get_content()
    token = next(w for w in text.split() if "/_l/" in w).rsplit("/", 1)[1]
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert payload["c"] == "support-12" and payload["r"] and "@" not in payload["r"]
