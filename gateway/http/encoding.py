"""Content-Encoding handling for responses that a filter rewrites.

Rewriters see plain bytes. gzip and deflate are decoded on the fly with
output bounded per chunk (a compression bomb cannot make a chunk large);
encodings the gateway cannot decode are kept away by narrowing the
Accept-Encoding sent upstream whenever a rewriting filter is active.
"""

from __future__ import annotations

import codecs
import zlib

DECODABLE = ("gzip", "x-gzip", "deflate")
# Decompressed output produced per zlib call, and the most one feed may
# produce: a body that inflates beyond it is a compression bomb, not a page.
_MAX_STEP = 256 * 1024
MAX_OUTPUT_PER_FEED = 8 * 1024 * 1024


class DecodeError(ValueError):
    """The compressed body is corrupt or inflates beyond the per-feed bound."""


class Decoder:
    """A BodyRewriter that decompresses; ``active`` is False for identity."""

    def __init__(self, encoding: str) -> None:
        self.active = encoding not in ("", "identity")
        self._gzip = encoding in ("gzip", "x-gzip")
        self._zlib: "zlib._Decompress | None" = None
        if self.active:
            self._zlib = self._new()

    def _new(self) -> "zlib._Decompress":
        # gzip framing, or zlib-wrapped deflate as RFC 9110 says.
        return zlib.decompressobj(16 + zlib.MAX_WBITS if self._gzip else zlib.MAX_WBITS)

    def feed(self, chunk: bytes) -> bytes:
        if self._zlib is None:
            return chunk
        out: list[bytes] = []
        produced = 0
        data = chunk
        try:
            while data:
                piece = self._zlib.decompress(data, _MAX_STEP)
                out.append(piece)
                produced += len(piece)
                if produced > MAX_OUTPUT_PER_FEED:
                    raise DecodeError("compressed body inflates beyond the gateway's bound")
                if self._zlib.unconsumed_tail:
                    data = self._zlib.unconsumed_tail
                elif self._zlib.eof and self._zlib.unused_data and self._gzip:
                    data = self._zlib.unused_data  # the next member of a multi-member gzip
                    self._zlib = self._new()
                else:
                    data = b""
        except zlib.error as exc:
            raise DecodeError(f"corrupt compressed body: {exc}") from None
        return b"".join(out)

    def finish(self) -> bytes:
        if self._zlib is None:
            return b""
        try:
            return self._zlib.flush()
        except zlib.error as exc:
            raise DecodeError(f"corrupt compressed body: {exc}") from None


def decoder_for(content_encoding: str) -> Decoder | None:
    """A decoder for the header's value, or None when it cannot be decoded."""
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity") or encoding in DECODABLE:
        return Decoder(encoding)
    return None


def narrow_accept_encoding(accept_encoding: str) -> str:
    """Keep only the codings the gateway can decode (br and zstd are dropped)."""
    kept = []
    for part in accept_encoding.split(","):
        coding, _, params = part.partition(";")
        if coding.strip().lower() not in DECODABLE + ("identity",):
            continue
        if params.replace(" ", "").lower() in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            continue  # a refused coding; keeping only refusals would forbid every coding
        kept.append(part.strip())
    return ", ".join(kept) if kept else "identity"


def response_charset(params: str) -> str:
    """The charset of a Content-Type's ``params``, which must be ASCII-compatible for byte-level rewriting."""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower() or "utf-8"
            try:
                codec = codecs.lookup(charset)
            except LookupError:
                return "utf-8"  # unknown label: browsers fall back; URLs are ASCII anyway
            if codec.name.startswith(("utf-16", "utf-32")):
                raise ValueError(f"cannot rewrite a {codec.name} body")
            return codec.name
    return "utf-8"

