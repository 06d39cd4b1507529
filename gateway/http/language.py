"""The language a visitor prefers among those a page is offered in (Accept-Language)."""

from __future__ import annotations

# Norwegian without a written standard, and Nynorsk, read Bokmål better than English.
_ALIASES = {"no": "nb", "nn": "nb"}

def pick_language(accept_language: str, offered: tuple[str, ...]) -> str:
    """The offered language the visitor prefers most (Accept-Language q-values), else the first offered."""
    best = offered[0]
    best_q = 0.0
    wanted = {language.lower(): language for language in offered}
    for position, item in enumerate(accept_language.split(",")[:32]):
        tag, _, params = item.strip().partition(";")
        tag = tag.strip().lower()
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                continue
        q -= position * 1e-6  # equal q-values: the earlier entry wins
        if not q > best_q or not tag:  # also refuses NaN
            continue
        primary = tag.partition("-")[0]
        found = wanted.get(tag) or wanted.get(primary) or wanted.get(_ALIASES.get(primary, ""))
        if found is not None:
            best, best_q = found, q
    return best
