"""The client body reader on its own, behind a real aiohttp server on loopback."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.pytest_plugin import AiohttpClient

from gateway.http.upload import BAD_BODY, BODY_TIMEOUT, BODY_TOO_LARGE, BodyFailure, client_body


def reader_app(cap: int, idle: float, total: float | None = None) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        received = 0
        try:
            async for chunk in client_body(request, cap=cap, idle=idle, expect_continue=False, total=total):
                received += len(chunk)
        except BodyFailure as exc:
            assert exc.reply is not None
            return web.Response(status=exc.reply.status, text=exc.reply.reason)
        return web.Response(text=str(received))

    app = web.Application()
    app.router.add_post("/", handle)
    return app


async def test_counts_a_body_within_the_cap(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(reader_app(cap=1000, idle=5))
    resp = await client.post("/", data=b"x" * 1000)
    assert resp.status == 200 and await resp.text() == "1000"


async def test_over_the_cap_is_413(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(reader_app(cap=1000, idle=5))

    async def body() -> Any:
        for _ in range(10):
            yield b"x" * 500

    resp = await client.post("/", data=body())
    assert resp.status == BODY_TOO_LARGE.status


async def test_a_stalled_body_is_408(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(reader_app(cap=10_000, idle=0.2))

    async def body() -> Any:
        yield b"x" * 10
        await asyncio.sleep(2)
        yield b"y"

    resp = await client.post("/", data=body())
    assert resp.status == BODY_TIMEOUT.status
    assert await resp.text() == "body_timeout"


async def test_a_body_that_keeps_trickling_is_408_at_the_total_deadline(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(reader_app(cap=10_000, idle=0.5, total=0.6))

    async def body() -> Any:
        for _ in range(50):  # never silent for 0.5 s, but 5 s in all
            yield b"x"
            await asyncio.sleep(0.1)

    resp = await client.post("/", data=body())
    assert resp.status == BODY_TIMEOUT.status
    assert await resp.text() == "body_timeout"


async def test_a_body_within_the_total_deadline_is_read_whole(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(reader_app(cap=10_000, idle=0.5, total=30))

    async def body() -> Any:
        for _ in range(3):
            yield b"x" * 10
            await asyncio.sleep(0.05)

    resp = await client.post("/", data=body())
    assert resp.status == 200 and await resp.text() == "30"


def test_bad_body_answer() -> None:
    assert (BAD_BODY.status, BAD_BODY.reason) == (400, "bad_body")
