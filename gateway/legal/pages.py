"""The pages the legal-basis feature serves: consent asked again (422), and the withdrawal page.

Both are the gateway's own HTML (no script; a strict Content-Security-Policy),
everything from the request or the policy escaped. The 422 page keeps what
the person typed: each text field goes back as a hidden field of a form that
posts to the same address, next to the notice and its checkbox, so one tick
sends the submission again. Attached files cannot be kept that way; the page
then asks to go back instead (browsers keep a form's fields on "back").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from .notice import Notice

CSP = ("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
HEADERS = (("Content-Security-Policy", CSP), ("X-Frame-Options", "DENY"), ("X-Content-Type-Options", "nosniff"),
           ("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer"))
_STYLE = ("body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#222}"
          "button{font:inherit;padding:.4em 1.2em}li{margin:.6em 0}.muted{color:#555}")


def _page(title: str, body: str, language: str = "en") -> bytes:
    return (f'<!doctype html><html lang="{escape(language)}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body>{body}</body></html>").encode("utf-8")


def consent_again(notice: Notice, language: str, action: str, fields: Sequence[tuple[str, str]], *,
                  files: bool, stale: bool) -> bytes:
    """The 422 page: the notice, its checkbox, and the typed fields, posted again to ``action``."""
    why = ("The text you agreed to has changed since the form was loaded. Please read it and confirm again."
           if stale else "Please read the notice below and tick the box to send your request.")
    if files:
        form = (f'<p>{notice.fragment(language).decode("utf-8")}</p>'
                "<p>Your request included attached files, which cannot be kept here: go back, tick the box "
                "and send it again. What you typed is kept by your browser.</p>")
    else:
        hidden = "".join(f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
                         for name, value in fields if name != notice.field)
        form = (f'<form method="post" action="{escape(action)}">{hidden}{notice.fragment(language).decode("utf-8")}'
                "<p><button>Send</button></p></form>"
                '<p class="muted">What you typed is kept and sent with it.</p>')
    return _page("Your consent is needed", f"<h1>Your consent is needed</h1><p>{why}</p>{form}", language)


@dataclass(frozen=True, slots=True)
class Given:
    """A consent record this browser made, as the withdrawal page lists it."""

    record_id: str
    purpose: str
    given_at: str  # ISO 8601, UTC
    withdrawn: bool


def withdrawal(items: Sequence[Given], *, action: str, token: str, contact: str, done: bool = False) -> bytes:
    """The list of consents this browser gave through the gateway, each with a button to withdraw it;
    ``contact`` is the organisation's block (HTML)."""
    if not items:
        listing = ("<p>This browser has given no consent through this site's forms, or its record of it has "
                   "expired. To withdraw a consent given elsewhere, contact us.</p>")
    else:
        rows = []
        for item in items:
            if item.withdrawn:
                state = "<strong>withdrawn</strong>"
            else:
                state = (f'<form method="post" action="{escape(action)}" style="display:inline">'
                         f'<input type="hidden" name="record" value="{escape(item.record_id)}">'
                         f'<input type="hidden" name="token" value="{escape(token)}">'
                         "<button>Withdraw</button></form>")
            rows.append(f"<li>{escape(item.purpose)} <span class=\"muted\">(given {escape(item.given_at)})</span> "
                        f"{state}</li>")
        listing = "<ul>" + "".join(rows) + "</ul>"
    saved = "<p><strong>Your consent was withdrawn.</strong></p>" if done else ""
    who = contact  # the organisation block, rendered by the caller
    return _page("Your consents", f"<h1>Your consents</h1>{saved}{listing}"
                 "<p>Withdrawing a consent is as easy as giving it and takes effect at once; what was "
                 f"processed before stays lawful.</p>{who}")
