"""The detectors anonymisation uses: every built-in one and the policy's own, from min_confidence."""

from __future__ import annotations

import yaml

from gateway.anonymise.detectors import scanner_for
from gateway.anonymise.text import Identifiers, anonymise_text
from gateway.policy.loader import load_policy_text

FNR = "01010012356"


def policy(**anonymisation: object) -> object:
    doc = {"upstream": {"url": "http://127.0.0.1:9"}, "anonymisation": anonymisation,
           "sensitive": {"detectors": [{"name": "pin", "patterns": [{"regex": "PIN-[0-9]{6}", "score": 0.9}]}]}}
    return load_policy_text(yaml.safe_dump(doc), "p.yaml").policy


def test_a_checksum_valid_number_next_to_a_negative_word_is_still_removed_by_default() -> None:
    text = f"Invoice {FNR}, PIN-123456"
    cleaned, counts = anonymise_text(text, Identifiers.of(), scanner_for(policy()))  # type: ignore[arg-type]
    assert FNR not in cleaned and "PIN-123456" not in cleaned and counts["no_fnr"] == 1 and counts["pin"] == 1


def test_a_higher_floor_keeps_what_scores_below_it() -> None:
    cleaned, _ = anonymise_text(f"Invoice {FNR}", Identifiers.of(),
                                scanner_for(policy(min_confidence=0.5)))  # type: ignore[arg-type]
    assert FNR in cleaned
