"""What the gateway asks of a helpdesk, whatever helpdesk it is (pure: no aiohttp here).

An adapter finds a requester's cases (by e-mail address, optionally one case
reference), reads a case whole for an export, and opens a case (the
data-subject request itself, in the queue the policy names). For the
anonymisation of cases it may also change a case's requester, title, fields and
messages, delete attachments and cases, and delete a requester: what it can do
is named in ``capabilities``; the others raise :class:`NotSupported`, so the
gateway reports what a helpdesk cannot do and never claims it was done. Every
adapter speaks its helpdesk's own API; this module is the contract the portal,
the anonymiser and the CLI rely on:

- Results are plain frozen dataclasses; times are ISO 8601 strings as the
  helpdesk gives them (UTC where it says so).
- A failure raises :class:`HelpdeskError` with ``retryable`` set when trying
  again later may work (timeouts, connection errors, 429, 5xx), false when it
  will not (401/403, 404 on the configured queue, a malformed answer). The
  message names the operation and the status, never personal data.
- ``find_cases`` returns only cases whose requester (or a participant the
  helpdesk records as the customer) is that address: never other people's.
  Addresses compare case-insensitively (:func:`same_address`); a helpdesk's
  search is only a first sieve, each adapter checks every hit itself.
- A reference is matched by the number it ends with (:func:`reference_number`):
  ``[support-7]``, ``#7``, ``Ticket#31007`` and ``7`` all name case 7.
- An adapter that cannot search or read (``can_search`` false: the webhook)
  raises a non-retryable error from ``find_cases`` and ``read_case``.
- A case names its requester by e-mail address (``requester``) and, where
  the helpdesk's contact record for that address says so, by name
  (``requester_name``: the contact's full name as the helpdesk writes it) and
  phone numbers (``requester_phones``, as written there): what anonymising a
  case must remove when nobody else says who the requester is (a retention
  schedule). Empty where the helpdesk's API does not give them.
- ``list_cases`` (optional, for retention schedules) lists cases by state
  and age; an adapter without it raises :class:`NotSupported`.
- ``add_note`` adds an internal note to a case: a text agents see in the
  case, never shown or mailed to the requester (the gateway writes there
  what it did for a data-subject request: counts and references, never a
  removed value). Unlike the other writes it is not idempotent: a note sent
  again is a second note. Not every adapter offers it (:class:`NotSupported`).
- The writing operations are idempotent: doing one again after it was done
  (or after a try whose answer was lost) changes nothing more; deleting what is
  already gone (a 404) is success. So a half-done anonymisation is completed by
  running it again.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import ClassVar, Literal


class HelpdeskError(Exception):
    """The helpdesk did not do what was asked; ``retryable``: trying again later may work."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class NotSupported(HelpdeskError):
    """The helpdesk (or its API) cannot do this at all: trying again will not help, a person must act."""

    def __init__(self, adapter: str, operation: str, what: str = "") -> None:
        super().__init__(f"{adapter}: {operation}: {what + ' ' if what else ''}not supported", retryable=False)


#: The writing operations an adapter may offer, by the name of its method.
Operation = Literal["update_requester", "update_case", "update_message", "delete_attachment", "delete_case",
                    "delete_requester"]
OPERATIONS: tuple[Operation, ...] = ("update_requester", "update_case", "update_message", "delete_attachment",
                                     "delete_case", "delete_requester")


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str
    size: int | None = None
    content_type: str = ""
    id: str = ""  # the helpdesk's id, to delete it by ("": the adapter cannot name it)


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a case: the customer's, an agent's reply, or an internal note (``public`` false)."""

    id: str
    author: str
    created: str
    text: str
    public: bool = True
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class CaseRef:
    """A case as a search lists it."""

    id: str
    reference: str  # what the requester sees (a ticket number, "support-7")
    title: str


@dataclass(frozen=True, slots=True)
class CaseSummary:
    """A case as a listing for the retention schedules gives it: enough to decide whether it is due."""

    id: str
    reference: str
    status: str
    updated: float  # epoch seconds of its last change (the newest message, where the helpdesk keeps no other)
    requester: str


@dataclass(frozen=True, slots=True)
class Case:
    """A case read whole: its messages, its fields, and who its requester is (address, and the contact's
    name and phones where the helpdesk keeps them)."""

    id: str
    reference: str
    title: str
    status: str
    queue: str
    created: str
    updated: str
    requester: str  # the requester's e-mail address, as the helpdesk holds it
    messages: tuple[Message, ...] = ()
    fields: dict[str, str] = field(default_factory=dict)  # other fields the helpdesk keeps (priority, tags...)
    # What the helpdesk's contact record of the requester says ("", (): nothing, or the API does not tell).
    requester_name: str = ""  # the full name, as the contact holds it
    requester_phones: tuple[str, ...] = ()  # phone numbers, as written there (phone, mobile...)


@dataclass(frozen=True, slots=True)
class NewCase:
    """A case to open: the data-subject request, in the policy's queue."""

    title: str
    body: str
    requester: str
    queue: str | None = None  # the adapter's configured queue when None
    tags: tuple[str, ...] = ()
    # A stable id of the request (the portal's request id). Sent where the helpdesk honours one
    # (Zendesk's Idempotency-Key, the webhook's delivery id), so a retried open opens one case, not two;
    # there the adapter also retries the POST after a timeout or a 5xx. None: a fresh one per call.
    idempotency_key: str | None = None


class HelpdeskAdapter(abc.ABC):
    """One helpdesk's API behind the gateway's questions. Open with ``async with``; one per policy."""

    name: ClassVar[str]
    can_search: ClassVar[bool] = True  # find_cases and read_case work (false: open_case only)
    #: The writing operations this adapter implements (the others raise NotSupported).
    capabilities: ClassVar[frozenset[Operation]] = frozenset()

    async def __aenter__(self) -> HelpdeskAdapter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Release connections (the default holds none)."""

    @abc.abstractmethod
    async def find_cases(self, email: str, reference: str | None = None) -> list[CaseRef]:
        """The cases whose requester is ``email`` (only the one with ``reference``, when given)."""

    @abc.abstractmethod
    async def read_case(self, case_id: str) -> Case:
        """One case with its messages and attachments' metadata."""

    async def list_cases(self, states: Collection[str], updated_before: float, *,
                         limit: int = 10_000) -> list[CaseSummary]:
        """Cases in one of ``states`` (compared case-insensitively with the names ``read_case`` gives) last
        changed before ``updated_before`` (epoch seconds), at most ``limit``: what retention schedules act on."""
        raise NotSupported(self.name, "list cases")

    @abc.abstractmethod
    async def open_case(self, case: NewCase) -> CaseRef:
        """Open a case; the reference the helpdesk gave it."""

    async def add_note(self, case_id: str, text: str) -> None:
        """Add ``text`` to the case as an internal note: agents see it, the requester never does."""
        raise NotSupported(self.name, "add note")

    async def update_requester(self, case_id: str, name: str, email: str) -> None:
        """Make ``name`` <``email``> the case's requester (the pseudonym); the person's contact is not changed."""
        raise NotSupported(self.name, "update requester")

    async def update_case(self, case_id: str, title: str | None = None, fields: dict[str, str] | None = None) -> None:
        """Set the case's title and the ``fields`` given (by the names ``read_case`` gives them); others stay."""
        raise NotSupported(self.name, "update case")

    async def update_message(self, case_id: str, message_id: str, text: str) -> None:
        """Make ``text`` the message's text (an adapter that can only redact removes what ``text`` replaced)."""
        raise NotSupported(self.name, "update message")

    async def delete_attachment(self, case_id: str, message_id: str, attachment_id: str) -> None:
        """Delete one attachment of a message (an attachment already gone is success)."""
        raise NotSupported(self.name, "delete attachment")

    async def delete_case(self, case_id: str) -> None:
        """Delete the whole case, its messages and attachments (a case already gone is success)."""
        raise NotSupported(self.name, "delete case")

    async def delete_requester(self, email: str) -> None:
        """Delete the helpdesk's contact with this address (and what the helpdesk deletes with it)."""
        raise NotSupported(self.name, "delete requester")


def same_address(held: object, asked: str) -> bool:
    """Whether the address a helpdesk holds is the one asked about (case-insensitive, never two empties)."""
    return isinstance(held, str) and bool(asked.strip()) and held.strip().casefold() == asked.strip().casefold()


_TRAILING_NUMBER = re.compile(r"(?<!\d)(\d{1,20})\W*$")


def reference_number(reference: str) -> str | None:
    """The number a case reference ends with (``[support-7]`` -> ``7``); None when it has none."""
    found = _TRAILING_NUMBER.search(reference.strip())
    return found.group(1) if found else None


def iso_epoch(value: object) -> float | None:
    """Epoch seconds of an ISO 8601 time as a helpdesk writes it (``Z``, an offset, or none: UTC); None if not."""
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def sieve_day(before: float) -> str:
    """The date for a search's ``updated before`` sieve: two days after ``before``'s (UTC), so that the day,
    read in whatever time zone the helpdesk's index uses, still begins after ``before`` (each hit's exact time
    is checked after the search)."""
    return (datetime.fromtimestamp(before, UTC) + timedelta(days=2)).date().isoformat()
