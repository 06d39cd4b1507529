"""Answers the gateway gives itself (denials, 413, 502, 504…), rendered by Accept.

Bodies are short, name the reason word, and never echo request data back.
"""

from __future__ import annotations

from html import escape
from http import HTTPStatus

import orjson
from aiohttp import web

from ..exchange import LocalReply

_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{status} {phrase}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}}
code{{background:#f3f3f3;padding:0 .3em}}</style></head>
<body><h1>{status} {phrase}</h1><p>{message}</p><p>Reason: <code>{reason}</code></p></body></html>
"""


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _wants(accept: str) -> str:
    """Pick html, json or text from an Accept header, cheaply (no q-value parsing)."""
    accept = accept.lower()
    if "application/json" in accept or "+json" in accept:
        return "json"
    if "text/html" in accept:
        return "html"
    return "text"


def render(reply: LocalReply, accept: str = "") -> web.Response:
    if reply.body is not None:
        return _own_body(reply)
    status = reply.status
    phrase = _phrase(status)
    if reply.conceal:
        # Nothing that tells it from the helpdesk's own answer: no reason, no gateway wording.
        # (no-store stays: the answer depends on the client's address.)
        concealed = web.Response(status=status, text=phrase, content_type="text/plain", charset="utf-8")
        concealed.headers["Cache-Control"] = "no-store"
        return concealed
    message = reply.message or phrase
    kind = _wants(accept)
    if kind == "json":
        body = orjson.dumps({"status": status, "reason": reply.reason, "message": message})
        content_type = "application/json"
    elif kind == "html":
        body = _HTML.format(
            status=status, phrase=escape(phrase), message=escape(message), reason=escape(reply.reason)
        ).encode()
        content_type = "text/html"
    else:
        body = f"{status} {phrase}: {message} (reason: {reply.reason})\n".encode()
        content_type = "text/plain"
    response = web.Response(status=status, body=body, content_type=content_type, charset="utf-8")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Gateway-Reason"] = reply.reason
    for name, value in reply.headers:
        response.headers.add(name, value)
    return response


def _own_body(reply: LocalReply) -> web.Response:
    response = web.Response(status=reply.status, body=reply.body)
    response.headers["Content-Type"] = reply.content_type
    response.headers["X-Gateway-Reason"] = reply.reason
    for name, value in reply.headers:
        response.headers.add(name, value)
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response
