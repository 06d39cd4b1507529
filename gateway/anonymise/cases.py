"""Anonymising a requester's cases, or one case: find, read, check the state, plan, carry out.

:func:`anonymise_cases` is what the operator's command does (and what an
erasure request and a retention schedule will do): the cases of an e-mail
address (``find_cases``) or one case by its id, each read whole, refused if
its state is not one the policy allows (unless forced), planned
(:func:`~.plan.plan_case`) and carried out (:func:`~.run.run_plan`), or only
planned in a dry run. Reads and writes share one rate limit against the
helpdesk. A case that cannot be read or is refused is a report of its own;
nothing raises past one case.

The requester's identifiers are the address asked about, the case's
requester address, the names and phone numbers the caller knows (the
request, the operator), and what the helpdesk's contact record says of the
case's requester (``requester_name``, its parts, ``requester_phones``), so a
retention schedule, which knows nothing but the case, removes them too. The
contact's are taken only when the case's requester is the person asked about
(or no address was asked about: a case id, a schedule), never when the
requester is a pseudonym already, and a contact name that is a pseudonym
(``Customer 7f3a``) is never one to remove. A case whose requester is already
a pseudonym (``…@anonymised.invalid``) keeps that pseudonym, so running again
changes nothing more.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from ..helpdesks.base import Case, HelpdeskAdapter, HelpdeskError, same_address
from ..lib.keyring import decode_secret
from ..policy.anonymisation import Anonymisation
from ..sensitive.scanner import Scanner
from .journal import Journal
from .plan import invalid_address, plan_case
from .run import CaseResult, Pace, run_plan
from .text import Identifiers, is_pseudonym, pseudonym

log = logging.getLogger("gateway.anonymise")

INVALID_DOMAIN = "@anonymised.invalid"


@dataclass(frozen=True, slots=True)
class CaseReport:
    """One case's outcome: its result, or why it was not planned (``unreadable``, ``refused``)."""

    case: str
    result: CaseResult | None = None
    state_refused: str = ""  # the case's state, when refused
    error: str = ""  # when unreadable: the adapter's message
    retryable: bool = False
    busy: bool = False  # another process holds the case's record
    links_revoked: int = 0  # link bindings (case, reference, recipient) revoked

    @property
    def state(self) -> str:
        if self.result is not None:
            return self.result.state
        return "busy" if self.busy else "refused" if self.state_refused else "unreadable"

    @property
    def complete(self) -> bool:
        """Every operation done (a dry run: every operation can be done)."""
        if self.result is None:
            return False
        if self.result.dry_run:
            return all(r.outcome == "planned" for r in self.result.results)
        return self.result.complete

    def to_dict(self) -> dict[str, Any]:
        if self.result is not None:
            return {**self.result.to_dict(), "links_revoked": self.links_revoked}
        if self.busy:
            return {"case": self.case, "state": "busy", "retryable": True,
                    "reason": "another process is anonymising this case now"}
        if self.state_refused:
            return {"case": self.case, "state": "refused", "reason": f"the case is {self.state_refused}: not a "
                    "state the policy allows (anonymisation.states); --force to anonymise it anyway"}
        return {"case": self.case, "state": "unreadable", "retryable": self.retryable, "error": self.error}


def pseudonym_of(case: Case, key: bytes, email: str | None) -> tuple[str, str] | None:
    """The requester's pseudonym and whose address it is made from; None when the case names nobody."""
    held = case.requester.strip()
    if held.lower().endswith(INVALID_DOMAIN):  # anonymised before: keep its pseudonym
        local = held[: -len(INVALID_DOMAIN)]
        label, _, tag = local.rpartition("-")
        name = f"{label.replace('-', ' ').capitalize()} {tag}" if label else local
        if invalid_address(name) == held.lower():
            return name, held
    address = held or (email or "").strip()
    return (pseudonym(key, address), address) if address else None


def requester_contact(case: Case, email: str | None, pseudonym_name: str) -> tuple[list[str], list[str]]:
    """The names and phones of the case's requester contact to remove: the requester's own when the requester
    is the person asked about (``email``; None: whoever the case's requester is), none when the requester is
    someone else or a pseudonym already, and never a name that is a pseudonym (it would rewrite the pseudonym)."""
    held = case.requester.strip()
    if held.lower().endswith(INVALID_DOMAIN) or (email is not None and not same_address(held, email)):
        return [], []
    name = " ".join(case.requester_name.split())
    names = [name] if name and not is_pseudonym(name) and name.casefold() != pseudonym_name.casefold() else []
    return names, [p for p in case.requester_phones if p.strip()]


async def anonymise_cases(
    adapter: HelpdeskAdapter, settings: Anonymisation, *, email: str | None = None, case_id: str | None = None,
    names: Sequence[str] = (), phones: Sequence[str] = (), scanner: Scanner | None = None, dry_run: bool = False,
    force: bool = False, pace: Pace | None = None, journal: Journal | None = None, exclude: Collection[str] = (),
) -> list[CaseReport]:
    """Anonymise (or delete, by ``settings.action``) the cases of ``email``, or the case ``case_id``.

    With a ``journal`` (not in a dry run), each case is recorded before its first change and after its last,
    and the links bound to it are revoked; a case another process is on is reported ``busy``. The cases whose
    ids are in ``exclude`` are left alone (an erasure request's own case, which is its record).
    """
    if not settings.keys:
        raise ValueError("anonymisation.keys is empty: pseudonyms need a key")
    if (email is None) == (case_id is None):
        raise ValueError("give an e-mail address or a case id")
    key = decode_secret(settings.keys[0].secret)
    if email is not None:
        if pace is not None:
            await pace()
        ids = [ref.id for ref in await adapter.find_cases(email) if ref.id not in exclude]
    else:
        ids = [str(case_id)]
    reports = []
    for one in ids:
        reports.append(await _one(adapter, settings, one, key, email, names, phones, scanner, dry_run, force, pace,
                                  None if dry_run else journal))
    return reports


async def _one(adapter: HelpdeskAdapter, settings: Anonymisation, case_id: str, key: bytes, email: str | None,
               names: Sequence[str], phones: Sequence[str], scanner: Scanner | None, dry_run: bool, force: bool,
               pace: Pace | None, journal: Journal | None) -> CaseReport:
    def left_alone(report: CaseReport) -> CaseReport:  # counted, not recorded: nothing was changed
        if journal is not None:
            journal.count(settings.action, report.state)
        return report

    try:
        if pace is not None:
            await pace()
        case = await adapter.read_case(case_id)
    except HelpdeskError as exc:
        return left_alone(CaseReport(case_id, error=str(exc), retryable=exc.retryable))
    if not force and case.status.strip().casefold() not in settings.states:
        return left_alone(CaseReport(case.reference or case.id, state_refused=case.status or "without a state"))
    made = pseudonym_of(case, key, email)
    if made is None:
        return left_alone(CaseReport(case.reference or case.id, error="the case names no requester address"))
    name, address = made
    contact_names, contact_phones = requester_contact(case, email, name)
    identifiers = Identifiers.of(emails=[a for a in {address, email or "", case.requester} if a],
                                 phones=[*phones, *contact_phones], names=[*names, *contact_names])
    plan = plan_case(case, identifiers=identifiers, scanner=scanner, pseudonym=name, action=settings.action,
                     keep_attachments=settings.keep_attachments)
    record, revoked = None, 0
    if journal is not None:
        record = await journal.begin(case.id, plan.action)
        if record is None:
            return left_alone(CaseReport(plan.reference or plan.case_id, busy=True))
        revoked = await journal.revoke_links({case.id, case.reference}, case.requester or email or "")
    result = await run_plan(adapter, plan, dry_run=dry_run, pace=pace)
    if journal is not None and record is not None:
        await journal.finish(record, result.state, result.to_dict(), plan.action)
    log.info("case anonymisation", extra={"fields": {
        "adapter": adapter.name, "case": plan.reference or plan.case_id, "action": plan.action,
        "dry_run": dry_run, "state": result.state}})
    return CaseReport(plan.reference or plan.case_id, result, links_revoked=revoked)
