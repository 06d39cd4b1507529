"""The store as a command-line verb uses it: the policy's errors printed, the store open for one action."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.store import SQLiteStore, Store
from gateway.store.commands import policy_at, run_with


def test_a_broken_policy_is_printed_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.yaml").write_text("upstream: {url: 'http://127.0.0.1:9'}\nstore: {colour: red}\n")
    with pytest.raises(SystemExit) as exit_info:
        policy_at(str(tmp_path / "p.yaml"))
    assert exit_info.value.code == 1
    assert "p.yaml:2: store.colour: unknown key" in capsys.readouterr().err


def test_the_store_is_open_for_the_action_and_closed_after(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.sqlite3")

    async def action(s: Store) -> int:
        await s.revoke("token", "t1", expires_at=4_000_000_000.0)
        return len(await s.revocations())

    assert run_with(store, action) == 1
    assert run_with(SQLiteStore(tmp_path / "s.sqlite3"), action) == 1  # closed and reopened: the state stayed
