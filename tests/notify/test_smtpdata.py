"""Reading DATA in bulk: the same message, dots and answers as aiosmtpd's line-at-a-time reader."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.notify.smtpdata import TOO_LONG, TOO_MUCH, read_message


async def read(chunks: list[bytes], limit: int | None = None, eof: bool = False) -> tuple[bytes | None, str | None,
                                                                                         bytes]:
    reader = asyncio.StreamReader(limit=1001)

    async def feed() -> None:
        for chunk in chunks:
            reader.feed_data(chunk)
            await asyncio.sleep(0)
        if eof:
            reader.feed_eof()

    feeder = asyncio.create_task(feed())
    content, problem = await read_message(reader, limit)
    await feeder
    reader.feed_eof()
    return content, problem, await reader.read()


async def test_dots_are_unstuffed_and_the_end_is_found() -> None:
    content, problem, rest = await read([b"Subject: x\r\n\r\n..leading dot\r\n.\r\n"])
    assert (content, problem, rest) == (b"Subject: x\r\n\r\n.leading dot\r\n", None, b"")


async def test_an_empty_message_and_a_first_line_with_a_dot() -> None:
    assert (await read([b".\r\n"]))[:2] == (b"", None)
    assert (await read([b"..x\r\n.\r\n"]))[:2] == (b".x\r\n", None)


async def test_the_end_split_across_chunks_and_pipelined_commands_after_it() -> None:
    content, problem, rest = await read([b"line one\r\n", b"line two\r", b"\n.", b"\r", b"\nQUIT\r\n"])
    assert content == b"line one\r\nline two\r\n" and problem is None
    assert rest == b"QUIT\r\n"  # handed back to the command loop, in order


async def test_too_much_is_read_to_the_end_and_refused() -> None:
    content, problem, rest = await read([b"x" * 600 + b"\r\n"] * 20 + [b".\r\nNOOP\r\n"], limit=4096)
    assert (content, problem, rest) == (None, TOO_MUCH, b"NOOP\r\n")


async def test_a_line_over_the_limit_is_refused() -> None:
    assert (await read([b"a" * 999 + b"\r\n.\r\n"]))[:2] == (b"a" * 999 + b"\r\n", None)
    assert (await read([b"a" * 1000 + b"\r\n.\r\n"]))[:2] == (None, TOO_LONG)


async def test_a_client_that_leaves_during_data() -> None:
    with pytest.raises(ConnectionResetError):
        await read([b"half a message\r\n"], eof=True)


def stuffed(lines: list[bytes]) -> bytes:
    """What an SMTP client sends for ``lines`` (RFC 5321 4.5.2)."""
    return b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines) + b".\r\n"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")), max_size=30),
       st.lists(st.integers(1, 50), max_size=10))
def test_any_message_at_any_chunking_reads_back(lines: list[bytes], cuts: list[int]) -> None:
    wire = stuffed(lines)
    chunks, position = [], 0
    for cut in cuts:
        chunks.append(wire[position:position + cut])
        position += cut
    chunks.append(wire[position:])
    content, problem, _ = asyncio.run(read([c for c in chunks if c]))
    assert problem is None and content == b"".join(line + b"\r\n" for line in lines)
