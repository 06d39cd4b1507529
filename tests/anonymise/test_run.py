"""Carrying out a plan: exactly its operations, in a fixed order, idempotently, a result for each, a dry run."""

from __future__ import annotations

from collections import Counter

import pytest

from gateway.anonymise.plan import CasePlan, plan_case
from gateway.anonymise.run import Pacer, run_plan, steps
from gateway.anonymise.text import Identifiers
from gateway.helpdesks.base import Attachment, Case, HelpdeskError, Message, NotSupported
from tests.support.memory_helpdesk import MemoryHelpdesk

IDS = Identifiers.of(emails=["kari@example.no"], phones=["+47 22 33 44 55"], names=["Kari Nordmann"])


def kari_case() -> Case:
    return Case(
        id="7", reference="support-7", title="Kari Nordmann: printer", status="closed", queue="1",
        created="2026-01-02T10:00:00Z", updated="2026-01-03T10:00:00Z", requester="kari@example.no",
        messages=(
            Message("m1", "kari@example.no", "2026-01-02T10:00:00Z", "Call 22 33 44 55.",
                    attachments=(Attachment("scan.pdf", 12, "application/pdf", "a1"),
                                 Attachment("id.png", 10, "image/png", "a2"))),
            Message("m2", "user 1", "2026-01-02T11:00:00Z", "Kari, we are on it."),
        ),
        fields={"priority": "3", "description": "Kari's printer"},
    )


def plan_for(case: Case) -> CasePlan:
    return plan_case(case, identifiers=IDS, scanner=None, pseudonym="Customer 7f3a")


async def test_the_plan_is_carried_out_exactly_in_a_fixed_order() -> None:
    helpdesk = MemoryHelpdesk([kari_case()])
    plan = plan_for(kari_case())
    result = await run_plan(helpdesk, plan)

    assert result.state == "done" and result.complete
    assert [name for name, _ in helpdesk.calls] == [
        "delete_attachment", "delete_attachment", "update_message", "update_message", "update_case",
        "update_requester"]  # the requester last: a re-run by address still finds the case until then
    assert Counter(name for name, _ in helpdesk.calls) == Counter(plan.operations())
    case = helpdesk.cases["7"]
    assert case.title == "[name]: printer" and case.requester == "customer-7f3a@anonymised.invalid"
    assert [m.text for m in case.messages] == ["Call [phone].", "[name], we are on it."]
    assert case.messages[0].attachments == () and case.fields == {"priority": "3", "description": "[name]'s printer"}
    assert [(r.operation, r.target, r.outcome) for r in result.results] == [
        ("delete_attachment", "attachment a1", "done"), ("delete_attachment", "attachment a2", "done"),
        ("update_message", "message m1", "done"), ("update_message", "message m2", "done"),
        ("update_case", "7", "done"), ("update_requester", "7", "done")]


async def test_a_dry_run_calls_nothing_and_says_what_would_be_done() -> None:
    helpdesk = MemoryHelpdesk([kari_case()], capabilities={"update_case", "update_requester", "update_message"})
    helpdesk.writes_forbidden = True
    result = await run_plan(helpdesk, plan_for(kari_case()), dry_run=True)
    assert helpdesk.calls == [] and helpdesk.cases["7"] == kari_case()
    assert result.state == "planned"
    assert Counter((r.operation, r.outcome) for r in result.results) == {
        ("delete_attachment", "not_supported"): 2, ("update_message", "planned"): 2,
        ("update_case", "planned"): 1, ("update_requester", "planned"): 1}
    doc = result.to_dict()
    assert doc["dry_run"] is True and doc["operations"] == {"update_requester": 1, "update_case": 1,
                                                           "update_message": 2, "delete_attachment": 2}
    assert "Kari" not in repr(doc) and "22 33" not in repr(doc) and "kari@" not in repr(doc)


async def test_what_the_helpdesk_cannot_do_is_reported_never_done() -> None:
    helpdesk = MemoryHelpdesk([kari_case()], capabilities={"update_case", "update_requester", "delete_case"})
    helpdesk.fail_next("update_case", NotSupported("memory", "update case", "fields description:"))
    result = await run_plan(helpdesk, plan_for(kari_case()))
    outcomes = [(r.operation, r.outcome, r.error) for r in result.results]
    assert outcomes == [
        ("delete_attachment", "not_supported", "memory: delete attachment: not supported"),
        ("delete_attachment", "not_supported", "memory: delete attachment: not supported"),
        ("update_message", "not_supported", "memory: update message: not supported"),
        ("update_message", "not_supported", "memory: update message: not supported"),
        ("update_case", "not_supported", "memory: update case: fields description: not supported"),
        ("update_requester", "done", ""),  # nothing a re-run could cure: the requester is pseudonymised
    ]
    assert result.state == "incomplete" and not result.complete
    assert [name for name, _ in helpdesk.calls] == ["update_case", "update_requester"]


async def test_a_half_done_plan_is_completed_by_running_it_again_without_double_effects() -> None:
    helpdesk = MemoryHelpdesk([kari_case()])
    plan = plan_for(kari_case())
    helpdesk.fail_next("update_message", HelpdeskError("memory: update message: answered 503", retryable=True,
                                                       status=503))
    first = await run_plan(helpdesk, plan)
    assert first.state == "retry"
    assert [(r.operation, r.outcome) for r in first.results][2:] == [
        ("update_message", "failed"), ("update_message", "done"), ("update_case", "done"),
        ("update_requester", "deferred")]  # still found by the person's address, for the re-run
    assert first.results[2].retryable and first.results[2].error == "memory: update message: answered 503"
    assert helpdesk.cases["7"].requester == "kari@example.no"
    effects = helpdesk.effects

    second = await run_plan(helpdesk, plan)  # the same plan again: what was done changes nothing more
    assert second.state == "done"
    assert helpdesk.effects == effects + 2  # only the failed message and the requester
    again = await run_plan(helpdesk, plan)
    assert again.state == "done" and helpdesk.effects == effects + 2
    # A fresh plan of the finished case has nothing left but the (unchanged) requester.
    assert plan_for(helpdesk.cases["7"]).operations() == ["update_requester"]


async def test_a_failure_never_raises_past_the_case() -> None:
    helpdesk = MemoryHelpdesk([kari_case()])
    helpdesk.fail_next("delete_attachment", HelpdeskError("memory: delete attachment: answered 403", retryable=False,
                                                          status=403))
    helpdesk.fail_next("update_case", KeyError("Kari Nordmann"))  # a bug, whose text holds a value
    result = await run_plan(helpdesk, plan_for(kari_case()))
    failed = [r for r in result.results if r.outcome == "failed"]
    assert [(r.operation, r.retryable, r.error) for r in failed] == [
        ("delete_attachment", False, "memory: delete attachment: answered 403"),
        ("update_case", False, "memory: update case: unexpected KeyError")]
    assert result.results[-1].outcome == "done" and result.state == "incomplete"
    assert "Kari" not in repr(result.to_dict()["results"])


async def test_an_attachment_without_an_id_is_a_failure_not_a_guess() -> None:
    case = Case("8", "8", "t", "closed", "q", "", "", "x@example.com",
                (Message("m", "x@example.com", "", "ok", attachments=(Attachment("a.pdf"),)),))
    helpdesk = MemoryHelpdesk([case])
    result = await run_plan(helpdesk, plan_for(case))
    assert (result.results[0].outcome, result.results[0].error) == ("failed", "memory: the attachment has no id")
    assert "delete_attachment" not in [name for name, _ in helpdesk.calls]


async def test_delete_is_the_one_operation_of_a_delete_plan() -> None:
    helpdesk = MemoryHelpdesk([kari_case()])
    plan = plan_case(kari_case(), identifiers=IDS, scanner=None, pseudonym="C 1", action="delete")
    assert [op for op, _, _ in steps(helpdesk, plan)] == ["delete_case"]
    assert (await run_plan(helpdesk, plan)).state == "done" and helpdesk.cases == {}
    assert (await run_plan(helpdesk, plan)).state == "done" and helpdesk.effects == 1


async def test_the_pacer_spaces_calls() -> None:
    now = [100.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(round(seconds, 6))

    pace = Pacer(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        await pace()
    assert waits == [0.25, 0.5]  # the first goes at once; then one slot every 1/4 s
    now[0] += 10
    await pace()
    assert waits == [0.25, 0.5]  # idle long enough: no wait
    with pytest.raises(ValueError):
        Pacer(0)
