"""Data-subject requests as the store keeps them: pending verifications, requests, exports, the audit log and
rate-limit windows (pure: no I/O).

Nothing here holds a readable e-mail address: a request keeps a keyed hash
of it (for lookup) and ``sealed``, the address and the requester's free text
encrypted by the portal (AES-GCM, with a key of its ring). A request exists
only once verified; until then there is a :class:`Verification`, which
expires. ``work`` is a set of :class:`Work` bits: what is still to be done
for a request (its helpdesk case, its mails, its export, an erasure's
anonymisation of the requester's cases); a worker of any
replica claims a request with a lease before doing it, so it is done once.
Validated here, once, so both backends accept and refuse the same input.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from enum import IntFlag
from typing import Any, Final, Literal, cast, get_args

RequestState = Literal["received", "in_progress", "extended", "fulfilled", "refused"]
REQUEST_STATES: Final = frozenset(get_args(RequestState))
OPEN_STATES: Final = ("received", "in_progress", "extended")
VerificationOutcome = Literal["verified", "used", "expired", "unknown"]
ExportOutcome = Literal["taken", "expired", "gone"]

_REQUEST_ID = re.compile(r"DSR-[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}")
_HEX32 = re.compile(r"[0-9a-f]{32}")
_WORD = re.compile(r"[a-z0-9_:.-]{0,64}")


class Work(IntFlag):
    """What is still to be done for a request, in the order a worker does it."""

    CASE = 1  # open the case in the helpdesk
    RECEIPT = 2  # mail the receipt
    EXPORT = 4  # assemble the export, store it, mail its link
    MAIL_EXTENDED = 8
    MAIL_REFUSED = 16
    MAIL_FULFILLED = 32
    ERASE = 64  # an approved erasure: anonymise the requester's cases (done before MAIL_FULFILLED)


ALL_WORK: Final = int(sum(Work))


def is_request_id(value: object) -> bool:
    return isinstance(value, str) and _REQUEST_ID.fullmatch(value) is not None


def _text(name: str, value: object, *, limit: int = 1000, empty: bool = True) -> None:
    if not isinstance(value, str) or "\x00" in value or len(value) > limit or (not empty and not value):
        raise ValueError(f"{name} must be {'non-empty ' if not empty else ''}text of at most {limit} characters")


def _time(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of epoch seconds")


def _count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer")


@dataclass(frozen=True, slots=True)
class Verification:
    """A request waiting for its requester to open the link mailed to them; ``sealed`` holds the request."""

    nonce: str  # 32 hex digits, signed into the link
    created_at: float
    expires_at: float
    email_hash: str
    sealed: str
    used_at: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.nonce, str) or not _HEX32.fullmatch(self.nonce):
            raise ValueError("nonce must be 32 hex digits")
        _time("created_at", self.created_at)
        _time("expires_at", self.expires_at)
        _text("email_hash", self.email_hash, limit=100, empty=False)
        _text("sealed", self.sealed, limit=100_000, empty=False)
        if self.used_at is not None:
            _time("used_at", self.used_at)


@dataclass(frozen=True, slots=True)
class SubjectRequest:
    """A verified request. ``reason``: why it was extended or refused, as the requester is told."""

    request_id: str
    kind: str
    state: RequestState
    created_at: float
    due_at: float
    updated_at: float
    email_hash: str
    sealed: str
    language: str
    reason: str = ""
    extended_days: int = 0
    case_id: str = ""
    case_reference: str = ""
    work: int = 0
    attempts: int = 0
    next_attempt_at: float = 0.0
    last_error: str = ""  # a word (helpdesk_unavailable, mail_failed): never a message with personal data
    export_id: str = ""
    export_expires_at: float = 0.0
    export_downloaded_at: float = 0.0

    def __post_init__(self) -> None:
        if not is_request_id(self.request_id):
            raise ValueError("request_id must look like DSR-XXXXX-XXXXX")
        _text("kind", self.kind, limit=32, empty=False)
        if self.state not in REQUEST_STATES:
            raise ValueError(f"state must be one of {sorted(REQUEST_STATES)}")
        for name in ("created_at", "due_at", "updated_at", "next_attempt_at", "export_expires_at",
                     "export_downloaded_at"):
            _time(name, getattr(self, name))
        _text("email_hash", self.email_hash, limit=100, empty=False)
        _text("sealed", self.sealed, limit=100_000, empty=False)
        _text("language", self.language, limit=16, empty=False)
        _text("reason", self.reason, limit=2000)
        _text("case_id", self.case_id, limit=200)
        _text("case_reference", self.case_reference, limit=200)
        for name in ("extended_days", "work", "attempts"):
            _count(name, getattr(self, name))
        if self.work & ~ALL_WORK:
            raise ValueError("work has unknown bits")
        if not isinstance(self.last_error, str) or not _WORD.fullmatch(self.last_error):
            raise ValueError("last_error must be a short word")
        if self.export_id and not _HEX32.fullmatch(self.export_id):
            raise ValueError("export_id must be 32 hex digits")

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class RequestUpdate:
    """An operator's change of a request: the new state and reason, the due date, work to add."""

    state: RequestState
    updated_at: float
    reason: str | None = None  # None: unchanged
    due_at: float | None = None
    extended_days: int | None = None
    add_work: int = 0

    def __post_init__(self) -> None:
        if self.state not in REQUEST_STATES:
            raise ValueError(f"state must be one of {sorted(REQUEST_STATES)}")
        _time("updated_at", self.updated_at)
        if self.reason is not None:
            _text("reason", self.reason, limit=2000)
        if self.due_at is not None:
            _time("due_at", self.due_at)
        if self.extended_days is not None:
            _count("extended_days", self.extended_days)
        _count("add_work", self.add_work)
        if self.add_work & ~ALL_WORK:
            raise ValueError("add_work has unknown bits")


@dataclass(frozen=True, slots=True)
class WorkResult:
    """What a worker did with a claimed request: the work done, and what it learnt on the way."""

    done: int
    now: float
    attempts: int = 0
    next_attempt_at: float = 0.0
    last_error: str = ""
    case_id: str = ""
    case_reference: str = ""
    fulfilled: bool = False
    export_id: str = ""
    export_expires_at: float = 0.0

    def __post_init__(self) -> None:
        _count("done", self.done)
        _count("attempts", self.attempts)
        for name in ("now", "next_attempt_at", "export_expires_at"):
            _time(name, getattr(self, name))
        if not _WORD.fullmatch(self.last_error):
            raise ValueError("last_error must be a short word")
        _text("case_id", self.case_id, limit=200)
        _text("case_reference", self.case_reference, limit=200)
        if self.export_id and not _HEX32.fullmatch(self.export_id):
            raise ValueError("export_id must be 32 hex digits")


@dataclass(frozen=True, slots=True)
class ExportBlob:
    """An export, encrypted by the portal, until it is downloaded or expires."""

    export_id: str
    request_id: str
    created_at: float
    expires_at: float
    sealed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.export_id, str) or not _HEX32.fullmatch(self.export_id):
            raise ValueError("export_id must be 32 hex digits")
        if not is_request_id(self.request_id):
            raise ValueError("request_id must look like DSR-XXXXX-XXXXX")
        _time("created_at", self.created_at)
        _time("expires_at", self.expires_at)
        if not isinstance(self.sealed, bytes) or not self.sealed:
            raise ValueError("sealed must be bytes")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One operator action: who (``cli:user``, ``api:token-id``), what, when, on which request; nothing else."""

    at: float
    actor: str
    action: str
    request_id: str

    def __post_init__(self) -> None:
        _time("at", self.at)
        _text("actor", self.actor, limit=100, empty=False)
        if not isinstance(self.action, str) or not re.fullmatch(r"[a-z_]{1,32}", self.action):
            raise ValueError("action must be a word")
        if not is_request_id(self.request_id):
            raise ValueError("request_id must look like DSR-XXXXX-XXXXX")


@dataclass(frozen=True, slots=True)
class RequestStats:
    """Open requests now, for the gauges: by type, past their due date, due soon, the oldest one's age."""

    open_by_kind: dict[str, int]
    overdue: int
    due_soon: int
    oldest_created_at: float | None


VERIFICATION_COLUMNS: Final = "nonce, created_at, expires_at, email_hash, sealed, used_at"
REQUEST_COLUMNS: Final = (
    "request_id, kind, state, created_at, due_at, updated_at, email_hash, sealed, language, reason, extended_days, "
    "case_id, case_reference, work, attempts, next_attempt_at, last_error, export_id, export_expires_at, "
    "export_downloaded_at"
)
EXPORT_COLUMNS: Final = "export_id, request_id, created_at, expires_at, sealed"


def verification_to_row(v: Verification) -> tuple[Any, ...]:
    return (v.nonce, float(v.created_at), float(v.expires_at), v.email_hash, v.sealed,
            None if v.used_at is None else float(v.used_at))


def verification_from_row(row: Sequence[Any]) -> Verification:
    return Verification(row[0], float(row[1]), float(row[2]), row[3], row[4], None if row[5] is None else float(row[5]))


def request_to_row(r: SubjectRequest) -> tuple[Any, ...]:
    return (r.request_id, r.kind, r.state, float(r.created_at), float(r.due_at), float(r.updated_at), r.email_hash,
            r.sealed, r.language, r.reason, r.extended_days, r.case_id, r.case_reference, r.work, r.attempts,
            float(r.next_attempt_at), r.last_error, r.export_id, float(r.export_expires_at),
            float(r.export_downloaded_at))


def request_from_row(row: Sequence[Any]) -> SubjectRequest:
    return SubjectRequest(
        row[0], row[1], cast(RequestState, row[2]), float(row[3]), float(row[4]), float(row[5]), row[6], row[7],
        row[8], row[9], int(row[10]), row[11], row[12], int(row[13]), int(row[14]), float(row[15]), row[16],
        row[17], float(row[18]), float(row[19]),
    )


def export_from_row(row: Sequence[Any]) -> ExportBlob:
    return ExportBlob(row[0], row[1], float(row[2]), float(row[3]), bytes(row[4]))


def stats_from_rows(rows: Sequence[Sequence[Any]]) -> RequestStats:
    """Rows of (kind, open, overdue, due_soon, oldest created_at), one per kind with open requests."""
    oldest = [float(row[4]) for row in rows if row[4] is not None]
    return RequestStats({row[0]: int(row[1]) for row in rows}, sum(int(row[2] or 0) for row in rows),
                        sum(int(row[3] or 0) for row in rows), min(oldest) if oldest else None)
