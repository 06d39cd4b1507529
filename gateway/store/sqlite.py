"""The embedded state store: one SQLite file, the standard library only.

Every call runs on one dedicated worker thread that owns the connection, so
the event loop never blocks on disk and writes are serialised. The file uses
WAL (readers do not wait for the writer) and a busy timeout, so the worker
processes of one gateway can share it. ``:memory:`` is a private database of
this store object (tests, trials).
"""

from __future__ import annotations

import asyncio
import functools
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from .base import (
    RECEIPT_COLUMNS,
    SCHEMA_VERSION,
    ConsentReceipt,
    Revocation,
    Store,
    StoreError,
    receipt_from_row,
    receipt_to_row,
    revocation_from_row,
)
from .cases import CASE_COLUMNS, CaseRecord, case_from_row, case_to_row
from .legal import LEGAL_COLUMNS, LegalRecord, legal_from_row, legal_to_row
from .requests import (
    EXPORT_COLUMNS,
    OPEN_STATES,
    REQUEST_COLUMNS,
    VERIFICATION_COLUMNS,
    AuditEntry,
    ExportBlob,
    RequestStats,
    RequestUpdate,
    SubjectRequest,
    Verification,
    WorkResult,
    export_from_row,
    request_from_row,
    request_to_row,
    stats_from_rows,
    verification_from_row,
    verification_to_row,
)

T = TypeVar("T")

MEMORY = ":memory:"
_REPORT_MARGIN = 0.25

SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (
    component TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS revocations (
    kind TEXT NOT NULL CHECK (kind IN ('token', 'case', 'recipient')),
    value TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (kind, value)
);
CREATE INDEX IF NOT EXISTS revocations_expires_at ON revocations (expires_at);
CREATE TABLE IF NOT EXISTS consent_receipts (
    id INTEGER PRIMARY KEY,
    consent_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    choices TEXT NOT NULL,
    consent_version TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    method TEXT NOT NULL,
    ip_truncated TEXT NOT NULL,
    user_agent_family TEXT NOT NULL,
    page_path TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS consent_receipts_consent_id ON consent_receipts (consent_id, created_at);
CREATE INDEX IF NOT EXISTS consent_receipts_created_at ON consent_receipts (created_at, id);
CREATE TABLE IF NOT EXISTS legal_basis_records (
    record_id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    route TEXT NOT NULL,
    basis TEXT NOT NULL,
    purpose TEXT NOT NULL,
    notice_version TEXT NOT NULL,
    language TEXT NOT NULL,
    email_hash TEXT NOT NULL,
    ip_truncated TEXT NOT NULL,
    event TEXT NOT NULL,
    withdraws TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS legal_basis_records_email_hash ON legal_basis_records (email_hash) WHERE email_hash <> '';
CREATE INDEX IF NOT EXISTS legal_basis_records_withdraws ON legal_basis_records (withdraws) WHERE withdraws <> '';
CREATE INDEX IF NOT EXISTS legal_basis_records_created_at ON legal_basis_records (created_at, record_id);
CREATE TABLE IF NOT EXISTS dsr_verifications (
    nonce TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    email_hash TEXT NOT NULL,
    sealed TEXT NOT NULL,
    used_at REAL
);
CREATE INDEX IF NOT EXISTS dsr_verifications_expires_at ON dsr_verifications (expires_at);
CREATE TABLE IF NOT EXISTS dsr_requests (
    request_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    due_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    email_hash TEXT NOT NULL,
    sealed TEXT NOT NULL,
    language TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    extended_days INTEGER NOT NULL DEFAULT 0,
    case_id TEXT NOT NULL DEFAULT '',
    case_reference TEXT NOT NULL DEFAULT '',
    work INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    export_id TEXT NOT NULL DEFAULT '',
    export_expires_at REAL NOT NULL DEFAULT 0,
    export_downloaded_at REAL NOT NULL DEFAULT 0,
    lease_owner TEXT NOT NULL DEFAULT '',
    lease_until REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS dsr_requests_email_hash ON dsr_requests (email_hash);
CREATE INDEX IF NOT EXISTS dsr_requests_work ON dsr_requests (next_attempt_at) WHERE work <> 0;
CREATE INDEX IF NOT EXISTS dsr_requests_created_at ON dsr_requests (created_at, request_id);
CREATE TABLE IF NOT EXISTS dsr_exports (
    export_id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    sealed BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS dsr_audit (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    request_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dsr_audit_request_id ON dsr_audit (request_id, at);
CREATE TABLE IF NOT EXISTS dsr_rate (
    bucket TEXT PRIMARY KEY,
    window_end REAL NOT NULL,
    count INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS dsr_rate_window_end ON dsr_rate (window_end);
CREATE TABLE IF NOT EXISTS case_records (
    record_id TEXT PRIMARY KEY,
    helpdesk TEXT NOT NULL,
    case_id TEXT NOT NULL,
    trigger TEXT NOT NULL,
    action TEXT NOT NULL,
    state TEXT NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL NOT NULL DEFAULT 0,
    owner TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX IF NOT EXISTS case_records_one_started ON case_records (helpdesk, case_id)
    WHERE state = 'started';
CREATE INDEX IF NOT EXISTS case_records_case ON case_records (helpdesk, case_id, state);
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at REAL NOT NULL
);
"""

_OPEN = ", ".join(f"'{state}'" for state in OPEN_STATES)

CLAIM_WORK = f"""
UPDATE dsr_requests SET lease_owner = ?, lease_until = ?
WHERE request_id = (
    SELECT request_id FROM dsr_requests WHERE work <> 0 AND next_attempt_at <= ? AND lease_until < ?
    ORDER BY next_attempt_at, request_id LIMIT 1
)
RETURNING {REQUEST_COLUMNS}
"""

FINISH_WORK = f"""
UPDATE dsr_requests SET
    work = work & ~:done,
    case_id = CASE WHEN :case_id <> '' THEN :case_id ELSE case_id END,
    case_reference = CASE WHEN :case_id <> '' THEN :case_reference ELSE case_reference END,
    state = CASE WHEN :fulfilled AND state IN ({_OPEN}) THEN 'fulfilled'
                 WHEN :case_id <> '' AND state = 'received' THEN 'in_progress' ELSE state END,
    export_id = CASE WHEN :export_id <> '' THEN :export_id ELSE export_id END,
    export_expires_at = CASE WHEN :export_id <> '' THEN :export_expires_at ELSE export_expires_at END,
    export_downloaded_at = CASE WHEN :export_id <> '' THEN 0 ELSE export_downloaded_at END,
    attempts = :attempts, next_attempt_at = :next_attempt_at, last_error = :last_error, updated_at = :now,
    lease_owner = '', lease_until = 0
WHERE request_id = :request_id AND lease_owner = :owner
"""

UPDATE_REQUEST = """
UPDATE dsr_requests SET
    state = :state, updated_at = :updated_at,
    reason = coalesce(:reason, reason), due_at = coalesce(:due_at, due_at),
    extended_days = coalesce(:extended_days, extended_days),
    work = work | :add_work,
    next_attempt_at = CASE WHEN :add_work <> 0 THEN :updated_at ELSE next_attempt_at END,
    attempts = CASE WHEN :add_work <> 0 THEN 0 ELSE attempts END
WHERE request_id = :request_id AND state = :expect_state
"""

REQUEST_STATS = f"""
SELECT kind, count(*), sum(CASE WHEN due_at <= :now THEN 1 ELSE 0 END),
       sum(CASE WHEN due_at > :now AND due_at <= :soon THEN 1 ELSE 0 END), min(created_at)
FROM dsr_requests WHERE state IN ({_OPEN}) GROUP BY kind
"""

REVOKE = """
INSERT INTO revocations (kind, value, created_at, expires_at, reason) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (kind, value) DO UPDATE SET
    expires_at = max(revocations.expires_at, excluded.expires_at),
    reason = CASE WHEN excluded.reason <> '' THEN excluded.reason ELSE revocations.reason END
"""

IS_REVOKED = """
SELECT 1 FROM revocations
WHERE expires_at > :now AND (
    (kind = 'token' AND value = :jti)
    OR (kind = 'case' AND value = :case AND (:iat IS NULL OR :iat <= created_at))
    OR (kind = 'recipient' AND value = :recipient AND (:iat IS NULL OR :iat <= created_at))
)
LIMIT 1
"""


BEGIN_CASE = f"""
INSERT INTO case_records ({CASE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (helpdesk, case_id) WHERE state = 'started' DO UPDATE SET
    owner = excluded.owner, started_at = excluded.started_at, trigger = excluded.trigger, action = excluded.action
WHERE case_records.started_at < ?
RETURNING {CASE_COLUMNS}
"""

TAKE_LEASE = """
INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ?)
ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
WHERE leases.expires_at <= ? OR (? AND leases.owner = excluded.owner)
RETURNING owner
"""


class SQLiteStore(Store):
    """State in one SQLite file (created with its directory if missing), or ``:memory:``."""

    backend = "sqlite"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        receipt_retention: float | None = None,
        busy_timeout: float = 5.0,
    ) -> None:
        super().__init__(receipt_retention=receipt_retention)
        self.path = os.fspath(path)
        if not self.path:
            raise ValueError("the SQLite store needs a file path (or :memory:)")
        if busy_timeout <= 0:
            raise ValueError("busy_timeout must be positive")
        self.busy_timeout = busy_timeout
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        if self._executor is None:
            raise StoreError("the store is not open")
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + self.busy_timeout
        try:
            # Each call gets busy_timeout in all, queued behind others or not; the worker
            # thread enforces it (_within), this is the backstop should the thread not report.
            async with asyncio.timeout(self.busy_timeout + _REPORT_MARGIN):
                result = await loop.run_in_executor(
                    self._executor, functools.partial(self._within, deadline, fn, *args)
                )
        except TimeoutError as exc:
            self._unanswered(exc)
            raise StoreError(
                f"SQLite store {self.path!r}: no answer within {self.busy_timeout:g}s (store.timeouts.operation)"
            ) from exc
        except sqlite3.Error as exc:
            self._unanswered(exc)
            raise StoreError(f"SQLite store {self.path!r}: {type(exc).__name__}: {exc}") from exc
        self._answered()
        return result

    def _within(self, deadline: float, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn`` in the worker thread with only the time left until ``deadline`` to wait for locks.

        A call that waited its turn behind a blocked one must not then wait a
        full busy timeout of its own: its caller has been told it failed, so
        it must not succeed later either.
        """
        left = deadline - time.monotonic()
        if left <= 0:
            raise sqlite3.OperationalError("no time left after waiting for earlier store operations")
        shortened = self._conn if left < self.busy_timeout - 0.01 else None
        if shortened is not None:
            shortened.execute(f"PRAGMA busy_timeout = {max(1, int(left * 1000))}")
        try:
            return fn(*args)
        finally:
            if shortened is not None and self._conn is shortened:  # (not if fn closed it)
                shortened.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("the store is not open")
        return self._conn

    async def open(self) -> None:
        if self._executor is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-store-sqlite")
        try:
            await self._call(self._open_sync)
        except BaseException:
            self._executor.shutdown(wait=True)  # the worker is idle: this is a prompt join
            self._executor = None
            raise

    def _open_sync(self) -> None:
        if self.path != MEMORY:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the SQLite store {self.path!r}: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            if self.path != MEMORY:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                row = conn.execute("SELECT version FROM schema_version WHERE component = 'gateway'").fetchone()
                if row is None:
                    conn.execute("INSERT INTO schema_version (component, version) VALUES ('gateway', ?)", (SCHEMA_VERSION,))
                elif int(row[0]) > SCHEMA_VERSION:
                    raise StoreError(
                        f"the SQLite store {self.path!r} has schema version {row[0]}, "
                        f"newer than this gateway's ({SCHEMA_VERSION})"
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"cannot open the SQLite store {self.path!r}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    async def close(self) -> None:
        executor = self._executor
        if executor is None:
            return
        try:
            await self._call(self._close_sync)
        finally:
            self._executor = None
            executor.shutdown(wait=True)  # the worker is idle: this is a prompt join

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def _ping(self) -> None:
        await self._call(self._ping_sync)

    def _ping_sync(self) -> None:
        self._db().execute("SELECT 1").fetchone()

    # -- revocations -------------------------------------------------------

    async def _revoke(self, revocation: Revocation) -> None:
        await self._call(self._revoke_sync, revocation)

    def _revoke_sync(self, r: Revocation) -> None:
        self._db().execute(REVOKE, (r.kind, r.value, r.created_at, r.expires_at, r.reason))

    async def _is_revoked(
        self, jti: str, case: str | None, recipient: str | None, now: float, issued_at: float | None
    ) -> bool:
        params = {"now": now, "jti": jti, "case": case, "recipient": recipient, "iat": issued_at}
        return await self._call(self._is_revoked_sync, params)

    def _is_revoked_sync(self, params: dict[str, object]) -> bool:
        return self._db().execute(IS_REVOKED, params).fetchone() is not None

    async def revocations(self) -> list[Revocation]:
        return await self._call(self._revocations_sync)

    def _revocations_sync(self) -> list[Revocation]:
        rows = self._db().execute(
            "SELECT kind, value, created_at, expires_at, reason FROM revocations ORDER BY created_at, kind, value"
        )
        return [revocation_from_row(row) for row in rows]

    async def _purge_revocations(self, now: float) -> int:
        return await self._call(self._delete, "DELETE FROM revocations WHERE expires_at <= ?", now)

    def _delete(self, sql: str, bound: float) -> int:
        return self._db().execute(sql, (bound,)).rowcount

    # -- consent receipts --------------------------------------------------

    async def _add_receipt(self, receipt: ConsentReceipt) -> None:
        await self._call(self._add_receipt_sync, receipt_to_row(receipt))

    def _add_receipt_sync(self, row: tuple[object, ...]) -> None:
        self._db().execute(f"INSERT INTO consent_receipts ({RECEIPT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)

    async def _receipts_for(self, consent_id: str) -> list[ConsentReceipt]:
        return await self._call(self._receipts_for_sync, consent_id)

    def _receipts_for_sync(self, consent_id: str) -> list[ConsentReceipt]:
        rows = self._db().execute(
            f"SELECT {RECEIPT_COLUMNS} FROM consent_receipts WHERE consent_id = ? ORDER BY created_at, id",
            (consent_id,),
        )
        return [receipt_from_row(row) for row in rows]

    async def _receipt_page(
        self, since: float | None, after: tuple[float, int] | None, limit: int
    ) -> list[tuple[int, ConsentReceipt]]:
        return await self._call(self._receipt_page_sync, since, after, limit)

    def _receipt_page_sync(
        self, since: float | None, after: tuple[float, int] | None, limit: int
    ) -> list[tuple[int, ConsentReceipt]]:
        where, params = ["1 = 1"], []
        if since is not None:
            where.append("created_at >= ?")
            params.append(since)
        if after is not None:
            where.append("(created_at, id) > (?, ?)")
            params.extend(after)
        rows = self._db().execute(
            f"SELECT id, {RECEIPT_COLUMNS} FROM consent_receipts WHERE {' AND '.join(where)} "
            "ORDER BY created_at, id LIMIT ?",
            (*params, limit),
        )
        return [(int(row[0]), receipt_from_row(row[1:])) for row in rows]

    async def _expire_receipts(self, older_than: float) -> int:
        return await self._call(self._delete, "DELETE FROM consent_receipts WHERE created_at < ?", older_than)

    # -- legal-basis records -------------------------------------------------

    async def _add_legal(self, record: LegalRecord) -> None:
        await self._call(self._add_legal_sync, legal_to_row(record))

    def _add_legal_sync(self, row: tuple[object, ...]) -> None:
        self._db().execute(f"INSERT INTO legal_basis_records ({LEGAL_COLUMNS}) VALUES ({', '.join('?' * 11)})", row)

    async def _legal_select(self, column: str, values: Sequence[str]) -> list[LegalRecord]:
        return await self._call(self._legal_select_sync, column, list(values))

    def _legal_select_sync(self, column: str, values: list[str]) -> list[LegalRecord]:
        rows = self._db().execute(
            f"SELECT {LEGAL_COLUMNS} FROM legal_basis_records WHERE {column} IN ({', '.join('?' * len(values))}) "
            "ORDER BY created_at, record_id", values,
        )
        return [legal_from_row(row) for row in rows]

    async def _legal_page(self, after: tuple[float, str] | None, limit: int) -> list[LegalRecord]:
        return await self._call(self._legal_page_sync, after, limit)

    def _legal_page_sync(self, after: tuple[float, str] | None, limit: int) -> list[LegalRecord]:
        where, params = ("WHERE (created_at, record_id) > (?, ?) ", list(after)) if after else ("", [])
        rows = self._db().execute(
            f"SELECT {LEGAL_COLUMNS} FROM legal_basis_records {where}ORDER BY created_at, record_id LIMIT ?",
            (*params, limit),
        )
        return [legal_from_row(row) for row in rows]

    # -- data-subject requests -----------------------------------------------

    async def _add_verification(self, verification: Verification) -> None:
        await self._call(self._execute_sync, f"INSERT INTO dsr_verifications ({VERIFICATION_COLUMNS}) "
                         "VALUES (?, ?, ?, ?, ?, ?)", verification_to_row(verification))

    def _execute_sync(self, sql: str, params: Sequence[object] | dict[str, object]) -> int:
        return self._db().execute(sql, params).rowcount

    def _fetch_sync(self, sql: str, params: Sequence[object] | dict[str, object]) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._db().execute(sql, params).fetchall()]

    async def _fetch(self, sql: str, params: Sequence[object] | dict[str, object] = ()) -> list[tuple[Any, ...]]:
        return await self._call(self._fetch_sync, sql, params)

    async def _use_verification(self, nonce: str, now: float) -> Verification | None:
        rows = await self._fetch(
            f"UPDATE dsr_verifications SET used_at = ? WHERE nonce = ? AND used_at IS NULL AND expires_at > ? "
            f"RETURNING {VERIFICATION_COLUMNS}", (now, nonce, now))
        return verification_from_row(rows[0]) if rows else None

    async def _get_verification(self, nonce: str) -> Verification | None:
        rows = await self._fetch(f"SELECT {VERIFICATION_COLUMNS} FROM dsr_verifications WHERE nonce = ?", (nonce,))
        return verification_from_row(rows[0]) if rows else None

    async def _add_request(self, request: SubjectRequest) -> None:
        await self._call(self._execute_sync, f"INSERT INTO dsr_requests ({REQUEST_COLUMNS}) "
                         f"VALUES ({', '.join('?' * 20)})", request_to_row(request))

    async def _get_request(self, request_id: str) -> SubjectRequest | None:
        rows = await self._fetch(f"SELECT {REQUEST_COLUMNS} FROM dsr_requests WHERE request_id = ?", (request_id,))
        return request_from_row(rows[0]) if rows else None

    async def _list_requests(self, open_only: bool, limit: int) -> list[SubjectRequest]:
        where = f"WHERE state IN ({_OPEN}) " if open_only else ""
        rows = await self._fetch(f"SELECT {REQUEST_COLUMNS} FROM dsr_requests {where}"
                                 "ORDER BY created_at DESC, request_id DESC LIMIT ?", (limit,))
        return [request_from_row(row) for row in rows]

    async def _requests_for(self, email_hashes: Sequence[str]) -> list[SubjectRequest]:
        rows = await self._fetch(
            f"SELECT {REQUEST_COLUMNS} FROM dsr_requests WHERE email_hash IN ({', '.join('?' * len(email_hashes))}) "
            "ORDER BY created_at, request_id", list(email_hashes))
        return [request_from_row(row) for row in rows]

    async def _reduce_request(self, request_id: str, sealed: str) -> int:
        return await self._call(self._reduce_request_sync, request_id, sealed)

    def _reduce_request_sync(self, request_id: str, sealed: str) -> int:
        db = self._db()
        changed = db.execute(f"UPDATE dsr_requests SET sealed = ? WHERE request_id = ? AND state NOT IN ({_OPEN})",
                             (sealed, request_id)).rowcount
        if not changed:
            return 0  # open (it still needs what it holds) or unknown
        return changed + db.execute("DELETE FROM dsr_exports WHERE request_id = ?", (request_id,)).rowcount

    async def _update_request(self, request_id: str, update: RequestUpdate, expect_state: str) -> bool:
        params = {"state": update.state, "updated_at": update.updated_at, "reason": update.reason,
                  "due_at": update.due_at, "extended_days": update.extended_days, "add_work": update.add_work,
                  "request_id": request_id, "expect_state": expect_state}
        return bool(await self._call(self._execute_sync, UPDATE_REQUEST, params))

    async def _claim_request_work(self, owner: str, now: float, lease_until: float) -> SubjectRequest | None:
        rows = await self._fetch(CLAIM_WORK, (owner, lease_until, now, now))
        return request_from_row(rows[0]) if rows else None

    async def _finish_request_work(self, request_id: str, owner: str, result: WorkResult) -> bool:
        params = {"done": result.done, "case_id": result.case_id, "case_reference": result.case_reference,
                  "fulfilled": int(result.fulfilled), "export_id": result.export_id,
                  "export_expires_at": result.export_expires_at, "attempts": result.attempts,
                  "next_attempt_at": result.next_attempt_at, "last_error": result.last_error, "now": result.now,
                  "request_id": request_id, "owner": owner}
        return bool(await self._call(self._execute_sync, FINISH_WORK, params))

    async def _request_stats(self, now: float, soon: float) -> RequestStats:
        return stats_from_rows(await self._fetch(REQUEST_STATS, {"now": now, "soon": soon}))

    async def _add_export(self, export: ExportBlob) -> None:
        await self._call(self._execute_sync, f"INSERT INTO dsr_exports ({EXPORT_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                         (export.export_id, export.request_id, export.created_at, export.expires_at, export.sealed))

    async def _take_export(self, export_id: str, now: float) -> ExportBlob | None:
        return await self._call(self._take_export_sync, export_id, now)

    def _take_export_sync(self, export_id: str, now: float) -> ExportBlob | None:
        row = self._db().execute(f"DELETE FROM dsr_exports WHERE export_id = ? RETURNING {EXPORT_COLUMNS}",
                                 (export_id,)).fetchone()
        if row is None:
            return None
        blob = export_from_row(row)
        if blob.expires_at > now:
            self._db().execute("UPDATE dsr_requests SET export_downloaded_at = ? WHERE export_id = ? "
                               "AND export_downloaded_at = 0", (now, export_id))
        return blob

    async def _add_audit(self, entry: AuditEntry) -> None:
        await self._call(self._execute_sync, "INSERT INTO dsr_audit (at, actor, action, request_id) "
                         "VALUES (?, ?, ?, ?)", (entry.at, entry.actor, entry.action, entry.request_id))

    async def _audit_for(self, request_id: str) -> list[AuditEntry]:
        rows = await self._fetch("SELECT at, actor, action, request_id FROM dsr_audit WHERE request_id = ? "
                                 "ORDER BY at, id", (request_id,))
        return [AuditEntry(float(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]

    async def _count_rate(self, bucket: str, window_end: float) -> int:
        rows = await self._fetch(
            "INSERT INTO dsr_rate (bucket, window_end, count) VALUES (?, ?, 1) "
            "ON CONFLICT (bucket) DO UPDATE SET count = dsr_rate.count + 1 RETURNING count", (bucket, window_end))
        return int(rows[0][0])

    async def _purge_requests(self, now: float, verifications_before: float) -> int:
        return await self._call(self._purge_requests_sync, now, verifications_before)

    def _purge_requests_sync(self, now: float, verifications_before: float) -> int:
        db = self._db()
        removed = db.execute("DELETE FROM dsr_verifications WHERE expires_at < ?", (verifications_before,)).rowcount
        removed += db.execute("DELETE FROM dsr_exports WHERE expires_at <= ?", (now,)).rowcount
        return removed + db.execute("DELETE FROM dsr_rate WHERE window_end <= ?", (now,)).rowcount

    # -- the anonymisation journal and leases -----------------------------------------

    async def _begin_case(self, record: CaseRecord, stale_before: float) -> CaseRecord | None:
        rows = await self._fetch(BEGIN_CASE, (*case_to_row(record), stale_before))
        return case_from_row(rows[0]) if rows else None

    async def _finish_case(self, record_id: str, owner: str, state: str, summary: str, now: float) -> bool:
        return bool(await self._call(self._execute_sync, "UPDATE case_records SET state = ?, summary = ?, "
                                     "finished_at = ? WHERE record_id = ? AND owner = ? AND state = 'started'",
                                     (state, summary, now, record_id, owner)))

    async def _case_records(self, case_ids: list[str], helpdesk: str, limit: int) -> list[CaseRecord]:
        where = [f"case_id IN ({', '.join('?' * len(case_ids))})"] if case_ids else []
        params: list[object] = list(case_ids)
        if helpdesk:
            where.append("helpdesk = ?")
            params.append(helpdesk)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = await self._fetch(f"SELECT {CASE_COLUMNS} FROM case_records {clause}"
                                 "ORDER BY started_at DESC, record_id LIMIT ?", [*params, limit])
        return [case_from_row(row) for row in rows]

    async def _cases_done(self, helpdesk: str, case_ids: list[str]) -> set[str]:
        rows = await self._fetch(f"SELECT DISTINCT case_id FROM case_records WHERE helpdesk = ? AND state = 'done' "
                                 f"AND case_id IN ({', '.join('?' * len(case_ids))})", [helpdesk, *case_ids])
        return {str(row[0]) for row in rows}

    async def _unfinished_cases(self, helpdesk: str, stale_before: float) -> list[CaseRecord]:
        rows = await self._fetch(f"SELECT {CASE_COLUMNS} FROM case_records WHERE helpdesk = ? AND state = 'started' "
                                 "AND started_at < ? ORDER BY started_at, record_id", (helpdesk, stale_before))
        return [case_from_row(row) for row in rows]

    async def _take_lease(self, name: str, owner: str, now: float, until: float, renew: bool) -> bool:
        return bool(await self._fetch(TAKE_LEASE, (name, owner, until, now, int(renew))))

    async def _release_lease(self, name: str, owner: str) -> None:
        await self._call(self._execute_sync, "DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))
