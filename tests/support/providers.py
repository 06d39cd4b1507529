"""A recording stand-in for a provider API on loopback, answering as the real one documents.

Each request it receives is kept (method, path, headers, body); the answer
for a path is set per test (status, JSON body, headers), by default 200 ``{}``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from multidict import CIMultiDictProxy


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeProvider:
    """``answers[path] = (status, body, headers)``; ``requests`` in arrival order; ``url`` once started."""

    answers: dict[str, tuple[int, Any, dict[str, str]]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append(Seen(request.method, request.path, request.query_string, request.headers,
                                  await request.read()))
        status, body, headers = self.answers.get(request.path, (200, {}, {}))
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return web.Response(status=status, body=data, headers={"Content-Type": "application/json", **headers})

    async def start(self) -> FakeProvider:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


MakeProvider = Callable[[], "AsyncIterator[FakeProvider]"]


@pytest.fixture
async def fake_provider() -> AsyncIterator[FakeProvider]:
    provider = await FakeProvider().start()
    yield provider
    await provider.stop()


def egress_policy(routes: list[dict[str, Any]], **notifications: Any) -> dict[str, Any]:
    """The relay's test policy (tests/support/smarthost.py) with an egress listener instead of SMTP."""
    from tests.support.smarthost import relay_policy

    policy = relay_policy(25)
    section = policy["notifications"]
    del section["smtp"]
    section["egress"] = {"listen": {"host": "127.0.0.1", "port": 0}, "allow": ["127.0.0.1"], "routes": routes}
    section.update(notifications)
    return policy
