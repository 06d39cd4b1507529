"""What an anonymised text removed, and where to mark it in a comment's HTML."""

from __future__ import annotations

import pytest

from gateway.helpdesks.redaction import mark_in_html, removed_spans, still_holds

BLOCK = "\u2587"


@pytest.mark.parametrize(("original", "anonymised", "spans"), [
    ("Hi, I am Kari Nordmann (kari@example.no).", "Hi, I am [name] ([e-mail]).", ["Kari Nordmann", "kari@example.no"]),
    ("fnr 01010012356", "fnr [no_fnr]", ["01010012356"]),
    ("Kari 22334455", "[name] [phone]", ["Kari", "22334455"]),
    ("Kari22334455 ok", "[name][phone] ok", ["Kari22334455"]),  # labels side by side: one span
    ("unchanged", "unchanged", []),
    ("see [1] and Kari", "see [1] and [name]", ["Kari"]),  # a label-like text kept as it was is no span
    (f"I am {BLOCK * 4}.", "I am [name].", []),  # redacted before
    ("Printer on fire", "Printer is fine", None),  # not a rewrite by labels
    ("Kari", "Hello [name]", None),
    ("abc", "abc[x]", None),  # a label must stand for something
])
def test_removed_spans(original: str, anonymised: str, spans: list[str] | None) -> None:
    assert removed_spans(original, anonymised) == spans


def test_an_ambiguous_alignment_still_covers_every_removed_character() -> None:
    # The space between the labels may be found inside the name: whatever is kept is what the new text kept.
    spans = removed_spans("Kari Nordmann 22 33", "[name] [phone]")
    assert spans is not None and "".join(spans).replace(" ", "") == "KariNordmann2233"


def test_spans_are_marked_in_text_and_tags_as_whole_words() -> None:
    body = ('<div class="zd-comment"><p>Kari &amp; Ola: <a href="mailto:kari@example.no">kari@example.no</a>'
            '<br>Karianne</p></div>')
    assert mark_in_html(body, ["Kari & Ola", "kari@example.no"]) == (
        '<div class="zd-comment"><p><redact>Kari &amp; Ola</redact>: <a redact href="mailto:kari@example.no">'
        '<redact>kari@example.no</redact></a><br>Karianne</p></div>')


def test_a_span_split_by_a_line_break_is_marked_word_by_word_and_a_missing_one_refused() -> None:
    assert mark_in_html("<p>Kari<br>Nordmann</p>", ["Kari Nordmann"]) == (
        "<p><redact>Kari</redact><br><redact>Nordmann</redact></p>")
    assert mark_in_html("<p>Ola</p>", ["Kari"]) is None
    assert mark_in_html("<p>Ola</p>", []) == "<p>Ola</p>"


def test_still_holds() -> None:
    assert still_holds("call 22 33", ["22 33"]) and not still_holds(f"call {BLOCK * 5}", ["22 33"])
    assert not still_holds("Karianne", ["Kari"]) and not still_holds("anything", [])
