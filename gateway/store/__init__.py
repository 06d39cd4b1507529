"""Durable state: revocations and consent receipts, in SQLite or PostgreSQL.

Pick a backend by URL with :func:`open_store_url`, then ``await store.open()``
(or ``async with``); see :class:`Store` for the operations.
"""

from __future__ import annotations

import os
from pathlib import Path

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
) -> Store:
    """The store a URL names (not yet opened).

    ``operation_timeout`` bounds every operation (SQLite: its busy timeout
    too), ``connect_timeout`` every PostgreSQL connect; None keeps the
    backend's default.

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
        if path != MEMORY and base_dir is not None and not os.path.isabs(path):
            path = os.fspath(Path(base_dir) / path)
        if operation_timeout is not None:
            return SQLiteStore(path, receipt_retention=receipt_retention, busy_timeout=operation_timeout)
        return SQLiteStore(path, receipt_retention=receipt_retention)
    if url.lower().startswith(POSTGRES_PREFIXES):
        store = PostgresStore(url, receipt_retention=receipt_retention)
        if connect_timeout is not None:
            store.connect_timeout = connect_timeout
        if operation_timeout is not None:
            store.operation_timeout = operation_timeout
        return store
    shown = f"{scheme}:..." if scheme and scheme != url else redact_dsn(url)
    raise ValueError(f"unsupported state store URL {shown!r}; expected {URL_FORMS}")
