"""The ``store`` fixture, once per backend: SQLite in tmp_path, and a real PostgreSQL
(see tests/support/postgres.py for how the server is found or started)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.store import PostgresStore, SQLiteStore, Store
from tests.support.postgres import fresh_schema


class StoreFactory:
    """Opens stores on one database: several stores are several replicas."""

    def __init__(self, backend: str, make: Any) -> None:
        self.backend = backend
        self._make = make
        self.opened: list[Store] = []

    def new(self, **kwargs: Any) -> Store:
        """An unopened store on this test's database."""
        store: Store = self._make(**kwargs)
        self.opened.append(store)
        return store

    async def __call__(self, **kwargs: Any) -> Store:
        store = self.new(**kwargs)
        await store.open()
        return store

    async def close_all(self) -> None:
        for store in self.opened:
            await store.close()


@pytest.fixture
async def store_factory(store_backend: tuple[str, str], tmp_path: Path) -> AsyncIterator[StoreFactory]:
    backend, dsn = store_backend
    if backend == "sqlite":
        path = tmp_path / "state" / "gateway.sqlite3"
        factory = StoreFactory("sqlite", lambda **kw: SQLiteStore(path, **kw))
        try:
            yield factory
        finally:
            await factory.close_all()
        return
    async with fresh_schema(dsn) as schema:
        factory = StoreFactory(
            "postgres", lambda **kw: PostgresStore(dsn, server_settings={"search_path": schema}, **kw)
        )
        try:
            yield factory
        finally:
            await factory.close_all()


@pytest.fixture
async def store(store_factory: StoreFactory) -> Store:
    return await store_factory()
