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
from typing import TypeVar

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
from .legal import LEGAL_COLUMNS, LegalRecord, legal_from_row, legal_to_row

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
