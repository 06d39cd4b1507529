"""The SQLite backend: file and folder, WAL, one worker thread, locks, schema version."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from gateway.store import SCHEMA_VERSION, ConsentReceipt, SQLiteStore, StoreError, open_store_url

T0 = 1_700_000_000.0


def receipt(consent_id: str, created_at: float = T0) -> ConsentReceipt:
    return ConsentReceipt(
        consent_id=consent_id,
        created_at=created_at,
        choices={"analytics": True},
        consent_version="1",
        text_hash="h",
        method="banner",
        ip_truncated="203.0.113.0",
        user_agent_family="Chrome",
        page_path="/",
    )


def store_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("gateway-store-sqlite")]


async def test_creates_the_folder_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "state.sqlite3"
    async with SQLiteStore(path) as store:
        await store.add_receipt(receipt("x"))
    assert path.exists()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT component, version FROM schema_version").fetchall() == [("gateway", SCHEMA_VERSION)]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"schema_version", "revocations", "consent_receipts"} <= tables
    assert {"consent_receipts_consent_id", "consent_receipts_created_at", "revocations_expires_at"} <= indexes


async def test_memory_databases_are_private(tmp_path: Path) -> None:
    a, b = SQLiteStore(":memory:"), SQLiteStore(":memory:")
    async with a, b:
        await a.add_receipt(receipt("only-in-a"))
        assert len(await a.receipts_for("only-in-a")) == 1
        assert await b.receipts_for("only-in-a") == []
    assert not any(tmp_path.iterdir())


async def test_every_call_runs_on_one_worker_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3")
    await store.open()
    seen: set[str] = set()
    real = store._add_receipt_sync

    def spy(row: Any) -> None:
        seen.add(threading.current_thread().name)
        assert threading.current_thread() is not threading.main_thread()
        real(row)

    monkeypatch.setattr(store, "_add_receipt_sync", spy)
    await asyncio.gather(*(store.add_receipt(receipt(f"c-{i}", T0 + i)) for i in range(50)))
    assert len(seen) == 1 and next(iter(seen)).startswith("gateway-store-sqlite")
    assert len(await store.receipts_for("c-7")) == 1
    await store.close()


async def test_close_ends_the_worker_thread(tmp_path: Path) -> None:
    before = set(store_threads())
    store = SQLiteStore(tmp_path / "s.sqlite3")
    await store.open()
    (mine,) = set(store_threads()) - before
    await store.close()
    assert not mine.is_alive()


async def test_waits_for_a_lock_held_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    async with SQLiteStore(path, busy_timeout=5) as store:
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")  # another worker process is writing
        other.execute("INSERT INTO revocations VALUES ('token', 'theirs', 1, 2e9, '')")
        release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
        release.start()
        started = time.monotonic()
        await store.revoke("token", "ours", expires_at=2e9, now=T0)
        assert time.monotonic() - started >= 0.2
        release.join()
        other.close()
        assert {r.value for r in await store.revocations()} == {"theirs", "ours"}


async def test_a_busy_database_past_the_timeout_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    async with SQLiteStore(path, busy_timeout=0.1) as store:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreError, match="locked") as info:
                await store.revoke("token", "x", expires_at=2e9, now=T0)
            assert isinstance(info.value.__cause__, sqlite3.OperationalError)
        finally:
            other.execute("ROLLBACK")
            other.close()
        await store.revoke("token", "x", expires_at=2e9, now=T0)  # and it recovers


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    async with SQLiteStore(path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    store = SQLiteStore(path)
    with pytest.raises(StoreError, match="newer than this gateway"):
        await store.open()
    with pytest.raises(StoreError, match="not open"):
        await store.revocations()


async def test_unopenable_path_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite3").mkdir()
    store = SQLiteStore(tmp_path / "dir.sqlite3")
    with pytest.raises(StoreError, match="cannot open the SQLite store"):
        await store.open()
    (tmp_path / "dir.sqlite3").rmdir()
    await store.open()  # a failed open leaves the store closed, ready to try again
    await store.close()


async def test_open_store_url_relative_to_base_dir(tmp_path: Path) -> None:
    store = open_store_url("sqlite:///var/state.sqlite3", base_dir=tmp_path)
    async with store:
        await store.revoke("case", "1", expires_at=2e9, now=T0)
    assert (tmp_path / "var" / "state.sqlite3").exists()
    absolute = tmp_path / "abs" / "state.sqlite3"
    async with open_store_url(f"sqlite:///{absolute}", base_dir="/elsewhere") as store:
        assert await store.is_revoked(jti="j", case="1", recipient=None, now=T0) is False
    assert absolute.exists()


def test_empty_path_is_refused() -> None:
    with pytest.raises(ValueError, match="file path"):
        SQLiteStore("")


async def test_calls_queued_behind_a_lock_each_fail_within_the_operation_timeout(tmp_path: Path) -> None:
    # One worker thread serves the store: without a bound on the caller's wait, the fourth
    # write would wait for the three before it to time out first (4 x the busy timeout).
    path = tmp_path / "s.sqlite3"
    store = open_store_url(f"sqlite:///{path}", operation_timeout=1.0)
    async with store:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            started = time.monotonic()
            results = await asyncio.gather(
                *(store.revoke("token", f"t{i}", expires_at=2e9, now=T0) for i in range(4)), return_exceptions=True
            )
            elapsed = time.monotonic() - started
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert all(isinstance(result, StoreError) for result in results), results
        assert elapsed < 2.5, f"{elapsed:.1f}s for four writes against a held lock"
        await store.revoke("token", "after", expires_at=2e9, now=T0)  # and it recovers
        assert [r.value for r in await store.revocations()] == ["after"]


async def test_a_close_that_waited_its_turn_still_closes(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3", busy_timeout=1.0)
    await store.open()
    # The worker thread is busy for a while: the close job starts with less than its full time left.
    busy = asyncio.ensure_future(store._call(time.sleep, 0.2))
    await store.close()
    await busy
    with pytest.raises(StoreError, match="not open"):
        await store.revocations()
