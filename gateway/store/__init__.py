"""Durable state: revocations and consent receipts, in SQLite or PostgreSQL.

Pick a backend by URL with :func:`open_store_url` (or from a policy's
``store`` section with :func:`store_for`), then ``await store.open()`` (or
``async with``); see :class:`Store` for the operations, and
:mod:`gateway.store.postgres` for what each feature does while PostgreSQL is
unavailable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .base import (
    CONSENT_METHODS,
    REVOCATION_KINDS,
    SCHEMA_VERSION,
    ConsentMethod,
    ConsentReceipt,
    Revocation,
    RevocationKind,
    Store,
    StoreError,
)
from .postgres import PostgresStore, redact_dsn
from .sqlite import MEMORY, SQLiteStore

if TYPE_CHECKING:
    from ..policy.schema import StoreSettings

__all__ = [
    "CONSENT_METHODS",
    "REVOCATION_KINDS",
    "SCHEMA_VERSION",
    "ConsentMethod",
    "ConsentReceipt",
    "PostgresStore",
    "Revocation",
    "RevocationKind",
    "SQLiteStore",
    "Store",
    "StoreError",
    "open_store_url",
    "store_for",
]

SQLITE_PREFIX = "sqlite:///"
POSTGRES_PREFIXES = ("postgresql://", "postgres://")
URL_FORMS = "sqlite:///relative/path.sqlite3, sqlite:////absolute/path.sqlite3, sqlite:///:memory: or postgresql://user@host:5432/db"


def open_store_url(
    url: str,
    *,
    receipt_retention: float | None = None,
    base_dir: str | os.PathLike[str] | None = None,
    connect_timeout: float | None = None,
    operation_timeout: float | None = None,
    password: str | None = None,
    pool: tuple[int, int] | None = None,
) -> Store:
    """The store a URL names (not yet opened).

    ``operation_timeout`` bounds every operation (SQLite: its busy timeout
    too), ``connect_timeout`` every PostgreSQL connect; None keeps the
    backend's default. ``password`` and ``pool`` (min, max connections) are
    PostgreSQL's; a password with an SQLite URL is a ValueError.

    - ``sqlite:///<path>``: everything after the third slash is the file path,
      so ``sqlite:///data/gw.sqlite3`` is relative (to ``base_dir`` if given,
      e.g. the policy file's folder, else the working directory) and
      ``sqlite:////var/lib/gateway/gw.sqlite3`` is absolute;
    - ``sqlite:///:memory:``: a private in-memory database;
    - ``postgresql://...`` or ``postgres://...``: a libpq-style DSN, passed to asyncpg.

    ValueError, naming the accepted forms, for anything else.
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError(f"the state store URL is empty; expected {URL_FORMS}")
    url = url.strip()
    scheme = url.partition(":")[0].lower()
    if scheme == "sqlite":
        if not url.startswith(SQLITE_PREFIX) or len(url) == len(SQLITE_PREFIX):
            raise ValueError(f"SQLite store URL {url!r} has no file path; expected {URL_FORMS}")
        path = url[len(SQLITE_PREFIX):]
        if "?" in path or "#" in path:
            raise ValueError(f"SQLite store URL {url!r}: options are not supported; expected {URL_FORMS}")
        if password is not None:
            raise ValueError("a password is only used with a PostgreSQL store")
        if path != MEMORY and base_dir is not None and not os.path.isabs(path):
            path = os.fspath(Path(base_dir) / path)
        if operation_timeout is not None:
            return SQLiteStore(path, receipt_retention=receipt_retention, busy_timeout=operation_timeout)
        return SQLiteStore(path, receipt_retention=receipt_retention)
    if url.lower().startswith(POSTGRES_PREFIXES):
        min_size, max_size = pool if pool is not None else (1, 5)
        store = PostgresStore(
            url, receipt_retention=receipt_retention, password=password, min_size=min_size, max_size=max_size
        )
        if connect_timeout is not None:
            store.connect_timeout = connect_timeout
        if operation_timeout is not None:
            store.operation_timeout = operation_timeout
        return store
    shown = f"{scheme}:..." if scheme and scheme != url else redact_dsn(url)
    raise ValueError(f"unsupported state store URL {shown!r}; expected {URL_FORMS}")


def store_for(settings: StoreSettings, *, base_dir: str | os.PathLike[str] | None = None) -> Store:
    """The store a policy's ``store`` section describes (not yet opened): URL, password, pool, timeouts."""
    return open_store_url(
        settings.url,
        receipt_retention=settings.receipt_retention,
        base_dir=base_dir,
        connect_timeout=settings.timeouts.connect,
        operation_timeout=settings.timeouts.operation,
        password=settings.password,
        pool=(settings.pool.min_connections, settings.pool.max_connections),
    )
