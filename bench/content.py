"""What the benchmark's upstream serves: a small helpdesk page, a 1 MiB binary and a large HTML file.

Files land in ``www/`` under the run's temporary directory:

- ``page.html``: ~4 KiB ticket page with 6 external links (the gateway signs
  each) and a few internal ones; NGINX adds two Set-Cookie headers to it;
- ``files/1m.bin``: 1 MiB of random bytes (application/octet-stream, never rewritten);
- ``big/big.html``: a large ticket list (1 GiB, or less when the disk is short),
  built by repeating a block of rows with external links; ``files/big.bin``
  is a symlink to it, so the same bytes go through a non-rewriting route.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from rewriter import helpdesk_page  # bench/rewriter.py: the rewriter benchmark's ticket list

PAGE_SIZE = 4096
EXTERNAL_LINKS = (
    "https://tracking.example/track?id=4711&utm_source=mail&utm_medium=email",
    "https://docs.example.org/guide/returns",
    "https://www.example.com/",
    "https://status.example.net/incidents/42",
    "https://cdn.example.org/files/invoice-INV-2024-0420.pdf",
    "http://partner.example/offer?fbclid=abc123",
)
# Cookies: one necessary (kept), one analytics (stripped by consent on the way in and out).
REQUEST_COOKIE = "sessionid=abc123def456; _ga=GA1.1.42.1700000000"
SET_COOKIES = (
    "sessionid=abc123def456; Path=/; HttpOnly; SameSite=Lax",
    "_ga=GA1.1.42.1700000000; Path=/; Max-Age=63072000",
)
GIB = 2**30
BIG_FALLBACK = 256 * 2**20
MIN_FREE_FOR_GIB = 5 * GIB


def small_page() -> bytes:
    """A ticket page of exactly PAGE_SIZE bytes with the 6 external links, the rest internal links and text."""
    head = (
        b"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>Ticket #4711</title>"
        b"<link rel=stylesheet href=/static/app.css></head><body><header><a href=/>Help centre</a>"
        b' <a href="/tickets">Tickets</a></header><main><h1>Order 4711 has not arrived</h1>\n'
    )
    links = b"".join(
        b'<p>See <a href="%s" rel="noopener">this page</a> and <a href="/tickets/%d">ticket %d</a>.</p>\n'
        % (url.replace("&", "&amp;").encode(), i, i)
        for i, url in enumerate(EXTERNAL_LINKS, 1)
    )
    text = b"<p>Hello, I ordered a standing desk on 28 April and the status has not changed since.</p>\n"
    tail = b"</main><footer>Help centre</footer></body></html>\n"
    body = head + links
    while len(body) + len(text) + len(tail) <= PAGE_SIZE:
        body += text
    return body + b" " * (PAGE_SIZE - len(body) - len(tail)) + tail


def big_size(directory: Path) -> tuple[int, str | None]:
    """1 GiB when the disk has room (5 GiB free), else 256 MiB with a note saying so."""
    free = shutil.disk_usage(directory).free
    if free >= MIN_FREE_FOR_GIB:
        return GIB, None
    return BIG_FALLBACK, f"only {free / GIB:.1f} GiB free in {directory}: streaming 256 MiB instead of 1 GiB"


def write_big_html(path: Path, size: int) -> int:
    """A valid HTML ticket list of at least ``size`` bytes: one block of rows (one external link per 40 rows) repeated."""
    page = helpdesk_page(256 * 1024, link_every=40)
    start = page.index(b"<table>\n") + len(b"<table>\n")
    head, block = page[:start], page[start : page.rindex(b"</table>")]
    tail = b"</table></main></body></html>\n"
    written = 0
    with path.open("wb") as out:
        out.write(head)
        written += len(head)
        while written + len(tail) < size:
            out.write(block)
            written += len(block)
        out.write(tail)
    return written + len(tail)


def build_site(root: Path, big_bytes: int) -> Path:
    """Write the upstream's files (readable by NGINX's unprivileged workers); returns the web root."""
    www = root / "www"
    for sub in ("", "files", "big"):
        (www / sub).mkdir(parents=True, exist_ok=True)
        (www / sub).chmod(0o755)
    (www / "page.html").write_bytes(small_page())
    (www / "files" / "1m.bin").write_bytes(os.urandom(2**20))
    if big_bytes:
        write_big_html(www / "big" / "big.html", big_bytes)
        (www / "files" / "big.bin").symlink_to(www / "big" / "big.html")
    for path in www.rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.chmod(0o644)
    return www
