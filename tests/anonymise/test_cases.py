"""A requester's cases, or one case: found, read, refused by state, planned and carried out."""

from __future__ import annotations

import base64

import pytest

from gateway.anonymise.cases import anonymise_cases, pseudonym_of
from gateway.anonymise.text import pseudonym
from gateway.helpdesks.base import Case, HelpdeskError, Message
from gateway.policy.anonymisation import Anonymisation
from gateway.sensitive.scanner import Scanner, builtin_detectors
from tests.support.memory_helpdesk import MemoryHelpdesk

KEY = b"k" * 32
SETTINGS = Anonymisation.model_validate({"keys": [{"id": "p1", "secret": "base64:" + base64.b64encode(KEY).decode()}]})
KARI = "kari@example.no"


def case(case_id: str, status: str = "closed", requester: str = KARI, text: str = "Kari, fnr 01010012356") -> Case:
    return Case(case_id, case_id, f"Case {case_id} of Kari", status, "1", "", "", requester,
                (Message(f"m{case_id}", requester, "", text),))


async def test_the_requesters_closed_cases_are_anonymised_and_nobody_elses() -> None:
    helpdesk = MemoryHelpdesk([case("1"), case("2", "resolved"), case("3", requester="ola@example.no")])
    reports = await anonymise_cases(helpdesk, SETTINGS, email=KARI.upper(), names=["Kari"],
                                    scanner=Scanner(builtin_detectors()))
    assert [(r.case, r.state) for r in reports] == [("1", "done"), ("2", "done")]
    alias = f"customer-{pseudonym(KEY, KARI).split()[1]}@anonymised.invalid"
    assert helpdesk.cases["1"].requester == helpdesk.cases["2"].requester == alias  # one pseudonym per person
    assert helpdesk.cases["1"].messages[0].text == "[name], fnr [no_fnr]"
    assert helpdesk.cases["3"] == case("3", requester="ola@example.no")
    assert reports[0].to_dict()["replacements"] == {"name": 2, "no_fnr": 1, "requester": 1}


async def test_an_open_case_is_refused_unless_forced() -> None:
    helpdesk = MemoryHelpdesk([case("1", "Open")])
    [refused] = await anonymise_cases(helpdesk, SETTINGS, case_id="1")
    assert refused.state == "refused" and not refused.complete and helpdesk.effects == 0
    assert refused.to_dict() == {"case": "1", "state": "refused", "reason": "the case is Open: not a state the "
                                 "policy allows (anonymisation.states); --force to anonymise it anyway"}
    [forced] = await anonymise_cases(helpdesk, SETTINGS, case_id="1", force=True)
    assert forced.state == "done" and helpdesk.cases["1"].requester.endswith("@anonymised.invalid")


async def test_running_again_keeps_the_pseudonym_and_changes_nothing_more() -> None:
    helpdesk = MemoryHelpdesk([case("1")])
    await anonymise_cases(helpdesk, SETTINGS, case_id="1", names=["Kari"])
    done, effects = helpdesk.cases["1"], helpdesk.effects
    [again] = await anonymise_cases(helpdesk, SETTINGS, case_id="1", names=["Kari"])
    assert again.state == "done" and helpdesk.cases["1"] == done and helpdesk.effects == effects
    assert again.to_dict()["operations"] == {"update_requester": 1}
    assert await anonymise_cases(helpdesk, SETTINGS, email=KARI) == []  # no longer hers


async def test_a_dry_run_reads_and_plans_only() -> None:
    helpdesk = MemoryHelpdesk([case("1"), case("2")])
    helpdesk.writes_forbidden = True
    reports = await anonymise_cases(helpdesk, SETTINGS, email=KARI, dry_run=True)
    assert [r.state for r in reports] == ["planned", "planned"] and all(r.complete for r in reports)
    assert helpdesk.cases["1"] == case("1") and [n for n, _ in helpdesk.calls] == ["find_cases", "read_case",
                                                                                  "read_case"]


async def test_an_unreadable_case_is_a_report_of_its_own() -> None:
    helpdesk = MemoryHelpdesk([case("1")])
    helpdesk.fail_next("read_case", HelpdeskError("memory: read case: answered 502", retryable=True, status=502))
    [report] = await anonymise_cases(helpdesk, SETTINGS, case_id="1")
    assert report.to_dict() == {"case": "1", "state": "unreadable", "retryable": True,
                                "error": "memory: read case: answered 502"}
    with pytest.raises(ValueError):
        await anonymise_cases(helpdesk, SETTINGS, email=KARI, case_id="1")
    with pytest.raises(ValueError):
        await anonymise_cases(helpdesk, Anonymisation(), case_id="1")


def test_a_pseudonym_given_before_is_kept() -> None:
    assert pseudonym_of(case("1", requester="customer-7f3a@anonymised.invalid"), KEY, None) == (
        "Customer 7f3a", "customer-7f3a@anonymised.invalid")
    assert pseudonym_of(case("1", requester=""), KEY, KARI) == (pseudonym(KEY, KARI), KARI)
    assert pseudonym_of(case("1", requester=""), KEY, None) is None
