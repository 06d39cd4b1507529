"""The page's Content-Security-Policy and the banner's script and stylesheet (pure).

The banner loads ``banner.js`` and ``banner.css`` from the gateway's own path
on the page's origin. A page whose CSP allows same-origin scripts and styles
(``'self'``, ``*``, or no directive at all) needs nothing. Otherwise the
gateway adds a fresh nonce to the directive that governs the resource
(``script-src-elem``, else ``script-src``, else ``default-src``; the same for
styles) and puts it on the banner's tag.

It never weakens a page's policy: where a nonce would change what the page
itself may run, the resource is left out instead. That is the case for a
directive that is ``'none'``, or that relies on ``'unsafe-inline'`` (a nonce
would switch that off and break the page's own inline code). Without the
script the banner still works through its plain form; without the
stylesheet it is unstyled but usable.

Only enforced policies (``Content-Security-Policy`` headers, each of which
must allow the resource) are considered; report-only headers are left alone.
A CSP in a ``<meta>`` element of the page is not seen (the no-JavaScript form
still works there).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Literal

Kind = Literal["script", "style"]
_FALLBACK: dict[Kind, tuple[str, ...]] = {
    "script": ("script-src-elem", "script-src", "default-src"),
    "style": ("style-src-elem", "style-src", "default-src"),
}


@dataclass(frozen=True, slots=True)
class Plan:
    """What the banner may load on this page: ``None`` leaves a resource out."""

    script_nonce: str | None  # "" loads it without a nonce
    style_nonce: str | None
    headers: tuple[str, ...]  # the Content-Security-Policy values to send (changed or not)


def _directives(policy: str) -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []
    for part in policy.split(";"):
        tokens = part.split()
        if tokens:
            out.append((tokens[0].lower(), tokens[1:]))
    return out


def _governing(directives: list[tuple[str, list[str]]], kind: Kind) -> int | None:
    """Index of the first directive (in fallback order) that governs ``kind``; the first duplicate counts."""
    names = [name for name, _ in directives]
    for wanted in _FALLBACK[kind]:
        if wanted in names:
            return names.index(wanted)
    return None


def _verdict(sources: list[str], kind: Kind) -> Literal["allowed", "nonce", "blocked"]:
    lowered = [s.lower() for s in sources]
    strict = kind == "script" and "'strict-dynamic'" in lowered
    if not strict and ("'self'" in lowered or "*" in lowered):
        return "allowed"
    if not lowered or lowered == ["'none'"]:
        return "blocked"
    has_nonce_or_hash = any(s.startswith(("'nonce-", "'sha256-", "'sha384-", "'sha512-")) for s in lowered)
    if "'unsafe-inline'" in lowered and not has_nonce_or_hash:
        return "blocked"
    return "nonce"


def plan(csp_headers: list[str]) -> Plan:
    """Decide, for the enforced CSP headers of one response, how the banner loads its files."""
    if not csp_headers:
        return Plan("", "", ())
    parsed = [_directives(h) for h in csp_headers]
    nonce = secrets.token_urlsafe(18)
    decisions: dict[Kind, str | None] = {}
    edits: list[tuple[int, int, Kind]] = []  # (header, directive index, kind)
    for kind in ("script", "style"):
        need: list[tuple[int, int, Kind]] = []
        blocked = False
        for h, directives in enumerate(parsed):
            index = _governing(directives, kind)
            if index is None:
                continue
            verdict = _verdict(directives[index][1], kind)
            if verdict == "blocked":
                blocked = True
            elif verdict == "nonce":
                need.append((h, index, kind))
        if blocked:
            decisions[kind] = None
        elif need:
            decisions[kind] = nonce
            edits.extend(need)
        else:
            decisions[kind] = ""
    if not edits:
        return Plan(decisions["script"], decisions["style"], tuple(csp_headers))
    headers = list(csp_headers)
    for h in sorted({h for h, _, _ in edits}):
        directives = parsed[h]
        for _, index, _ in (e for e in edits if e[0] == h):
            name, sources = directives[index]
            if f"'nonce-{nonce}'" not in sources:
                directives[index] = (name, [*sources, f"'nonce-{nonce}'"])
        headers[h] = "; ".join(" ".join([name, *sources]) for name, sources in directives)
    return Plan(decisions["script"], decisions["style"], tuple(headers))
