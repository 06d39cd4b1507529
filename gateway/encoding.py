"""Content-Encoding handling for responses that a filter rewrites.

Rewriters see plain bytes. gzip and deflate are decoded on the fly with
output bounded per chunk (a compression bomb cannot make a chunk large);
encodings the gateway cannot decode are kept away by narrowing the
Accept-Encoding sent upstream whenever a rewriting filter is active.
"""

from __future__ import annotations

import zlib

DECODABLE = ("gzip", "x-gzip", "deflate")
# Decompressed output produced per input step; keeps memory flat.
_MAX_STEP = 256 * 1024


class Decoder:
    """A BodyRewriter that decompresses; ``active`` is False for identity."""

    def __init__(self, encoding: str) -> None:
        self.active = encoding not in ("", "identity")
        self._zlib = None
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj()  # zlib-wrapped, as RFC 9110 says

    def feed(self, chunk: bytes) -> bytes:
        if self._zlib is None:
            return chunk
        out = [self._zlib.decompress(chunk, _MAX_STEP)]
        while self._zlib.unconsumed_tail:
            out.append(self._zlib.decompress(self._zlib.unconsumed_tail, _MAX_STEP))
        return b"".join(out)

    def finish(self) -> bytes:
        return self._zlib.flush() if self._zlib is not None else b""


def decoder_for(content_encoding: str) -> Decoder | None:
    """A decoder for the header's value, or None when it cannot be decoded."""
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity") or encoding in DECODABLE:
        return Decoder(encoding)
    return None


def narrow_accept_encoding(accept_encoding: str) -> str:
    """Keep only the codings the gateway can decode (br and zstd are dropped)."""
    kept = [
        part.strip()
        for part in accept_encoding.split(",")
        if part.split(";")[0].strip().lower() in DECODABLE + ("identity",)
    ]
    return ", ".join(kept) if kept else "identity"
