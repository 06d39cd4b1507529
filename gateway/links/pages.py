"""Pages of the redirect endpoint: the interstitial, expired and refused links.

The interstitial shows where a link leads and continues only on a click, so a
mail scanner that prefetches links (Safe Links) never takes the visitor's
step for them. Pages load nothing and send no referrer.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlsplit

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:38rem;margin:4rem auto;padding:0 1rem;color:#1d1d1f}"
    "a.go{display:inline-block;margin-top:1rem;padding:.6rem 1.2rem;background:#0b57d0;color:#fff;"
    "border-radius:.4rem;text-decoration:none}a.go:focus{outline:3px solid #f9ab00}"
    "code{word-break:break-all;background:#f3f3f3;padding:.1rem .3rem}"
    ".pgw-org{margin-top:2.5rem;padding-top:1rem;border-top:1px solid #d0d0d0;font-size:.9rem;color:#3d3d3d}"
)
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("Referrer-Policy", "no-referrer"),
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"),
    ("X-Robots-Tag", "noindex, nofollow"),
    ("X-Content-Type-Options", "nosniff"),
)


def _page(title: str, body: str) -> bytes:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{escape(title)}</h1>{body}</main></body></html>"
    ).encode()


def interstitial(url: str, organisation: str = "") -> bytes:
    """The page before ``url``; ``organisation`` is the controller's block (already HTML), shown below."""
    host = urlsplit(url).hostname or url
    return _page(
        "You are leaving the help centre",
        f"<p>This link leads to <strong>{escape(host)}</strong>:</p><p><code>{escape(url)}</code></p>"
        f'<a class="go" href="{escape(url, quote=True)}" rel="noopener noreferrer">Continue to {escape(host)}</a>'
        f"{organisation}",
    )


def expired() -> bytes:
    return _page(
        "This link has expired",
        "<p>Links in our messages work for a limited time. Please open the message again "
        "from the help centre, or ask us for a new link.</p>",
    )


def refused() -> bytes:
    return _page("This link is not valid", "<p>The link is damaged or has been withdrawn.</p>")


def unavailable() -> bytes:
    return _page("Please try again", "<p>The link could not be checked just now.</p>")
