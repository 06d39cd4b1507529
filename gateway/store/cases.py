"""The anonymisation journal and leases: what was done to which helpdesk case, and who runs the schedules (pure).

One :class:`CaseRecord` per case handled (the audit trail of the erasure
issue): when, why (``trigger``: ``command``, ``request DSR-…``, ``schedule
<name>``), the action, the outcome, and a JSON summary of the replacements by
kind and of the adapter's operations with their outcomes. Never a removed
value, never an address: the helpdesk's case id is the only key.

A record is written *before* the first change to the case (``started``) and
finished after the last one, so a process killed in between leaves a started
record behind; once it is older than the lease, the next run takes it over
(same record, new owner) and completes the case. At most one record of a case
is ``started`` at a time (a partial unique index), so two processes never work
on one case together.

A :class:`Lease` names who runs the retention schedules until when: taken
with one ``INSERT … ON CONFLICT … WHERE`` in either backend, so among several
replicas on PostgreSQL exactly one holds it, and a crashed holder's lease
simply runs out.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal, cast, get_args

CaseState = Literal["started", "done", "retry", "incomplete", "refused", "unreadable"]
CASE_STATES: Final = frozenset(get_args(CaseState))
FINISHED_STATES: Final = CASE_STATES - {"started"}
CASE_COLUMNS: Final = "record_id, helpdesk, case_id, trigger, action, state, started_at, finished_at, owner, summary"
_ID = re.compile(r"[0-9a-f]{32}")
_MAX_SUMMARY = 64 * 1024


def _text(name: str, value: object, *, limit: int = 300, empty: bool = False) -> None:
    if not isinstance(value, str) or "\x00" in value or len(value) > limit or (not empty and not value):
        raise ValueError(f"{name} must be {'' if empty else 'non-empty '}text of at most {limit} characters")


@dataclass(frozen=True, slots=True)
class CaseRecord:
    record_id: str
    helpdesk: str  # the adapter's name (django-helpdesk, zammad, zendesk)
    case_id: str
    trigger: str
    action: str
    state: CaseState
    started_at: float
    finished_at: float = 0.0
    owner: str = ""
    summary: str = "{}"  # JSON: kinds and counts, operations and outcomes

    def __post_init__(self) -> None:
        if not isinstance(self.record_id, str) or not _ID.fullmatch(self.record_id):
            raise ValueError("record_id must be 32 hex digits")
        for name in ("helpdesk", "case_id", "trigger", "action"):
            _text(name, getattr(self, name))
        _text("owner", self.owner, empty=True)
        _text("summary", self.summary, limit=_MAX_SUMMARY)
        if self.state not in CASE_STATES:
            raise ValueError(f"state must be one of {sorted(CASE_STATES)}")
        for name in ("started_at", "finished_at"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be epoch seconds")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def case_to_row(record: CaseRecord) -> tuple[Any, ...]:
    return (record.record_id, record.helpdesk, record.case_id, record.trigger, record.action, record.state,
            float(record.started_at), float(record.finished_at), record.owner, record.summary)


def case_from_row(row: Sequence[Any]) -> CaseRecord:
    return CaseRecord(row[0], row[1], row[2], row[3], row[4], cast(CaseState, row[5]), float(row[6]),
                      float(row[7]), row[8], row[9])


def owner_name() -> str:
    """Names this process in leases and records: host, pid and a random tag (a restarted pid is another owner)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


def check_finish(state: str, summary: str) -> None:
    if state not in FINISHED_STATES:
        raise ValueError(f"a case record finishes in one of {sorted(FINISHED_STATES)}")
    _text("summary", summary, limit=_MAX_SUMMARY)


def check_lease(name: str, owner: str) -> None:
    _text("name", name)
    _text("owner", owner)
