"""WebSocket pass-through, after the same request filters as any request.

The gateway completes the client handshake only once the upstream accepted
its own, so a refused upstream handshake becomes an ordinary HTTP answer.
Frames are relayed as they come, in both directions, until either side closes.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Callable

import aiohttp
from aiohttp import WSMsgType, web
from yarl import URL

from .exchange import Exchange, LocalReply

if TYPE_CHECKING:
    from .runtime import Runtime

# Negotiated per hop by aiohttp on each side; never copied across.
_HANDSHAKE = frozenset(
    {"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions",
     "sec-websocket-protocol", "sec-websocket-accept", "content-length"}
)

REFUSED = LocalReply(502, "websocket_refused", "The helpdesk refused the WebSocket connection.")


async def proxy_websocket(
    session: aiohttp.ClientSession,
    rt: Runtime,
    request: web.BaseRequest,
    ex: Exchange,
    outcome: Any,
    local: Callable[[Any, LocalReply, web.BaseRequest], web.Response],
) -> web.StreamResponse:
    protocols = [
        p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()
    ]
    headers = {k: v for k, v in ex.upstream_headers.items() if k.lower() not in _HANDSHAKE}
    try:
        upstream = await session.ws_connect(
            URL(rt.upstream_ws_base + request.raw_path, encoded=True),
            headers=headers,
            protocols=protocols,
            autoping=False,
            autoclose=False,
            max_msg_size=rt.limits.max_body_bytes,
            ssl=rt.upstream_ssl if rt.upstream_ssl is not None else True,
            timeout=aiohttp.ClientWSTimeout(ws_close=10.0),
        )
    except aiohttp.WSServerHandshakeError as exc:
        status = exc.status if 400 <= exc.status < 500 else 502
        return local(outcome, LocalReply(status, "websocket_refused", REFUSED.message), request)
    except (aiohttp.ClientError, OSError, TimeoutError):
        return local(outcome, REFUSED, request)

    async with upstream:
        downstream = web.WebSocketResponse(
            protocols=[upstream.protocol] if upstream.protocol else (),
            autoping=False,
            autoclose=False,
            max_msg_size=rt.limits.max_body_bytes,
        )
        await downstream.prepare(request)
        outcome.status = 101
        relays = [
            asyncio.create_task(_relay(upstream, downstream)),
            asyncio.create_task(_relay(downstream, upstream)),
        ]
        try:
            await asyncio.wait(relays, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in relays:
                task.cancel()
            await asyncio.gather(*relays, return_exceptions=True)
            await downstream.close()
    return downstream


async def _relay(
    source: aiohttp.ClientWebSocketResponse | web.WebSocketResponse,
    sink: aiohttp.ClientWebSocketResponse | web.WebSocketResponse,
) -> None:
    async for message in source:
        if message.type == WSMsgType.TEXT:
            await sink.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            await sink.send_bytes(message.data)
        elif message.type == WSMsgType.PING:
            await sink.ping(message.data)
        elif message.type == WSMsgType.PONG:
            await sink.pong(message.data)
        elif message.type == WSMsgType.CLOSE:
            await sink.close(code=message.data or 1000, message=(message.extra or "").encode()[:123])
            return
        else:
            return
