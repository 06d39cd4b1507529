"""The policy's neutral templates, chosen by language and filled in (pure)."""

from __future__ import annotations

import html
from dataclasses import dataclass

from ..policy.notifications import Template, TemplateTexts, placeholders_of


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str | None
    push_title: str
    push_body: str


class CompiledTemplate:
    """One template with its translations; knows which placeholders it needs."""

    __slots__ = ("_default", "_languages", "needs")

    def __init__(self, config: Template) -> None:
        self._default: TemplateTexts = config
        self._languages = dict(config.languages)
        needs: set[str] = set()
        for texts in (config, *config.languages.values()):
            for part in (texts.subject, texts.text, texts.html or "", texts.push_title or "", texts.push_body or ""):
                needs |= placeholders_of(part)
        self.needs = frozenset(needs)

    def texts_for(self, language: str | None) -> TemplateTexts:
        """The translation for ``language`` (``nb-NO`` falls back to ``nb``), else the default texts."""
        if language:
            tag = language.lower()
            while tag:
                if tag in self._languages:
                    return self._languages[tag]
                tag = tag.rpartition("-")[0]
        return self._default

    def render(self, language: str | None, values: dict[str, str]) -> Rendered:
        texts = self.texts_for(language)
        escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
        # Values never contain line breaks in a subject (a header injection would start there).
        one_line = {key: " ".join(value.split()) for key, value in values.items()}
        subject = texts.subject.format_map(one_line)
        text = texts.text.format_map(values)
        first_paragraph = " ".join(text.strip().split("\n\n")[0].split())
        return Rendered(
            subject=subject,
            text=text,
            html=None if texts.html is None else texts.html.format_map(escaped),
            push_title=subject if texts.push_title is None else texts.push_title.format_map(one_line),
            push_body=first_paragraph if texts.push_body is None else " ".join(texts.push_body.format_map(values).split()),
        )
