"""A route's notice: its versions by language, and the form field that shows it.

Each language's text is one *version*, named by the first 16 hex digits of
its SHA-256: the record of a submission names the version the person was
shown, and changing a text makes a new version. The field injected into the
route's form carries that version as its value: for ``basis: consent`` an
unticked checkbox (only a ticked one is sent), for the other bases a hidden
field next to the notice text (information given, Art. 13). The HTML is
escaped here and nowhere else.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from html import escape

from ..http.language import pick_language
from ..http.organisation import mailto
from ..policy.legal_basis import LegalBasisRoute
from ..policy.organisation import Organisation

FRAGMENT_CLASS = "privacy-gateway-legal-basis"


def version_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Notice:
    route: str
    basis: str
    purpose: str
    field: str
    languages: tuple[str, ...]
    texts: dict[str, str]
    versions: dict[str, str]  # language -> version
    contact: str  # the controller and its DPO, as HTML ("" when the policy names none)

    @classmethod
    def of(cls, route: LegalBasisRoute, organisation: Organisation | None) -> Notice:
        texts = dict(route.notice)
        return cls(route.name, route.basis, route.purpose, route.consent_field, tuple(texts), texts,
                   {language: version_of(text) for language, text in texts.items()}, contact_html(organisation))

    @property
    def asks_consent(self) -> bool:
        return self.basis == "consent"

    def language(self, accept_language: str) -> str:
        return pick_language(accept_language, self.languages)

    def is_version(self, value: str) -> bool:
        return value in self.versions.values()

    def fragment(self, language: str) -> bytes:
        """The field and the notice, to insert into the route's form."""
        version = self.versions[language]
        text = escape(self.texts[language], quote=False)
        name = escape(self.field)
        contact = f"<br><small>{self.contact}</small>" if self.contact else ""
        if self.asks_consent:
            html = (f'<p class="{FRAGMENT_CLASS}"><label><input type="checkbox" name="{name}" value="{version}" '
                    f'required> {text}</label>{contact}</p>')
        else:
            html = (f'<p class="{FRAGMENT_CLASS}"><input type="hidden" name="{name}" value="{version}">'
                    f"{text}{contact}</p>")
        return html.encode("utf-8")


def contact_html(organisation: Organisation | None) -> str:
    """One line inside the helpdesk's form: the controller, its DPO's name and e-mail, the privacy notice
    (Art. 13(1)(a)(b)). The gateway's own pages show the full block (``http.organisation``)."""
    if organisation is None:
        return ""
    parts = [escape(organisation.name)]
    dpo = organisation.dpo
    if dpo is not None:
        who = escape(dpo.name) + ": " if dpo.name else "Data protection officer: "
        parts.append(f'{who}<a href="{escape(mailto(dpo.email))}">{escape(dpo.email)}</a>')
    if organisation.privacy_notice_url:
        parts.append(f'<a href="{escape(organisation.privacy_notice_url)}">Privacy notice</a>')
    return " · ".join(parts)
