"""Throughput and memory of the streaming link rewriters, on one core.

    python bench/rewriter.py [--size-mib 5] [--stream-mib 100] [--rounds 5]

Prints MB/s (10**6 bytes per second, best of the rounds) for a ticket thread
with few links, a ticket list with an (internal) link in every row, a
link-dense page and a plain-text mail, each fed in 64 KiB chunks with a decider
that signs external links; the µs per response for the suite's 4 KiB ticket
page (``small_page()`` in bench/content.py, 6 external links), fed whole; then
the peak memory (tracemalloc) while streaming a large page, and hostile bodies
(a never-ending attribute, comment, noscript), through the rewriter.
"""

from __future__ import annotations

import argparse
import hashlib
import time
import timeit
import tracemalloc
from collections.abc import Callable, Iterator

from gateway.rewrite.html import HtmlLinkRewriter, TextLinkRewriter, UrlDecision

CHUNK = 64 * 1024


def decide(url: str) -> UrlDecision:
    """Keep internal links, sign the rest (a stand-in for the link-signing filter)."""
    if url.startswith(("/", "#", "https://help.example")):
        return None
    return "https://help.example/_l/" + hashlib.blake2s(url.encode(), digest_size=12).hexdigest()


def helpdesk_page(size: int, link_every: int) -> bytes:
    """A ticket list like a helpdesk renders: rows of markup, text and an occasional external link."""
    head = (
        b"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>Tickets</title>"
        b"<link rel=stylesheet href=/static/app.css><script src=/static/app.js defer></script></head>"
        b'<body><header class="top"><a class="brand" href="/">Help centre</a><nav><a href="/tickets">Tickets</a>'
        b'<form action="/logout" method="post"><button>Sign out</button></form></nav></header><main><table>\n'
    )
    parts, total, i = [head], len(head), 0
    while total < size:
        i += 1
        row = (
            b'<tr class="ticket" data-id="%d"><td><a href="/tickets/%d">#%d</a></td>'
            b'<td class="subject">Order %d has not arrived &amp; the tracking page shows no update since Monday</td>'
            b'<td><span class="badge open">open</span></td><td class="meta">Jane Doe &lt;jane@example.org&gt;</td>'
            b"<td><time datetime=2024-05-0%dT10:00>10:00</time></td></tr>\n" % (i, i, i, i, i % 9 + 1)
        )
        if i % link_every == 0:
            row += (
                b'<tr><td colspan=5><p>Carrier status: <a href="https://tracking.example/track?id=%d&amp;utm_source=mail"'
                b' rel="noopener">tracking.example</a></p></td></tr>\n' % i
            )
        parts.append(row)
        total += len(row)
    parts.append(b"</table></main><footer>Help centre</footer></body></html>\n")
    return b"".join(parts)


def ticket_thread(size: int) -> bytes:
    """A ticket's conversation: formatted messages, navigation, an occasional link (one per ~6 KB)."""
    head = helpdesk_page(0, 1)[: helpdesk_page(0, 1).index(b"<table>")]
    parts, total, i = [head], len(head), 0
    while total < size:
        i += 1
        message = (
            b'<article class="msg%s" id="m%d"><header class="meta"><strong>%s</strong> wrote on '
            b"<time datetime=2024-05-03T09:%02d>3 May, 09:%02d</time></header>\n"
            b"<p>Hello,</p>\n<p>I ordered a <em>standing desk</em> on 28 April (order 4711) and the confirmation said it "
            b"would ship within two working days. Since then the status has not changed &mdash; could you check with the "
            b"warehouse? I attached the invoice and a photo of the damaged box from the first delivery.</p>\n"
            b"<ul><li>Invoice INV-2024-0420.pdf (84 KB)</li><li>box.jpg (1.2 MB)</li></ul>\n"
            b"<blockquote><p>Your order has been received and will be processed shortly.</p></blockquote>\n"
            b"<p>Kind regards,<br>Jane Doe<br><span class=signature>Customer since 2019</span></p></article>\n"
            % (b" agent" if i % 2 else b"", i, b"Agent Smith" if i % 2 else b"Jane Doe", i % 60, i % 60)
        )
        if i % 6 == 0:
            message += b'<p class="notice">Tracking: <a href="https://tracking.example/t/%d" rel="noopener">carrier page</a></p>\n' % i
        parts.append(message)
        total += len(message)
    parts.append(b"</main></body></html>\n")
    return b"".join(parts)


def text_mail(size: int) -> bytes:
    line = (
        b"Hello Jane,\n\nthanks for your message about order 4711. The parcel is on its way; you can follow it\n"
        b"at https://tracking.example/track?id=4711 (updated hourly). Our opening hours are on\n"
        b"https://help.example/hours.\n\nKind regards, the support team\n\n"
    )
    return line * (size // len(line) + 1)


def chunks(data: bytes) -> Iterator[bytes]:
    view = memoryview(data)
    for i in range(0, len(data), CHUNK):
        yield bytes(view[i : i + CHUNK])


def run(factory: Callable[[], HtmlLinkRewriter | TextLinkRewriter], data: bytes) -> int:
    rewriter = factory()
    out = 0
    for chunk in chunks(data):
        out += len(rewriter.feed(chunk))
    return out + len(rewriter.finish())


def throughput(label: str, factory: Callable[[], HtmlLinkRewriter | TextLinkRewriter], data: bytes, rounds: int) -> None:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run(factory, data)
        best = min(best, time.perf_counter() - start)
    print(f"{label:66s} {len(data) / 1e6:5.1f} MB {len(data) / best / 1e6:7.1f} MB/s")


def small_page_time(rounds: int) -> None:
    """µs to rewrite the suite's small page, a new rewriter per page as per response."""
    from content import small_page  # content imports this module: import it only here

    page = small_page()

    def once() -> None:
        rewriter = HtmlLinkRewriter(decide)
        rewriter.feed(page)
        rewriter.finish()

    number = 2000
    best = min(timeit.repeat(once, number=number, repeat=rounds)) / number
    label = f"HTML, the suite's {len(page) // 1024} KiB page ({page.count(b'href=')} links, 6 external), per page"
    print(f"{label:66s} {best * 1e6:15.1f} µs")


def peak_memory(label: str, size: int, head: bytes, body: bytes) -> None:
    """Stream ``head`` and then ``body`` repeated up to ``size`` bytes, in 64 KiB chunks, generated as it goes."""
    body = body * (CHUNK // len(body) + 1)
    pieces = [body[i : i + CHUNK] for i in range(0, len(body) - CHUNK + 1, CHUNK)] or [body]
    tracemalloc.start()
    rewriter = HtmlLinkRewriter(decide)
    rewriter.feed(head)
    fed = len(head)
    while fed < size:
        for piece in pieces:
            rewriter.feed(piece)
            fed += len(piece)
    rewriter.finish()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak memory, {fed / 2**20:.0f} MiB {label}: {peak / 2**20:.2f} MiB (tracemalloc)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=float, default=5)
    parser.add_argument("--stream-mib", type=float, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    size = int(args.size_mib * 2**20)
    pages = {
        "ticket thread, few links": ticket_thread(size),
        "ticket list, a link per row (few external)": helpdesk_page(size, link_every=200),
        "link-dense page (two links per row)": helpdesk_page(size, link_every=1),
    }
    for label, page in pages.items():
        links = page.count(b"href=") / (len(page) / 1e6)
        throughput(f"HTML, {label}, {links:.0f} links/MB", lambda: HtmlLinkRewriter(decide), page, args.rounds)
    throughput("text/plain mail, two URLs per 270 bytes", lambda: TextLinkRewriter(decide), text_mail(size), args.rounds)
    small_page_time(args.rounds)
    stream = int(args.stream_mib * 2**20)
    peak_memory("ticket list page", stream, b"", helpdesk_page(CHUNK * 4, 40)[: CHUNK * 4])
    peak_memory("one unterminated href (removed)", stream, b'<a href="https://e.example/', b"x" * 1024)
    peak_memory("one unterminated comment", stream, b"<!--", b"<a href=https://e.example/>" * 40)
    peak_memory("one noscript (content escaped)", stream, b"<noscript>", b"<b>x</b>" * 128)


if __name__ == "__main__":
    main()
