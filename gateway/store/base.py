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

from .cases import CaseRecord, check_finish, check_lease
from .legal import LegalRecord
from .requests import (
    AuditEntry,
    ExportBlob,
    ExportOutcome,
    RequestStats,
    RequestUpdate,
    SubjectRequest,
    Verification,
    VerificationOutcome,
    WorkResult,
    is_request_id,
)

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

    # -- data-subject requests (see store.requests) ------------------------------

    async def add_verification(self, verification: Verification) -> None:
        """Keep a request until its requester opens the link that verifies it."""
        if not isinstance(verification, Verification):
            raise TypeError("add_verification takes a Verification")
        await self._add_verification(verification)

    async def use_verification(self, nonce: str, now: float) -> tuple[VerificationOutcome, Verification | None]:
        """Mark a verification used, once: ``verified`` and it the first time, then ``used``; ``expired`` past
        its expiry; ``unknown`` for a nonce never stored (or purged)."""
        _check_text("nonce", nonce, empty=False)
        _check_time("now", now)
        taken = await self._use_verification(nonce, float(now))
        if taken is not None:
            return "verified", taken
        return await self.peek_verification(nonce, now), None

    async def peek_verification(self, nonce: str, now: float) -> VerificationOutcome:
        """What :meth:`use_verification` would answer now, without using it."""
        _check_text("nonce", nonce, empty=False)
        _check_time("now", now)
        found = await self._get_verification(nonce)
        if found is None:
            return "unknown"
        if found.used_at is not None:
            return "used"
        return "expired" if found.expires_at <= now else "verified"

    async def add_request(self, request: SubjectRequest) -> None:
        if not isinstance(request, SubjectRequest):
            raise TypeError("add_request takes a SubjectRequest")
        await self._add_request(request)

    async def get_request(self, request_id: str) -> SubjectRequest | None:
        if not is_request_id(request_id):
            return None
        return await self._get_request(request_id)

    async def list_requests(self, *, open_only: bool = False, limit: int = 1000) -> list[SubjectRequest]:
        """Requests, newest first (only open ones: received, in progress, extended)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100_000:
            raise ValueError("limit must be 1-100000")
        return await self._list_requests(open_only, limit)

    async def requests_for(self, email_hashes: Sequence[str]) -> list[SubjectRequest]:
        """Every request made for one of these e-mail hashes, oldest first."""
        hashes = _checked_values("email_hashes", email_hashes)
        return await self._requests_for(hashes) if hashes else []

    async def reduce_request(self, request_id: str, sealed: str) -> int:
        """Replace a closed request's sealed part (by one holding less) and delete its exports; rows changed
        (0 for an open or unknown request: it is left as it is)."""
        if not is_request_id(request_id):
            raise ValueError("request_id must be a request id (DSR-XXXXX-XXXXX)")
        _check_text("sealed", sealed, empty=False)
        return await self._reduce_request(request_id, sealed)

    async def update_request(self, request_id: str, update: RequestUpdate, *, expect_state: str) -> bool:
        """Apply an operator's change if the request is still in ``expect_state``; False if it is not (or
        does not exist). Work added is due at once."""
        if not is_request_id(request_id) or not isinstance(update, RequestUpdate):
            raise ValueError("update_request takes a request id and a RequestUpdate")
        _check_text("expect_state", expect_state, empty=False)
        return await self._update_request(request_id, update, expect_state)

    async def claim_request_work(self, owner: str, now: float, lease: float) -> SubjectRequest | None:
        """The request whose work is due first, leased to ``owner`` for ``lease`` seconds so no other
        worker (of this or another replica) takes it meanwhile; None when nothing is due."""
        _check_text("owner", owner, empty=False)
        _check_time("now", now)
        _check_time("lease", lease)
        return await self._claim_request_work(owner, float(now), float(now + lease))

    async def finish_request_work(self, request_id: str, owner: str, result: WorkResult) -> bool:
        """Record what the worker holding the lease did, and release the lease; False without the lease."""
        if not is_request_id(request_id) or not isinstance(result, WorkResult):
            raise ValueError("finish_request_work takes a request id and a WorkResult")
        _check_text("owner", owner, empty=False)
        return await self._finish_request_work(request_id, owner, result)

    async def request_stats(self, now: float, soon: float) -> RequestStats:
        """Open requests by type, overdue at ``now``, due within ``soon`` seconds, and the oldest one."""
        _check_time("now", now)
        _check_time("soon", soon)
        return await self._request_stats(float(now), float(now + soon))

    async def add_export(self, export: ExportBlob) -> None:
        if not isinstance(export, ExportBlob):
            raise TypeError("add_export takes an ExportBlob")
        await self._add_export(export)

    async def take_export(self, export_id: str, now: float) -> tuple[ExportOutcome, ExportBlob | None]:
        """The export, deleted as it is taken (``taken``); ``expired`` (deleted too) or ``gone``."""
        _check_text("export_id", export_id, empty=False)
        _check_time("now", now)
        blob = await self._take_export(export_id, float(now))
        if blob is None:
            return "gone", None
        if blob.expires_at <= now:
            return "expired", None
        return "taken", blob

    async def add_audit(self, entry: AuditEntry) -> None:
        if not isinstance(entry, AuditEntry):
            raise TypeError("add_audit takes an AuditEntry")
        await self._add_audit(entry)

    async def audit_for(self, request_id: str) -> list[AuditEntry]:
        """The audit log of one request, oldest first."""
        return await self._audit_for(request_id) if is_request_id(request_id) else []

    async def count_rate(self, bucket: str, window_end: float) -> int:
        """Count one more event in a fixed window (``bucket`` names it, key hash and window index); the
        count so far, this one included."""
        _check_text("bucket", bucket, empty=False)
        _check_time("window_end", window_end)
        return await self._count_rate(bucket, float(window_end))

    async def purge_requests(self, now: float, *, keep_verifications: float = 86400.0) -> int:
        """Delete verifications expired more than ``keep_verifications`` ago (until then an old link is told
        "expired", not "unknown"), expired exports and ended rate windows; rows deleted."""
        _check_time("now", now)
        return await self._purge_requests(float(now), float(now - keep_verifications))

    @abc.abstractmethod
    async def _add_verification(self, verification: Verification) -> None: ...

    @abc.abstractmethod
    async def _use_verification(self, nonce: str, now: float) -> Verification | None:
        """Set used_at on an unused, unexpired verification; it, or None."""

    @abc.abstractmethod
    async def _get_verification(self, nonce: str) -> Verification | None: ...

    @abc.abstractmethod
    async def _add_request(self, request: SubjectRequest) -> None: ...

    @abc.abstractmethod
    async def _get_request(self, request_id: str) -> SubjectRequest | None: ...

    @abc.abstractmethod
    async def _list_requests(self, open_only: bool, limit: int) -> list[SubjectRequest]: ...

    @abc.abstractmethod
    async def _requests_for(self, email_hashes: Sequence[str]) -> list[SubjectRequest]: ...

    @abc.abstractmethod
    async def _update_request(self, request_id: str, update: RequestUpdate, expect_state: str) -> bool: ...

    @abc.abstractmethod
    async def _reduce_request(self, request_id: str, sealed: str) -> int: ...

    @abc.abstractmethod
    async def _claim_request_work(self, owner: str, now: float, lease_until: float) -> SubjectRequest | None: ...

    @abc.abstractmethod
    async def _finish_request_work(self, request_id: str, owner: str, result: WorkResult) -> bool: ...

    @abc.abstractmethod
    async def _request_stats(self, now: float, soon: float) -> RequestStats: ...

    @abc.abstractmethod
    async def _add_export(self, export: ExportBlob) -> None: ...

    @abc.abstractmethod
    async def _take_export(self, export_id: str, now: float) -> ExportBlob | None:
        """Delete the export and return it (also when expired); mark its request downloaded if it was not."""

    @abc.abstractmethod
    async def _add_audit(self, entry: AuditEntry) -> None: ...

    @abc.abstractmethod
    async def _audit_for(self, request_id: str) -> list[AuditEntry]: ...

    @abc.abstractmethod
    async def _count_rate(self, bucket: str, window_end: float) -> int: ...

    @abc.abstractmethod
    async def _purge_requests(self, now: float, verifications_before: float) -> int: ...

    # -- the anonymisation journal and leases (see store.cases) ---------------------

    async def begin_case(self, record: CaseRecord, *, stale_before: float) -> CaseRecord | None:
        """Record that ``record.owner`` starts on a case, before its first change; the record worked under.

        None when another owner is on that case (a started record newer than ``stale_before``). A started
        record older than that (its owner died mid-case) is taken over: its id, the new owner and start.
        """
        if not isinstance(record, CaseRecord) or record.state != "started" or not record.owner:
            raise TypeError("begin_case takes a started CaseRecord with an owner")
        _check_time("stale_before", stale_before)
        return await self._begin_case(record, float(stale_before))

    async def finish_case(self, record_id: str, owner: str, state: str, summary: str, now: float) -> bool:
        """Finish a started record (``done``, ``retry``, ...); False when ``owner`` no longer holds it."""
        check_finish(state, summary)
        _check_text("record_id", record_id, empty=False)
        _check_text("owner", owner, empty=False)
        _check_time("now", now)
        return await self._finish_case(record_id, owner, state, summary, float(now))

    async def case_records(self, *, case_ids: Sequence[str] = (), helpdesk: str = "",
                           limit: int = 1000) -> list[CaseRecord]:
        """Records, newest first: of these cases (all cases when none given), of ``helpdesk`` when given."""
        ids = _checked_values("case_ids", case_ids)
        _check_text("helpdesk", helpdesk)
        return await self._case_records(ids, helpdesk, max(1, min(int(limit), 100_000)))

    async def cases_done(self, helpdesk: str, case_ids: Sequence[str]) -> set[str]:
        """Which of these cases have a ``done`` record (anonymised or deleted already, by any trigger)."""
        _check_text("helpdesk", helpdesk, empty=False)
        done: set[str] = set()
        for start in range(0, len(case_ids), 100):
            done |= await self._cases_done(helpdesk, _checked_values("case_ids", case_ids[start:start + 100]))
        return done

    async def unfinished_cases(self, helpdesk: str, *, stale_before: float) -> list[CaseRecord]:
        """Started records whose owner stopped before finishing (older than ``stale_before``), oldest first."""
        _check_text("helpdesk", helpdesk, empty=False)
        _check_time("stale_before", stale_before)
        return await self._unfinished_cases(helpdesk, float(stale_before))

    async def take_lease(self, name: str, owner: str, now: float, until: float, *, renew: bool = True) -> bool:
        """Hold the lease ``name`` until ``until`` if it is free, expired or (``renew``) already ``owner``'s.

        ``renew=False`` takes it only once it has run out, even from its holder: an interval, once per term.
        """
        check_lease(name, owner)
        _check_time("now", now)
        _check_time("until", until)
        return await self._take_lease(name, owner, float(now), float(until), bool(renew))

    async def release_lease(self, name: str, owner: str) -> None:
        """Give the lease up (only if ``owner`` holds it), so another replica need not wait for it to run out."""
        check_lease(name, owner)
        await self._release_lease(name, owner)

    @abc.abstractmethod
    async def _begin_case(self, record: CaseRecord, stale_before: float) -> CaseRecord | None: ...

    @abc.abstractmethod
    async def _finish_case(self, record_id: str, owner: str, state: str, summary: str, now: float) -> bool: ...

    @abc.abstractmethod
    async def _case_records(self, case_ids: list[str], helpdesk: str, limit: int) -> list[CaseRecord]: ...

    @abc.abstractmethod
    async def _cases_done(self, helpdesk: str, case_ids: list[str]) -> set[str]: ...

    @abc.abstractmethod
    async def _unfinished_cases(self, helpdesk: str, stale_before: float) -> list[CaseRecord]: ...

    @abc.abstractmethod
    async def _take_lease(self, name: str, owner: str, now: float, until: float, renew: bool) -> bool: ...

    @abc.abstractmethod
    async def _release_lease(self, name: str, owner: str) -> None: ...
