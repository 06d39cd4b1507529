"""What the banner says, in English and Norwegian Bokmål, merged with the policy's texts.

Each offered language gets one :class:`Copy`, built once per policy: every
sentence the visitor sees, and ``text_hash``, the SHA-256 of exactly that text
(with the consent version), which each receipt records as proof of what was
shown.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from ..policy.consent import NECESSARY, Consent

UI_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Cookies on this site",
        "text": "We use necessary cookies to make this site work. With your consent we also use the other "
        "kinds of cookies listed below. You can change or withdraw your consent at any time under "
        "\u201cCookie settings\u201d.",
        "accept": "Accept all",
        "reject": "Reject all",
        "save": "Save choices",
        "legend": "Choose categories",
        "always_on": "Always on",
        "settings": "Cookie settings",
        "privacy": "Privacy notice",
        "back": "Back to the page",
        "saved": "Your choices are saved.",
        "gpc": "Your browser sends a Global Privacy Control signal, so the categories it covers are off "
        "unless you turn them on here.",
    },
    "nb": {
        "title": "Informasjonskapsler på dette nettstedet",
        "text": "Vi bruker nødvendige informasjonskapsler for at nettstedet skal fungere. Med ditt samtykke "
        "bruker vi også de andre typene informasjonskapsler som står nedenfor. Du kan når som "
        "helst endre eller trekke tilbake samtykket under \u00abInnstillinger for informasjonskapsler\u00bb.",
        "accept": "Godta alle",
        "reject": "Avvis alle",
        "save": "Lagre valgene",
        "legend": "Velg kategorier",
        "always_on": "Alltid på",
        "settings": "Innstillinger for informasjonskapsler",
        "privacy": "Personvernerklæring",
        "back": "Tilbake til siden",
        "saved": "Valgene dine er lagret.",
        "gpc": "Nettleseren din sender et GPC-signal (Global Privacy Control), så kategoriene det gjelder er "
        "slått av med mindre du slår dem på her.",
    },
}

CATEGORY_TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    "en": {
        NECESSARY: ("Necessary", "Needed for the site to work, such as signing in and security."),
        "preferences": ("Preferences", "Remember your choices, such as your language."),
        "analytics": ("Analytics", "Help us understand how the site is used, so we can improve it."),
        "marketing": ("Marketing", "Used to show relevant advertising and to measure campaigns."),
    },
    "nb": {
        NECESSARY: ("Nødvendige", "Trengs for at nettstedet skal fungere, for eksempel innlogging og sikkerhet."),
        "preferences": ("Innstillinger", "Husker valgene dine, for eksempel språk."),
        "analytics": ("Statistikk", "Hjelper oss å forstå hvordan nettstedet brukes, slik at vi kan forbedre det."),
        "marketing": ("Markedsføring", "Brukes til å vise relevante annonser og måle kampanjer."),
    },
}

@dataclass(frozen=True, slots=True)
class CategoryCopy:
    name: str
    label: str
    description: str


@dataclass(frozen=True, slots=True)
class Copy:
    """Everything the banner says in one language, and the hash of it."""

    language: str
    ui: dict[str, str]
    categories: tuple[CategoryCopy, ...]  # necessary first, then the policy's order
    text_hash: str


def _category_copy(name: str, labels: dict[str, str], descriptions: dict[str, str], language: str) -> CategoryCopy:
    builtin = CATEGORY_TEXTS.get(language, CATEGORY_TEXTS["en"]).get(name)
    fallback = CATEGORY_TEXTS["en"].get(name)
    label = labels.get(language) or (builtin or fallback or (name, ""))[0]
    description = descriptions.get(language) or (builtin[1] if builtin else "")
    return CategoryCopy(name, label, description)


def build_copies(config: Consent) -> dict[str, Copy]:
    """One Copy per offered language, in the policy's order (the first is the fallback)."""
    copies: dict[str, Copy] = {}
    necessary = config.categories.get(NECESSARY)
    for language in config.banner.languages:
        ui = dict(UI_TEXTS.get(language, UI_TEXTS["en"]))
        if language in config.banner.title:
            ui["title"] = config.banner.title[language]
        if language in config.banner.text:
            ui["text"] = config.banner.text[language]
        categories = [
            _category_copy(NECESSARY, necessary.label if necessary else {}, necessary.description if necessary else {}, language)
        ]
        categories += [
            _category_copy(name, category.label, category.description, language)
            for name, category in config.categories.items()
            if name != NECESSARY
        ]
        shown = {
            "language": language,
            "version": config.version,
            "ui": ui,
            "categories": [[c.name, c.label, c.description] for c in categories],
        }
        digest = hashlib.sha256(json.dumps(shown, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()
        copies[language] = Copy(language, ui, tuple(categories), digest)
    return copies
