"""What a request's framing may be: the checks on top of llhttp that a front proxy needs.

llhttp (aiohttp's compiled parser) accepts what an application server may
accept; a proxy whose parser reads a request differently from its upstream's
is how requests get smuggled. So: HTTP/1.0 and 1.1 only, plain ``chunked`` as
the only transfer coding, a bound on chunk framing per body byte, a head size
cap, and the compiled parser or nothing. Each refusal has a status and a
stable reason word.
"""

from __future__ import annotations

import os

from aiohttp import http_parser
from aiohttp.http import HttpVersion10, HttpVersion11, RawRequestMessage
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.web_protocol import _ErrInfo

_SUPPORTED_VERSIONS = frozenset({HttpVersion10, HttpVersion11})

# Framing bytes of a chunked body (size lines, CRLFs, extensions, trailers)
# allowed per body byte, on top of a fixed allowance of one header block.
# Plain 1-byte chunks cost 5 bytes of framing per body byte; a short extension
# on each (";x=y") 9. A client sending kilobytes of chunk extensions per chunk
# is not legitimate: llhttp skips them without limit, this bounds them.
CHUNK_OVERHEAD_PER_BYTE = 16

ERROR_MESSAGES = {
    "bad_request": "The request is malformed.",
    "headers_too_large": "The request headers are too large.",
    "http_version_not_supported": "Only HTTP/1.0 and HTTP/1.1 are supported.",
    "body_framing": "The request body framing is not acceptable.",
    "unsupported_transfer_coding": "Only the chunked transfer coding is supported.",
    "handler_timeout": "The request took too long.",
    "internal_error": "The gateway failed to handle the request.",
}


class ParserError(RuntimeError):
    pass


class VersionNotSupported(BadHttpMessage):
    code = 505


class FramingOverhead(BadHttpMessage):
    """A chunked body whose framing (mostly chunk extensions) dwarfs its data."""


class HeadTooLarge(BadHttpMessage):
    """A request head larger than the cap, refused while it is being received."""


class UnsupportedTransferCoding(BadHttpMessage):
    code = 501


def head_size(message: RawRequestMessage) -> int:
    """The least a head can take on the wire: request line, fields, CRLFs (no optional whitespace)."""
    target = len(message.path.encode("utf-8", "surrogateescape"))
    fields = sum(len(name) + len(value) + 4 for name, value in message.raw_headers)
    return len(message.method) + 1 + target + 1 + 8 + 2 + fields + 2


def framing_error(message: RawRequestMessage) -> _ErrInfo | None:
    """What llhttp lets through that a proxy must not: odd versions and transfer codings."""
    exc: BadHttpMessage
    if message.version not in _SUPPORTED_VERSIONS:
        exc = VersionNotSupported("unsupported HTTP version")
        return _ErrInfo(status=505, exc=exc, message=exc.message)
    codings = message.headers.getall("Transfer-Encoding", ())
    if not codings:
        return None
    if message.version == HttpVersion10:
        # RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means the framing is faulty.
        exc = BadHttpMessage("Transfer-Encoding in an HTTP/1.0 request")
        return _ErrInfo(status=400, exc=exc, message=exc.message)
    if len(codings) != 1 or codings[0].strip().lower() != "chunked":
        # llhttp accepts any list ending in chunked ("identity, chunked"); a front
        # proxy may not. Only plain chunked leaves no room for disagreement.
        exc = UnsupportedTransferCoding("transfer coding other than chunked")
        return _ErrInfo(status=501, exc=exc, message=exc.message)
    return None


def require_compiled_parser() -> None:
    """Refuse to serve on aiohttp's pure-Python HTTP parser.

    The C (llhttp) and Python parsers disagree on edge cases of framing;
    a proxy whose parser disagrees with its upstream's is how requests get
    smuggled. One strict parser, always.
    """
    compiled = getattr(http_parser, "HttpRequestParserC", None)
    if compiled is None or http_parser.HttpRequestParser is not compiled or os.environ.get("AIOHTTP_NO_EXTENSIONS"):
        raise ParserError(
            "aiohttp's compiled llhttp parser is not available (AIOHTTP_NO_EXTENSIONS set, or a "
            "wheel without C extensions); refusing to start on the pure-Python parser"
        )


def error_reason(status: int, exc: BaseException | None) -> tuple[int, str]:
    """The status and reason word of an error answer."""
    if isinstance(exc, (LineTooLong, HeadTooLarge)) or (
        isinstance(exc, BadHttpMessage) and "Too many headers" in str(exc.message)
    ):
        return 431, "headers_too_large"
    if isinstance(exc, VersionNotSupported):
        return 505, "http_version_not_supported"
    if isinstance(exc, UnsupportedTransferCoding):
        return 501, "unsupported_transfer_coding"
    if isinstance(exc, FramingOverhead):
        return 400, "body_framing"
    if status == 504:
        return 504, "handler_timeout"
    if status >= 500:
        return status, "internal_error"
    return status, "bad_request"
