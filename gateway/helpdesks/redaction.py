"""For a helpdesk that can only redact (Zendesk): what an anonymised text removed, and where to mark it (pure).

An anonymised text is its original with spans replaced by labels (``[name]``,
``[no_fnr]``: ``gateway.anonymise.text``). A helpdesk that cannot take a new
text can still redact what it holds, so the adapter needs the spans the labels
replaced. :func:`removed_spans` finds them by aligning the literal text around
the labels with the original: each literal is found at its leftmost place
after the one before (which always finds an alignment if there is one), and
what lies between is a removed span. When a literal also occurs inside a
removed value the alignment may split the value differently, but every
character it keeps is one the anonymised text kept too: nothing of a value
stays unredacted that the anonymised text did not keep.

:func:`mark_in_html` wraps those spans in ``<redact>`` tags in a comment's
HTML (the form Zendesk's comment redaction takes), in text only; a tag whose
attributes hold one (``href="mailto:..."``) gets the ``redact`` attribute, which
redacts the element. What was redacted before (``▇``) is left alone.
"""

from __future__ import annotations

import html
import re

LABEL = re.compile(r"\[[A-Za-z0-9_.-]{1,64}\]")
REDACTED = "\u2587"  # ▇, what Zendesk puts in place of each redacted character
_TAG = re.compile(r"(<[^<>]*>)")
_TAG_NAME = re.compile(r"^<([A-Za-z][A-Za-z0-9]*)")


def removed_spans(original: str, anonymised: str) -> list[str] | None:
    """The spans of ``original`` that ``anonymised`` replaced by labels; None if it is not such a rewrite.

    Spans already redacted (only ``▇`` and spaces) and spans that are their label itself (a text that
    held ``[1]`` keeps it) are left out.
    """
    parts = LABEL.split(anonymised)
    labels = LABEL.findall(anonymised)
    if not labels:
        return [] if original == anonymised else None
    first, last = parts[0], parts[-1]
    if not original.startswith(first) or not original.endswith(last):
        return None
    end = len(original) - len(last)
    spans: list[tuple[str, str]] = []
    at, label = len(first), labels[0]
    for literal, following in zip(parts[1:-1], labels[1:], strict=True):
        if not literal:  # labels side by side: one span
            label += following
            continue
        found = original.find(literal, at + 1, end)
        if found < 0:
            return None
        spans.append((original[at:found], label))
        at, label = found + len(literal), following
    if end <= at:
        return None
    spans.append((original[at:end], label))
    return [span for span, label in spans if span != label and span.strip(REDACTED + " \t\r\n")]


def mark_in_html(body: str, spans: list[str]) -> str | None:
    """``body`` with every occurrence of each span in ``<redact>``; None if a span is nowhere in it.

    A span is matched as whole words where it starts or ends with one (``Kari`` is not redacted in
    ``Karianne``); one not found whole (a line break in the HTML where the text had a space) is looked for
    word by word.
    """
    parts = _TAG.split(body)
    texts = "\0".join(p for p in parts if not p.startswith("<"))
    tags = "\0".join(p for p in parts if p.startswith("<"))
    wanted: set[str] = set()
    for span in spans:
        pieces = [span] if _pattern([span]).search(texts) or _pattern([span], True).search(tags) else span.split()
        for piece in pieces:
            if not (_pattern([piece]).search(texts) or _pattern([piece], True).search(tags)):
                return None
            wanted.add(piece)
    if not wanted:
        return body
    in_text, in_tag = _pattern(sorted(wanted)), _pattern(sorted(wanted), True)
    out: list[str] = []
    for part in parts:
        if part.startswith("<"):
            if not part.startswith("</") and in_tag.search(part):
                part = _TAG_NAME.sub(r"<\1 redact", part, count=1)
            out.append(part)
        else:
            out.append(in_text.sub(lambda m: f"<redact>{m.group(0)}</redact>", part))
    return "".join(out)


def still_holds(text: str, spans: list[str]) -> bool:
    """Whether ``text`` (a comment after redaction) still holds one of the spans."""
    return bool(spans) and _pattern(spans).search(text) is not None


def _pattern(pieces: list[str], in_attribute: bool = False) -> re.Pattern[str]:
    """The pieces as they appear in HTML text (or in an attribute), longest first, whole words at word edges."""
    forms: set[str] = set()
    for piece in pieces:
        escaped = {piece, html.escape(piece, quote=in_attribute)}
        for form in escaped:
            head = r"(?<!\w)" if piece[:1].isalnum() else ""
            tail = r"(?!\w)" if piece[-1:].isalnum() else ""
            forms.add(head + re.escape(form) + tail)
    return re.compile("|".join(sorted(forms, key=len, reverse=True)))
