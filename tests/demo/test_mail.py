"""The demo's smarthost keeps what it is sent, the last few only."""

from __future__ import annotations

import asyncio
import smtplib

from gateway.demo.mail import MailSink


async def test_it_keeps_the_last_messages_sent_to_it() -> None:
    sink = await MailSink(keep=2).start()
    try:
        def send(n: int) -> None:
            with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as smtp:
                smtp.sendmail("help@demo.example", [f"c{n}@customer.example"], f"Subject: {n}\r\n\r\nbody {n}\r\n")
        for n in range(3):
            await asyncio.to_thread(send, n)
        assert [m.recipients for m in sink.messages] == [("c1@customer.example",), ("c2@customer.example",)]
        assert sink.messages[-1].data.startswith(b"Subject: 2\r\n")
    finally:
        await sink.stop()
