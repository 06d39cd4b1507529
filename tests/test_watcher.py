"""Policy file watching: content fingerprints that see editor saves and ConfigMap swaps."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from gateway.watcher import PolicyWatcher, fingerprint

POLICY = "firewall:\n  default: allow\n"
OTHER = "firewall:\n  default: deny\n"


def replace(path: Path, text: str) -> None:
    """Save the way editors do: write a temporary file, rename it over the old one."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_content_change(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    before = fingerprint(tmp_path)
    assert fingerprint(tmp_path) == before  # stable
    policy.write_text(OTHER)
    assert fingerprint(tmp_path) != before
    policy.write_text(POLICY)
    assert fingerprint(tmp_path) == before  # by content, not by time


def test_single_file(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    before = fingerprint(policy)
    policy.write_text(OTHER)
    assert fingerprint(policy) != before


def test_rename_replace(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    before_dir, before_file = fingerprint(tmp_path), fingerprint(policy)
    inode = policy.stat().st_ino
    replace(policy, OTHER)
    assert policy.stat().st_ino != inode
    assert fingerprint(tmp_path) != before_dir
    assert fingerprint(policy) != before_file


def test_file_names_count(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(POLICY)
    before = fingerprint(tmp_path)
    os.rename(tmp_path / "a.yaml", tmp_path / "b.yml")
    assert fingerprint(tmp_path) != before


def test_added_and_removed_files(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(POLICY)
    before = fingerprint(tmp_path)
    (tmp_path / "extra.yaml").write_text("logging:\n  level: debug\n")
    added = fingerprint(tmp_path)
    assert added != before
    (tmp_path / "extra.yaml").unlink()
    assert fingerprint(tmp_path) == before


def test_ignored_files(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(POLICY)
    before = fingerprint(tmp_path)
    (tmp_path / ".policy.yaml.swp").write_text("editor swap")
    (tmp_path / ".hidden.yaml").write_text(OTHER)
    (tmp_path / "README.md").write_text("notes")
    (tmp_path / "sub.yaml").mkdir()  # a directory with a yaml name
    assert fingerprint(tmp_path) == before


def test_kubernetes_configmap_symlink_swap(tmp_path: Path) -> None:
    # The layout kubelet writes: policy.yaml -> ..data/policy.yaml, ..data -> ..<timestamp>/
    mount = tmp_path / "policy"
    mount.mkdir()
    first = mount / "..2024_01_01_00_00_00.000000001"
    first.mkdir()
    (first / "policy.yaml").write_text(POLICY)
    (mount / "..data").symlink_to(first.name)
    (mount / "policy.yaml").symlink_to("..data/policy.yaml")
    before = fingerprint(mount)
    assert before == fingerprint(mount)

    second = mount / "..2024_01_02_00_00_00.000000002"
    second.mkdir()
    (second / "policy.yaml").write_text(OTHER)
    (mount / "..data_tmp").symlink_to(second.name)
    os.replace(mount / "..data_tmp", mount / "..data")  # the atomic swap
    # the link itself (and its inode) never changed
    assert os.readlink(mount / "policy.yaml") == "..data/policy.yaml"
    assert fingerprint(mount) != before
    assert fingerprint(mount / "policy.yaml") != fingerprint(first / "policy.yaml")


def test_unreadable_is_a_fingerprint_not_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    gone = fingerprint(missing)
    assert gone == fingerprint(missing)
    missing.write_text(POLICY)
    assert fingerprint(missing) != gone


class Reloads:
    def __init__(self, fail_first: bool = False) -> None:
        self.count = 0
        self.fail_first = fail_first
        self.event = asyncio.Event()

    async def __call__(self) -> bool:
        self.count += 1
        self.event.set()
        if self.fail_first and self.count == 1:
            raise RuntimeError("reload bug")
        return True

    async def wait(self) -> None:
        await asyncio.wait_for(self.event.wait(), 3.0)
        self.event.clear()


INTERVAL = 0.02


async def test_watcher_calls_once_per_change(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    reloads = Reloads()
    watcher = PolicyWatcher(tmp_path, reloads, interval=INTERVAL)
    watcher.start()
    try:
        await asyncio.sleep(INTERVAL * 5)
        assert reloads.count == 0  # no change, no reload

        replace(policy, OTHER)
        await reloads.wait()
        await asyncio.sleep(INTERVAL * 5)
        assert reloads.count == 1

        replace(policy, POLICY)
        await reloads.wait()
        await asyncio.sleep(INTERVAL * 5)
        assert reloads.count == 2
    finally:
        await watcher.stop()


async def test_watcher_survives_a_raising_callback(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    reloads = Reloads(fail_first=True)
    watcher = PolicyWatcher(tmp_path, reloads, interval=INTERVAL)
    with caplog.at_level(logging.INFO, logger="gateway.watcher"):
        watcher.start()
        try:
            replace(policy, OTHER)
            await reloads.wait()
            replace(policy, POLICY)
            await reloads.wait()
            assert reloads.count == 2
            assert watcher._task is not None and not watcher._task.done()
        finally:
            await watcher.stop()
    raised = [r for r in caplog.records if r.name == "gateway.watcher" and r.getMessage() == "policy reload raised"]
    assert len(raised) == 1 and raised[0].exc_info is not None
    changed = [r for r in caplog.records if r.getMessage() == "policy files changed"]
    assert len(changed) == 2
    assert getattr(changed[0], "fields") == {"path": str(tmp_path)}


async def test_stop(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(POLICY)
    reloads = Reloads()
    watcher = PolicyWatcher(tmp_path, reloads, interval=INTERVAL)
    await watcher.stop()  # never started: nothing to do
    watcher.start()
    await asyncio.sleep(INTERVAL * 2)
    await watcher.stop()
    assert watcher._task is not None and watcher._task.done()
    replace(tmp_path / "policy.yaml", OTHER)
    await asyncio.sleep(INTERVAL * 5)
    assert reloads.count == 0
