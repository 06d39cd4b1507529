"""The shared state store: PostgreSQL through an asyncpg pool, for several replicas.

asyncpg is imported when the store opens, so a gateway on SQLite runs without
it. The schema is the SQLite one (epoch seconds as DOUBLE PRECISION, choices
as JSONB), created at open inside a transaction that first takes a
transaction-level advisory lock: replicas starting together create it once,
the others wait and find it there.

The DSN is passed to asyncpg unchanged; extra query parameters become server
settings, e.g. ``postgresql://gw@db:5432/gateway?search_path=privacy`` keeps
the tables in schema ``privacy`` (which must exist). ``password``, when given,
is used instead of one in the DSN (so it needs no URL escaping); without
either, asyncpg reads ``PGPASSWORD`` or ``~/.pgpass`` as libpq does.

Nothing is cached: every replica asks the database on every check, so a
revocation committed through one replica is refused by all of them from the
next request on.

When PostgreSQL does not answer (down, unreachable, past
``operation_timeout``), every operation raises :class:`StoreError` within
the timeout and the features fail closed:

- revocation checks: the link endpoint and token-protected paths answer 503
  ``link_check_unavailable``; no link opens unchecked, none is served from a
  cache;
- consent receipts: a decision that grants anything is refused (503
  ``consent_not_recorded``, nothing changes); a refusal or withdrawal takes
  effect in the browser but is answered 503 ``consent_not_recorded`` too, so
  the visitor knows it was not recorded; a Global Privacy Control refusal
  applies without the consent cookie, so the next page view records it.
  Nothing is buffered locally, and no receipt is lost unnoticed;
- ``up`` turns False (the ``store_up`` gauge, ``/readyz``), and each failure
  counts in ``errors``.

The pool reconnects by itself: a connection found broken is replaced at the
next acquire, so the first operation after PostgreSQL returns succeeds,
without a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

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

if TYPE_CHECKING:
    import asyncpg

T = TypeVar("T")

#: Advisory lock taken while the schema is created (any constant bigint; "prgw").
SCHEMA_LOCK = 0x70726777

SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (
    component TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS revocations (
    kind TEXT NOT NULL CHECK (kind IN ('token', 'case', 'recipient')),
    value TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (kind, value)
);
CREATE INDEX IF NOT EXISTS revocations_expires_at ON revocations (expires_at);
CREATE TABLE IF NOT EXISTS consent_receipts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consent_id TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    choices JSONB NOT NULL,
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
    created_at DOUBLE PRECISION NOT NULL,
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
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    email_hash TEXT NOT NULL,
    sealed TEXT NOT NULL,
    used_at DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS dsr_verifications_expires_at ON dsr_verifications (expires_at);
CREATE TABLE IF NOT EXISTS dsr_requests (
    request_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    due_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    email_hash TEXT NOT NULL,
    sealed TEXT NOT NULL,
    language TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    extended_days INTEGER NOT NULL DEFAULT 0,
    case_id TEXT NOT NULL DEFAULT '',
    case_reference TEXT NOT NULL DEFAULT '',
    work INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DOUBLE PRECISION NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    export_id TEXT NOT NULL DEFAULT '',
    export_expires_at DOUBLE PRECISION NOT NULL DEFAULT 0,
    export_downloaded_at DOUBLE PRECISION NOT NULL DEFAULT 0,
    lease_owner TEXT NOT NULL DEFAULT '',
    lease_until DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS dsr_requests_email_hash ON dsr_requests (email_hash);
CREATE INDEX IF NOT EXISTS dsr_requests_work ON dsr_requests (next_attempt_at) WHERE work <> 0;
CREATE INDEX IF NOT EXISTS dsr_requests_created_at ON dsr_requests (created_at, request_id);
CREATE TABLE IF NOT EXISTS dsr_exports (
    export_id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    sealed BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS dsr_audit (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at DOUBLE PRECISION NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    request_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dsr_audit_request_id ON dsr_audit (request_id, at);
CREATE TABLE IF NOT EXISTS dsr_rate (
    bucket TEXT PRIMARY KEY,
    window_end DOUBLE PRECISION NOT NULL,
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
    started_at DOUBLE PRECISION NOT NULL,
    finished_at DOUBLE PRECISION NOT NULL DEFAULT 0,
    owner TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX IF NOT EXISTS case_records_one_started ON case_records (helpdesk, case_id)
    WHERE state = 'started';
CREATE INDEX IF NOT EXISTS case_records_case ON case_records (helpdesk, case_id, state);
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
"""

_OPEN = ", ".join(f"'{state}'" for state in OPEN_STATES)

# SKIP LOCKED: replicas claiming at the same moment each get another request, none waits for the other.
CLAIM_WORK = f"""
UPDATE dsr_requests SET lease_owner = $1, lease_until = $2
WHERE request_id = (
    SELECT request_id FROM dsr_requests WHERE work <> 0 AND next_attempt_at <= $3 AND lease_until < $3
    ORDER BY next_attempt_at, request_id LIMIT 1 FOR UPDATE SKIP LOCKED
)
RETURNING {REQUEST_COLUMNS}
"""

FINISH_WORK = f"""
UPDATE dsr_requests SET
    work = work & ~$1::integer,
    case_id = CASE WHEN $2::text <> '' THEN $2::text ELSE case_id END,
    case_reference = CASE WHEN $2::text <> '' THEN $3::text ELSE case_reference END,
    state = CASE WHEN $4::boolean AND state IN ({_OPEN}) THEN 'fulfilled'
                 WHEN $2::text <> '' AND state = 'received' THEN 'in_progress' ELSE state END,
    export_id = CASE WHEN $5::text <> '' THEN $5::text ELSE export_id END,
    export_expires_at = CASE WHEN $5::text <> '' THEN $6::float8 ELSE export_expires_at END,
    export_downloaded_at = CASE WHEN $5::text <> '' THEN 0 ELSE export_downloaded_at END,
    attempts = $7, next_attempt_at = $8, last_error = $9, updated_at = $10, lease_owner = '', lease_until = 0
WHERE request_id = $11 AND lease_owner = $12
"""

UPDATE_REQUEST = """
UPDATE dsr_requests SET
    state = $1, updated_at = $2::float8,
    reason = coalesce($3::text, reason), due_at = coalesce($4::float8, due_at),
    extended_days = coalesce($5::integer, extended_days),
    work = work | $6::integer,
    next_attempt_at = CASE WHEN $6::integer <> 0 THEN $2::float8 ELSE next_attempt_at END,
    attempts = CASE WHEN $6::integer <> 0 THEN 0 ELSE attempts END
WHERE request_id = $7 AND state = $8
"""

REQUEST_STATS = f"""
SELECT kind, count(*), sum(CASE WHEN due_at <= $1 THEN 1 ELSE 0 END),
       sum(CASE WHEN due_at > $1 AND due_at <= $2 THEN 1 ELSE 0 END), min(created_at)
FROM dsr_requests WHERE state IN ({_OPEN}) GROUP BY kind
"""

REVOKE = """
INSERT INTO revocations (kind, value, created_at, expires_at, reason) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (kind, value) DO UPDATE SET
    expires_at = GREATEST(revocations.expires_at, EXCLUDED.expires_at),
    reason = CASE WHEN EXCLUDED.reason <> '' THEN EXCLUDED.reason ELSE revocations.reason END
"""

IS_REVOKED = """
SELECT 1 FROM revocations
WHERE expires_at > $1 AND (
    (kind = 'token' AND value = $2)
    OR (kind = 'case' AND value = $3::text AND ($5::float8 IS NULL OR $5::float8 <= created_at))
    OR (kind = 'recipient' AND value = $4::text AND ($5::float8 IS NULL OR $5::float8 <= created_at))
)
LIMIT 1
"""

# The JSONB column is read back as text and parsed by receipt_from_row.
SELECT_RECEIPT = RECEIPT_COLUMNS.replace("choices", "choices::text")


def redact_dsn(dsn: str) -> str:
    """The DSN without its password, for messages."""
    try:
        parts = urlsplit(dsn)
        if parts.password is None:
            return dsn
        netloc = parts.netloc.rpartition("@")[2]
        user = parts.username or ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))
    except ValueError:
        return "<unparsable DSN>"


BEGIN_CASE = f"""
INSERT INTO case_records ({CASE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (helpdesk, case_id) WHERE state = 'started' DO UPDATE SET
    owner = excluded.owner, started_at = excluded.started_at, trigger = excluded.trigger, action = excluded.action
WHERE case_records.started_at < $11
RETURNING {CASE_COLUMNS}
"""

TAKE_LEASE = """
INSERT INTO leases (name, owner, expires_at) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
WHERE leases.expires_at <= $4 OR ($5 AND leases.owner = excluded.owner)
RETURNING owner
"""


class PostgresStore(Store):
    """State in PostgreSQL; ``min_size``..``max_size`` pooled connections per replica."""

    backend = "postgresql"

    def __init__(
        self,
        dsn: str,
        *,
        receipt_retention: float | None = None,
        min_size: int = 1,
        max_size: int = 5,
        server_settings: Mapping[str, str] | None = None,
        operation_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        password: str | None = None,
    ) -> None:
        super().__init__(receipt_retention=receipt_retention)
        if not 1 <= min_size <= max_size:
            raise ValueError("pool sizes must satisfy 1 <= min_size <= max_size")
        self.dsn = dsn
        self.password = password
        self.min_size = min_size
        self.max_size = max_size
        self.server_settings = dict(server_settings or {})
        if operation_timeout <= 0 or connect_timeout <= 0:
            raise ValueError("store timeouts must be positive")
        self.operation_timeout = operation_timeout
        self.connect_timeout = connect_timeout
        self._pool: asyncpg.Pool[asyncpg.Record] | None = None
        self._failures: tuple[type[BaseException], ...] = ()

    def __repr__(self) -> str:
        return f"PostgresStore({redact_dsn(self.dsn)!r})"

    def _db(self) -> asyncpg.Pool[asyncpg.Record]:
        if self._pool is None:
            raise StoreError("the store is not open")
        return self._pool

    def _failed(self, exc: BaseException) -> StoreError:
        return StoreError(f"PostgreSQL store {redact_dsn(self.dsn)}: {type(exc).__name__}: {exc}")

    async def _execute(self, sql: str, *args: Any) -> str:
        return await self._run(lambda conn, timeout: conn.execute(sql, *args, timeout=timeout))

    async def _fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        rows = await self._run(lambda conn, timeout: conn.fetch(sql, *args, timeout=timeout))
        return [tuple(row.values()) for row in rows]

    async def _run(self, statement: Callable[[Any, float], Awaitable[T]]) -> T:
        """One statement on a pooled connection, all of it within ``operation_timeout``.

        A server that accepts connections but never answers must fail the
        request promptly, not hold it: the bound covers the wait for a pooled
        connection (and a reconnect), the statement and the connection's
        return to the pool; asyncpg cancels what the server was still doing.
        """
        pool = self._db()
        timeout = self.operation_timeout
        try:
            async with asyncio.timeout(timeout):
                async with pool.acquire(timeout=timeout) as conn:
                    result = await statement(conn, timeout)
        except TimeoutError as exc:
            self._unanswered(exc)
            raise StoreError(
                f"PostgreSQL store {redact_dsn(self.dsn)}: no answer within {timeout:g}s (store.timeouts.operation)"
            ) from exc
        except self._failures as exc:
            self._unanswered(exc)
            raise self._failed(exc) from exc
        self._answered()
        return result

    async def _ping(self) -> None:
        await self._run(lambda conn, timeout: conn.fetchval("SELECT 1", timeout=timeout))

    async def open(self) -> None:
        if self._pool is not None:
            return
        try:
            import asyncpg
        except ImportError:
            raise StoreError("the PostgreSQL store needs the asyncpg package: pip install asyncpg") from None
        where = redact_dsn(self.dsn)
        try:
            pool = await asyncpg.create_pool(
                self.dsn,
                min_size=self.min_size,
                max_size=self.max_size,
                server_settings=self.server_settings or None,
                password=self.password,
                # Also bounds asyncpg's cancel request for a statement that timed out.
                command_timeout=self.operation_timeout,
                timeout=self.connect_timeout,
            )
        except TimeoutError as exc:
            raise StoreError(
                f"cannot connect to the PostgreSQL store {where}: no answer within {self.connect_timeout:g}s "
                "(store.timeouts.connect)"
            ) from exc
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(f"cannot connect to the PostgreSQL store {where}: {type(exc).__name__}: {exc}") from exc
        try:
            async with (
                asyncio.timeout(self.connect_timeout + self.operation_timeout),
                pool.acquire() as conn,
                conn.transaction(),
            ):
                await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK)
                await conn.execute(SCHEMA)
                version = await conn.fetchval("SELECT version FROM schema_version WHERE component = 'gateway'")
                if version is None:
                    await conn.execute(
                        "INSERT INTO schema_version (component, version) VALUES ('gateway', $1)", SCHEMA_VERSION
                    )
                elif int(version) > SCHEMA_VERSION:
                    raise StoreError(
                        f"the PostgreSQL store {where} has schema version {version}, "
                        f"newer than this gateway's ({SCHEMA_VERSION})"
                    )
        except (asyncpg.PostgresError, TimeoutError) as exc:
            pool.terminate()
            raise StoreError(f"cannot create the schema in {where}: {type(exc).__name__}: {exc}") from exc
        except BaseException:
            pool.terminate()
            raise
        self._pool = pool
        self._failures = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
        self._answered()

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                # A graceful close waits for the server; a stalled one must not hold up the shutdown.
                async with asyncio.timeout(self.operation_timeout):
                    await pool.close()
            except TimeoutError:
                pool.terminate()

    # -- revocations -------------------------------------------------------

    async def _revoke(self, r: Revocation) -> None:
        await self._execute(REVOKE, r.kind, r.value, r.created_at, r.expires_at, r.reason)

    async def _is_revoked(
        self, jti: str, case: str | None, recipient: str | None, now: float, issued_at: float | None
    ) -> bool:
        return bool(await self._fetch(IS_REVOKED, now, jti, case, recipient, issued_at))

    async def revocations(self) -> list[Revocation]:
        rows = await self._fetch(
            "SELECT kind, value, created_at, expires_at, reason FROM revocations ORDER BY created_at, kind, value"
        )
        return [revocation_from_row(row) for row in rows]

    async def _purge_revocations(self, now: float) -> int:
        return _count(await self._execute("DELETE FROM revocations WHERE expires_at <= $1", now))

    # -- consent receipts --------------------------------------------------

    async def _add_receipt(self, receipt: ConsentReceipt) -> None:
        await self._execute(
            f"INSERT INTO consent_receipts ({RECEIPT_COLUMNS}) "
            "VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, $9)",
            *receipt_to_row(receipt),
        )

    async def _receipts_for(self, consent_id: str) -> list[ConsentReceipt]:
        rows = await self._fetch(
            f"SELECT {SELECT_RECEIPT} FROM consent_receipts WHERE consent_id = $1 ORDER BY created_at, id",
            consent_id,
        )
        return [receipt_from_row(row) for row in rows]

    async def _receipt_page(
        self, since: float | None, after: tuple[float, int] | None, limit: int
    ) -> list[tuple[int, ConsentReceipt]]:
        where: list[str] = []
        params: list[Any] = []
        if since is not None:
            params.append(since)
            where.append(f"created_at >= ${len(params)}")
        if after is not None:
            params.extend(after)
            where.append(f"(created_at, id) > (${len(params) - 1}, ${len(params)})")
        params.append(limit)
        sql = (
            f"SELECT id, {SELECT_RECEIPT} FROM consent_receipts "
            f"{'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY created_at, id LIMIT ${len(params)}"
        )
        rows = await self._fetch(sql, *params)
        return [(int(row[0]), receipt_from_row(row[1:])) for row in rows]

    async def _expire_receipts(self, older_than: float) -> int:
        return _count(await self._execute("DELETE FROM consent_receipts WHERE created_at < $1", older_than))


    # -- legal-basis records -------------------------------------------------

    async def _add_legal(self, record: LegalRecord) -> None:
        placeholders = ", ".join(f"${i}" for i in range(1, 12))
        await self._execute(f"INSERT INTO legal_basis_records ({LEGAL_COLUMNS}) VALUES ({placeholders})",
                            *legal_to_row(record))

    async def _legal_select(self, column: str, values: Sequence[str]) -> list[LegalRecord]:
        rows = await self._fetch(
            f"SELECT {LEGAL_COLUMNS} FROM legal_basis_records WHERE {column} = ANY($1::text[]) "
            "ORDER BY created_at, record_id", list(values),
        )
        return [legal_from_row(row) for row in rows]

    async def _legal_page(self, after: tuple[float, str] | None, limit: int) -> list[LegalRecord]:
        if after is None:
            rows = await self._fetch(
                f"SELECT {LEGAL_COLUMNS} FROM legal_basis_records ORDER BY created_at, record_id LIMIT $1", limit)
        else:
            rows = await self._fetch(
                f"SELECT {LEGAL_COLUMNS} FROM legal_basis_records WHERE (created_at, record_id) > ($1, $2) "
                "ORDER BY created_at, record_id LIMIT $3", after[0], after[1], limit)
        return [legal_from_row(row) for row in rows]


    # -- data-subject requests -----------------------------------------------

    async def _add_verification(self, verification: Verification) -> None:
        await self._execute(f"INSERT INTO dsr_verifications ({VERIFICATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)",
                            *verification_to_row(verification))

    async def _use_verification(self, nonce: str, now: float) -> Verification | None:
        rows = await self._fetch(
            "UPDATE dsr_verifications SET used_at = $1 WHERE nonce = $2 AND used_at IS NULL AND expires_at > $1 "
            f"RETURNING {VERIFICATION_COLUMNS}", now, nonce)
        return verification_from_row(rows[0]) if rows else None

    async def _get_verification(self, nonce: str) -> Verification | None:
        rows = await self._fetch(f"SELECT {VERIFICATION_COLUMNS} FROM dsr_verifications WHERE nonce = $1", nonce)
        return verification_from_row(rows[0]) if rows else None

    async def _add_request(self, request: SubjectRequest) -> None:
        placeholders = ", ".join(f"${i}" for i in range(1, 21))
        await self._execute(f"INSERT INTO dsr_requests ({REQUEST_COLUMNS}) VALUES ({placeholders})",
                            *request_to_row(request))

    async def _get_request(self, request_id: str) -> SubjectRequest | None:
        rows = await self._fetch(f"SELECT {REQUEST_COLUMNS} FROM dsr_requests WHERE request_id = $1", request_id)
        return request_from_row(rows[0]) if rows else None

    async def _list_requests(self, open_only: bool, limit: int) -> list[SubjectRequest]:
        where = f"WHERE state IN ({_OPEN}) " if open_only else ""
        rows = await self._fetch(f"SELECT {REQUEST_COLUMNS} FROM dsr_requests {where}"
                                 "ORDER BY created_at DESC, request_id DESC LIMIT $1", limit)
        return [request_from_row(row) for row in rows]

    async def _requests_for(self, email_hashes: Sequence[str]) -> list[SubjectRequest]:
        rows = await self._fetch(f"SELECT {REQUEST_COLUMNS} FROM dsr_requests WHERE email_hash = ANY($1::text[]) "
                                 "ORDER BY created_at, request_id", list(email_hashes))
        return [request_from_row(row) for row in rows]

    async def _reduce_request(self, request_id: str, sealed: str) -> int:
        changed = _count(await self._execute(f"UPDATE dsr_requests SET sealed = $1 WHERE request_id = $2 "
                                             f"AND state NOT IN ({_OPEN})", sealed, request_id))
        if not changed:
            return 0  # open (it still needs what it holds) or unknown
        return changed + _count(await self._execute("DELETE FROM dsr_exports WHERE request_id = $1", request_id))

    async def _update_request(self, request_id: str, update: RequestUpdate, expect_state: str) -> bool:
        status = await self._execute(UPDATE_REQUEST, update.state, update.updated_at, update.reason, update.due_at,
                                     update.extended_days, update.add_work, request_id, expect_state)
        return _count(status) > 0

    async def _claim_request_work(self, owner: str, now: float, lease_until: float) -> SubjectRequest | None:
        rows = await self._fetch(CLAIM_WORK, owner, lease_until, now)
        return request_from_row(rows[0]) if rows else None

    async def _finish_request_work(self, request_id: str, owner: str, r: WorkResult) -> bool:
        status = await self._execute(FINISH_WORK, r.done, r.case_id, r.case_reference, r.fulfilled, r.export_id,
                                     r.export_expires_at, r.attempts, r.next_attempt_at, r.last_error, r.now,
                                     request_id, owner)
        return _count(status) > 0

    async def _request_stats(self, now: float, soon: float) -> RequestStats:
        return stats_from_rows(await self._fetch(REQUEST_STATS, now, soon))

    async def _add_export(self, export: ExportBlob) -> None:
        await self._execute(f"INSERT INTO dsr_exports ({EXPORT_COLUMNS}) VALUES ($1, $2, $3, $4, $5)",
                            export.export_id, export.request_id, export.created_at, export.expires_at, export.sealed)

    async def _take_export(self, export_id: str, now: float) -> ExportBlob | None:
        rows = await self._fetch(f"DELETE FROM dsr_exports WHERE export_id = $1 RETURNING {EXPORT_COLUMNS}", export_id)
        if not rows:
            return None
        blob = export_from_row(rows[0])
        if blob.expires_at > now:
            await self._execute("UPDATE dsr_requests SET export_downloaded_at = $1 WHERE export_id = $2 "
                                "AND export_downloaded_at = 0", now, export_id)
        return blob

    async def _add_audit(self, entry: AuditEntry) -> None:
        await self._execute("INSERT INTO dsr_audit (at, actor, action, request_id) VALUES ($1, $2, $3, $4)",
                            entry.at, entry.actor, entry.action, entry.request_id)

    async def _audit_for(self, request_id: str) -> list[AuditEntry]:
        rows = await self._fetch("SELECT at, actor, action, request_id FROM dsr_audit WHERE request_id = $1 "
                                 "ORDER BY at, id", request_id)
        return [AuditEntry(float(r[0]), r[1], r[2], r[3]) for r in rows]

    async def _count_rate(self, bucket: str, window_end: float) -> int:
        rows = await self._fetch(
            "INSERT INTO dsr_rate (bucket, window_end, count) VALUES ($1, $2, 1) "
            "ON CONFLICT (bucket) DO UPDATE SET count = dsr_rate.count + 1 RETURNING count", bucket, window_end)
        return int(rows[0][0])

    async def _purge_requests(self, now: float, verifications_before: float) -> int:
        removed = _count(await self._execute("DELETE FROM dsr_verifications WHERE expires_at < $1",
                                             verifications_before))
        removed += _count(await self._execute("DELETE FROM dsr_exports WHERE expires_at <= $1", now))
        return removed + _count(await self._execute("DELETE FROM dsr_rate WHERE window_end <= $1", now))


    # -- the anonymisation journal and leases -----------------------------------------

    async def _begin_case(self, record: CaseRecord, stale_before: float) -> CaseRecord | None:
        rows = await self._fetch(BEGIN_CASE, *case_to_row(record), stale_before)
        return case_from_row(rows[0]) if rows else None

    async def _finish_case(self, record_id: str, owner: str, state: str, summary: str, now: float) -> bool:
        status = await self._execute("UPDATE case_records SET state = $1, summary = $2, finished_at = $3 "
                                     "WHERE record_id = $4 AND owner = $5 AND state = 'started'",
                                     state, summary, now, record_id, owner)
        return _count(status) > 0

    async def _case_records(self, case_ids: list[str], helpdesk: str, limit: int) -> list[CaseRecord]:
        rows = await self._fetch(f"SELECT {CASE_COLUMNS} FROM case_records "
                                 "WHERE (cardinality($1::text[]) = 0 OR case_id = ANY($1::text[])) "
                                 "AND ($2 = '' OR helpdesk = $2) ORDER BY started_at DESC, record_id LIMIT $3",
                                 case_ids, helpdesk, limit)
        return [case_from_row(row) for row in rows]

    async def _cases_done(self, helpdesk: str, case_ids: list[str]) -> set[str]:
        rows = await self._fetch("SELECT DISTINCT case_id FROM case_records WHERE helpdesk = $1 AND state = 'done' "
                                 "AND case_id = ANY($2::text[])", helpdesk, case_ids)
        return {str(row[0]) for row in rows}

    async def _unfinished_cases(self, helpdesk: str, stale_before: float) -> list[CaseRecord]:
        rows = await self._fetch(f"SELECT {CASE_COLUMNS} FROM case_records WHERE helpdesk = $1 "
                                 "AND state = 'started' AND started_at < $2 ORDER BY started_at, record_id",
                                 helpdesk, stale_before)
        return [case_from_row(row) for row in rows]

    async def _take_lease(self, name: str, owner: str, now: float, until: float, renew: bool) -> bool:
        return bool(await self._fetch(TAKE_LEASE, name, owner, until, now, renew))

    async def _release_lease(self, name: str, owner: str) -> None:
        await self._execute("DELETE FROM leases WHERE name = $1 AND owner = $2", name, owner)

def _count(status: str) -> int:
    """Rows affected, from a command status such as ``DELETE 3``."""
    tail = status.rpartition(" ")[2]
    return int(tail) if tail.isdigit() else 0
