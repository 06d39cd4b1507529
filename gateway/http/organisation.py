"""The controller and its data protection officer, as the small HTML block the gateway's own pages show.

GDPR Art. 13(1)(a)(b): people are told who the controller is and how to
reach its DPO wherever the gateway speaks to them (the consent settings
page, the link interstitial...). Every page renders the block here, so it
reads and escapes the same everywhere. It holds no inline style or script
(any page's CSP allows it); each page styles the ``pgw-org`` class itself.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from ..policy.organisation import Organisation

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "region": "Who is responsible for your personal data",
        "controller": "Controller",
        "dpo": "Data protection officer",
        "email": "E-mail",
        "phone": "Phone",
        "address": "Address",
        "notice": "Privacy notice",
    },
    "nb": {
        "region": "Hvem som er ansvarlig for personopplysningene dine",
        "controller": "Behandlingsansvarlig",
        "dpo": "Personvernombud",
        "email": "E-post",
        "phone": "Telefon",
        "address": "Adresse",
        "notice": "Personvernerkl\u00e6ring",
    },
}


def mailto(email: str) -> str:
    """A ``mailto:`` URL for ``email``: characters a mailto URL gives meaning to (?, &, #, %) percent-encoded."""
    return "mailto:" + quote(email, safe="@+")


def organisation_block(organisation: Organisation | None, language: str = "en") -> str:
    """The block in ``language`` (English when it has no labels); ``""`` without an organisation."""
    if organisation is None:
        return ""
    label = LABELS.get(language, LABELS["en"])
    parts = [
        f'<aside class="pgw-org" aria-label="{escape(label["region"])}">'
        f'<p>{escape(label["controller"])}: <strong>{escape(organisation.name)}</strong></p>'
    ]
    dpo = organisation.dpo
    if dpo is not None:
        lines = [escape(label["dpo"]) + (f": {escape(dpo.name)}" if dpo.name else "")]
        lines.append(
            f'{escape(label["email"])}: <a href="{escape(mailto(dpo.email), quote=True)}">{escape(dpo.email)}</a>'
        )
        if dpo.phone:
            lines.append(f'{escape(label["phone"])}: {escape(dpo.phone)}')
        if dpo.address:
            address = ", ".join(escape(line.strip()) for line in dpo.address.splitlines() if line.strip())
            lines.append(f'{escape(label["address"])}: {address}')
        parts.append(f'<p>{"<br>".join(lines)}</p>')
    if organisation.privacy_notice_url:
        href = escape(organisation.privacy_notice_url, quote=True)
        parts.append(f'<p><a href="{href}">{escape(label["notice"])}</a></p>')
    parts.append("</aside>")
    return "".join(parts)
