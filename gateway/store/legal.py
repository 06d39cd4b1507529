"""Legal-basis records: proof of the basis of each accepted submission, and of each withdrawal (pure).

One row per event (GDPR Art. 7(1) proof of consent, Art. 30 style): when,
which route, the basis and purpose, which notice version was shown and in
which language, a keyed hash of the person's e-mail address (never the
address), the client address truncated, and the event: ``given`` (a consent),
``informed`` (another basis, its notice shown or not) or ``withdrawn`` (then
``withdraws`` names the record withdrawn). Validated here, once, so both
backends accept and refuse the same input.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal, cast, get_args

LegalEvent = Literal["given", "informed", "withdrawn"]
LEGAL_EVENTS: Final = frozenset(get_args(LegalEvent))
LEGAL_COLUMNS: Final = (
    "record_id, created_at, route, basis, purpose, notice_version, language, email_hash, ip_truncated, event, withdraws"
)
_ID = re.compile(r"[0-9a-f]{32}")
_VERSION = re.compile(r"(?:[0-9a-f]{16})?")


@dataclass(frozen=True, slots=True)
class LegalRecord:
    record_id: str
    created_at: float
    route: str
    basis: str
    purpose: str
    notice_version: str  # "" when no notice was shown
    language: str
    email_hash: str  # "" when the route names no e-mail field or the submission had none
    ip_truncated: str
    event: LegalEvent
    withdraws: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.record_id, str) or not _ID.fullmatch(self.record_id):
            raise ValueError("record_id must be 32 hex digits")
        if isinstance(self.created_at, bool) or not isinstance(self.created_at, (int, float)):
            raise ValueError("created_at must be epoch seconds")
        for name in ("route", "basis", "purpose", "language", "email_hash", "ip_truncated"):
            value = getattr(self, name)
            if not isinstance(value, str) or "\x00" in value or len(value) > 1000:
                raise ValueError(f"{name} must be text of at most 1000 characters")
        if not self.route or not self.basis:
            raise ValueError("route and basis must not be empty")
        if not isinstance(self.notice_version, str) or not _VERSION.fullmatch(self.notice_version):
            raise ValueError("notice_version must be 16 hex digits or empty")
        if self.event not in LEGAL_EVENTS:
            raise ValueError(f"event must be one of {sorted(LEGAL_EVENTS)}")
        if (self.event == "withdrawn") != bool(self.withdraws):
            raise ValueError("a withdrawal names the record it withdraws, and only a withdrawal does")
        if self.withdraws and not _ID.fullmatch(self.withdraws):
            raise ValueError("withdraws must be a record id")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def legal_to_row(record: LegalRecord) -> tuple[Any, ...]:
    return (record.record_id, float(record.created_at), record.route, record.basis, record.purpose,
            record.notice_version, record.language, record.email_hash, record.ip_truncated, record.event,
            record.withdraws)


def legal_from_row(row: Sequence[Any]) -> LegalRecord:
    return LegalRecord(row[0], float(row[1]), row[2], row[3], row[4], row[5], row[6], row[7], row[8],
                       cast(LegalEvent, row[9]), row[10])
