"""Reading an SMTP message after DATA in bulk, instead of a line at a time.

aiosmtpd reads DATA with one ``readuntil(CRLF)`` per line: a 400 KiB
notification is about 5,000 awaits, most of the relay's CPU. This reads
whatever has arrived, looks for the end (CRLF "." CRLF) in it, and then
applies the same rules to the whole message at once (RFC 5321 4.5.2 dot
stuffing, 4.5.3.1.6 line length, the size limit), with aiosmtpd's answers.
Bytes the client pipelined after the end are handed back to the reader for
the next command.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

END = b"\r\n.\r\n"
MAX_LINE = 999  # without its CRLF: aiosmtpd's line_length_limit of 1001 counts it
CHUNK = 1 << 20
TOO_LONG = "500 Line too long (see RFC5321 4.5.3.1.6)"
TOO_MUCH = "552 Error: Too much mail data"


async def read_message(reader: asyncio.StreamReader, limit: int | None,
                       on_progress: Callable[[], None] | None = None) -> tuple[bytes | None, str | None]:
    """``(message, None)`` with dots unstuffed, or ``(None, reply)`` once the whole DATA was consumed.

    ConnectionResetError when the client goes away before the end.
    """
    buf = bytearray(b"\r\n")  # a virtual line end, so a first line of "." ends an empty message too
    dropped = False
    while True:
        chunk = await reader.read(CHUNK)
        if not chunk:
            raise ConnectionResetError("the client closed the connection during DATA")
        if on_progress is not None:
            on_progress()
        start = max(0, len(buf) - len(END) + 1)
        buf += chunk
        end = buf.find(END, start)
        if end >= 0:
            rest = bytes(buf[end + len(END):])
            if rest:
                # read() took all that was buffered and nothing ran since: the order is kept.
                reader.feed_data(rest)
            body = bytes(buf[2:end + 2])
            break
        if limit and len(buf) - 2 > limit:
            # Over the limit: keep reading to the end, but only the bytes that may hold its start.
            dropped = True
            del buf[: len(buf) - (len(END) - 1)]
            buf[:0] = b"xx"  # keeps the "2 bytes of prefix" arithmetic above true
    if dropped or (limit and len(body) > limit):
        return None, TOO_MUCH
    if len(body) > MAX_LINE + 2 and max(map(len, body.split(b"\r\n"))) > MAX_LINE:
        return None, TOO_LONG
    return (b"\r\n" + body).replace(b"\r\n.", b"\r\n")[2:], None
