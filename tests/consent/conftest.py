"""A receipt store per backend: SQLite in tmp_path, and the real PostgreSQL (tests/support/postgres.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.store import PostgresStore, SQLiteStore, Store
from tests.support.postgres import dsn_with_schema, fresh_schema

RETENTION = 30 * 86400.0


@pytest.fixture
async def receipt_store(store_backend: tuple[str, str], tmp_path: Path) -> AsyncIterator[Store]:
    kind, dsn = store_backend
    if kind == "sqlite":
        store: Store = SQLiteStore(tmp_path / "receipts.sqlite3", receipt_retention=RETENTION)
        async with store:
            yield store
        return
    async with fresh_schema(dsn) as schema:
        store = PostgresStore(dsn, server_settings={"search_path": schema}, receipt_retention=RETENTION)
        async with store:
            yield store


@pytest.fixture
async def store_url(store_backend: tuple[str, str], tmp_path: Path) -> AsyncIterator[str]:
    """A store URL for a policy (``store.url``), on a fresh database of the backend."""
    kind, dsn = store_backend
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.sqlite3'}"
        return
    async with fresh_schema(dsn) as schema:
        yield dsn_with_schema(dsn, schema)
