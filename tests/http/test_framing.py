"""Framing checks on parsed request heads, and the status and reason of each refusal."""

from __future__ import annotations

import pytest
from aiohttp.http import HttpVersion, HttpVersion10, HttpVersion11, RawRequestMessage
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from gateway.http.framing import (
    FramingOverhead,
    HeadTooLarge,
    UnsupportedTransferCoding,
    VersionNotSupported,
    error_reason,
    framing_error,
    head_size,
    require_compiled_parser,
)


def message(version: HttpVersion = HttpVersion11, headers: list[tuple[str, str]] | None = None,
            path: str = "/x") -> RawRequestMessage:
    fields = headers or [("Host", "h")]
    multi = CIMultiDictProxy(CIMultiDict(fields))
    raw = tuple((k.encode(), v.encode()) for k, v in fields)
    return RawRequestMessage("GET", path, version, multi, raw, False, None, False, False, URL(path))


def test_plain_requests_pass() -> None:
    assert framing_error(message()) is None
    assert framing_error(message(HttpVersion10)) is None
    assert framing_error(message(headers=[("Host", "h"), ("Transfer-Encoding", "chunked")])) is None


@pytest.mark.parametrize(
    ("version", "codings", "status"),
    [
        (HttpVersion(2, 0), [], 505),
        (HttpVersion(0, 9), [], 505),
        (HttpVersion10, ["chunked"], 400),
        (HttpVersion11, ["identity, chunked"], 501),
        (HttpVersion11, ["gzip"], 501),
        (HttpVersion11, ["chunked", "chunked"], 501),
    ],
)
def test_what_llhttp_lets_through_is_refused(version: HttpVersion, codings: list[str], status: int) -> None:
    error = framing_error(message(version, [("Host", "h")] + [("Transfer-Encoding", c) for c in codings]))
    assert error is not None and error.status == status


def test_head_size_counts_line_fields_and_crlfs() -> None:
    # "GET /x HTTP/1.1\r\n" (17) + "Host: h\r\n" (9) + "\r\n" (2)
    assert head_size(message()) == 28


@pytest.mark.parametrize(
    ("status", "exc", "expected"),
    [
        (400, LineTooLong("line", "8190"), (431, "headers_too_large")),
        (400, HeadTooLarge("big"), (431, "headers_too_large")),
        (400, BadHttpMessage("Too many headers received"), (431, "headers_too_large")),
        (505, VersionNotSupported("v"), (505, "http_version_not_supported")),
        (501, UnsupportedTransferCoding("t"), (501, "unsupported_transfer_coding")),
        (400, FramingOverhead("f"), (400, "body_framing")),
        (504, None, (504, "handler_timeout")),
        (500, RuntimeError("x"), (500, "internal_error")),
        (400, BadHttpMessage("bad"), (400, "bad_request")),
    ],
)
def test_error_reasons(status: int, exc: BaseException | None, expected: tuple[int, str]) -> None:
    assert error_reason(status, exc) == expected


def test_the_compiled_parser_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    require_compiled_parser()
    monkeypatch.setenv("AIOHTTP_NO_EXTENSIONS", "1")
    with pytest.raises(RuntimeError, match="pure-Python parser"):
        require_compiled_parser()
