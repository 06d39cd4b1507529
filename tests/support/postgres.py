"""A real PostgreSQL for tests: found, started if down, one fresh schema per test.

PostgreSQL is the local server at 127.0.0.1:5432, database ``test``, trust
auth (``TEST_POSTGRES_DSN`` overrides). If it is down the fixture starts it
with ``pg_ctlcluster``; if it still cannot be reached the PostgreSQL tests
are skipped, or fail when ``CI=true``. Each test gets a fresh schema
``gw_test_<random>`` (PostgreSQL reserves ``pg_``), dropped afterwards, so
parallel runs never see each other's tables.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import secrets
import subprocess
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import pytest

HOST = "127.0.0.1:5432"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


async def _reachable(dsn: str) -> str | None:
    import asyncpg

    try:
        conn = await asyncpg.connect(dsn, timeout=3)
    except Exception as exc:  # any failure means "not this one"
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


def _candidates() -> list[str]:
    if os.environ.get("TEST_POSTGRES_DSN"):
        return [os.environ["TEST_POSTGRES_DSN"]]
    users = dict.fromkeys(["postgres", getpass.getuser()])
    return [f"postgresql://{user}@{HOST}/test" for user in users]


def _find_dsn() -> tuple[str | None, list[str]]:
    errors: list[str] = []
    for dsn in _candidates():
        # Its own thread and loop: this may run while a test's event loop is running.
        with ThreadPoolExecutor(max_workers=1) as pool:
            error = pool.submit(asyncio.run, _reachable(dsn)).result()
        if error is None:
            return dsn, errors
        errors.append(f"{dsn}: {error}")
    return None, errors


def _start_postgres() -> str:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions:
        return "no cluster under /etc/postgresql to start"
    try:
        result = subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
            capture_output=True, text=True, timeout=60, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"pg_ctlcluster failed: {exc}"
    return f"pg_ctlcluster exit {result.returncode}: {(result.stdout + result.stderr).strip()}"


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    """A DSN for the test database, starting the server if it is down."""
    dsn, errors = _find_dsn()
    if dsn is None and not os.environ.get("TEST_POSTGRES_DSN"):
        started = _start_postgres()
        deadline = time.monotonic() + 30
        while True:
            dsn, errors = _find_dsn()
            if dsn is not None or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        errors.append(started)
    if dsn is None:
        message = "PostgreSQL for the store tests (127.0.0.1:5432, database test) is not reachable:\n" + "\n".join(errors)
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return dsn


@asynccontextmanager
async def fresh_schema(dsn: str) -> AsyncIterator[str]:
    """A new, empty schema ``gw_test_<random>``, dropped on exit."""
    import asyncpg

    schema = f"gw_test_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield schema
        finally:
            await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
async def pg_schema(pg_dsn: str) -> AsyncIterator[str]:
    """A fresh, empty schema for one test, dropped afterwards."""
    async with fresh_schema(pg_dsn) as schema:
        yield schema


def dsn_with_schema(dsn: str, schema: str) -> str:
    """``dsn`` with ``search_path`` set to ``schema`` (the form a policy's ``store.url`` takes)."""
    return f"{dsn}{'&' if '?' in dsn else '?'}search_path={schema}"


@pytest.fixture(params=["sqlite", "postgres"])
def store_backend(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(backend, DSN or ""): resolved here, synchronously, so PostgreSQL can be skipped or started."""
    if request.param == "postgres":
        return "postgres", str(request.getfixturevalue("pg_dsn"))
    return "sqlite", ""
