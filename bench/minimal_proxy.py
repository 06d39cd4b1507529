"""A minimal aiohttp pass-through proxy: the reference for what aiohttp itself costs.

No policy, no checks, no hop-by-hop handling: one shared ClientSession (no
cookie jar, no decompression), the request forwarded, the response body
streamed back. The benchmark runs it next to the gateway so the gateway's
own cost can be told apart from the framework's.

    python bench/minimal_proxy.py PORT UPSTREAM_PORT
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp
from aiohttp import web

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None

_SKIP = frozenset({"Accept", "Accept-Encoding", "User-Agent", "Content-Type"})


async def main(port: int, upstream_port: int) -> None:
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=256), cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False,
    )
    base = f"http://127.0.0.1:{upstream_port}"

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("connection", "keep-alive")}
        async with session.request(
            request.method, base + request.raw_path, headers=headers, allow_redirects=False,
            skip_auto_headers=_SKIP, data=request.content if request.body_exists else None,
        ) as upstream:
            response = web.StreamResponse(status=upstream.status)
            response.headers.extend(
                (k, v) for k, v in upstream.headers.items() if k.lower() not in ("connection", "transfer-encoding")
            )
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    runner = web.ServerRunner(web.Server(handle, auto_decompress=False, access_log=None))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    if uvloop is not None:
        uvloop.install()
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
