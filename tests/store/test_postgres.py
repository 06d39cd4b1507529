"""The PostgreSQL backend: replicas starting together, schema, DSN handling, lazy import."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.store import SCHEMA_VERSION, ConsentReceipt, PostgresStore, StoreError, open_store_url
from gateway.store.postgres import redact_dsn

T0 = 1_700_000_000.0
ROOT = Path(__file__).resolve().parent.parent.parent


def receipt(consent_id: str) -> ConsentReceipt:
    return ConsentReceipt(
        consent_id=consent_id,
        created_at=T0,
        choices={"analytics": True, "marketing": False},
        consent_version="1",
        text_hash="h",
        method="cmp",
        ip_truncated="2001:db8::",
        user_agent_family="Safari",
        page_path="/",
    )


async def query(dsn: str, schema: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    import asyncpg

    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    try:
        return [tuple(row.values()) for row in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


def store_in(dsn: str, schema: str, **kwargs: Any) -> PostgresStore:
    return PostgresStore(dsn, server_settings={"search_path": schema}, **kwargs)


async def test_replicas_starting_at_once_create_the_schema_once(pg_dsn: str, pg_schema: str) -> None:
    replicas = [store_in(pg_dsn, pg_schema) for _ in range(8)]
    try:
        await asyncio.gather(*(replica.open() for replica in replicas))
        await replicas[3].revoke("token", "t", expires_at=T0 + 60, now=T0)
        assert all([await r.is_revoked(jti="t", case=None, recipient=None, now=T0) for r in replicas])
    finally:
        await asyncio.gather(*(replica.close() for replica in replicas))
    assert await query(pg_dsn, pg_schema, "SELECT component, version FROM schema_version") == [
        ("gateway", SCHEMA_VERSION)
    ]


async def test_schema_layout(pg_dsn: str, pg_schema: str) -> None:
    async with store_in(pg_dsn, pg_schema) as store:
        await store.add_receipt(receipt("c-1"))
    tables = await query(
        pg_dsn, pg_schema, "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", pg_schema
    )
    assert {t[0] for t in tables} == {"schema_version", "revocations", "consent_receipts", "legal_basis_records",
                                     "dsr_verifications", "dsr_requests", "dsr_exports", "dsr_audit", "dsr_rate",
                                     "case_records", "leases"}
    indexes = {row[0] for row in await query(pg_dsn, pg_schema, "SELECT indexname FROM pg_indexes WHERE schemaname = $1", pg_schema)}
    assert {"consent_receipts_consent_id", "consent_receipts_created_at", "revocations_expires_at"} <= indexes
    assert {"revocations_pkey"} <= indexes  # (kind, value)
    # Choices are real JSON in the database, usable from SQL.
    assert await query(pg_dsn, pg_schema, "SELECT choices->>'analytics', jsonb_typeof(choices) FROM consent_receipts") == [
        ("true", "object")
    ]


async def test_newer_schema_is_refused(pg_dsn: str, pg_schema: str) -> None:
    async with store_in(pg_dsn, pg_schema):
        pass
    await query(pg_dsn, pg_schema, "UPDATE schema_version SET version = $1", SCHEMA_VERSION + 1)
    store = store_in(pg_dsn, pg_schema)
    with pytest.raises(StoreError, match="newer than this gateway"):
        await store.open()
    with pytest.raises(StoreError, match="not open"):
        await store.revocations()


async def test_search_path_in_the_dsn(pg_dsn: str, pg_schema: str) -> None:
    store = open_store_url(f"{pg_dsn}?search_path={pg_schema}")
    async with store:
        await store.revoke("case", "4711", expires_at=T0 + 60, now=T0)
    assert await query(pg_dsn, pg_schema, "SELECT kind, value FROM revocations") == [("case", "4711")]


async def test_pool_sizes(pg_dsn: str, pg_schema: str) -> None:
    async with store_in(pg_dsn, pg_schema) as store:
        assert isinstance(store, PostgresStore)
        pool = store._db()
        assert (pool.get_min_size(), pool.get_max_size()) == (1, 5)
    with pytest.raises(ValueError, match="pool sizes"):
        PostgresStore(pg_dsn, min_size=3, max_size=2)


async def test_missing_schema_is_a_store_error(pg_dsn: str) -> None:
    store = store_in(pg_dsn, "gw_test_does_not_exist")
    with pytest.raises(StoreError, match="cannot create the schema"):
        await store.open()


async def test_unreachable_server_is_a_store_error_without_the_password() -> None:
    store = PostgresStore("postgresql://gw:hunter2@127.0.0.1:1/test", connect_timeout=2)
    with pytest.raises(StoreError, match="cannot connect") as info:
        await store.open()
    assert "hunter2" not in str(info.value) and "gw:***@127.0.0.1:1" in str(info.value)
    assert "hunter2" not in repr(store)


async def test_database_errors_after_open_are_store_errors(pg_dsn: str, pg_schema: str) -> None:
    async with store_in(pg_dsn, pg_schema) as store:
        await query(pg_dsn, pg_schema, "DROP TABLE revocations")
        with pytest.raises(StoreError, match="UndefinedTableError"):
            await store.revocations()


def test_redact_dsn() -> None:
    assert redact_dsn("postgresql://u:p@h:5432/d?x=1") == "postgresql://u:***@h:5432/d?x=1"
    assert redact_dsn("postgresql://u@h/d") == "postgresql://u@h/d"
    assert redact_dsn("postgresql://:p@h/d") == "postgresql://:***@h/d"


async def test_without_asyncpg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)  # as if not installed
    with pytest.raises(StoreError, match="needs the asyncpg package"):
        await PostgresStore("postgresql://u@127.0.0.1/test").open()


def test_asyncpg_is_imported_only_when_a_postgres_store_opens() -> None:
    code = (
        "import sys, gateway.store, gateway.links.signing\n"
        "s = gateway.store.open_store_url('postgresql://u@h/d')\n"
        "print('asyncpg' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"


# -- a server that stops answering: every operation fails within its timeout -----------

STALL_BOUND = 5.0  # far above the 0.5 s timeouts below; an unbounded operation hangs much longer


async def test_a_server_that_accepts_and_never_answers_fails_open_within_the_connect_timeout() -> None:
    from tests.support.stall import stalled_server

    async with stalled_server() as port:
        store = open_store_url(f"postgresql://gw@127.0.0.1:{port}/gw", connect_timeout=0.5, operation_timeout=0.5)
        async with asyncio.timeout(STALL_BOUND):
            with pytest.raises(StoreError, match=r"no answer within 0.5s \(store.timeouts.connect\)"):
                await store.open()


async def test_every_operation_on_a_stalled_server_fails_within_the_operation_timeout(
    pg_dsn: str, pg_schema: str
) -> None:
    from tests.support.postgres import dsn_with_schema
    from tests.support.stall import stallable_postgres

    async with stallable_postgres(dsn_with_schema(pg_dsn, pg_schema)) as (url, proxy):
        store = open_store_url(url, connect_timeout=0.5, operation_timeout=0.5)
        await store.open()
        try:
            await store.revoke("token", "before", expires_at=T0 + 60, now=T0)
            proxy.stall()
            operations = {
                "is_revoked": lambda: store.is_revoked(jti="j", case=None, recipient=None, now=T0),
                "revoke": lambda: store.revoke("case", "c", expires_at=T0 + 60, now=T0),
                "add_receipt": lambda: store.add_receipt(receipt("c1")),
                "receipts_for": lambda: store.receipts_for("c1"),
                "revocations": lambda: store.revocations(),
                "purge_expired": lambda: store.purge_expired(T0),
            }
            for name, operation in operations.items():
                async with asyncio.timeout(STALL_BOUND):
                    with pytest.raises(StoreError, match=r"no answer within 0.5s|Timeout"):
                        await operation()
            # Several at once (more than the pool has connections) fail in time too.
            async with asyncio.timeout(STALL_BOUND):
                results = await asyncio.gather(*(operations["is_revoked"]() for _ in range(8)), return_exceptions=True)
            assert all(isinstance(result, StoreError) for result in results), results
        finally:
            async with asyncio.timeout(STALL_BOUND):
                await store.close()


# -- the password: given apart from the DSN, sent as is -----------------------------------


async def test_the_password_given_apart_reaches_the_server_unescaped() -> None:
    """A server that asks for a cleartext password shows what asyncpg sends: the password as given."""
    import struct

    received: list[bytes] = []

    async def ask_password(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        length, code = struct.unpack("!ii", await reader.readexactly(8))
        if code == 80877103:  # SSLRequest: decline, then the startup message follows
            writer.write(b"N")
            length, code = struct.unpack("!ii", await reader.readexactly(8))
        await reader.readexactly(length - 8)  # the startup parameters
        writer.write(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
        kind = await reader.readexactly(1)
        (size,) = struct.unpack("!i", await reader.readexactly(4))
        received.append(kind + (await reader.readexactly(size - 4)))
        writer.close()

    server = await asyncio.start_server(ask_password, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        password = "p@ss/word#with%odd:chars"
        store = open_store_url(f"postgresql://gw@127.0.0.1:{port}/gw", password=password, connect_timeout=5)
        with pytest.raises(StoreError, match="cannot connect") as info:
            await store.open()
        assert password not in str(info.value) and password not in repr(store)
    finally:
        server.close()
    assert received == [b"p" + password.encode() + b"\0"]


async def test_pool_sizes_from_the_url_helper(pg_dsn: str, pg_schema: str) -> None:
    from tests.support.postgres import dsn_with_schema

    store = open_store_url(dsn_with_schema(pg_dsn, pg_schema), pool=(2, 7))
    async with store:
        assert isinstance(store, PostgresStore)
        pool = store._db()
        assert (pool.get_min_size(), pool.get_max_size(), pool.get_size()) == (2, 7, 2)


def test_a_password_with_an_sqlite_url_is_refused() -> None:
    with pytest.raises(ValueError, match="only used with a PostgreSQL store"):
        open_store_url("sqlite:///:memory:", password="x")
