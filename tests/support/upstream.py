"""A real aiohttp upstream for integration tests, with endpoints that misbehave on demand."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import json

from aiohttp import WSMsgType, web

CHUNK = b"x" * 65536
SEEN = web.AppKey("seen", list)


async def echo(request: web.Request) -> web.Response:
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.content.iter_any():
        digest.update(chunk)
        size += len(chunk)
    body = {
        "method": request.method,
        "path_qs": request.raw_path,
        "headers": [[k, v] for k, v in request.headers.items()],
        "body_size": size,
        "body_sha256": digest.hexdigest(),
        "peer": request.remote,
    }
    request.app[SEEN].append(body)
    return web.json_response(body)


async def echo_body(request: web.Request) -> web.Response:
    """What arrived, body included (base64): for filters that change request bodies."""
    body = await request.read()
    request.app[SEEN].append({"method": request.method, "path_qs": request.raw_path, "body_size": len(body)})
    return web.json_response({
        "headers": [[k, v] for k, v in request.headers.items()],
        "body_b64": base64.b64encode(body).decode("ascii"),
    })


async def download(request: web.Request) -> web.StreamResponse:
    size = int(request.match_info["size"])
    response = web.StreamResponse()
    response.content_length = size
    response.content_type = "application/octet-stream"
    await response.prepare(request)
    remaining = size
    while remaining:
        piece = CHUNK[: min(remaining, len(CHUNK))]
        await response.write(piece)
        remaining -= len(piece)
    return response


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(float(request.query.get("delay", "5")))
    return web.Response(text="late")


async def stall_body(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    await response.prepare(request)
    await response.write(b"first part;")
    await asyncio.sleep(float(request.query.get("delay", "5")))
    await response.write(b"second part")
    return response


async def hop_headers(request: web.Request) -> web.Response:
    response = web.Response(text="hop")
    response.headers["Connection"] = "X-Secret-Hop, keep-alive"
    response.headers["X-Secret-Hop"] = "must not pass"
    response.headers["Keep-Alive"] = "timeout=5"
    response.headers["Proxy-Authenticate"] = "Basic"
    response.headers["X-End-To-End"] = "passes"
    response.set_cookie("a", "1")
    response.set_cookie("b", "2")
    return response


async def redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/echo")


async def gzip_page(request: web.Request) -> web.Response:
    response = web.Response(text="hello " * 1000)
    response.enable_compression(web.ContentCoding.gzip)
    return response


async def websocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(protocols=("chat",))
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            await ws.send_str("echo:" + msg.data)
        elif msg.type == WSMsgType.BINARY:
            await ws.send_bytes(msg.data[::-1])
    return ws


async def headers_json(request: web.Request) -> web.Response:
    return web.Response(text=json.dumps(dict(request.headers)))


COOKIE_PAGE_COOKIES = (
    "sessionid=s3ss; Path=/; HttpOnly; SameSite=Lax",
    "_ga=GA1.1.123.456; Max-Age=63072000; Path=/; SameSite=Lax",
    "_gid=GA1.1.789; Path=/help; Domain=127.0.0.1",
    "lang=nb; Path=/",
    "tracker=t1; Path=/",
)


async def cookie_page(request: web.Request) -> web.StreamResponse:
    """An HTML page setting several cookies (see COOKIE_PAGE_COOKIES), for the consent tests.

    Query: ``csp`` a Content-Security-Policy header, ``chunk`` body chunk size
    (streamed without Content-Length), ``gzip=1`` compress, ``status``, ``ctype`` the Content-Type,
    ``body`` the whole body text instead of the page, ``nocookies=1``.
    """
    query = request.query
    text = query.get("body") or (
        "<!DOCTYPE html><html><head><title>Cookie page</title></head>"
        "<body><h1>Cookies \u00e6\u00f8\u00e5</h1>" + "<p>filler</p>" * 20 + "</BODY></html>"
    )
    response = web.StreamResponse(status=int(query.get("status", "200")))
    response.headers["Content-Type"] = query.get("ctype", "text/html; charset=utf-8")
    if "csp" in query:
        response.headers["Content-Security-Policy"] = query["csp"]
    if query.get("nocookies") != "1":
        for value in COOKIE_PAGE_COOKIES:
            response.headers.add("Set-Cookie", value)
    body = text.encode("utf-8")
    if query.get("gzip") == "1":
        body = gzip.compress(body)
        response.headers["Content-Encoding"] = "gzip"
    if "chunk" not in query:
        response.content_length = len(body)
    await response.prepare(request)
    if request.method == "HEAD":
        return response
    size = int(query.get("chunk", "0")) or len(body) or 1
    for start in range(0, len(body), size):
        await response.write(body[start : start + size])
    await response.write_eof()
    return response


async def links_page(request: web.Request) -> web.Response:
    """An HTML page with ``count`` external links (its size grows when they are signed)."""
    count = int(request.query.get("count", "10"))
    links = "".join(f'<li><a href="https://site{i}.example.org/p">{i}</a></li>' for i in range(count))
    return web.Response(text=f"<!doctype html><html><body><ul>{links}</ul></body></html>", content_type="text/html")


MEDIA_TEXT = (  # a customer's text file: it must download exactly as stored
    b"Notes from the customer, as uploaded.\r\n"
    b"Video: https://www.youtube.com/watch?v=dQw4w9WgXcQ\r\n"
    b"Manual: https://example.org/manual?utm_source=mail&p=2\r\n"
)
MEDIA_HTML = (
    b'<!doctype html><html><head><title>Saved page</title></head><body>'
    b'<p><a href="https://example.org/manual?utm_source=mail">manual</a> '
    b'<a href="https://www.youtube.com/watch?v=1">video</a></p></body></html>'
)


async def media(request: web.Request) -> web.Response:
    """A stored file. Query: ``ctype`` (absent: text/plain), ``disposition`` (absent:
    ``attachment; filename=<name>``; ``none`` sends no Content-Disposition)."""
    ctype = request.query.get("ctype", "text/plain; charset=utf-8")
    response = web.Response(body=MEDIA_HTML if ctype.startswith("text/html") else MEDIA_TEXT)
    response.headers["Content-Type"] = ctype
    disposition = request.query.get("disposition", f'attachment; filename="{request.match_info["name"]}"')
    if disposition != "none":
        response.headers["Content-Disposition"] = disposition
    return response


def make_upstream() -> web.Application:
    app = web.Application(client_max_size=2**40)
    app[SEEN] = []
    app.router.add_route("*", "/echo", echo)
    app.router.add_route("*", "/echo/{tail:.*}", echo)
    app.router.add_route("*", "/agent/{tail:.*}", echo)
    app.router.add_route("*", "/upload", echo)
    app.router.add_route("*", "/echo-body", echo_body)
    app.router.add_route("*", "/echo-body/{tail:.*}", echo_body)
    app.router.add_get("/download/{size}", download)
    app.router.add_get("/slow", slow)
    app.router.add_get("/stall", stall_body)
    app.router.add_get("/hop", hop_headers)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/gzip", gzip_page)
    app.router.add_get("/ws", websocket)
    app.router.add_get("/links-page", links_page)
    app.router.add_get("/cookie-page", cookie_page)
    app.router.add_get("/media/{name}", media)
    return app
