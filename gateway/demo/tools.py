"""Endpoints of the demo helpdesk that show what crosses the gateway.

Each one streams: bodies are counted chunk by chunk, never read whole, so a
gigabyte upload or download uses the same memory as a small one.

- ``/echo`` (any method, any path below it): JSON of what arrived.
- ``/download/{size}``: ``size`` bytes; byte ``i`` is ``i % 256``, so a receiver
  can check every byte. ``?chunked=1`` omits Content-Length.
- ``/upload`` (POST, PUT): counts the body; ``?sha256=1`` adds its digest.
- ``/ws``: WebSocket echo (text and binary), the helpdesk's "live updates".
- ``/events``: server-sent events, ``?count=`` events every ``?interval=`` s.
- ``/delay/{seconds}``: answers after a pause (to show upstream timeouts).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import weakref
from collections.abc import Callable

from aiohttp import WSCloseCode, WSMsgType, web

CHUNK = 64 * 1024
MAX_DOWNLOAD = 64 << 30  # 64 GiB: far beyond any test, still a bound
MAX_DELAY = 300.0
MAX_EVENTS = 1000
_PATTERN = bytes(range(256)) * (CHUNK // 256)

OPEN_SOCKETS = web.AppKey("open_sockets", weakref.WeakSet[web.WebSocketResponse])

routes = web.RouteTableDef()


def setup(app: web.Application) -> None:
    """Register the tool routes, and close open WebSockets when the app shuts down."""
    app[OPEN_SOCKETS] = weakref.WeakSet()
    app.on_shutdown.append(_close_sockets)
    app.add_routes(routes)


async def _close_sockets(app: web.Application) -> None:
    sockets = app[OPEN_SOCKETS]
    for ws in list(sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


async def _count_body(request: web.Request, on_chunk: Callable[[bytes], object] | None = None) -> int:
    total = 0
    async for chunk in request.content.iter_chunked(CHUNK):
        total += len(chunk)
        if on_chunk is not None:
            on_chunk(chunk)
    return total


def _json(data: object, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda obj: json.dumps(obj, indent=2) + "\n")


@routes.route("*", "/echo")
@routes.route("*", "/echo/{tail:.*}")
async def echo(request: web.Request) -> web.Response:
    """What the helpdesk received: method, path, query, headers (in order, duplicates kept), body size."""
    body_length = await _count_body(request)
    return _json({
        "method": request.method,
        "path": request.path,
        "raw_path": request.raw_path,
        "query_string": request.query_string,
        "query": [[k, v] for k, v in request.query.items()],
        "http_version": f"{request.version.major}.{request.version.minor}",
        "headers": [[k, v] for k, v in request.headers.items()],
        "remote": request.remote,
        "body_length": body_length,
    })


@routes.get(r"/download/{size:\d{1,20}}")
async def download(request: web.Request) -> web.StreamResponse:
    size = int(request.match_info["size"])
    if size > MAX_DOWNLOAD:
        raise web.HTTPBadRequest(text=f"size must be at most {MAX_DOWNLOAD} bytes\n")
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream", "Cache-Control": "no-store"})
    if request.query.get("chunked") != "1":
        response.content_length = size
    await response.prepare(request)
    if request.method != "HEAD":
        view = memoryview(_PATTERN)
        remaining = size
        while remaining > 0:  # CHUNK is a multiple of 256, so the pattern continues across chunks
            n = min(remaining, CHUNK)
            await response.write(view[:n])
            remaining -= n
    await response.write_eof()
    return response


@routes.post("/upload")
@routes.put("/upload")
async def upload(request: web.Request) -> web.Response:
    digest = hashlib.sha256() if request.query.get("sha256") == "1" else None
    received = await _count_body(request, None if digest is None else digest.update)
    result: dict[str, object] = {"bytes": received, "content_type": request.headers.get("Content-Type", "")}
    if digest is not None:
        result["sha256"] = digest.hexdigest()
    return _json(result)


@routes.get("/ws")
async def websocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    sockets = request.app[OPEN_SOCKETS]
    sockets.add(ws)
    try:
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type is WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
    finally:
        sockets.discard(ws)
    return ws


def _number(request: web.Request, name: str, default: float, limit: float) -> float:
    raw = request.query.get(name)
    try:
        value = default if raw is None else float(raw)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be a number\n") from None
    if not 0 <= value <= limit:
        raise web.HTTPBadRequest(text=f"{name} must be between 0 and {limit:g}\n")
    return value


@routes.get("/events")
async def events(request: web.Request) -> web.StreamResponse:
    count = int(_number(request, "count", 3, MAX_EVENTS))
    interval = _number(request, "interval", 1.0, 60.0)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    for i in range(count):
        if i:
            await asyncio.sleep(interval)
        data = json.dumps({"ticket": i % 4 + 1, "event": "updated", "seq": i})
        await response.write(f"id: {i}\nevent: ticket\ndata: {data}\n\n".encode())
    await response.write_eof()
    return response


@routes.get(r"/delay/{seconds:\d{1,6}(?:\.\d{1,6})?}")
async def delay(request: web.Request) -> web.Response:
    seconds = float(request.match_info["seconds"])
    if seconds > MAX_DELAY:
        raise web.HTTPBadRequest(text=f"seconds must be at most {MAX_DELAY:g}\n")
    await asyncio.sleep(seconds)
    return web.Response(text=f"answered after {seconds:g}s\n")
