"""Store health: ``up`` and ``errors`` from every round trip, the periodic probe, reconnection.

PostgreSQL is reached through a proxy on loopback that the test cuts and
restores (tests/support/outage.py); the real server is never stopped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.store import SQLiteStore, Store, StoreError, open_store_url
from gateway.store.health import StoreProbe
from tests.support.outage import cuttable_postgres
from tests.support.postgres import dsn_with_schema

T0 = 1_700_000_000.0
BOUND = 10.0  # far above the 0.05 s probe interval and 0.5 s timeouts below


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {BOUND}s: {what}")
        await asyncio.sleep(0.02)


def health(store: Store) -> tuple[bool | None, int]:
    return store.up, store.errors


def store_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "gateway.store"]


async def test_every_round_trip_updates_up_and_errors_and_the_pool_reconnects(
    pg_dsn: str, pg_schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.store")
    async with cuttable_postgres(dsn_with_schema(pg_dsn, pg_schema)) as (url, proxy):
        store = open_store_url(url, connect_timeout=0.5, operation_timeout=0.5)
        assert store.up is None
        await store.open()
        try:
            assert health(store) == (True, 0)
            await store.revoke("token", "t1", expires_at=T0 + 60, now=T0)
            await proxy.cut()
            for _ in range(3):
                with pytest.raises(StoreError):
                    await store.is_revoked(jti="t1", case=None, recipient=None, now=T0)
            assert health(store) == (False, 3)
            await proxy.restore()
            # The same store object, no reopen: the pool replaces its broken connections.
            assert await store.is_revoked(jti="t1", case=None, recipient=None, now=T0)
            assert health(store) == (True, 3)
        finally:
            await store.close()
    # Logged once per change, not once per failed operation; never the DSN's secrets.
    assert store_messages(caplog) == [
        "the state store does not answer; requests that need it fail closed",
        "the state store answers again",
    ]


async def test_the_probe_follows_the_database_without_any_traffic(pg_dsn: str, pg_schema: str) -> None:
    async with cuttable_postgres(dsn_with_schema(pg_dsn, pg_schema)) as (url, proxy):
        store = open_store_url(url, connect_timeout=0.5, operation_timeout=0.5)
        await store.open()
        probe = StoreProbe(lambda: store, interval=0.05)
        probe.start()
        try:
            await proxy.cut()
            await until(lambda: store.up is False, "the probe sees the database gone")
            await proxy.restore()
            await until(lambda: store.up is True, "the probe sees it back")
            assert store.errors >= 1
        finally:
            await probe.stop()
            await probe.stop()  # idempotent
            await store.close()
    pings = store.errors
    await asyncio.sleep(0.2)
    assert store.errors == pings  # stopped: no more pings


async def test_sqlite_reports_health_too(tmp_path: Path) -> None:
    store: Store = SQLiteStore(tmp_path / "s.sqlite3", busy_timeout=0.2)
    async with store:
        await store.ping()
        assert (store.up, store.errors, store.backend) == (True, 0, "sqlite")


async def test_a_closed_store_is_not_counted_as_a_database_failure(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3")
    with pytest.raises(StoreError, match="not open"):
        await store.ping()
    assert (store.up, store.errors) == (None, 0)


async def test_the_probe_pings_the_store_named_now_and_none_when_there_is_none(tmp_path: Path) -> None:
    first, second = SQLiteStore(tmp_path / "a.sqlite3"), SQLiteStore(tmp_path / "b.sqlite3")
    current: list[Store | None] = [None]
    probe = StoreProbe(lambda: current[0], interval=0.02)
    probe.start()
    try:
        await asyncio.sleep(0.1)  # nothing to ping: nothing happens
        async with first, second:
            first.up = second.up = None  # forget what opening said
            current[0] = first
            await until(lambda: first.up is True, "the first store pinged")
            current[0] = second  # a reload swapped the store
            await until(lambda: second.up is True, "the second store pinged")
            first.up = None
            await asyncio.sleep(0.1)
            assert first.up is None  # left behind: no longer pinged
    finally:
        await probe.stop()


def test_the_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        StoreProbe(lambda: None, interval=0)
