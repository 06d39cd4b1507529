"""A ConfigMap update as the kubelet writes it, under a running gateway: the new policy is served.

The kubelet's atomic writer keeps a ConfigMap volume as a timestamped directory ``..<timestamp>``, a
``..data`` symlink to it and, per key, a symlink ``policy.yaml -> ..data/policy.yaml``. An update writes a
new timestamped directory, points a new symlink ``..data_tmp`` at it, renames that over ``..data`` (one
atomic step), adds links for new keys and removes the old directory. The visible ``policy.yaml`` link
never changes: only what it resolves to does.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from gateway.metrics import Metrics
from gateway.policy.loader import load_policy
from gateway.server import Gateway
from tests.conftest import upstream_url

WAIT = 10.0  # the longest a reload may take before the test fails (the watcher polls every 50 ms here)


def policy(upstream: str, firewall_default: str) -> str:
    return (
        "listen: {host: 127.0.0.1, port: 0}\n"
        "admin: {host: 127.0.0.1, port: 0}\n"
        f"upstream: {{url: '{upstream}'}}\n"
        "logging: {access_log: false}\n"
        f"firewall: {{default: {firewall_default}}}\n"
    )


def kubelet_update(mount: Path, files: dict[str, str]) -> None:
    """Write ``files`` into the ConfigMap volume at ``mount`` the way the kubelet's atomic writer does."""
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime()) + os.urandom(5).hex()
    new = mount / stamp
    new.mkdir()
    for name, text in files.items():
        (new / name).write_text(text)
    data = mount / "..data"
    old = os.readlink(data) if data.is_symlink() else None
    (mount / "..data_tmp").symlink_to(stamp)
    os.rename(mount / "..data_tmp", data)  # the swap
    for name in files:
        if not (mount / name).is_symlink():
            (mount / name).symlink_to(f"..data/{name}")
    for link in mount.iterdir():
        if not link.name.startswith("..") and link.name not in files:
            link.unlink()  # a key that left the ConfigMap
    if old is not None:
        shutil.rmtree(mount / old)


class Site:
    def __init__(self, gateway: Gateway, session: aiohttp.ClientSession) -> None:
        self.gateway = gateway
        self.session = session

    async def status(self) -> int:
        async with self.session.get(f"http://127.0.0.1:{self.gateway.public_port}/echo") as response:
            await response.read()
            return response.status

    async def metric(self, name: str) -> dict[str, float]:
        """The samples of ``name``, by their label text."""
        async with self.session.get(f"http://127.0.0.1:{self.gateway.admin_port}/metrics") as response:
            text = await response.text()
        found = re.findall(rf"^{name}(\{{[^}}]*\}})? (\S+)$", text, re.MULTILINE)
        return {labels: float(value) for labels, value in found}

    async def until_status(self, status: int) -> None:
        deadline = asyncio.get_running_loop().time() + WAIT
        while await self.status() != status:
            assert asyncio.get_running_loop().time() < deadline, f"still not {status} after {WAIT}s"
            await asyncio.sleep(0.05)

    async def until_metric(self, name: str, labels: str, value: float) -> None:
        deadline = asyncio.get_running_loop().time() + WAIT
        while (await self.metric(name)).get(labels) != value:
            assert asyncio.get_running_loop().time() < deadline, f"{name}{labels} is not {value} after {WAIT}s"
            await asyncio.sleep(0.05)


@pytest.fixture
async def mounted(tmp_path: Path, upstream: web.AppRunner) -> AsyncIterator[tuple[Path, Site, str]]:
    """A gateway serving ``--policy <mount>`` from a ConfigMap volume whose first policy denies everything."""
    mount = tmp_path / "etc-privacy-gateway"
    mount.mkdir()
    url = upstream_url(upstream)
    kubelet_update(mount, {"policy.yaml": policy(url, "deny")})
    gateway = Gateway(load_policy(mount), Metrics(), policy_path=mount)
    await gateway.start(watch=True, watch_interval=0.05)
    try:
        async with aiohttp.ClientSession() as session:
            yield mount, Site(gateway, session), url
    finally:
        await gateway.stop()


async def test_a_configmap_swap_is_served(mounted: tuple[Path, Site, str]) -> None:
    mount, site, url = mounted
    assert await site.status() == 403  # firewall default: deny
    [first] = (await site.metric("privacy_gateway_policy_info")).keys()
    link = os.lstat(mount / "policy.yaml")

    kubelet_update(mount, {"policy.yaml": policy(url, "allow")})
    await site.until_status(200)
    # the visible file is the same symlink; only ..data moved
    assert os.lstat(mount / "policy.yaml").st_ino == link.st_ino
    assert os.readlink(mount / "policy.yaml") == "..data/policy.yaml"
    assert len([p for p in mount.iterdir() if re.fullmatch(r"\.\.\d{4}_.*", p.name)]) == 1
    reloads = await site.metric("privacy_gateway_policy_reloads_total")
    assert reloads == {'{result="success"}': 1.0}
    info = await site.metric("privacy_gateway_policy_info")
    assert first not in info and list(info.values()) == [1.0]
    assert (await site.metric("privacy_gateway_policy_reload_success")) == {"": 1.0}


async def test_a_bad_configmap_keeps_the_last_good_policy_until_a_good_one_comes(
    mounted: tuple[Path, Site, str]
) -> None:
    mount, site, url = mounted
    kubelet_update(mount, {"policy.yaml": policy(url, "allow")})
    await site.until_status(200)

    kubelet_update(mount, {"policy.yaml": policy(url, "maybe")})
    await site.until_metric("privacy_gateway_policy_reload_success", "", 0.0)
    assert await site.status() == 200  # still the last good policy
    assert (await site.metric("privacy_gateway_policy_reloads_total"))['{result="failure"}'] == 1.0

    # a fixed ConfigMap, now with two keys: the directory's files are merged in name order
    no_echo = "firewall:\n  rules:\n    - {name: no-echo, path: /echo, deny: [0.0.0.0/0, '::/0']}\n"
    kubelet_update(mount, {"policy.yaml": policy(url, "allow"), "zz-firewall.yaml": no_echo})
    await site.until_status(403)
    assert (await site.metric("privacy_gateway_policy_reload_success")) == {"": 1.0}
    assert sorted(p.name for p in mount.iterdir() if not p.name.startswith("..")) == ["policy.yaml", "zz-firewall.yaml"]
