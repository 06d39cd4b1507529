"""HTML (and plain-text) pages of the demo helpdesk.

Pure functions from data to text. Every dynamic value is escaped. Pages load
nothing from other sites (no external images, scripts or fonts): external
addresses appear only as links, so the demo works offline and a browser test
never waits on the internet. Style and script come from ``/static/`` so the
pages can carry a strict Content-Security-Policy, as a real helpdesk's would.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape

from .data import SUPPORT_EMAIL, Ticket

CSS = """\
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1f2933;background:#f5f7fa}
a{color:#0b63ce}
header.top{display:flex;align-items:center;gap:1.5rem;padding:.75rem 2rem;background:#102a43;color:#fff}
header.top a{color:#fff;text-decoration:none}
.brand{font-weight:700;font-size:1.2rem;margin-right:auto}
nav{display:flex;align-items:center;gap:1rem}
nav form{margin:0}
main{max-width:60rem;margin:2rem auto;padding:0 1rem}
.hero{text-align:center;padding:2rem 0}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(16rem,1fr));gap:1rem}
.card,.msg,form.box{background:#fff;border:1px solid #d9e2ec;border-radius:.5rem;padding:1rem 1.25rem}
.msg{margin:1rem 0}.msg.agent{border-left:4px solid #0b63ce}
.meta{color:#627d98;font-size:.9rem}
.badge{display:inline-block;padding:0 .5rem;border-radius:1rem;font-size:.8rem;background:#d9e2ec}
.badge.open{background:#c6f7e2}.badge.pending{background:#fff3c4}.badge.solved{background:#e4e7eb}
table{width:100%;border-collapse:collapse;background:#fff}
th,td{text-align:left;padding:.5rem;border-bottom:1px solid #d9e2ec}
label{display:block;margin:.5rem 0}input{font:inherit;padding:.3rem;width:100%}
button{font:inherit;padding:.4rem 1rem;border:0;border-radius:.3rem;background:#0b63ce;color:#fff;cursor:pointer}
.error{color:#ab091e}.notice{background:#fffbea;border:1px solid #f0b429;padding:.5rem 1rem;border-radius:.3rem}
footer{max-width:60rem;margin:3rem auto;padding:1rem;color:#627d98;font-size:.9rem}
"""

LIVE_JS = """\
(function () {
  "use strict";
  var out = document.getElementById("live");
  if (!out || !window.WebSocket) { return; }
  var scheme = location.protocol === "https:" ? "wss://" : "ws://";
  var ws = new WebSocket(scheme + location.host + "/ws");
  var timer = null;
  ws.onopen = function () {
    out.textContent = "Live updates: connected";
    timer = setInterval(function () { ws.send("ping " + new Date().toISOString()); }, 5000);
  };
  ws.onmessage = function (event) { out.textContent = "Live updates: connected, last echo: " + event.data; };
  ws.onclose = function () { clearInterval(timer); out.textContent = "Live updates: disconnected"; };
})();
"""

_TEXTS = {
    "en": {"home": "Help centre", "ask": "How can we help?", "agent": "Agent area", "upload": "Upload",
           "sign_in": "Sign in", "sign_out": "Sign out"},
    "nb": {"home": "Hjelpesenter", "ask": "Hvordan kan vi hjelpe?", "agent": "Agentområde", "upload": "Last opp",
           "sign_in": "Logg inn", "sign_out": "Logg ut"},
}
LANGUAGES = frozenset(_TEXTS)

_LINK = re.compile(r"\[(?P<text>[^\]\n]+)\]\((?P<target>[^)\s]+)\)|(?P<bare>https?://[^\s<>\"]+)")
_TRAILING = ".,;:!?)"
_GETTING_STARTED = "https://example.org/docs/getting-started?utm_source=helpdesk&amp;utm_medium=web&amp;utm_campaign=home"


def _render_text(text: str, *, html: bool) -> str:
    """Render message text: links become ``<a>`` (html) or ``text <url>`` (plain)."""
    out: list[str] = []
    pos = 0
    for m in _LINK.finditer(text):
        label, target, tail = m.group("text"), m.group("target"), ""
        if target is None:
            target = m.group("bare").rstrip(_TRAILING)
            tail = m.group("bare")[len(target):]
            label = target
        before = text[pos:m.start()]
        if html:
            out.append(f'{escape(before)}<a href="{escape(target)}">{escape(label)}</a>{escape(tail)}')
        else:
            out.append(f"{before}{target}{tail}" if label == target else f"{before}{label} <{target}>{tail}")
        pos = m.end()
    rest = text[pos:]
    out.append(escape(rest) if html else rest)
    joined = "".join(out)
    return joined.replace("\n", "<br>\n") if html else joined


def layout(title: str, body: str, *, user: str | None, lang: str = "en", script: str = "") -> str:
    t = _TEXTS.get(lang, _TEXTS["en"])
    if user is None:
        account = f'<a href="/login">{t["sign_in"]}</a>'
    else:
        account = (f'<span>{escape(user)}</span><form method="post" action="/logout">'
                   f'<button type="submit">{t["sign_out"]}</button></form>')
    scripts = f'<script src="{escape(script)}" defer></script>' if script else ""
    return f"""<!doctype html>
<html lang="{escape(lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · Demo Helpdesk</title>
<link rel="stylesheet" href="/static/helpdesk.css">
{scripts}
</head>
<body>
<header class="top">
<a class="brand" href="/">Demo Helpdesk</a>
<nav><a href="/">{t["home"]}</a> <a href="/agent/">{t["agent"]}</a> <a href="/upload">{t["upload"]}</a> {account}</nav>
</header>
<main>
{body}
</main>
<footer>
<p>Demo Helpdesk: every ticket, name and address here is fictional.
<a href="https://example.org/privacy?utm_source=helpdesk&amp;utm_medium=footer">Privacy policy</a> ·
<a href="https://status.example.com/">Service status</a> ·
<a href="mailto:{SUPPORT_EMAIL}">{SUPPORT_EMAIL}</a> ·
<a href="/lang/en">English</a> · <a href="/lang/nb">Norsk</a></p>
</footer>
</body>
</html>
"""


def _badge(status: str) -> str:
    return f'<span class="badge {escape(status)}">{escape(status)}</span>'


def home(lang: str, all_tickets: Sequence[Ticket]) -> str:
    t = _TEXTS.get(lang, _TEXTS["en"])
    tickets = "\n".join(
        f'<li><a href="/tickets/{tk.id}">#{tk.id} {escape(tk.subject)}</a> {_badge(tk.status)}</li>'
        for tk in all_tickets
    )
    return f"""<section class="hero">
<h1>{t["ask"]}</h1>
<p>Browse the guides, follow your tickets, or write to us.</p>
</section>
<section class="cards">
<article class="card"><h2>Popular guides</h2><ul>
<li><a href="{_GETTING_STARTED}">Getting started</a></li>
<li><a href="https://example.org/docs/account/reset-password">Resetting your password</a></li>
<li><a href="https://www.youtube.com/watch?v=aqz-KE-bpKQ">Video tour of the portal</a></li>
</ul></article>
<article class="card"><h2>Your tickets</h2><ul>
{tickets}
</ul></article>
<article class="card"><h2>Contact</h2>
<p>Write to <a href="mailto:{SUPPORT_EMAIL}?subject=Help">{SUPPORT_EMAIL}</a>
or call us. Agents <a href="/login">sign in here</a>.</p></article>
</section>
<!-- analytics endpoint, kept for reference: https://analytics.example.net/collect?tid=UA-000000-1 -->
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "WebSite",
 "url": "https://helpdesk.example/", "sameAs": ["https://www.youtube.com/@example"]}}</script>"""


def _messages(ticket: Ticket, *, internal: bool = False) -> str:
    """The ticket's messages; internal notes only with ``internal`` (the agents' view)."""
    return "\n".join(
        f'<article class="msg{" agent" if msg.from_agent else ""}{"" if msg.public else " note"}">'
        f'<p class="meta">{escape(msg.author)}{"" if msg.public else " (internal note)"} · '
        f'<time datetime="{msg.sent}">{msg.sent}</time></p>'
        f"<p>{_render_text(msg.text, html=True)}</p>"
        + "".join(f'<p class="meta">Attachment: {escape(a.filename)} ({a.size} bytes)</p>' for a in msg.attachments)
        + "</article>"
        for msg in ticket.messages if msg.public or internal
    )


def ticket_page(ticket: Ticket) -> str:
    return f"""<h1>#{ticket.id} {escape(ticket.subject)}</h1>
<p class="meta">{_badge(ticket.status)} · priority {escape(ticket.priority)} ·
<a href="/tickets/{ticket.id}.txt">plain-text copy</a></p>
{_messages(ticket)}
<p><a href="/">Back to the help centre</a></p>"""


def ticket_text(ticket: Ticket) -> str:
    """The ticket as plain text, shaped like a notification e-mail (bare URLs)."""
    lines = [f"Ticket #{ticket.id}: {ticket.subject}", f"Status: {ticket.status}, priority: {ticket.priority}", ""]
    for msg in (m for m in ticket.messages if m.public):
        lines += [f"--- {msg.author}, {msg.sent}", _render_text(msg.text, html=False), ""]
    lines.append(f"Reply to {SUPPORT_EMAIL} or see https://example.org/docs/tickets?utm_source=email&utm_medium=notification")
    return "\n".join(lines) + "\n"


def login(error: str = "", username: str = "") -> str:
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return f"""<h1>Agent sign-in</h1>
<form class="box" method="post" action="/login">
{message}
<p class="notice">Demo: any user name and password sign you in.</p>
<label>User name
<input name="username" autocomplete="username" required maxlength="64" value="{escape(username)}"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button>
</form>"""


def agent_dashboard(user: str | None, all_tickets: Sequence[Ticket]) -> str:
    who = (f"Signed in as <strong>{escape(user)}</strong>." if user else
           'Not signed in (the demo does not require it: the gateway\'s firewall guards this area). '
           '<a href="/login">Sign in</a>')
    rows = "\n".join(
        f'<tr><td><a href="/agent/tickets/{tk.id}">#{tk.id}</a></td><td>{escape(tk.subject)}</td>'
        f"<td>{escape(tk.customer.name)}</td>"
        f'<td><a href="mailto:{escape(tk.customer.email)}">{escape(tk.customer.email)}</a></td>'
        f"<td>{escape(tk.customer.phone)}</td><td>{_badge(tk.status)}</td><td>{escape(tk.priority)}</td></tr>"
        for tk in all_tickets
    )
    return f"""<h1>Agent dashboard</h1>
<p>{who}</p>
<p id="live" class="meta">Live updates: connecting…</p>
<p class="notice">All customer data on this page is fictional.</p>
<table>
<thead><tr><th>#</th><th>Subject</th><th>Customer</th><th>E-mail</th><th>Phone</th><th>Status</th><th>Priority</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<p><a href="/api/tickets">Tickets as JSON</a> · <a href="/echo">What did the helpdesk receive?</a></p>"""


def agent_ticket(ticket: Ticket) -> str:
    c = ticket.customer
    return f"""<h1>#{ticket.id} {escape(ticket.subject)}</h1>
<article class="card"><h2>Customer (fictional)</h2>
<p>{escape(c.name)}<br><a href="mailto:{escape(c.email)}">{escape(c.email)}</a><br>{escape(c.phone)}</p></article>
{_messages(ticket, internal=True)}
<p><a href="/agent/">Back to the dashboard</a></p>"""


def upload_form() -> str:
    return """<h1>Upload a file</h1>
<form class="box" method="post" action="/upload" enctype="multipart/form-data">
<p>The helpdesk counts the bytes it receives and answers in JSON; nothing is stored.</p>
<label>File <input type="file" name="file"></label>
<button type="submit">Upload</button>
</form>"""
