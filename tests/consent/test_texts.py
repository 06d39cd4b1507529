"""Banner texts: built-in English and Bokmål, policy overrides, the text hash, language choice."""

from __future__ import annotations

from gateway.consent.texts import CATEGORY_TEXTS, UI_TEXTS, build_copies
from tests.consent.support import policy, section


def test_both_languages_have_every_text() -> None:
    assert set(UI_TEXTS) == {"en", "nb"} == set(CATEGORY_TEXTS)
    assert set(UI_TEXTS["en"]) == set(UI_TEXTS["nb"])
    assert set(CATEGORY_TEXTS["en"]) == set(CATEGORY_TEXTS["nb"])
    assert all(text.strip() for texts in UI_TEXTS.values() for text in texts.values())


def test_copies_follow_the_policy_order_with_necessary_first() -> None:
    copies = build_copies(policy().consent)
    assert list(copies) == ["en", "nb"]
    nb = copies["nb"]
    assert [c.name for c in nb.categories] == ["necessary", "preferences", "analytics", "marketing"]
    assert nb.categories[2].label == "Statistikk"
    assert nb.ui["accept"] == "Godta alle" and nb.ui["reject"] == "Avvis alle"
    assert copies["en"].categories[0].label == "Necessary"


def test_policy_texts_override_the_built_in_ones() -> None:
    categories = section()["categories"]
    categories["analytics"]["label"] = {"en": "Statistics"}
    categories["analytics"]["description"] = {"nb": "Egen tekst."}
    categories["support_chat"] = {"cookies": [{"name": "chat"}]}
    consent = policy(
        categories=categories, banner={"languages": ["nb", "en", "de"], "title": {"de": "Kekse", "en": "Our cookies"},
                                       "text": {"de": "Wir fragen."}},
    ).consent
    copies = build_copies(consent)
    assert list(copies) == ["nb", "en", "de"]
    assert copies["en"].ui["title"] == "Our cookies"
    assert copies["nb"].ui["title"] == UI_TEXTS["nb"]["title"]
    assert copies["de"].ui["title"] == "Kekse" and copies["de"].ui["accept"] == "Accept all"  # English fallback
    analytics = {c.name: c for c in copies["en"].categories}["analytics"]
    assert analytics.label == "Statistics"
    assert {c.name: c for c in copies["nb"].categories}["analytics"].description == "Egen tekst."
    chat = {c.name: c for c in copies["nb"].categories}["support_chat"]
    assert (chat.label, chat.description) == ("support_chat", "")
    assert copies["de"].categories[0].label == "Necessary"


def test_the_hash_changes_with_what_is_shown_and_only_then() -> None:
    base = build_copies(policy().consent)
    again = build_copies(policy().consent)
    assert base["en"].text_hash == again["en"].text_hash
    assert base["en"].text_hash != base["nb"].text_hash
    assert len(base["en"].text_hash) == 64
    assert build_copies(policy(version="v2").consent)["en"].text_hash != base["en"].text_hash
    changed = build_copies(policy(banner={"text": {"en": "Other words."}}).consent)
    assert changed["en"].text_hash != base["en"].text_hash and changed["nb"].text_hash == base["nb"].text_hash
    shadow = build_copies(policy(shadow=True).consent)  # not shown: same hash
    assert shadow["en"].text_hash == base["en"].text_hash
