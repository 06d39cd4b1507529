"""The request body as it arrives from the client, with the checks a proxy owes it.

Every read has a deadline, and so has the whole body (a stalled or dripping
upload is 408), the size is counted against the route's cap while it streams
(413), and a body whose framing breaks is 400. A failure raised inside the upload stream reaches the proxy
unwrapped: the upstream client fails the request with it.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

from aiohttp import web

from ..exchange import LocalReply

BODY_TOO_LARGE = LocalReply(413, "body_too_large", "The request body is larger than this route allows.")
BODY_TIMEOUT = LocalReply(408, "body_timeout", "The request body arrived too slowly.")
BAD_BODY = LocalReply(400, "bad_body", "The request body is malformed.")
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class BodyFailure(Exception):
    """The upload failed; ``reply`` says what the client gets (None: the client is gone)."""

    def __init__(self, reply: LocalReply | None) -> None:
        super().__init__(reply.reason if reply else "client_gone")
        self.reply = reply


async def client_body(
    request: web.BaseRequest, *, cap: int, idle: float, expect_continue: bool, total: float | None = None
) -> AsyncIterator[bytes]:
    """Chunks of the request body; raises BodyFailure on a stall, an overrun or broken framing.

    ``idle`` bounds each wait for more bytes, ``total`` the whole body: a
    client dripping a byte just inside ``idle`` would otherwise hold the
    connection (and an upstream one) for as long as it likes.
    """
    if expect_continue:
        # Sent only now, after the filters accepted the request head.
        await request.writer.write(CONTINUE)
    content = request.content
    received = 0
    loop = asyncio.get_running_loop()
    deadline = None if total is None else loop.time() + total
    while True:
        # (At 0, bytes already buffered are still read: only a wait can time out.)
        wait = idle if deadline is None else max(0.0, min(idle, deadline - loop.time()))
        try:
            async with asyncio.timeout(wait):
                chunk = await content.readany()
        except TimeoutError:
            raise BodyFailure(BODY_TIMEOUT) from None
        except web.RequestPayloadError:
            raise BodyFailure(BAD_BODY) from None
        except ConnectionError:
            raise BodyFailure(None) from None
        if not chunk:
            return
        received += len(chunk)
        if received > cap:
            raise BodyFailure(BODY_TOO_LARGE)
        yield chunk
