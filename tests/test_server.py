"""Gateway assembly: reloads under load, failed reloads, IPv6, shadow mode, fail-closed filters."""

from __future__ import annotations

import asyncio
import io
import socket
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import yaml
from aiohttp import web

from gateway.chain import Chain
from gateway.exchange import Exchange, LocalReply
from gateway.filters.base import Filter
from gateway.metrics import Metrics
from gateway.policy.loader import load_policy
from gateway.runtime import Runtime
from gateway.server import Gateway
from tests.conftest import StartGateway, upstream_url
from tests.support.policy import make_policy
from tests.support.upstream import SEEN


def _sample(gw: Gateway, name: str, labels: dict[str, str] | None = None) -> float | None:
    return gw.metrics.registry.get_sample_value(name, labels or {})


def _policy_path(gw: Gateway) -> Path:
    assert gw.policy_path is not None
    return gw.policy_path


def _rewrite_policy(path: Path, mutate: Any) -> None:
    doc = yaml.safe_load(path.read_text())
    mutate(doc)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(doc))
    tmp.replace(path)  # how editors and ConfigMaps replace files


def _agent_clients(gw: Any, count: int, stop: asyncio.Event, statuses: list[int]) -> list[asyncio.Task[None]]:
    """``count`` clients asking for /agent/x until ``stop``, each status appended to ``statuses``."""
    async def client() -> None:
        async with aiohttp.ClientSession() as session:
            while not stop.is_set():
                async with session.get(f"{gw.base_url}/agent/x") as resp:
                    await resp.read()
                    statuses.append(resp.status)

    return [asyncio.create_task(client()) for _ in range(count)]


async def test_reload_under_concurrent_requests_loses_nothing(start_gateway: StartGateway) -> None:
    gw = await start_gateway({"firewall": {"rules": [{"name": "r0", "path": "/agent/", "allow": ["127.0.0.1"]}]}})
    stop = asyncio.Event()
    statuses: list[int] = []

    clients = _agent_clients(gw, 8, stop, statuses)
    path = _policy_path(gw)
    for i in range(1, 11):
        _rewrite_policy(path, lambda doc: doc["firewall"]["rules"][0].update(name=f"r{i}"))
        assert await gw.reload()
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.gather(*clients)
    assert len(statuses) > 50
    assert set(statuses) == {200}
    assert _sample(gw, "privacy_gateway_policy_reloads_total", {"result": "success"}) == 10
    assert _sample(gw, "privacy_gateway_firewall_decisions_total", {"rule": "r10", "decision": "allow", "mode": "enforce"})


async def test_failed_reload_keeps_the_last_good_policy(start_gateway: StartGateway) -> None:
    gw = await start_gateway({"firewall": {"rules": [{"name": "agents", "path": "/agent/", "allow": ["192.0.2.0/24"]}]}})
    good_checksum = gw.runtime.checksum
    _rewrite_policy(_policy_path(gw), lambda doc: doc["firewall"]["rules"][0].update(allow=["10.0.0.300/8"]))
    assert not await gw.reload()
    assert gw.runtime.checksum == good_checksum
    assert _sample(gw, "privacy_gateway_policy_reload_success") == 0
    assert _sample(gw, "privacy_gateway_policy_reloads_total", {"result": "failure"}) == 1
    assert _sample(gw, "privacy_gateway_policy_info", {"checksum": good_checksum[:12]}) == 1
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gw.base_url}/agent/") as resp:  # type: ignore[attr-defined]
            assert resp.status == 403  # the old rule still enforced
    # A later good reload recovers.
    _rewrite_policy(_policy_path(gw), lambda doc: doc["firewall"]["rules"][0].update(allow=["127.0.0.1"]))
    assert await gw.reload()
    assert _sample(gw, "privacy_gateway_policy_reload_success") == 1
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gw.base_url}/agent/") as resp:  # type: ignore[attr-defined]
            assert resp.status == 200


async def test_file_change_triggers_reload(start_gateway: StartGateway) -> None:
    gw = await start_gateway(watch=True, watch_interval=0.05)
    _rewrite_policy(_policy_path(gw), lambda doc: doc.update(firewall={"default": "deny"}))
    for _ in range(100):
        if gw.runtime.policy.firewall.default == "deny":
            break
        await asyncio.sleep(0.05)
    assert gw.runtime.policy.firewall.default == "deny"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gw.base_url}/echo") as resp:  # type: ignore[attr-defined]
            assert resp.status == 403


AGENTS_ONLY = {"firewall": {"rules": [{"name": "agents", "path": "/agent/", "allow": ["192.0.2.0/24"]}]}}


async def _agent_status(gw: Gateway) -> int:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gw.base_url}/agent/") as resp:  # type: ignore[attr-defined]
            return resp.status


async def test_a_reload_of_a_file_truncated_to_nothing_keeps_the_last_good_policy(
    start_gateway: StartGateway, caplog: pytest.LogCaptureFixture
) -> None:
    gw = await start_gateway(AGENTS_ONLY)
    path = _policy_path(gw)
    good = path.read_text()
    path.write_text("")  # truncated, and the writer never came back
    with caplog.at_level("ERROR", logger="gateway.server"):
        assert not await gw.reload()
    assert _sample(gw, "privacy_gateway_policy_reload_success") == 0
    failed = [r for r in caplog.records if r.getMessage() == "policy reload failed; keeping the last good policy"]
    assert getattr(failed[0], "fields")["errors"] == [
        f"{path}:1: the file is empty; a policy file must set at least one key"
    ]
    assert await _agent_status(gw) == 403  # still enforced: an empty file is no policy
    path.write_text(good)
    assert await gw.reload()
    assert _sample(gw, "privacy_gateway_policy_reload_success") == 1


async def test_a_reload_waits_for_a_file_that_is_being_rewritten(start_gateway: StartGateway) -> None:
    gw = await start_gateway(AGENTS_ONLY)
    path = _policy_path(gw)
    doc = yaml.safe_load(path.read_text())
    doc["firewall"]["default"] = "deny"
    path.write_text("")  # an editor truncated the file and is about to write it again

    async def finish_writing() -> None:
        await asyncio.sleep(0.02)  # well within the reload's second read
        path.write_text(yaml.safe_dump(doc))

    writer = asyncio.create_task(finish_writing())
    assert await gw.reload()  # the empty file was read, but only the settled text was loaded
    await writer
    assert gw.runtime.policy.firewall.default == "deny"
    assert _sample(gw, "privacy_gateway_policy_reload_success") == 1


async def test_a_storm_of_truncating_saves_never_switches_enforcement_off(start_gateway: StartGateway) -> None:
    gw = await start_gateway(AGENTS_ONLY, watch=True, watch_interval=0.01)
    path = _policy_path(gw)
    doc = yaml.safe_load(path.read_text())
    stop = asyncio.Event()
    statuses: list[int] = []

    clients = _agent_clients(gw, 4, stop, statuses)
    reloads = []
    for i in range(15):
        doc["firewall"]["rules"][0]["name"] = f"agents-{i}"
        with path.open("w") as handle:  # truncate in place, then write: the way many editors save
            handle.flush()
            await asyncio.sleep(0.01 + 0.01 * (i % 4))
            handle.write(yaml.safe_dump(doc))
        if i % 3 == 0:
            reloads.append(asyncio.create_task(gw.reload()))  # SIGHUPs on top of the watcher
        await asyncio.sleep(0.01 * (i % 3))
    await asyncio.gather(*reloads)
    for _ in range(100):  # the watcher settles on the last text
        if gw.runtime.policy.firewall.rules[0].name == "agents-14" and _sample(
            gw, "privacy_gateway_policy_reload_success"
        ) == 1:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.gather(*clients)
    assert len(statuses) > 20
    assert set(statuses) == {403}  # never an empty policy: no 200 (firewall off), no 502 (no upstream)
    assert gw.runtime.policy.firewall.rules[0].name == "agents-14"
    assert _sample(gw, "privacy_gateway_policy_reload_success") == 1


async def test_shadow_rule_counts_but_does_not_enforce(start_gateway: StartGateway) -> None:
    gw = await start_gateway({
        "firewall": {"rules": [{"name": "api-trial", "path": "/echo", "allow": ["192.0.2.0/24"], "shadow": True}]}
    })
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gw.base_url}/echo") as resp:  # type: ignore[attr-defined]
            assert resp.status == 200
    assert _sample(gw, "privacy_gateway_firewall_decisions_total",
                   {"rule": "api-trial", "decision": "deny", "mode": "shadow"}) == 1


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback on this machine")
async def test_ipv6_listener_and_rules(start_gateway: StartGateway, upstream: web.AppRunner) -> None:
    gw = await start_gateway({
        "listen": {"host": "::1"},
        "firewall": {"rules": [
            {"name": "v6-only", "path": "/agent/", "allow": ["::1/128"]},
            {"name": "v4-only", "path": "/echo", "allow": ["127.0.0.0/8"]},
        ]},
    })
    base = f"http://[::1]:{gw.public_port}"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/agent/x") as resp:
            assert resp.status == 200
        async with session.get(f"{base}/echo") as resp:
            assert resp.status == 403
    forwarded = dict((k.lower(), v) for k, v in upstream.app[SEEN][-1]["headers"])
    assert forwarded["x-forwarded-for"] == "::1"


class _Exploding(Filter):
    name = "exploding"

    def __init__(self, phase: str) -> None:
        self.phase = phase

    async def on_request(self, ex: Exchange) -> LocalReply | None:
        if self.phase == "request":
            raise RuntimeError("boom")
        return None

    async def on_response_headers(self, ex: Exchange) -> None:
        if self.phase == "response":
            raise RuntimeError("boom")


@pytest.mark.parametrize("phase", ["request", "response"])
async def test_a_failing_filter_fails_closed(start_gateway: StartGateway, upstream: web.AppRunner, phase: str) -> None:
    gw = await start_gateway()
    runtime = gw.runtime
    runtime.chain = Chain(runtime.chain.filters + (_Exploding(phase),), gw.metrics)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gw.base_url}/echo", headers={"Accept": "application/json"}) as resp:  # type: ignore[attr-defined]
            body = await resp.json()
            assert resp.status == 502
    assert body["reason"] == "filter_error"
    assert "boom" not in str(body)
    assert _sample(gw, "privacy_gateway_filter_errors_total", {"filter": "exploding"}) == 1
    assert len(upstream.app[SEEN]) == (0 if phase == "request" else 1)


async def test_access_log_line(start_gateway: StartGateway) -> None:
    gw = await start_gateway({"logging": {"access_log": True}})
    stream = io.BytesIO()
    gw.runtime.access_log._stream = stream
    async with aiohttp.ClientSession() as session:
        async with session.get(
            f"{gw.base_url}/echo?token=secret-token",  # type: ignore[attr-defined]
            headers={"Cookie": "sessionid=secret-cookie", "Authorization": "Bearer secret-auth"},
        ) as resp:
            assert resp.status == 200
    gw.runtime.access_log.flush()
    raw = stream.getvalue()
    assert b"secret" not in raw
    entry = orjson.loads(raw.splitlines()[-1])
    assert entry["event"] == "access"
    assert entry["path"] == "/echo"
    assert entry["status"] == 200
    assert entry["client"] == "127.0.0.0/24"
    assert entry["decisions"] == [{"filter": "firewall", "decision": "allow", "rule": "default", "mode": "enforce"}]


async def test_gateway_stop_drains_in_flight_requests(tmp_path: Path, upstream: web.AppRunner) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({
        "listen": {"port": 0}, "admin": {"enabled": False}, "upstream": {"url": upstream_url(upstream)},
        "limits": {"drain_timeout": "5s"}, "logging": {"access_log": False},
    }))
    gw = Gateway(load_policy(path), Metrics(), policy_path=path)
    await gw.start(watch=False)
    async with aiohttp.ClientSession() as session:
        in_flight = asyncio.create_task(session.get(f"http://127.0.0.1:{gw.public_port}/slow?delay=0.5"))
        await asyncio.sleep(0.1)
        await gw.stop()
        resp = await in_flight
        assert resp.status == 200
        assert await resp.text() == "late"
        resp.release()
    with pytest.raises(aiohttp.ClientConnectorError):
        async with aiohttp.ClientSession() as session:
            await session.get(f"http://127.0.0.1:{gw.public_port}/echo")


def test_runtime_compiles_without_serving() -> None:
    runtime = Runtime(make_policy({"firewall": {"rules": [{"name": "a", "allow": []}]}}), Metrics())
    assert [f.name for f in runtime.chain.filters] == ["firewall"]


def test_gc_tuning_freezes_startup_objects_and_raises_the_young_threshold() -> None:
    import gc

    from gateway.server import _GC_THRESHOLD, _tune_gc

    before = gc.get_threshold()
    try:
        _tune_gc()
        assert gc.get_threshold()[0] == _GC_THRESHOLD
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_reload_names_only_the_settings_that_need_a_restart() -> None:
    from gateway.server import _listener_changes

    def runtime(doc: dict[str, Any]) -> Runtime:
        return Runtime(make_policy(doc), Metrics())

    base = runtime({})
    per_request = runtime({"limits": {"body_timeout": "5s", "send_timeout": "5s", "max_body_bytes": "1MiB"},
                           "upstream": {"max_connections": 7},
                           "listen": {"server_names": ["help.example"], "headers_with_underscores": "reject"}})
    assert _listener_changes(base, per_request) == []
    restart = runtime({"listen": {"port": 9}, "limits": {"header_timeout": "1s", "max_connections": 5}})
    assert _listener_changes(base, restart) == ["listen", "limits.header_timeout", "limits.max_connections"]


async def test_a_reload_with_a_new_pool_size_uses_a_new_pool_and_retires_the_old_one(
    start_gateway: StartGateway,
) -> None:
    gw = await start_gateway({})
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gw.base_url}/echo") as resp:  # type: ignore[attr-defined]
            assert resp.status == 200
        first = gw.upstream_pool(gw.runtime)
        _rewrite_policy(_policy_path(gw), lambda doc: doc.setdefault("upstream", {}).update(max_connections=3))
        assert await gw.reload()
        async with session.get(f"{gw.base_url}/echo") as resp:  # type: ignore[attr-defined]
            assert resp.status == 200
    assert gw.upstream_pool(gw.runtime) is not first
    assert first.open_connections == 0  # its idle connection was closed at the reload
    gw._flush_metrics()
    assert _sample(gw, "privacy_gateway_upstream_connections", {"state": "open"}) == 1
    assert _sample(gw, "privacy_gateway_upstream_connections", {"state": "idle"}) == 1


@pytest.mark.parametrize("trusted", [True, False])
async def test_an_https_upstream_is_verified_against_the_policy_ca(
    start_gateway: StartGateway, tmp_path: Path, trusted: bool,
) -> None:
    from tests.support.tls import make_ca
    from tests.support.upstream import make_upstream

    ca = make_ca(tmp_path)
    runner = web.AppRunner(make_upstream())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ca.server_context)
    await site.start()
    try:
        upstream: dict[str, Any] = {"url": f"https://127.0.0.1:{runner.addresses[0][1]}"}
        if trusted:
            upstream["tls_ca"] = ca.ca_pem
        gw = await start_gateway({"upstream": upstream})
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{gw.base_url}/echo?tls=1") as resp:  # type: ignore[attr-defined]
                body = await resp.read()
        if trusted:
            assert resp.status == 200
            assert orjson.loads(body)["path_qs"] == "/echo?tls=1"
        else:  # the system's CAs do not know this one: refused, never sent in the clear
            assert resp.status == 502
            assert resp.headers["X-Gateway-Reason"] == "upstream_unreachable"
            assert _sample(gw, "privacy_gateway_upstream_errors_total", {"kind": "connect"}) == 1
    finally:
        await runner.cleanup()
