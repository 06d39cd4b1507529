"""Content-Encoding: streaming decoders across chunk boundaries, bounded output, Accept-Encoding."""

from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.http.encoding import MAX_OUTPUT_PER_FEED, DecodeError, Decoder, decoder_for, narrow_accept_encoding

PLAIN = b"".join(b"ticket %d: Jane Doe <jane@example.org> wrote\n" % i for i in range(40))


def compress(encoding: str, data: bytes) -> bytes:
    if encoding in ("gzip", "x-gzip"):
        return gzip.compress(data, mtime=0)
    if encoding == "deflate":
        return zlib.compress(data)
    raise AssertionError(encoding)


def decode(decoder: Decoder, chunks: list[bytes]) -> bytes:
    return b"".join(decoder.feed(chunk) for chunk in chunks) + decoder.finish()


@pytest.mark.parametrize(
    ("header", "active"),
    [("", False), ("identity", False), (" Identity ", False), ("gzip", True), ("GZIP", True),
     (" x-gzip ", True), ("deflate", True), ("Deflate", True)],
)
def test_decoder_for_known(header: str, active: bool) -> None:
    decoder = decoder_for(header)
    assert decoder is not None
    assert decoder.active is active


@pytest.mark.parametrize("header", ["br", "zstd", "compress", "gzip, br", "gzip, gzip", "aes128gcm", "*"])
def test_decoder_for_unknown_is_none(header: str) -> None:
    assert decoder_for(header) is None


def test_identity_passes_bytes_unchanged() -> None:
    decoder = decoder_for("identity")
    assert decoder is not None
    chunk = b"\x1f\x8b not really gzip"
    assert decoder.feed(chunk) is chunk
    assert decoder.feed(b"") == b""
    assert decoder.finish() == b""


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "deflate"])
def test_every_split_point(encoding: str) -> None:
    body = compress(encoding, PLAIN)
    assert len(body) < len(PLAIN)
    for cut in range(len(body) + 1):
        decoder = decoder_for(encoding)
        assert decoder is not None
        assert decode(decoder, [body[:cut], body[cut:]]) == PLAIN, cut


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_byte_by_byte(encoding: str) -> None:
    body = compress(encoding, PLAIN)
    decoder = Decoder(encoding)
    assert decode(decoder, [body[i : i + 1] for i in range(len(body))]) == PLAIN


@settings(max_examples=200, deadline=None, database=None)
@given(
    data=st.binary(max_size=2000),
    encoding=st.sampled_from(["gzip", "deflate"]),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=8),
)
def test_arbitrary_chunking(data: bytes, encoding: str, cuts: list[int]) -> None:
    body = compress(encoding, data)
    points = sorted({min(c, len(body)) for c in cuts})
    chunks = [body[a:b] for a, b in zip([0, *points], [*points, len(body)])]
    assert decode(Decoder(encoding), chunks) == data


def test_corrupt_input_raises() -> None:
    # The chain turns a raising rewriter into RewriteError (the response is aborted).
    with pytest.raises(DecodeError):
        Decoder("gzip").feed(b"this is not gzip at all")
    with pytest.raises(DecodeError):
        Decoder("deflate").feed(zlib.compress(PLAIN)[2:] + b"garbage" * 10)


def test_multi_member_gzip() -> None:
    body = gzip.compress(b"first member;", mtime=0) + gzip.compress(b"second member", mtime=0)
    assert gzip.decompress(body) == b"first member;second member"
    assert decode(Decoder("gzip"), [body]) == b"first member;second member"


BOMB_SIZE = 50 * 1024 * 1024
BOUND = 4 * 1024 * 1024  # "a few MiB" per feed, whatever the chunk size


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    parts = [comp.compress(zeros) for _ in range(BOMB_SIZE // len(zeros))]
    parts.append(comp.flush())
    return b"".join(parts)


@pytest.mark.parametrize("chunk_size", [1024, 16 * 1024, 64 * 1024])
def test_compression_bomb_fails_closed_with_bounded_output(gzip_bomb: bytes, chunk_size: int) -> None:
    """Each feed returns at most MAX_OUTPUT_PER_FEED; a feed that would inflate beyond it raises."""
    assert len(gzip_bomb) < 100 * 1024
    decoder = Decoder("gzip")
    total = 0
    try:
        for i in range(0, len(gzip_bomb), chunk_size):
            out = decoder.feed(gzip_bomb[i : i + chunk_size])
            assert len(out) <= MAX_OUTPUT_PER_FEED
            total += len(out)
        total += len(decoder.finish())
    except DecodeError:
        assert chunk_size > 1024  # small feeds inflate below the bound and decode in full
        return
    assert total == BOMB_SIZE


@pytest.mark.parametrize(
    ("accept", "narrowed"),
    [
        ("gzip, deflate, br, zstd", "gzip, deflate"),
        ("br;q=1.0, gzip;q=0.8, *;q=0.1", "gzip;q=0.8"),
        ("GZip , X-GZIP", "GZip, X-GZIP"),
        ("br, zstd", "identity"),
        ("", "identity"),
        ("*", "identity"),
        ("identity", "identity"),
        ("deflate;q=0.5 ,identity", "deflate;q=0.5, identity"),
        (",,gzip,,", "gzip"),
    ],
)
def test_narrow_accept_encoding(accept: str, narrowed: str) -> None:
    assert narrow_accept_encoding(accept) == narrowed


def test_narrowing_never_forbids_everything() -> None:
    narrowed = narrow_accept_encoding("br, identity;q=0")
    assert narrowed != "identity;q=0"
