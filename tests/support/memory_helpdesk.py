"""A helpdesk adapter over cases held in memory, recording every call, for the anonymiser's unit tests.

Its writes are idempotent as the contract asks (setting a text again or
deleting what is gone changes nothing more), and each changes the cases it
holds, so a test can read back what happened::

    helpdesk = MemoryHelpdesk([case])
    helpdesk.fail_next("update_message", HelpdeskError("memory: update message: answered 503", retryable=True))
    helpdesk.writes_forbidden = True     # a dry run: any write fails the test
    helpdesk.calls                       # [("update_message", ("7", "m1", "...")), ...]
    helpdesk.notes                       # {"7": ["an internal note", ...]}: what add_note added

``open_case`` adds an open case (ids from 900) whose requester is the new case's;
``update_requester`` makes the pseudonym the case's contact (its name, no phones),
as the adapters' pseudonym users are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import ClassVar

from gateway.helpdesks.base import (
    OPERATIONS,
    Case,
    CaseRef,
    CaseSummary,
    HelpdeskAdapter,
    HelpdeskError,
    Message,
    NewCase,
    Operation,
)


class MemoryHelpdesk(HelpdeskAdapter):
    name = "memory"
    capabilities: ClassVar[frozenset[Operation]] = frozenset(OPERATIONS)

    def __init__(self, cases: Iterable[Case] = (), *, capabilities: Iterable[Operation] | None = None) -> None:
        self.cases = {case.id: case for case in cases}
        self.calls: list[tuple[str, tuple[object, ...]]] = []
        self.failures: dict[str, list[BaseException]] = {}
        self.writes_forbidden = False
        self.effects = 0  # writes that changed something
        self.notes: dict[str, list[str]] = {}  # internal notes by case id, in order
        if capabilities is not None:
            self.capabilities = frozenset(capabilities)  # type: ignore[misc]

    def fail_next(self, operation: str, error: BaseException) -> None:
        self.failures.setdefault(operation, []).append(error)

    def _call(self, operation: str, *args: object) -> None:
        self.calls.append((operation, args))
        if operation in OPERATIONS and self.writes_forbidden:
            raise AssertionError(f"{operation} called in a dry run")
        if self.failures.get(operation):
            raise self.failures[operation].pop(0)

    def _set(self, case_id: str, **changes: object) -> None:
        case = self.cases[case_id]
        changed = dataclasses.replace(case, **changes)  # type: ignore[arg-type]
        if changed != case:
            self.effects += 1
        self.cases[case_id] = changed

    async def find_cases(self, email: str, reference: str | None = None) -> list[CaseRef]:
        self._call("find_cases", email)
        return [CaseRef(c.id, c.reference, c.title) for c in self.cases.values()
                if c.requester.casefold() == email.casefold()]

    async def list_cases(self, states: Collection[str], updated_before: float, *,
                         limit: int = 10_000) -> list[CaseSummary]:
        """By ``Case.updated`` (ISO 8601; a case without it is never due), in id order."""
        self._call("list_cases", tuple(states), updated_before)
        wanted = {state.casefold() for state in states}
        found = [CaseSummary(c.id, c.reference, c.status, datetime.fromisoformat(c.updated).timestamp(), c.requester)
                 for c in self.cases.values() if c.status.casefold() in wanted and c.updated]
        return [c for c in found if c.updated < updated_before][:limit]

    async def read_case(self, case_id: str) -> Case:
        self._call("read_case", case_id)
        if case_id not in self.cases:
            raise HelpdeskError("memory: read case: answered 404 (not found)", retryable=False, status=404)
        return self.cases[case_id]

    async def open_case(self, case: NewCase) -> CaseRef:
        self._call("open_case", case.title)
        number = str(900 + sum(1 for c in self.cases if c.startswith("9")))
        self.cases[number] = Case(number, f"DSAR-{number}", case.title, "open", case.queue or "dsar",
                                  "2025-01-01T00:00:00", "2025-01-01T00:00:00", case.requester,
                                  (Message(f"{number}-1", "gateway", "2025-01-01T00:00:00", case.body),))
        return CaseRef(number, f"DSAR-{number}", case.title)

    async def add_note(self, case_id: str, text: str) -> None:
        self._call("add_note", case_id, text)
        if case_id not in self.cases:
            raise HelpdeskError("memory: add note: answered 404 (not found)", retryable=False, status=404)
        self.notes.setdefault(case_id, []).append(text)

    async def update_requester(self, case_id: str, name: str, email: str) -> None:
        self._call("update_requester", case_id, name, email)
        self._set(case_id, requester=email, requester_name=name, requester_phones=())  # the pseudonym's contact

    async def update_case(self, case_id: str, title: str | None = None, fields: dict[str, str] | None = None) -> None:
        self._call("update_case", case_id, title, fields)
        case = self.cases[case_id]
        self._set(case_id, title=case.title if title is None else title, fields={**case.fields, **(fields or {})})

    async def update_message(self, case_id: str, message_id: str, text: str) -> None:
        self._call("update_message", case_id, message_id, text)
        case = self.cases[case_id]
        self._set(case_id, messages=tuple(dataclasses.replace(m, text=text) if m.id == message_id else m
                                          for m in case.messages))

    async def delete_attachment(self, case_id: str, message_id: str, attachment_id: str) -> None:
        self._call("delete_attachment", case_id, message_id, attachment_id)
        case = self.cases[case_id]
        self._set(case_id, messages=tuple(
            dataclasses.replace(m, attachments=tuple(a for a in m.attachments if a.id != attachment_id))
            if m.id == message_id else m for m in case.messages))

    async def delete_case(self, case_id: str) -> None:
        self._call("delete_case", case_id)
        if self.cases.pop(case_id, None) is not None:
            self.effects += 1
