"""Marks and the notice on an agent's page, from the detections in its text nodes."""

from __future__ import annotations

import random

from bench import sensitive_corpus as corpus
from gateway.rewrite.htmlstream import HtmlStreamRewriter
from gateway.sensitive import actions
from gateway.sensitive.pages import PageMarks, PageRule
from gateway.sensitive.scanner import Scanner, builtin_detectors

RND = random.Random(5)
FNR = corpus.no_fnr(RND)
CARD = corpus.card_number(RND).replace(" ", "").replace("-", "")
CPR = corpus.dk_cpr(RND).replace("-", "")
KEY = b"k" * 32
SCANNER = Scanner(builtin_detectors())


def rule(name: str = "r", **kw: object) -> PageRule:
    fields: dict[str, object] = {"kinds": None, "mark": "highlight", "mask": "last4", "notice": True, "shadow": False}
    fields.update(kw)
    return PageRule(name, **fields)  # type: ignore[arg-type]


def page(marks: PageMarks, html: str) -> str:
    rewriter = HtmlStreamRewriter(marks.mark, at_body_end=marks.notice)
    return (rewriter.feed(html.encode()) + rewriter.finish()).decode()


def test_highlight_keeps_the_value_and_the_notice_counts_it() -> None:
    seen: list[tuple[str, str, str]] = []
    marks = PageMarks(SCANNER, [rule()], key=KEY, counted=lambda k, r, m: seen.append((k, r.name, m)))
    out = page(marks, f"<html><body><p>fødselsnummer {FNR}, kort {CARD}</p></body></html>")
    assert f'<mark class="privacy-gateway-sensitive" data-kind="no_fnr">{FNR}</mark>' in out
    assert f'<mark class="privacy-gateway-sensitive" data-kind="card">{CARD}</mark>' in out
    assert "This page contains 1 national ID number, 1 card number. Handle it with care.</div></body>" in out
    assert seen == [("no_fnr", "r", "enforce"), ("card", "r", "enforce")]


def test_mask_removes_the_value_from_the_page() -> None:
    marks = PageMarks(SCANNER, [rule(kinds=frozenset({"card"}), mark="mask", mask="token"), rule("fnr", mark="mask")],
                      key=KEY, counted=lambda *a: None)
    out = page(marks, f"<body>card {CARD} and fnr {FNR}</body>")
    assert CARD not in out and FNR not in out
    assert actions.token(KEY, "card", CARD) in out and "*******" + FNR[-4:] in out


def test_context_in_the_text_before_a_node_counts() -> None:
    marks = PageMarks(SCANNER, [rule()], key=KEY, counted=lambda *a: None)
    assert "data-kind=\"dk_cpr\"" in page(marks, f"<body><b>CPR-nummer:</b> <span>{CPR}</span></body>")
    assert "data-kind" not in page(marks, f"<body><b>Ordre</b> <span>{CPR}</span></body>")  # no context: no CPR


def test_a_shadow_rule_counts_and_the_next_rule_decides() -> None:
    seen: list[tuple[str, str, str]] = []
    marks = PageMarks(SCANNER, [rule("try", shadow=True, mark="mask"), rule("quiet", notice=False)], key=KEY,
                      counted=lambda k, r, m: seen.append((k, r.name, m)))
    out = page(marks, f"<html><body>{CARD}</body></html>")
    assert seen == [("card", "try", "shadow"), ("card", "quiet", "enforce")]
    assert f">{CARD}</mark>" in out and "privacy-gateway-notice" not in out


def test_nothing_found_adds_nothing() -> None:
    marks = PageMarks(SCANNER, [rule()], key=KEY, counted=lambda *a: None)
    text = "<html><body><p>Order 2024-11-30, ticket #4662068</p></body></html>"
    assert page(marks, text) == text
