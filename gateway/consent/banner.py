"""The banner's HTML: the injected banner, the "Cookie settings" link and the settings page.

The banner is a plain form that posts to the consent endpoint and comes
back with a 303, so it works without JavaScript; ``banner.js`` improves it
when the page lets it run. Accessibility: a labelled region, a real
heading, one labelled checkbox per category with its description attached
(``aria-describedby``), real buttons (reject and accept equally prominent),
visible focus, the banner's own ``lang``. It has no inline script or style,
so a strict page CSP only has to allow the two same-origin files.

Injected fragments are ASCII (other characters as HTML character
references), so they read the same in any ASCII-compatible page encoding.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from urllib.parse import quote

from ..policy.consent import NECESSARY
from .assets import SCRIPT, STYLESHEET
from .texts import Copy


def _attr(value: str) -> str:
    return escape(value, quote=True)


def _nonce(nonce: str | None) -> str:
    return f' nonce="{_attr(nonce)}"' if nonce else ""


def settings_url(prefix: str, return_to: str) -> str:
    return f"{prefix}/settings?return={quote(return_to, safe='/')}"


def _categories(copy: Copy, choices: Mapping[str, bool]) -> str:
    rows = []
    for category in copy.categories:
        cid, did = f"pgw-c-{category.name}", f"pgw-d-{category.name}"
        described = f' aria-describedby="{did}"' if category.description else ""
        if category.name == NECESSARY:
            control = f'<input type="checkbox" id="{cid}" checked disabled{described}>'
            extra = f' <span class="pgw-always">({escape(copy.ui["always_on"])})</span>'
        else:
            checked = " checked" if choices.get(category.name) else ""
            control = f'<input type="checkbox" id="{cid}" name="category" value="{category.name}"{checked}{described}>'
            extra = ""
        description = f'<span class="pgw-desc" id="{did}">{escape(category.description)}</span>' if category.description else ""
        rows.append(
            f'<div class="pgw-cat">{control}<label for="{cid}">{escape(category.label)}</label>{extra}{description}</div>'
        )
    return "".join(rows)


def _form(
    copy: Copy, *, prefix: str, choices: Mapping[str, bool], return_to: str, gpc: bool,
    privacy_url: str | None, heading: str,
) -> str:
    ui = copy.ui
    privacy = f' <a href="{_attr(privacy_url)}">{escape(ui["privacy"])}</a>' if privacy_url else ""
    note = f'<p class="pgw-note">{escape(ui["gpc"])}</p>' if gpc else ""
    return (
        f'<form method="post" action="{_attr(prefix)}">'
        f'<{heading} id="pgw-consent-title">{escape(ui["title"])}</{heading}>'
        f'<p id="pgw-consent-text">{escape(ui["text"])}{privacy}</p>{note}'
        f'<fieldset><legend>{escape(ui["legend"])}</legend>{_categories(copy, choices)}</fieldset>'
        f'<input type="hidden" name="return" value="{_attr(return_to)}">'
        f'<input type="hidden" name="lang" value="{_attr(copy.language)}">'
        '<div class="pgw-actions">'
        f'<button type="submit" name="action" value="reject">{escape(ui["reject"])}</button>'
        f'<button type="submit" name="action" value="accept">{escape(ui["accept"])}</button>'
        f'<button type="submit" name="action" value="save" class="pgw-secondary">{escape(ui["save"])}</button>'
        "</div></form>"
    )


def banner_fragment(
    copy: Copy, *, prefix: str, choices: Mapping[str, bool], return_to: str, gpc: bool,
    privacy_url: str | None, script_nonce: str | None, style_nonce: str | None,
) -> bytes:
    """The banner injected before ``</body>``; ``None`` nonces leave the script or stylesheet out."""
    parts = []
    if style_nonce is not None:
        parts.append(f'<link rel="stylesheet" href="{_attr(STYLESHEET.url(prefix))}"{_nonce(style_nonce)}>')
    parts.append(
        f'<div id="pgw-consent" class="pgw-consent" role="region" aria-labelledby="pgw-consent-title" '
        f'lang="{_attr(copy.language)}" data-settings-url="{_attr(settings_url(prefix, return_to))}" '
        f'data-settings-label="{_attr(copy.ui["settings"])}" data-saved-label="{_attr(copy.ui["saved"])}">'
    )
    parts.append(_form(copy, prefix=prefix, choices=choices, return_to=return_to, gpc=gpc, privacy_url=privacy_url, heading="h2"))
    parts.append("</div>")
    if script_nonce is not None:
        parts.append(f'<script src="{_attr(SCRIPT.url(prefix))}" defer{_nonce(script_nonce)}></script>')
    return "".join(parts).encode("ascii", "xmlcharrefreplace")


def settings_link_fragment(copy: Copy, *, prefix: str, return_to: str, style_nonce: str | None) -> bytes:
    """The small "Cookie settings" link injected once the visitor has decided."""
    link = ""
    if style_nonce is not None:
        link = f'<link rel="stylesheet" href="{_attr(STYLESHEET.url(prefix))}"{_nonce(style_nonce)}>'
    html = (
        f'{link}<div id="pgw-settings" class="pgw-settings" lang="{_attr(copy.language)}">'
        f'<a href="{_attr(settings_url(prefix, return_to))}">{escape(copy.ui["settings"])}</a></div>'
    )
    return html.encode("ascii", "xmlcharrefreplace")


def settings_page(
    copy: Copy, *, prefix: str, choices: Mapping[str, bool], return_to: str, gpc: bool, privacy_url: str | None,
    organisation: str = "",
) -> bytes:
    """The gateway's own settings page: the same form, current choices ticked, a way back, and
    ``organisation`` (the controller's block, already HTML) below them."""
    form = _form(copy, prefix=prefix, choices=choices, return_to=return_to, gpc=gpc, privacy_url=privacy_url, heading="h1")
    html = (
        f'<!doctype html><html lang="{_attr(copy.language)}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(copy.ui['settings'])}</title>"
        f'<link rel="stylesheet" href="{_attr(STYLESHEET.url(prefix))}"></head><body>'
        f'<main id="pgw-consent" class="pgw-consent pgw-static" aria-labelledby="pgw-consent-title">{form}'
        f'<p><a href="{_attr(return_to)}">{escape(copy.ui["back"])}</a></p>{organisation}</main></body></html>'
    )
    return html.encode("utf-8")
