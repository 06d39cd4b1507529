"""The state store interface: revocations and consent receipts (pure: no aiohttp).

What the gateway must remember lives here, in one of two backends: SQLite
(the default, nothing to install, one file) or PostgreSQL (several replicas
share one database). Every replica asks the store, so a revocation written by
one is honoured by all.

Times are epoch seconds (float) everywhere, stored as such (REAL in SQLite,
DOUBLE PRECISION in PostgreSQL). Records are validated here, once, before a
backend sees them, so both backends accept and refuse exactly the same input.
"""

from __future__ import annotations

import abc
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Literal, Self, cast, get_args

from .legal import LegalRecord

#: Bumped when the schema changes; a database with a newer version is refused.
SCHEMA_VERSION: Final = 1
#: Receipts read per round trip while exporting.
EXPORT_BATCH: Final = 500

RevocationKind = Literal["token", "case", "recipient"]
ConsentMethod = Literal["banner", "api", "gpc", "cmp"]
REVOCATION_KINDS: Final[frozenset[str]] = frozenset(get_args(RevocationKind))
CONSENT_METHODS: Final[frozenset[str]] = frozenset(get_args(ConsentMethod))

log = logging.getLogger("gateway.store")


class StoreError(Exception):
    """The store cannot do what was asked (not open, schema too new, bad URL ...)."""


def _check_text(name: str, value: object, *, empty: bool = True) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    if not empty and not value:
        raise ValueError(f"{name} must not be empty")
    if "\x00" in value:
        raise ValueError(f"{name} must not contain NUL characters")


def _check_time(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number of epoch seconds")


@dataclass(frozen=True, slots=True)
class Revocation:
    """Tokens refused until ``expires_at``: one token id, or all tokens of a case or recipient."""

    kind: RevocationKind
    value: str
    created_at: float
    expires_at: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ConsentReceipt:
    """Proof of one consent decision (GDPR Art. 7(1)); no raw IP, no query string.

    ``choices``: category -> granted; ``text_hash``: hash of the banner text
    shown; ``method``: banner, api, gpc or cmp; ``ip_truncated``: the address
    with its host part zeroed; ``page_path``: the path only, without ``?`` or ``#``.
    """

    consent_id: str
    created_at: float
    choices: dict[str, bool]
    consent_version: str
    text_hash: str
    method: ConsentMethod
    ip_truncated: str
    user_agent_family: str
    page_path: str

    def __post_init__(self) -> None:
        _check_text("consent_id", self.consent_id, empty=False)
        _check_time("created_at", self.created_at)
        if not isinstance(self.choices, Mapping):
            raise ValueError("choices must map category names to true or false")
        for category, granted in self.choices.items():
            _check_text("choices category", category, empty=False)
            if not isinstance(granted, bool):
                raise ValueError(f"choice for {category!r} must be true or false")
        for name in ("consent_version", "text_hash", "ip_truncated", "user_agent_family"):
            _check_text(name, getattr(self, name))
        if self.method not in CONSENT_METHODS:
            raise ValueError(f"method must be one of {sorted(CONSENT_METHODS)}")
        _check_text("page_path", self.page_path)
        if self.page_path and (not self.page_path.startswith("/") or "?" in self.page_path or "#" in self.page_path):
            raise ValueError("page_path must be a path starting with / and without query or fragment")
        # A private copy, so the caller's dict cannot change a frozen receipt.
        object.__setattr__(self, "choices", dict(self.choices))

    def __hash__(self) -> int:
        return hash((self.consent_id, self.created_at, tuple(sorted(self.choices.items()))))


#: Receipt columns in table order (after the row id), shared by both backends.
RECEIPT_COLUMNS: Final = (
    "consent_id, created_at, choices, consent_version, text_hash, method, ip_truncated, user_agent_family, page_path"
)


def receipt_to_row(receipt: ConsentReceipt) -> tuple[Any, ...]:
    """Column values for ``RECEIPT_COLUMNS``; choices as compact JSON text."""
    choices = json.dumps(receipt.choices, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return (
        receipt.consent_id,
        float(receipt.created_at),
        choices,
        receipt.consent_version,
        receipt.text_hash,
        receipt.method,
        receipt.ip_truncated,
        receipt.user_agent_family,
        receipt.page_path,
    )


def receipt_from_row(row: Sequence[Any]) -> ConsentReceipt:
    """The receipt of a row read back in ``RECEIPT_COLUMNS`` order."""
    choices = row[2]
    if isinstance(choices, str):
        choices = json.loads(choices)
    return ConsentReceipt(
        consent_id=row[0],
        created_at=float(row[1]),
        choices=choices,
        consent_version=row[3],
        text_hash=row[4],
        method=cast(ConsentMethod, row[5]),
        ip_truncated=row[6],
        user_agent_family=row[7],
        page_path=row[8],
    )


def _checked_values(name: str, values: Sequence[str]) -> list[str]:
    if isinstance(values, str) or len(values) > 100:
        raise ValueError(f"{name} must be a list of at most 100 texts")
    for value in values:
        _check_text(name, value, empty=False)
    return list(values)


def revocation_from_row(row: Sequence[Any]) -> Revocation:
    """A revocation read back as (kind, value, created_at, expires_at, reason)."""
    return Revocation(cast(RevocationKind, row[0]), row[1], float(row[2]), float(row[3]), row[4])


class Store(abc.ABC):
    """Durable state shared by every replica. Open before use, close at shutdown.

    ``receipt_retention`` (seconds, None: keep for ever) is how long consent
    receipts are kept; :meth:`purge_expired` applies it.

    Bad input is a ValueError (before any I/O); anything the database does
    wrong (unreachable, locked past the busy timeout, schema too new, not
    open) is a :class:`StoreError` with the driver's exception as its cause,
    whichever the backend, so callers can fail closed on one exception type.

    Health, for metrics and readiness: ``up`` is whether the last round trip
    (an operation or :meth:`ping`) got an answer (None before the first one),
    ``errors`` counts the round trips that did not. A change of ``up`` is
    logged once, not per failed request.
    """

    #: The backend's name, as metrics label it.
    backend: ClassVar[str]

    def __init__(self, *, receipt_retention: float | None = None) -> None:
        if receipt_retention is not None:
            _check_time("receipt_retention", receipt_retention)
            if receipt_retention <= 0:
                raise ValueError("receipt_retention must be positive (or None to keep receipts)")
        self.receipt_retention = receipt_retention
        self.up: bool | None = None
        self.errors = 0

    def _answered(self) -> None:
        """A round trip got its answer (backends call this at their one choke point)."""
        if self.up is False:
            log.warning("the state store answers again", extra={"fields": {"store": self.backend}})
        self.up = True

    def _unanswered(self, exc: BaseException) -> None:
        """A round trip failed: unreachable, timed out, refused by the database."""
        self.errors += 1
        if self.up is not False:
            # The type only: a driver's message may hold a host name, never personal data, but keep it short.
            log.error("the state store does not answer; requests that need it fail closed",
                      extra={"fields": {"store": self.backend, "error": type(exc).__name__}})
        self.up = False

    async def ping(self) -> None:
        """One round trip to the database (StoreError if it does not answer); updates ``up``."""
        await self._ping()

    @abc.abstractmethod
    async def _ping(self) -> None: ...

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and create the schema if missing (idempotent; safe for replicas starting together)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections; the store can be opened again."""

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- revocations -------------------------------------------------------

    async def revoke(
        self, kind: RevocationKind, value: str, *, expires_at: float, reason: str = "", now: float | None = None
    ) -> None:
        """Refuse a token id, or every token of a case or recipient, until ``expires_at``.

        Revoking again keeps the later ``expires_at`` and the newer non-empty reason.
        ``now`` (default: the wall clock) is recorded as ``created_at``.
        """
        if kind not in REVOCATION_KINDS:
            raise ValueError(f"revocation kind must be one of {sorted(REVOCATION_KINDS)}")
        _check_text("revocation value", value, empty=False)
        _check_time("expires_at", expires_at)
        _check_text("reason", reason)
        created = time.time() if now is None else now
        _check_time("now", created)
        await self._revoke(Revocation(kind, value, float(created), float(expires_at), reason))

    async def is_revoked(
        self, *, jti: str, case: str | None, recipient: str | None, now: float, issued_at: float | None = None
    ) -> bool:
        """True if the token id, its case or its recipient has a revocation in force at ``now``.

        With ``issued_at`` (the token's ``iat``), a case or recipient revocation
        only reaches tokens issued at or before it was made, so links sent after
        the revocation work again; without it, every token of that case or
        recipient is refused until the revocation expires.
        """
        _check_text("jti", jti)
        for name, binding in (("case", case), ("recipient", recipient)):
            if binding is not None:
                _check_text(name, binding)
        _check_time("now", now)
        if issued_at is not None:
            _check_time("issued_at", issued_at)
        return await self._is_revoked(jti, case, recipient, float(now), issued_at)

    @abc.abstractmethod
    async def _revoke(self, revocation: Revocation) -> None: ...

    @abc.abstractmethod
    async def _is_revoked(
        self, jti: str, case: str | None, recipient: str | None, now: float, issued_at: float | None
    ) -> bool: ...

    @abc.abstractmethod
    async def revocations(self) -> list[Revocation]:
        """Every revocation stored (expired ones too, until purged), oldest first."""

    async def purge_expired(self, now: float) -> int:
        """Delete revocations past ``expires_at`` and receipts past retention; rows deleted."""
        _check_time("now", now)
        removed = await self._purge_revocations(float(now))
        if self.receipt_retention is not None:
            removed += await self.expire_receipts(now - self.receipt_retention)
        return removed

    @abc.abstractmethod
    async def _purge_revocations(self, now: float) -> int: ...

    # -- consent receipts --------------------------------------------------

    async def add_receipt(self, receipt: ConsentReceipt) -> None:
        """Store one receipt (several may share a consent id: one per decision)."""
        if not isinstance(receipt, ConsentReceipt):
            raise TypeError("add_receipt takes a ConsentReceipt")
        await self._add_receipt(receipt)

    @abc.abstractmethod
    async def _add_receipt(self, receipt: ConsentReceipt) -> None: ...

    async def receipts_for(self, consent_id: str) -> list[ConsentReceipt]:
        """Every receipt of one consent id, oldest first."""
        _check_text("consent_id", consent_id)
        return await self._receipts_for(consent_id)

    @abc.abstractmethod
    async def _receipts_for(self, consent_id: str) -> list[ConsentReceipt]: ...

    async def export_receipts(self, *, since: float | None = None) -> AsyncIterator[ConsentReceipt]:
        """Receipts created at or after ``since`` (all if None), oldest first, read in batches."""
        if since is not None:
            _check_time("since", since)
        after: tuple[float, int] | None = None
        while True:
            page = await self._receipt_page(since, after, EXPORT_BATCH)
            for _, receipt in page:
                yield receipt
            if len(page) < EXPORT_BATCH:
                return
            last_id, last = page[-1]
            after = (last.created_at, last_id)

    @abc.abstractmethod
    async def _receipt_page(
        self, since: float | None, after: tuple[float, int] | None, limit: int
    ) -> list[tuple[int, ConsentReceipt]]:
        """Up to ``limit`` (row id, receipt) ordered by (created_at, id), after the given key."""

    async def expire_receipts(self, older_than: float) -> int:
        """Delete receipts created before ``older_than``; rows deleted."""
        _check_time("older_than", older_than)
        return await self._expire_receipts(float(older_than))

    @abc.abstractmethod
    async def _expire_receipts(self, older_than: float) -> int: ...

    # -- legal-basis records (see store.legal) -------------------------------

    async def add_legal_record(self, record: LegalRecord) -> None:
        if not isinstance(record, LegalRecord):
            raise TypeError("add_legal_record takes a LegalRecord")
        await self._add_legal(record)

    async def legal_records(self, record_ids: Sequence[str]) -> list[LegalRecord]:
        """The records with these ids and the withdrawals of them, oldest first."""
        ids = _checked_values("record_ids", record_ids)
        if not ids:
            return []
        return sorted({*await self._legal_select("record_id", ids), *await self._legal_select("withdraws", ids)},
                      key=lambda r: (r.created_at, r.record_id))

    async def legal_records_for(self, email_hashes: Sequence[str]) -> list[LegalRecord]:
        """Every record made for one of these e-mail hashes (one per key of the ring), oldest first."""
        hashes = _checked_values("email_hashes", email_hashes)
        return await self._legal_select("email_hash", hashes) if hashes else []

    async def export_legal_records(self) -> AsyncIterator[LegalRecord]:
        """Every record, oldest first, read in batches."""
        after: tuple[float, str] | None = None
        while True:
            page = await self._legal_page(after, EXPORT_BATCH)
            for record in page:
                yield record
            if len(page) < EXPORT_BATCH:
                return
            after = (page[-1].created_at, page[-1].record_id)

    @abc.abstractmethod
    async def _add_legal(self, record: LegalRecord) -> None: ...

    @abc.abstractmethod
    async def _legal_select(self, column: str, values: Sequence[str]) -> list[LegalRecord]:
        """Records whose ``column`` (record_id, withdraws or email_hash) is one of ``values``."""

    @abc.abstractmethod
    async def _legal_page(self, after: tuple[float, str] | None, limit: int) -> list[LegalRecord]:
        """Up to ``limit`` records ordered by (created_at, record_id), after the given key."""

