"""Shared fixtures: a real upstream and the real gateway, both on loopback sockets."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest
import yaml
from aiohttp import web

from gateway.metrics import Metrics
from gateway.policy.loader import load_policy
from gateway.server import Gateway
from tests.support.browser import browser, demo_site  # noqa: F401  (fixtures)
from tests.support.helpdesk import django_helpdesk, helpdesk_gateway, helpdesk_visitors  # noqa: F401  (fixtures)
from tests.support.postgres import pg_dsn, pg_schema, store_backend  # noqa: F401  (fixtures)
from tests.support.upstream import make_upstream


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def upstream() -> AsyncIterator[web.AppRunner]:
    runner = web.AppRunner(make_upstream(), access_log=None, auto_decompress=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield runner
    await runner.cleanup()


def upstream_url(runner: web.AppRunner) -> str:
    return f"http://127.0.0.1:{runner.addresses[0][1]}"


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def secrets_to_files(doc: Any, directory: Path) -> Any:
    """``doc`` with each inline ``secret`` written to a file in ``directory`` and given as ``${file:...}``.

    A policy takes key material by reference only; tests keep their keys as constants.
    """
    if isinstance(doc, list):
        return [secrets_to_files(item, directory) for item in doc]
    if not isinstance(doc, dict):
        return doc
    out = {}
    for key, value in doc.items():
        if key == "secret" and isinstance(value, str) and not value.startswith("${"):
            name = "key-" + hashlib.sha256(value.encode()).hexdigest()[:16]
            (directory / name).write_text(value)
            value = f"${{file:{name}}}"
        out[key] = secrets_to_files(value, directory)
    return out


StartGateway = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def start_gateway(tmp_path: Path, upstream: web.AppRunner) -> AsyncIterator[StartGateway]:
    """Start the real gateway (listen and admin on free ports) in front of ``upstream``."""
    started: list[Gateway] = []

    async def start(policy: dict[str, Any] | None = None, *, watch: bool = False, **kwargs: Any) -> Gateway:
        base = {
            "listen": {"host": "127.0.0.1", "port": 0},
            "admin": {"host": "127.0.0.1", "port": 0},
            "upstream": {"url": upstream_url(upstream)},
            "logging": {"access_log": False},
        }
        doc = secrets_to_files(deep_merge(base, policy or {}), tmp_path)
        path = tmp_path / "policy.yaml"
        path.write_text(yaml.safe_dump(doc))
        gateway = Gateway(load_policy(path), Metrics(), policy_path=path)
        await gateway.start(watch=watch, **kwargs)
        gateway.base_url = f"http://127.0.0.1:{gateway.public_port}"  # type: ignore[attr-defined]
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        await gateway.stop()
