"""Hardening of the public listener, byte for byte over raw sockets.

Each test talks to the real gateway (in front of the real test upstream) with
exact bytes, reads what comes back, and checks three things: the answer, that
the connection is closed after an error, and that nothing reached the upstream
(``upstream.app[SEEN]`` stays empty).

Statuses observed with aiohttp 3.14.5 (llhttp) plus gateway/listener.py:
  400 bad_request                  every framing error llhttp reports (ambiguous or
                                   malformed lengths, obfuscated Transfer-Encoding, bare
                                   CR/LF, obs-fold, bad chunk sizes, HTTP/1.2 and 3.0,
                                   missing or duplicate Host, lower-case methods), and
                                   Transfer-Encoding on HTTP/1.0 (listener)
  400 body_framing                 chunk extensions / trailers far larger than the body (listener)
  400 bad_target                   absolute-form, authority-form (CONNECT), asterisk-form (proxy)
  431 headers_too_large            one line over the cap (llhttp, mapped by the listener), a
                                   head over twice the cap while arriving (listener), a total
                                   over the cap (proxy)
  501 unsupported_transfer_coding  "identity, chunked" (llhttp accepts it; the listener does not)
  505 http_version_not_supported   HTTP/2.0 and HTTP/0.9 request lines (llhttp accepts them)
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import socket
from dataclasses import dataclass
from typing import Any, AsyncIterator

import aiohttp
import orjson
import pytest
from aiohttp import web

from gateway.server import Gateway
from tests.conftest import StartGateway
from tests.support.upstream import SEEN

HEADER_CAP = 4096
LIMITS = {
    "max_header_bytes": HEADER_CAP,
    "header_timeout": 0.5,
    "body_timeout": 0.5,
    "send_timeout": 0.5,
    "keepalive_timeout": 30,
}
DEADLINE_BOUND = 5.0  # generous: every deadline in LIMITS is 0.5 s
HOST = b"Host: gw.test\r\n"


# --- raw HTTP over asyncio streams ------------------------------------------------


@dataclass
class Reply:
    version: str
    status: int
    headers: dict[str, str]  # lower-case names; enough for the gateway's own answers
    body: bytes

    @property
    def reason(self) -> str | None:
        return self.headers.get("x-gateway-reason")


def parse_replies(data: bytes) -> list[Reply]:
    """Split a byte stream into responses (each with a Content-Length, or the rest)."""
    replies = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, f"incomplete response head: {data[:200]!r}"
        lines = head.decode("latin-1").split("\r\n")
        version, status, *_ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            size = int(headers["content-length"])
            body, data = rest[:size], rest[size:]
        else:
            body, data = rest, b""
        replies.append(Reply(version, int(status), headers, body))
    return replies


@contextlib.asynccontextmanager
async def connect(port: int, *, rcvbuf: int | None = None) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    except BaseException:
        sock.close()
        raise
    reader, writer = await asyncio.open_connection(sock=sock)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


async def send(writer: asyncio.StreamWriter, data: bytes) -> None:
    """Write, ignoring a peer that already closed (its answer is what the test reads)."""
    with contextlib.suppress(ConnectionError):
        writer.write(data)
        await writer.drain()


async def read_until_closed(reader: asyncio.StreamReader, timeout: float = DEADLINE_BOUND) -> tuple[bytes, bool]:
    """Everything the gateway sends, and whether it closed the connection within ``timeout``."""
    data = b""
    try:
        async with asyncio.timeout(timeout):
            while chunk := await reader.read(65536):
                data += chunk
    except TimeoutError:
        return data, False
    except ConnectionError:
        pass
    return data, True


async def read_reply(reader: asyncio.StreamReader, timeout: float = DEADLINE_BOUND) -> Reply:
    async with asyncio.timeout(timeout):
        head = await reader.readuntil(b"\r\n\r\n")
        reply = parse_replies(head)[0]
        size = int(reply.headers.get("content-length", "0"))
        reply.body = await reader.readexactly(size)
    return reply


async def exchange(port: int, *parts: bytes, pause: float = 0.0) -> tuple[list[Reply], bool]:
    """Send ``parts`` (``pause`` seconds apart), read until the gateway closes."""
    async with connect(port) as (reader, writer):
        for index, part in enumerate(parts):
            if index and pause:
                await asyncio.sleep(pause)
            await send(writer, part)
        data, closed = await read_until_closed(reader)
    return parse_replies(data), closed


def seen(upstream: web.AppRunner) -> list[dict[str, Any]]:
    return upstream.app[SEEN]


def seen_headers(entry: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in entry["headers"]:
        out.setdefault(name.lower(), []).append(value)
    return out


def local_replies(gw: Gateway, reason: str) -> float:
    value = gw.metrics.registry.get_sample_value("privacy_gateway_local_replies_total", {"reason": reason})
    return value or 0.0


@pytest.fixture
async def gw(start_gateway: StartGateway) -> Gateway:
    return await start_gateway({"limits": LIMITS})


# --- malformed requests: answered, never forwarded, connection closed ----------------

CHUNKED = b"Transfer-Encoding: chunked\r\n"
BODY = b"5\r\nhello\r\n0\r\n\r\n"
SMUGGLED = b"GET /echo/smuggled HTTP/1.1\r\n" + HOST + b"\r\n"


def post(*headers: bytes, body: bytes = b"hello", version: bytes = b"HTTP/1.1") -> bytes:
    return b"POST /echo " + version + b"\r\n" + HOST + b"".join(headers) + b"\r\n" + body


MALFORMED = [
    # Content-Length and Transfer-Encoding together, and the two classic smuggles.
    ("cl-with-te", post(b"Content-Length: 5\r\n", CHUNKED, body=BODY), 400, "bad_request"),
    ("te-with-cl", post(CHUNKED, b"Content-Length: 5\r\n", body=BODY), 400, "bad_request"),
    ("smuggle-cl-te", post(b"Content-Length: %d\r\n" % (5 + len(SMUGGLED)), CHUNKED, body=b"0\r\n\r\n" + SMUGGLED), 400, "bad_request"),
    ("smuggle-te-cl", post(CHUNKED, b"Content-Length: 4\r\n", body=b"%x\r\n" % len(SMUGGLED) + SMUGGLED + b"\r\n0\r\n\r\n"), 400, "bad_request"),
    ("smuggle-te-te", post(CHUNKED, b"Transfer-Encoding: xchunked\r\n", b"Content-Length: 5\r\n", body=BODY), 400, "bad_request"),
    # Content-Length: duplicates (equal or not) and junk.
    ("cl-differing", post(b"Content-Length: 5\r\n", b"Content-Length: 6\r\n", body=b"hello!"), 400, "bad_request"),
    ("cl-equal-twice", post(b"Content-Length: 5\r\n", b"Content-Length: 5\r\n"), 400, "bad_request"),
    ("cl-list", post(b"Content-Length: 5, 5\r\n"), 400, "bad_request"),
    ("cl-plus", post(b"Content-Length: +5\r\n"), 400, "bad_request"),
    ("cl-minus", post(b"Content-Length: -5\r\n"), 400, "bad_request"),
    ("cl-inner-space", post(b"Content-Length: 5 5\r\n"), 400, "bad_request"),
    ("cl-hex", post(b"Content-Length: 0x5\r\n"), 400, "bad_request"),
    ("cl-trailing-junk", post(b"Content-Length: 5a\r\n"), 400, "bad_request"),
    ("cl-overflow", post(b"Content-Length: 99999999999999999999999\r\n"), 400, "bad_request"),
    # Obfuscated Transfer-Encoding.
    ("te-chunked-identity", post(b"Transfer-Encoding: chunked, identity\r\n", body=BODY), 400, "bad_request"),
    ("te-identity-chunked", post(b"Transfer-Encoding: identity, chunked\r\n", body=BODY), 501, "unsupported_transfer_coding"),
    ("te-gzip-chunked", post(b"Transfer-Encoding: gzip, chunked\r\n", body=BODY), 501, "unsupported_transfer_coding"),
    ("te-folded-name", post(b"X-A: b\r\n", b" Transfer-Encoding: chunked\r\n", body=BODY), 400, "bad_request"),
    ("te-leading-space-first-line", b"POST /echo HTTP/1.1\r\n Transfer-Encoding: chunked\r\n" + HOST + b"\r\n" + BODY, 400, "bad_request"),
    ("te-xchunked", post(b"Transfer-Encoding: xchunked\r\n", body=BODY), 400, "bad_request"),
    ("te-gzip-only", post(b"Transfer-Encoding: gzip\r\n", body=BODY), 400, "bad_request"),
    ("te-space-before-colon", post(b"Transfer-Encoding : chunked\r\n", body=BODY), 400, "bad_request"),
    ("te-tab-before-colon", post(b"Transfer-Encoding\t: chunked\r\n", body=BODY), 400, "bad_request"),
    ("te-vertical-tab", post(b"Transfer-Encoding:\x0bchunked\r\n", body=BODY), 400, "bad_request"),
    ("te-nul", post(b"Transfer-Encoding: chunked\x00\r\n", body=BODY), 400, "bad_request"),
    ("te-twice", post(CHUNKED, CHUNKED, body=BODY), 400, "bad_request"),
    ("te-on-http-1.0", post(CHUNKED, body=BODY, version=b"HTTP/1.0"), 400, "bad_request"),
    # Line endings and folding.
    ("bare-lf-request-line", b"GET /echo HTTP/1.1\n" + HOST + b"\r\n", 400, "bad_request"),
    ("bare-lf-everywhere", b"GET /echo HTTP/1.1\nHost: gw.test\n\n", 400, "bad_request"),
    ("bare-lf-header", b"GET /echo HTTP/1.1\r\nHost: gw.test\nX-A: b\r\n\r\n", 400, "bad_request"),
    ("bare-lf-hides-te", b"GET /echo HTTP/1.1\r\n" + HOST + b"X-A: b\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "bad_request"),
    ("bare-cr-request-line", b"GET /echo HTTP/1.1\rHost: gw.test\r\r", 400, "bad_request"),
    ("bare-cr-header", b"GET /echo HTTP/1.1\r\nHost: gw.test\rX-A: b\r\n\r\n", 400, "bad_request"),
    ("obs-fold", b"GET /echo HTTP/1.1\r\n" + HOST + b"X-A: b\r\n  c\r\n\r\n", 400, "bad_request"),
    ("obs-fold-te-value", post(b"Transfer-Encoding:\r\n chunked\r\n", body=BODY), 400, "bad_request"),
    # Chunk sizes and extensions.
    ("chunk-size-overflow", post(CHUNKED, body=b"FFFFFFFFFFFFFFFFF1\r\nhello\r\n0\r\n\r\n"), 400, "bad_request"),
    ("chunk-size-negative", post(CHUNKED, body=b"-5\r\nhello\r\n0\r\n\r\n"), 400, "bad_request"),
    ("chunk-size-non-hex", post(CHUNKED, body=b"zz\r\nhello\r\n0\r\n\r\n"), 400, "bad_request"),
    ("chunk-size-0x", post(CHUNKED, body=b"0x5\r\nhello\r\n0\r\n\r\n"), 400, "bad_request"),
    ("chunk-data-longer-than-size", post(CHUNKED, body=b"5\r\nhelloXX\r\n0\r\n\r\n"), 400, "bad_request"),
    ("chunk-extension-1MiB", post(CHUNKED, body=b"5;" + b"e" * (1 << 20) + b"\r\nhello\r\n0\r\n\r\n"), 400, "body_framing"),
    ("chunk-extension-200KiB-one-read", post(CHUNKED, body=b"5;" + b"e" * 200_000 + b"\r\nhello\r\n0\r\n\r\n"), 400, "body_framing"),
    ("chunk-trailers-200KiB", post(CHUNKED, body=b"5\r\nhello\r\n0\r\n" + b"X-T: " + b"t" * 1000 + b"\r\n" * 1 + b"".join(b"X-T%d: %s\r\n" % (i, b"t" * 1000) for i in range(200)) + b"\r\n"), 400, "body_framing"),
    # Versions.
    ("http-1.2", b"GET /echo HTTP/1.2\r\n" + HOST + b"\r\n", 400, "bad_request"),
    ("http-2.0", b"GET /echo HTTP/2.0\r\n" + HOST + b"\r\n", 505, "http_version_not_supported"),
    ("http-3.0", b"GET /echo HTTP/3.0\r\n" + HOST + b"\r\n", 400, "bad_request"),
    ("http-0.9", b"GET /echo\r\n\r\n", 505, "http_version_not_supported"),
    ("h2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "bad_request"),
    # Host.
    ("no-host-http-1.1", b"GET /echo HTTP/1.1\r\n\r\n", 400, "bad_request"),
    ("two-hosts", b"GET /echo HTTP/1.1\r\n" + HOST + b"Host: evil.test\r\n\r\n", 400, "bad_request"),
    ("two-hosts-differing-case", b"GET /echo HTTP/1.1\r\n" + HOST + b"host: gw.test\r\n\r\n", 400, "bad_request"),
    # Request targets a reverse proxy must not interpret.
    ("absolute-form", b"GET http://evil/ HTTP/1.1\r\n" + HOST + b"\r\n", 400, "bad_target"),
    ("absolute-form-known-path", b"GET http://gw.test/echo HTTP/1.1\r\n" + HOST + b"\r\n", 400, "bad_target"),
    ("connect", b"CONNECT evil.test:443 HTTP/1.1\r\nHost: evil.test:443\r\n\r\n", 400, "bad_target"),
    ("asterisk-form", b"OPTIONS * HTTP/1.1\r\n" + HOST + b"\r\n", 400, "bad_target"),
    # Request line and header syntax.
    ("lower-case-method", b"get /echo HTTP/1.1\r\n" + HOST + b"\r\n", 400, "bad_request"),
    ("space-in-header-name", b"GET /echo HTTP/1.1\r\n" + HOST + b"X A: b\r\n\r\n", 400, "bad_request"),
    ("empty-header-name", b"GET /echo HTTP/1.1\r\n" + HOST + b": b\r\n\r\n", 400, "bad_request"),
]


@pytest.mark.parametrize(("payload", "status", "reason"), [case[1:] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
async def test_malformed_request_is_refused_and_never_forwarded(
    gw: Gateway, upstream: web.AppRunner, payload: bytes, status: int, reason: str
) -> None:
    replies, closed = await exchange(gw.public_port, payload)
    assert [r.status for r in replies] == [status]
    assert replies[0].reason == reason
    assert closed, "the connection must close after a framing error"
    assert seen(upstream) == []
    assert local_replies(gw, reason) == 1


@pytest.mark.parametrize(
    "parts",
    [
        pytest.param([b"5\r\nhello\r\n", b"zz\r\nhello\r\n0\r\n\r\n"], id="non-hex-chunk-size"),
        pytest.param([b"5\r\nhello\r\n", b"FFFFFFFFFFFFFFFFF1\r\nhello\r\n0\r\n\r\n"], id="chunk-size-overflow"),
        pytest.param([b"5;" + b"e" * 300_000, b"e" * 300_000 + b"\r\nhello\r\n0\r\n\r\n"], id="chunk-extension"),
    ],
)
async def test_framing_error_after_the_head_was_forwarded_aborts_the_upload(
    start_gateway: StartGateway, upstream: web.AppRunner, parts: list[bytes]
) -> None:
    # The head arrives alone, so the gateway has started streaming the request
    # upstream when the bad framing arrives: the upload must be aborted (the
    # upstream never gets a complete request) and the client told at once, not
    # after body_timeout.
    gw = await start_gateway({"limits": {**LIMITS, "body_timeout": 30}})
    head = b"POST /echo HTTP/1.1\r\n" + HOST + CHUNKED + b"\r\n"
    started = asyncio.get_running_loop().time()
    replies, closed = await exchange(gw.public_port, head, *parts, pause=0.2)
    assert closed
    assert asyncio.get_running_loop().time() - started < 10, "answered by the body deadline, not the framing check"
    assert seen(upstream) == []
    assert [r.status for r in replies] == [400]


async def test_error_answers_do_not_echo_request_bytes(gw: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    secret = b"s3cr3t-cookie-value"
    # aiohttp's own 400 body quotes the offending header line back to the client.
    payload = b"GET /echo HTTP/1.1\r\n" + HOST + b"Cookie: sid=" + secret + b"\x00\r\n\r\n"
    with caplog.at_level(logging.DEBUG):
        replies, closed = await exchange(gw.public_port, payload)
    assert [r.status for r in replies] == [400]
    assert secret not in replies[0].body
    assert b"Cookie" not in replies[0].body
    assert secret.decode() not in caplog.text


async def test_chunked_body_with_small_chunks_is_not_framing_abuse(gw: Gateway, upstream: web.AppRunner) -> None:
    # 1-byte chunks, each with a small extension: 9 bytes of framing per body byte.
    body = b"".join(b"1;x=y\r\n%c\r\n" % b for b in b"abcdefghij" * 2000) + b"0\r\n\r\n"
    async with connect(gw.public_port) as (reader, writer):
        await send(writer, post(CHUNKED, body=b""))
        for start in range(0, len(body), 4096):
            await send(writer, body[start : start + 4096])
        reply = await read_reply(reader)
    assert reply.status == 200
    assert orjson.loads(reply.body)["body_size"] == 20_000


# --- valid but unusual: accepted and re-framed, never passed on ambiguously -----------


@pytest.mark.parametrize(
    ("payload", "size"),
    [
        pytest.param(post(b"Transfer-Encoding:   chunked\r\n", body=BODY), 5, id="te-extra-spaces"),
        pytest.param(post(b"Transfer-Encoding:\tchunked\r\n", body=BODY), 5, id="te-tab-as-whitespace"),
        pytest.param(post(b"Transfer-Encoding: CHUNKED\r\n", body=BODY), 5, id="te-upper-case"),
        # CL.0: a request hidden in a Content-Length body stays body.
        pytest.param(
            b"GET /echo HTTP/1.1\r\n" + HOST + b"Content-Length: %d\r\n\r\n" % len(SMUGGLED) + SMUGGLED,
            len(SMUGGLED), id="request-inside-a-length-body",
        ),
        pytest.param(post(CHUNKED, body=b"%x\r\n" % len(SMUGGLED) + SMUGGLED + b"\r\n0\r\n\r\n"), len(SMUGGLED), id="request-inside-a-chunk"),
    ],
)
async def test_legal_framing_variants_are_reframed_for_the_upstream(
    gw: Gateway, upstream: web.AppRunner, payload: bytes, size: int
) -> None:
    async with connect(gw.public_port) as (reader, writer):
        await send(writer, payload)
        reply = await read_reply(reader)
    assert reply.status == 200
    assert [entry["path_qs"] for entry in seen(upstream)] == ["/echo"]
    entry = seen(upstream)[0]
    assert entry["body_size"] == size
    headers = seen_headers(entry)
    assert not ("content-length" in headers and "transfer-encoding" in headers)


async def test_pipelined_requests_are_answered_in_order(gw: Gateway, upstream: web.AppRunner) -> None:
    batch = (
        b"GET /echo/1 HTTP/1.1\r\n" + HOST + b"\r\n"
        + b"POST /echo/2 HTTP/1.1\r\n" + HOST + CHUNKED + b"\r\n" + BODY
        + b"POST /echo/3 HTTP/1.1\r\n" + HOST + b"Content-Length: 3\r\n\r\nabc"
        + b"GET /echo/4 HTTP/1.1\r\n" + HOST + b"\r\n"
    )
    async with connect(gw.public_port) as (reader, writer):
        await send(writer, batch)
        replies = [await read_reply(reader) for _ in range(4)]
    assert [r.status for r in replies] == [200] * 4
    assert [orjson.loads(r.body)["path_qs"] for r in replies] == ["/echo/1", "/echo/2", "/echo/3", "/echo/4"]
    assert [(e["path_qs"], e["body_size"]) for e in seen(upstream)] == [("/echo/1", 0), ("/echo/2", 5), ("/echo/3", 3), ("/echo/4", 0)]


async def test_a_complete_request_before_a_malformed_one_is_still_answered(gw: Gateway, upstream: web.AppRunner) -> None:
    # The first request's body is complete but still being streamed upstream
    # when the parser trips over the second request: only the second is refused.
    size = 4 * 1024 * 1024
    first = b"POST /echo/1 HTTP/1.1\r\n" + HOST + b"Content-Length: %d\r\n\r\n" % size + b"b" * size
    second = b"GET /echo/2 HTTP/1.1\r\n" + HOST + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\n"
    replies, closed = await exchange(gw.public_port, first, second)
    assert [(r.status, r.reason) for r in replies] == [(200, None), (400, "bad_request")]
    assert closed
    assert [(e["path_qs"], e["body_size"]) for e in seen(upstream)] == [("/echo/1", size)]


# --- header size ---------------------------------------------------------------------


async def test_a_single_header_line_over_the_cap_is_431(gw: Gateway, upstream: web.AppRunner) -> None:
    payload = b"GET /echo HTTP/1.1\r\n" + HOST + b"X-Long: " + b"a" * (HEADER_CAP + 1) + b"\r\n\r\n"
    replies, closed = await exchange(gw.public_port, payload)
    assert [(r.status, r.reason) for r in replies] == [(431, "headers_too_large")]
    assert closed
    assert seen(upstream) == []


async def test_a_request_target_over_the_cap_is_431(gw: Gateway, upstream: web.AppRunner) -> None:
    payload = b"GET /echo?" + b"q" * (HEADER_CAP + 1) + b" HTTP/1.1\r\n" + HOST + b"\r\n"
    replies, closed = await exchange(gw.public_port, payload)
    assert [(r.status, r.reason) for r in replies] == [(431, "headers_too_large")]
    assert closed
    assert seen(upstream) == []


async def test_total_header_size_over_the_cap_is_431(gw: Gateway, upstream: web.AppRunner) -> None:
    # Every line is under the cap, their sum is not.
    fields = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 900) for i in range(6))
    payload = b"GET /echo HTTP/1.1\r\n" + HOST + fields + b"\r\n"
    replies, closed = await exchange(gw.public_port, payload)
    assert [(r.status, r.reason) for r in replies] == [(431, "headers_too_large")]
    assert closed
    assert seen(upstream) == []


async def test_a_huge_head_is_refused_while_it_arrives_and_the_client_gets_the_answer(
    gw: Gateway, upstream: web.AppRunner
) -> None:
    # 800 KB of header lines, each under the cap, and no end of head: refused
    # while arriving (not buffered until the head deadline), and the 431 must
    # survive the client still sending (no reset that eats it).
    fields = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 3900) for i in range(200))
    replies, closed = await exchange(gw.public_port, b"GET /echo HTTP/1.1\r\n" + HOST + fields)
    assert [(r.status, r.reason) for r in replies] == [(431, "headers_too_large")]
    assert closed
    assert seen(upstream) == []


# --- deadlines -------------------------------------------------------------------------


async def _trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seconds: float) -> tuple[bytes, bool, float]:
    """Send one header byte every 50 ms; return what came back, whether closed, and when."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    received = b""
    while loop.time() - started < seconds:
        await send(writer, b"x")
        try:
            chunk = await asyncio.wait_for(reader.read(65536), 0.05)
        except TimeoutError:
            continue
        except ConnectionError:
            return received, True, loop.time() - started
        if not chunk:
            return received, True, loop.time() - started
        received += chunk
    return received, False, loop.time() - started


async def test_slowloris_head_is_cut_after_header_timeout(gw: Gateway, upstream: web.AppRunner) -> None:
    async with connect(gw.public_port) as (reader, writer):
        await send(writer, b"GET /echo HTTP/1.1\r\n" + HOST + b"X-Slow: ")
        received, closed, elapsed = await _trickle(reader, writer, DEADLINE_BOUND)
    assert closed, "a head trickled byte by byte must not keep the connection open"
    assert elapsed < DEADLINE_BOUND
    assert received == b""
    assert seen(upstream) == []


async def test_slowloris_on_a_kept_alive_connection_is_cut_too(gw: Gateway, upstream: web.AppRunner) -> None:
    # keepalive_timeout is 30 s: only the head deadline can close this in time.
    async with connect(gw.public_port) as (reader, writer):
        await send(writer, b"GET /echo/first HTTP/1.1\r\n" + HOST + b"\r\n")
        assert (await read_reply(reader)).status == 200
        await send(writer, b"GET /echo/second HTTP/1.1\r\n" + HOST + b"X-Slow: ")
        received, closed, elapsed = await _trickle(reader, writer, DEADLINE_BOUND)
    assert closed
    assert elapsed < DEADLINE_BOUND
    assert received == b""
    assert [e["path_qs"] for e in seen(upstream)] == ["/echo/first"]


async def test_an_idle_kept_alive_connection_gets_the_keepalive_timeout(gw: Gateway) -> None:
    # The head deadline starts at the head's first byte, not at the end of the previous response.
    async with connect(gw.public_port) as (reader, writer):
        await send(writer, b"GET /echo HTTP/1.1\r\n" + HOST + b"\r\n")
        assert (await read_reply(reader)).status == 200
        await asyncio.sleep(4 * LIMITS["header_timeout"])
        await send(writer, b"GET /echo HTTP/1.1\r\n" + HOST + b"\r\n")
        assert (await read_reply(reader)).status == 200


async def test_slow_request_body_is_408(gw: Gateway, upstream: web.AppRunner) -> None:
    async with connect(gw.public_port) as (reader, writer):
        await send(writer, b"POST /echo HTTP/1.1\r\n" + HOST + b"Content-Length: 100\r\n\r\n" + b"b" * 10)
        data, closed = await read_until_closed(reader)
    replies = parse_replies(data)
    assert [(r.status, r.reason) for r in replies] == [(408, "body_timeout")]
    assert closed
    assert seen(upstream) == []


async def test_a_body_dripped_just_inside_the_idle_timeout_is_cut_at_the_total_deadline(
    start_gateway: StartGateway, upstream: web.AppRunner
) -> None:
    # A byte every 0.2 s never trips body_timeout (0.5 s); only the whole body's deadline ends it.
    gw = await start_gateway({"limits": {**LIMITS, "body_total_timeout": 1.5}})
    async with connect(gw.public_port) as (reader, writer):
        await send(writer, b"POST /echo HTTP/1.1\r\n" + HOST + b"Content-Length: 1000\r\n\r\n")

        async def drip() -> None:
            for _ in range(1000):
                await send(writer, b"b")
                await asyncio.sleep(0.2)

        dripping = asyncio.create_task(drip())
        try:
            data, closed = await read_until_closed(reader, timeout=1.5 + DEADLINE_BOUND)
        finally:
            dripping.cancel()
    assert [(r.status, r.reason) for r in parse_replies(data)] == [(408, "body_timeout")]
    assert closed
    assert seen(upstream) == []


async def test_slow_reader_is_cut_after_send_timeout(gw: Gateway) -> None:
    size = 256 * 1024 * 1024  # far more than the socket buffers between us and the gateway
    async with connect(gw.public_port, rcvbuf=16 * 1024) as (reader, writer):
        await send(writer, b"GET /download/%d HTTP/1.1\r\n" % size + HOST + b"\r\n")
        await asyncio.sleep(2.0)  # read nothing: the gateway's writes stall
        data, closed = await read_until_closed(reader, timeout=DEADLINE_BOUND)
    assert closed
    assert len(data) < size
    assert local_replies(gw, "client_send_timeout") == 1


# --- connections -----------------------------------------------------------------------


async def test_connection_cap_answers_503_and_frees_slots(start_gateway: StartGateway) -> None:
    gw = await start_gateway({"limits": {**LIMITS, "max_connections": 2}})
    get = b"GET /echo HTTP/1.1\r\n" + HOST + b"\r\n"
    async with contextlib.AsyncExitStack() as stack:
        held = [await stack.enter_async_context(connect(gw.public_port)) for _ in range(2)]
        for reader, writer in held:
            await send(writer, get)
            assert (await read_reply(reader)).status == 200
        async with connect(gw.public_port) as (reader, _):
            data, closed = await read_until_closed(reader)
        replies = parse_replies(data)
        assert [(r.status, r.reason) for r in replies] == [(503, "too_many_connections")]
        assert closed
        assert local_replies(gw, "too_many_connections") == 1
        # The held connections still work.
        reader, writer = held[0]
        await send(writer, get)
        assert (await read_reply(reader)).status == 200
        # Closing one frees its slot.
        held[1][1].close()
        for _ in range(50):
            async with connect(gw.public_port) as (reader, writer):
                await send(writer, get)
                data, _ = await read_until_closed(reader, timeout=1.0)
            if parse_replies(data)[0].status == 200:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the slot of a closed connection was never freed")


@contextlib.asynccontextmanager
async def connect_from(source: str, port: int) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


async def _hold(stack: contextlib.AsyncExitStack, source: str, port: int, count: int) -> None:
    """``count`` connections from ``source``, each shown to be served."""
    for _ in range(count):
        reader, writer = await stack.enter_async_context(connect_from(source, port))
        await send(writer, b"GET /echo HTTP/1.1\r\n" + HOST + b"\r\n")
        assert (await read_reply(reader)).status == 200


async def _one_more(source: str, port: int) -> list[tuple[int, str | None]]:
    async with connect_from(source, port) as (reader, writer):
        await send(writer, b"GET /echo HTTP/1.1\r\n" + HOST + b"\r\n")
        data, _ = await read_until_closed(reader, timeout=1.0)
    return [(r.status, r.reason) for r in parse_replies(data)]


async def test_one_address_cannot_take_every_connection(start_gateway: StartGateway) -> None:
    gw = await start_gateway({"limits": {**LIMITS, "max_connections_per_ip": 3}})
    async with contextlib.AsyncExitStack() as stack:
        await _hold(stack, "127.0.0.1", gw.public_port, 3)
        assert await _one_more("127.0.0.1", gw.public_port) == [(503, "too_many_connections_per_ip")]
        assert local_replies(gw, "too_many_connections_per_ip") == 1
        # Another address is served meanwhile.
        assert (await _one_more("127.0.0.2", gw.public_port))[0][0] == 200
    # Closed connections give their slots back.
    for _ in range(50):
        if (await _one_more("127.0.0.1", gw.public_port))[0][0] == 200:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the slots of closed connections were never freed")


@pytest.mark.parametrize(
    ("settings", "why"),
    [({"client_ip": {"trusted_proxies": ["127.0.0.1"]}}, "a trusted proxy"), ({}, "no cap (0)")],
)
async def test_trusted_proxies_and_a_cap_of_zero_are_not_capped(
    start_gateway: StartGateway, settings: dict[str, Any], why: str
) -> None:
    cap = 0 if not settings else 2
    gw = await start_gateway({"limits": {**LIMITS, "max_connections_per_ip": cap}, **settings})
    async with contextlib.AsyncExitStack() as stack:
        await _hold(stack, "127.0.0.1", gw.public_port, 4)
    assert local_replies(gw, "too_many_connections_per_ip") == 0, why


# --- Expect: 100-continue ----------------------------------------------------------------


async def test_expect_continue_denied_upload_gets_403_without_sending_the_body(
    start_gateway: StartGateway, upstream: web.AppRunner
) -> None:
    gw = await start_gateway({
        "limits": LIMITS,
        "firewall": {"rules": [{"name": "no-uploads", "path": "/upload", "allow": []}]},
    })
    head = b"POST /upload HTTP/1.1\r\n" + HOST + b"Content-Length: 1000000\r\nExpect: 100-continue\r\n\r\n"
    async with connect(gw.public_port) as (reader, writer):
        await send(writer, head)
        data, closed = await read_until_closed(reader)  # the body is never sent
    assert b"100 Continue" not in data
    replies = parse_replies(data)
    assert [(r.status, r.reason) for r in replies] == [(403, "firewall_denied")]
    assert closed, "the unsent body must not be left to be read as the next request"
    assert seen(upstream) == []


async def test_expect_continue_allowed_upload_gets_100_then_the_answer(gw: Gateway, upstream: web.AppRunner) -> None:
    head = b"POST /echo HTTP/1.1\r\n" + HOST + b"Content-Length: 5\r\nExpect: 100-continue\r\n\r\n"
    async with connect(gw.public_port) as (reader, writer):
        await send(writer, head)
        async with asyncio.timeout(DEADLINE_BOUND):
            interim = await reader.readuntil(b"\r\n\r\n")
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n")
        await send(writer, b"hello")
        reply = await read_reply(reader)
    assert reply.status == 200
    entry = seen(upstream)[0]
    assert entry["body_size"] == 5
    assert "expect" not in seen_headers(entry)


# --- what the upstream receives ------------------------------------------------------------


async def test_upstream_never_gets_both_content_length_and_transfer_encoding(gw: Gateway, upstream: web.AppRunner) -> None:
    chunked = post(CHUNKED, body=b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")
    fixed = post(b"Content-Length: 7\r\n", body=b"abcdefg")
    async with connect(gw.public_port) as (reader, writer):
        for payload in (chunked, fixed):
            await send(writer, payload)
            assert (await read_reply(reader)).status == 200
    first, second = (seen_headers(entry) for entry in seen(upstream))
    assert [e["body_size"] for e in seen(upstream)] == [7, 7]
    assert first.get("transfer-encoding") == ["chunked"] and "content-length" not in first
    assert second.get("content-length") == ["7"] and "transfer-encoding" not in second


# --- access log ------------------------------------------------------------------------------


async def test_access_log_has_no_query_cookie_authorization_or_full_address(start_gateway: StartGateway) -> None:
    gw = await start_gateway({"limits": LIMITS, "logging": {"access_log": True, "client_ip": "truncated"}})
    stream = io.BytesIO()
    gw.runtime.access_log._stream = stream
    secrets = ("tok-Q-8f2a", "cookie-C-91bd", "auth-A-77e0")
    async with aiohttp.ClientSession() as session:
        async with session.get(
            f"{gw.base_url}/echo?token={secrets[0]}&x=1",  # type: ignore[attr-defined]
            headers={"Cookie": f"sid={secrets[1]}", "Authorization": f"Bearer {secrets[2]}"},
        ) as resp:
            assert resp.status == 200
        async with session.get(f"{gw.base_url}/missing/../echo?token={secrets[0]}") as resp:  # type: ignore[attr-defined]
            await resp.read()
    gw.runtime.access_log.flush()
    raw = stream.getvalue()
    lines = [orjson.loads(line) for line in raw.splitlines()]
    assert len(lines) == 2
    for secret in secrets:
        assert secret.encode() not in raw
    assert b"?" not in raw
    assert b"127.0.0.1" not in raw
    assert lines[0]["path"] == "/echo"
    assert lines[0]["status"] == 200
    assert lines[0]["client"] == lines[0]["peer"] == "127.0.0.0/24"
