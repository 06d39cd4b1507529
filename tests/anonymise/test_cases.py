"""A requester's cases, or one case: found, read, refused by state, planned and carried out."""

from __future__ import annotations

import base64

import pytest

from gateway.anonymise.cases import anonymise_cases, pseudonym_of, requester_contact
from gateway.anonymise.text import pseudonym
from gateway.helpdesks.base import Case, HelpdeskError, Message
from gateway.helpdesks.zendesk import Zendesk
from gateway.policy.anonymisation import Anonymisation
from gateway.policy.helpdesks import HelpdeskSettings
from gateway.sensitive.scanner import Scanner, builtin_detectors
from tests.support.helpdesk_apis import FakeZendesk
from tests.support.memory_helpdesk import MemoryHelpdesk

KEY = b"k" * 32
SETTINGS = Anonymisation.model_validate({"keys": [{"id": "p1", "secret": "base64:" + base64.b64encode(KEY).decode()}]})
KARI = "kari@example.no"
BLOCK = "\u2587"  # what Zendesk shows for each redacted character


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


def contact(case_id: str, text: str, *, requester: str = KARI, name: str = "Kari Nordmann",
            phones: tuple[str, ...] = ("+47 912 34 567",)) -> Case:
    return Case(case_id, case_id, "Kari Nordmann's invoice", "closed", "1", "", "", requester,
                (Message(f"m{case_id}", requester, "", text),), requester_name=name, requester_phones=phones)


async def test_the_contacts_name_its_parts_and_phones_go_without_being_given() -> None:
    text = "Kari Nordmann here, call 912 34 567 or 0047 91234567. Regards, KARI; the Nordmann family."
    helpdesk = MemoryHelpdesk([contact("1", text), contact("2", text)])
    # A case id (a retention schedule knows no more) and an address: no names or phones from the caller.
    [by_id] = await anonymise_cases(helpdesk, SETTINGS, case_id="1")
    [by_address] = await anonymise_cases(helpdesk, SETTINGS, email=KARI.upper())
    for report, done in ((by_id, helpdesk.cases["1"]), (by_address, helpdesk.cases["2"])):
        assert report.state == "done"
        assert done.messages[0].text == "[name] here, call [phone] or [phone]. Regards, [name]; the [name] family."
        assert done.title == "[name]'s invoice"
        assert report.to_dict()["replacements"] == {"name": 4, "phone": 2, "requester": 1}
        assert (done.requester_name, done.requester_phones) == (pseudonym(KEY, KARI), ())  # the pseudonym's now
    # Run again, the contact is the pseudonym's: its name is not one to remove, nothing changes.
    effects = helpdesk.effects
    [again] = await anonymise_cases(helpdesk, SETTINGS, case_id="1")
    assert again.state == "done" and helpdesk.effects == effects


async def test_a_pseudonym_is_never_a_name_to_remove() -> None:
    made = pseudonym(KEY, KARI)
    text = f"Customer 7f3a and {made} wrote; the customer called from 22 33 44 55."
    alias = "customer-7f3a@anonymised.invalid"
    helpdesk = MemoryHelpdesk([
        contact("1", text, name="Customer 7f3a"),  # the person's address, a contact named like a pseudonym
        contact("2", text, name=made),  # named as the pseudonym about to be given
        contact("3", text, requester=alias, name="Customer 7f3a", phones=("+47 22 33 44 55",)),  # one already
    ])
    for case_id in ("1", "2", "3"):
        [report] = await anonymise_cases(helpdesk, SETTINGS, case_id=case_id)
        assert report.state == "done" and helpdesk.cases[case_id].messages[0].text == text
    assert helpdesk.cases["3"].requester == alias


def test_another_persons_contact_is_never_taken() -> None:
    ola = contact("1", "", requester="ola@example.no", name="Ola Nordmann", phones=("22 33 44 55",))
    assert requester_contact(ola, KARI, "Customer 0000") == ([], [])  # a case found for Kari, Ola's now
    assert requester_contact(ola, "OLA@example.no", "Customer 0000") == (["Ola Nordmann"], ["22 33 44 55"])
    assert requester_contact(ola, None, "Customer 0000") == (["Ola Nordmann"], ["22 33 44 55"])  # its requester
    assert requester_contact(contact("2", "", name="  Kari \n Nordmann "), None, "x") == (["Kari Nordmann"],
                                                                                         ["+47 912 34 567"])


async def test_a_zendesk_requesters_contact_is_redacted_and_then_left_alone() -> None:
    zendesk = await FakeZendesk().start()
    try:
        kari = zendesk.add_user(KARI, "Kari Nordmann", phone="+47 912 34 567")
        ticket = zendesk.add_ticket(kari, "Invoice", status="solved", comments=[
            {"body": "Kari Nordmann here, call 912 34 567."}])
        settings = HelpdeskSettings.model_validate({
            "adapter": "zendesk", "url": zendesk.url, "email": "agent@example.com", "api_token": "zendesk-token",
            "queue": 360002, "retries": 0})
        async with Zendesk(settings) as adapter:
            [report] = await anonymise_cases(adapter, SETTINGS, case_id=str(ticket["id"]))
            assert report.state == "done", report.to_dict()
            [comment] = zendesk.comments[ticket["id"]]
            assert comment["plain_body"] == f"{BLOCK * 13} here, call {BLOCK * 10}."
            redactions = len(zendesk.requests)
            # The ticket is the pseudonym's now, named "Customer ...": a second run redacts nothing of it.
            [again] = await anonymise_cases(adapter, SETTINGS, case_id=str(ticket["id"]))
            assert again.state == "done" and again.to_dict()["operations"] == {"update_requester": 1}
            assert not [r for r in zendesk.requests[redactions:] if "comment_redactions" in r.path]
    finally:
        await zendesk.stop()
