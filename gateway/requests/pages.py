"""The portal's pages: the form, its answers, the confirmation, the receipt and status, the download.

Plain HTML that works without JavaScript (there is none: the CSP forbids
it), labelled fields and error messages tied to them (``aria-describedby``),
in the visitor's language, with the controller and its DPO at the foot of
every page (Art. 13(1)(a)(b)). Everything from the request, the store or the
policy is escaped here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape

from .texts import PAGE, TYPES, state_name, type_name

CSP = ("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
HEADERS = (("Content-Security-Policy", CSP), ("X-Frame-Options", "DENY"), ("X-Content-Type-Options", "nosniff"),
           ("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer"), ("X-Robots-Tag", "noindex"))
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2.5rem auto;padding:0 1rem;color:#1d1d1f;"
    "line-height:1.45}label{font-weight:600;display:block;margin-top:1rem}"
    "input[type=email],input[type=text],textarea{font:inherit;width:100%;box-sizing:border-box;padding:.45em;"
    "border:1px solid #767676;border-radius:.25rem}fieldset{border:1px solid #c4c4c4;margin:1rem 0;"
    "padding:.5rem 1rem}fieldset label{font-weight:400;display:flex;gap:.5em;margin:.4rem 0}"
    "button{font:inherit;padding:.5em 1.3em;margin-top:1rem;background:#0b57d0;color:#fff;border:0;"
    "border-radius:.3rem}button:focus,input:focus,textarea:focus{outline:3px solid #f9ab00}"
    ".error{color:#a50e0e;font-weight:600}.hint{color:#4a4a4a;font-size:.95rem;margin:.2rem 0}"
    ".summary{border:2px solid #a50e0e;padding:.5rem 1rem}dl{display:grid;grid-template-columns:max-content 1fr;"
    "gap:.3rem 1rem}dt{font-weight:600}dd{margin:0}nav{text-align:right;font-size:.9rem}"
    ".pgw-org{margin-top:2.5rem;padding-top:1rem;border-top:1px solid #d0d0d0;font-size:.9rem;color:#3d3d3d}"
)


@dataclass(frozen=True, slots=True)
class Frame:
    """What every page of one portal shares: where it is, its languages, and the organisation block by
    language (HTML, from ``http.organisation``)."""

    prefix: str
    languages: tuple[str, ...]
    contact: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Status:
    request_id: str
    kind: str
    state: str
    received: str
    due: str
    reason: str


def _t(language: str, key: str) -> str:
    return PAGE[language][key]


def _page(frame: Frame, language: str, title: str, body: str, *, switch: bool = False) -> bytes:
    nav = ""
    if switch and len(frame.languages) > 1:
        links = " · ".join(f'<a href="{escape(frame.prefix)}?lang={escape(lang)}" hreflang="{escape(lang)}" '
                           f'lang="{escape(lang)}">{escape(lang)}</a>' for lang in frame.languages)
        nav = f'<nav aria-label="{escape(_t(language, "languages"))}">{links}</nav>'
    return (f'<!doctype html><html lang="{escape(language)}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="referrer" content="no-referrer"><title>{escape(title)}</title><style>{_STYLE}</style>'
            f'</head><body>{nav}<main><h1>{escape(title)}</h1>{body}</main>{frame.contact.get(language, "")}'
            "</body></html>").encode("utf-8")


def form(frame: Frame, language: str, *, types: tuple[str, ...], token: str,
         values: Mapping[str, str] | None = None, errors: Mapping[str, str] | None = None) -> bytes:
    """The request form; with ``errors`` (field -> text key) the summary and each field's message."""
    values = values or {}
    errors = errors or {}

    def error(name: str) -> str:
        return (f'<p class="error" id="{name}-error">{escape(_t(language, errors[name]))}</p>'
                if name in errors else "")

    def described(name: str, hint: str = "") -> str:
        ids = " ".join(i for i in (hint, f"{name}-error" if name in errors else "") if i)
        invalid = ' aria-invalid="true"' if name in errors else ""
        return (f' aria-describedby="{ids}"' if ids else "") + invalid

    summary = ""
    if errors:
        items = "".join(f'<li><a href="#{name}">{escape(_t(language, key))}</a></li>' for name, key in errors.items())
        summary = (f'<div class="summary" role="alert"><h2>{escape(_t(language, "error_title"))}</h2>'
                   f"<ul>{items}</ul></div>")
    choices: list[str] = []
    for kind in types:
        name, what = TYPES[kind][language]
        checked = " checked" if values.get("type") == kind else ""
        first = ' id="type"' if not choices else ""
        choices.append(f'<label><input type="radio" name="type" value="{escape(kind)}"{first}{checked} required>'
                       f'<span><strong>{escape(name)}</strong>: {escape(what)}</span></label>')
    body = (
        f'<p>{escape(_t(language, "intro"))}</p>{summary}'
        f'<form method="post" action="{escape(frame.prefix)}" novalidate>'
        f'<input type="hidden" name="token" value="{escape(token)}">'
        f'<input type="hidden" name="lang" value="{escape(language)}">'
        f'<fieldset{described("type")}><legend>{escape(_t(language, "type"))}</legend>{error("type")}'
        f'{"".join(choices)}</fieldset>'
        f'<label for="email">{escape(_t(language, "email"))}</label>'
        f'<p class="hint" id="email-hint">{escape(_t(language, "email_hint"))}</p>{error("email")}'
        f'<input type="email" id="email" name="email" autocomplete="email" required maxlength="254" '
        f'value="{escape(values.get("email", ""))}"{described("email", "email-hint")}>'
        f'<label for="reference">{escape(_t(language, "reference"))}</label>{error("reference")}'
        f'<input type="text" id="reference" name="reference" maxlength="100" '
        f'value="{escape(values.get("reference", ""))}"{described("reference")}>'
        f'<label for="text">{escape(_t(language, "text"))}</label>{error("text")}'
        f'<textarea id="text" name="text" rows="5" maxlength="4000"{described("text")}>'
        f'{escape(values.get("text", ""))}</textarea>'
        f'<button type="submit">{escape(_t(language, "send"))}</button></form>'
    )
    return _page(frame, language, _t(language, "title"), body, switch=True)


def message(frame: Frame, language: str, title_key: str, text: str, *, back: bool = False) -> bytes:
    """A page of one message (``text``: already in the language); ``back`` links to the form."""
    link = f'<p><a href="{escape(frame.prefix)}?lang={escape(language)}">{escape(_t(language, "back"))}</a></p>'
    return _page(frame, language, _t(language, title_key), f"<p>{escape(text)}</p>{link if back else ''}")


def text(language: str, key: str, **values: object) -> str:
    return _t(language, key).format(**values)


def confirm(frame: Frame, language: str, action: str) -> bytes:
    """The page a verification link opens: a button that posts the confirmation (a mail scanner that
    fetches the link confirms nothing)."""
    body = (f'<p>{escape(_t(language, "confirm"))}</p><form method="post" action="{escape(action)}">'
            f'<button type="submit">{escape(_t(language, "confirm_button"))}</button></form>')
    return _page(frame, language, _t(language, "confirm_title"), body)


def _details(language: str, status: Status) -> str:
    rows = [("request_id", status.request_id), ("request_type", type_name(status.kind, language)),
            ("received", status.received), ("due", status.due), ("state", state_name(status.state, language))]
    if status.reason:
        rows.append(("reason", status.reason))
    items = "".join(f"<dt>{escape(_t(language, key))}</dt><dd>{escape(value)}</dd>" for key, value in rows)
    return f"<dl>{items}</dl>"


def receipt(frame: Frame, language: str, status: Status, status_url: str) -> bytes:
    body = (f'<p>{escape(_t(language, "receipt"))}</p><p><a href="{escape(status_url)}">'
            f'{escape(_t(language, "status_link"))}</a></p>{_details(language, status)}')
    return _page(frame, language, _t(language, "receipt_title"), body)


def status_page(frame: Frame, language: str, status: Status, *, download: str | None = None,
                downloaded: bool = False) -> bytes:
    extra = ""
    if download is not None:
        extra = (f'<h2>{escape(_t(language, "download_title"))}</h2><p>{escape(_t(language, "download"))}</p>'
                 f'<form method="post" action="{escape(download)}"><button type="submit">'
                 f'{escape(_t(language, "download_button"))}</button></form>')
    elif downloaded:
        extra = f'<p>{escape(_t(language, "downloaded"))}</p>'
    return _page(frame, language, _t(language, "status_title"), _details(language, status) + extra)


def download(frame: Frame, language: str, action: str) -> bytes:
    body = (f'<p>{escape(_t(language, "download"))}</p><form method="post" action="{escape(action)}">'
            f'<button type="submit">{escape(_t(language, "download_button"))}</button></form>')
    return _page(frame, language, _t(language, "download_title"), body)
