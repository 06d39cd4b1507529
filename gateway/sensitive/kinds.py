"""What the kinds of data are called: in a refusal ("a Danish CPR number") and in a page's notice ("2 card numbers")."""

from __future__ import annotations

from collections.abc import Mapping

DESCRIPTIONS = {
    "no_fnr": "a Norwegian national identity number", "no_dnr": "a Norwegian D number",
    "no_hnr": "a Norwegian H number", "se_pnr": "a Swedish personal identity number",
    "se_samordning": "a Swedish coordination number", "fi_hetu": "a Finnish personal identity code",
    "dk_cpr": "a Danish CPR number", "card": "a payment card number", "iban": "a bank account number (IBAN)",
    "email": "an e-mail address", "phone": "a phone number",
}
NATIONAL_IDS = frozenset({"no_fnr", "no_dnr", "no_hnr", "se_pnr", "se_samordning", "fi_hetu", "dk_cpr"})
# Notice groups, in the order a notice lists them: (singular, plural).
_NOUNS = {
    "national_id": ("national ID number", "national ID numbers"), "card": ("card number", "card numbers"),
    "iban": ("bank account number", "bank account numbers"), "email": ("e-mail address", "e-mail addresses"),
    "phone": ("phone number", "phone numbers"),
}


def describe(kind: str) -> str:
    """A kind as a refusal names it (a custom detector's: personal data)."""
    return DESCRIPTIONS.get(kind, "personal data")


def group(kind: str) -> str:
    """The notice's group of a kind: the national IDs are one."""
    return "national_id" if kind in NATIONAL_IDS else kind


def counted(counts: Mapping[str, int]) -> str:
    """``{"card": 2, "no_fnr": 1}`` as ``1 national ID number, 2 card numbers`` (known groups first)."""
    groups: dict[str, int] = {}
    for kind, n in counts.items():
        if n > 0:
            groups[group(kind)] = groups.get(group(kind), 0) + n
    ordered = [g for g in _NOUNS if g in groups] + sorted(g for g in groups if g not in _NOUNS)
    parts = []
    for g in ordered:
        singular, plural = _NOUNS.get(g, (f"{g} value", f"{g} values"))
        parts.append(f"{groups[g]} {singular if groups[g] == 1 else plural}")
    return ", ".join(parts)
