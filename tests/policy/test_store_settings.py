"""The policy's ``store`` section: pool sizes, timeouts, the PostgreSQL password by reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.policy import PolicyError, load_policy_text
from gateway.store import PostgresStore, SQLiteStore, store_for

UPSTREAM = "http://helpdesk.test:8000"
INLINE = "key material must be a reference, not inline: write ${ENV_VAR} or ${file:path}"
PASSWORD = "s3cr3t/with@odd#chars%"


def errors_of(text: str, tmp_path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load_policy_text(text, name="site.yaml", env=env or {}, base_dir=tmp_path, default_upstream=UPSTREAM)
    return str(info.value).splitlines()


def test_defaults(tmp_path: Path) -> None:
    store = load_policy_text("store: {}\n", env={}, base_dir=tmp_path, default_upstream=UPSTREAM).policy.store
    assert (store.pool.min_connections, store.pool.max_connections) == (1, 5)
    assert (store.timeouts.connect, store.timeouts.operation) == (2.0, 2.0)
    assert store.password is None


def test_pool_and_timeouts_reach_the_postgresql_store(tmp_path: Path) -> None:
    text = (
        "store:\n"
        "  url: postgresql://gw@db:5432/gw\n"
        "  password: ${file:db-password}\n"
        "  pool: {min_connections: 2, max_connections: 20}\n"
        "  timeouts: {connect: 3s, operation: 500ms}\n"
    )
    (tmp_path / "db-password").write_text(PASSWORD + "\n")  # as a mounted Secret holds it
    settings = load_policy_text(text, env={}, base_dir=tmp_path, default_upstream=UPSTREAM).policy.store
    store = store_for(settings)
    assert isinstance(store, PostgresStore)
    assert (store.min_size, store.max_size) == (2, 20)
    assert (store.connect_timeout, store.operation_timeout) == (3.0, 0.5)
    assert store.password == PASSWORD  # read from the file, no URL escaping needed
    assert PASSWORD not in repr(store) and PASSWORD not in repr(settings)


def test_an_sqlite_store_takes_the_operation_timeout_as_its_busy_timeout(tmp_path: Path) -> None:
    text = f"store:\n  url: sqlite:///{tmp_path}/s.sqlite3\n  timeouts: {{operation: 750ms}}\n"
    store = store_for(load_policy_text(text, env={}, base_dir=tmp_path, default_upstream=UPSTREAM).policy.store)
    assert isinstance(store, SQLiteStore) and store.busy_timeout == 0.75


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("store:\n  url: postgresql://gw@db/gw\n  password: hunter2\n", f"site.yaml:3: store.password: {INLINE}"),
        (
            "store:\n  url: postgresql://gw@db/gw\n  pool:\n    min_connections: 0\n",
            "site.yaml:4: store.pool.min_connections: must be >= 1, got 0",
        ),
        (
            "store:\n  url: postgresql://gw@db/gw\n  pool: {min_connections: 8, max_connections: 4}\n",
            "site.yaml:3: store.pool: min_connections (8) is more than max_connections (4)",
        ),
        (
            "store:\n  url: postgresql://gw@db/gw\n  pool: {max: 4}\n",
            "site.yaml:3: store.pool.max: unknown key 'max' (valid keys: min_connections, max_connections)",
        ),
        (
            "store:\n  url: postgresql://gw:${SIMPLE}@db/gw\n  password: ${PGPASSWORD}\n",
            "site.yaml:1: store: the password is given twice: in url and in password; keep one",
        ),
        (
            "store:\n  url: 'postgresql://gw@db/gw?password=${PGPASSWORD}'\n  password: ${PGPASSWORD}\n",
            "site.yaml:1: store: the password is given twice: in url and in password; keep one",
        ),
        (
            "store:\n  url: sqlite:///s.sqlite3\n  password: ${PGPASSWORD}\n",
            "site.yaml:1: store: password is only used with a PostgreSQL store (store.url postgresql://...)",
        ),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    lines = errors_of(text, tmp_path, env={"PGPASSWORD": PASSWORD, "SIMPLE": "pw"})
    assert lines == [expected]
    assert not any(PASSWORD in line or "hunter2" in line for line in lines)
