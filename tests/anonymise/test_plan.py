"""A case's anonymisation plan: what changes, what is kept, what a dry run shows."""

from __future__ import annotations

from gateway.anonymise.plan import invalid_address, plan_case
from gateway.anonymise.text import Identifiers
from gateway.helpdesks.base import Attachment, Case, Message
from gateway.sensitive.scanner import Scanner, builtin_detectors

IDS = Identifiers.of(emails=["kari@example.no"], phones=["+47 22 33 44 55"], names=["Kari Nordmann"])
CASE = Case(
    id="7", reference="support-7", title="Kari Nordmann: printer", status="Open", queue="Support",
    created="2026-01-02T10:00:00Z", updated="2026-01-03T10:00:00Z", requester="kari@example.no",
    messages=(
        Message("m1", "kari@example.no", "2026-01-02T10:00:00Z", "My fnr is 01010012356, call 22 33 44 55.",
                attachments=(Attachment("scan.pdf", 1234, "application/pdf"), Attachment("logo.png", 10, "image/png"))),
        Message("m2", "Alex (agent)", "2026-01-02T11:00:00Z", "We are on it.", public=True),
    ),
    fields={"priority": "3", "customer_note": "Kari prefers mornings", "tags": "printer"},
)


def test_the_plan_rewrites_texts_and_identity_and_keeps_metadata() -> None:
    plan = plan_case(CASE, identifiers=IDS, scanner=Scanner(builtin_detectors()), pseudonym="Customer 7f3a",
                     keep_attachments=["image/*"])
    assert plan.title == "[name]: printer"
    assert [(m.message_id, m.text) for m in plan.messages] == [("m1", "My fnr is [no_fnr], call [phone].")]
    assert plan.fields == {"customer_note": "[name] prefers mornings"}  # priority and tags kept
    assert [(mid, a.name) for mid, a in plan.attachments] == [("m1", "scan.pdf")]
    assert plan.requester == "customer-7f3a@anonymised.invalid"
    assert plan.replacements == {"name": 2, "no_fnr": 1, "phone": 1, "requester": 1}


def test_the_summary_holds_kinds_counts_and_operations_never_values() -> None:
    summary = plan_case(CASE, identifiers=IDS, scanner=None, pseudonym="Customer 7f3a").summary()
    text = repr(summary)
    assert "Kari" not in text and "22 33" not in text and "kari@" not in text
    assert summary["operations"] == {"update_requester": 1, "update_case": 1, "update_message": 1,
                                     "delete_attachment": 2}


def test_delete_is_one_operation_and_a_clean_case_changes_only_its_requester() -> None:
    assert plan_case(CASE, identifiers=IDS, scanner=None, pseudonym="C 1", action="delete").operations() == [
        "delete_case"]
    clean = Case("8", "support-8", "Printer", "Closed", "Support", "", "", "", (Message("m", "a", "", "ok"),))
    plan = plan_case(clean, identifiers=IDS, scanner=None, pseudonym="C 1")
    assert not plan.changes_anything and plan.operations() == ["update_requester"]
    assert invalid_address("Customer 7F3A") == "customer-7f3a@anonymised.invalid"
