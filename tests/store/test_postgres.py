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
    assert {t[0] for t in tables} == {"schema_version", "revocations", "consent_receipts"}
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
