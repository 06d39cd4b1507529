"""Personal data on a page an agent reads: each value found highlighted or masked, and a notice of what was found.

A :class:`PageMarks` serves one response. The HTML text rewriter
(``gateway.rewrite.htmlstream``) hands it each shown text node; it scans the
node (with the end of the text shown before it, for context words), and for
each value the first :class:`PageRule` whose kinds fit decides:

- ``highlight``: the value stays, inside ``<mark class="privacy-gateway-sensitive"
  data-kind="card">`` (browsers show ``mark`` highlighted without any style);
- ``mask``: the value becomes its masked form (``*******1234`` or ``[card:1a2b3c4d]``).

A shadow rule counts and is skipped. Before ``</body>`` the notice says what
the page holds ("This page contains 1 national ID number, 2 card numbers.")
when an enforcing rule with ``notice`` found something. The notice and the
marks name kinds, never values; a masked value does not reach the page at all.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from ..rewrite.htmlstream import Mark
from . import actions
from .kinds import counted
from .scanner import Scanner

MARK_CLASS = "privacy-gateway-sensitive"
NOTICE_CLASS = "privacy-gateway-notice"
# Fixed at the top of the viewport, so it is seen though it comes last in the page.
_NOTICE_STYLE = ("position:fixed;top:0;left:0;right:0;z-index:2147483647;margin:0;padding:.5em 1em;"
                 "background:#fff3cd;color:#3d2c00;border-bottom:1px solid #d6b656;font:14px/1.4 sans-serif")


@dataclass(frozen=True, slots=True)
class PageRule:
    name: str
    kinds: frozenset[str] | None
    mark: Literal["highlight", "mask"]
    mask: Literal["last4", "token"]
    notice: bool
    shadow: bool

    def takes(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds


#: Called once per value found: its kind, the rule that decided, ``"enforce"`` or ``"shadow"``.
Counted = Callable[[str, PageRule, str], None]


class PageMarks:
    """The marks and the notice of one page."""

    __slots__ = ("_scanner", "_rules", "_key", "_counted", "found")

    def __init__(self, scanner: Scanner, rules: Sequence[PageRule], *, key: bytes, counted: Counted) -> None:
        self._scanner = scanner
        self._rules = tuple(rules)
        self._key = key
        self._counted = counted
        self.found: Counter[str] = Counter()  # enforced detections by kind, for the notice

    def mark(self, text: str, before: str) -> list[Mark]:
        scanned = f"{before} {text}" if before else text
        offset = len(scanned) - len(text)
        marks: list[Mark] = []
        for detection in self._scanner.scan(scanned):
            if detection.start < offset:
                continue  # in the text before this node: marked there, or cut by a tag
            for rule in self._rules:
                if not rule.takes(detection.kind):
                    continue
                mode = "shadow" if rule.shadow else "enforce"
                self._counted(detection.kind, rule, mode)
                if rule.shadow:
                    continue
                if rule.notice:
                    self.found[detection.kind] += 1
                start, end = detection.start - offset, detection.end - offset
                marks.append((start, end, self._marked(rule, detection.kind, text[start:end])))
                break
        return marks

    def _marked(self, rule: PageRule, kind: str, value: str) -> str | tuple[str, str]:
        if rule.mark == "highlight":
            return f'<mark class="{MARK_CLASS}" data-kind="{html.escape(kind)}">', "</mark>"
        masked = actions.token(self._key, kind, value) if rule.mask == "token" else actions.last4(value)
        return f'<span class="{MARK_CLASS}" data-kind="{html.escape(kind)}">{html.escape(masked, quote=False)}</span>'

    def notice(self) -> bytes:
        """The notice before ``</body>``, or nothing when no enforcing rule with a notice found anything."""
        if not self.found:
            return b""
        text = f"This page contains {counted(self.found)}. Handle it with care."
        return (f'<div class="{NOTICE_CLASS}" role="note" style="{_NOTICE_STYLE}">'
                f"{html.escape(text, quote=False)}</div>").encode("ascii", "xmlcharrefreplace")
