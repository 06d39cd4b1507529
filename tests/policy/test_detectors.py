"""Custom detectors in the policy, and Presidio's recognizer format read into them."""

from __future__ import annotations

import pytest

from gateway.policy.detectors import CustomDetectorSpec, load_presidio

PRESIDIO = r"""
recognizers:
  -
    name: "Zip code Recognizer"
    supported_language: "de"
    patterns:
      -
         name: "zip code (weak)"
         regex: "(\\b\\d{5}(?:\\-\\d{4})?\\b)"
         score: 0.01
    context:
     - zip
     - code
    supported_entity: "ZIP"
  -
    name: "Titles recognizer"
    supported_language: "en"
    supported_entity: "TITLE"
    deny_list:
      - Mr.
      - Mrs.
      - Dr.
"""


def test_presidio_example_file_loads() -> None:
    zip_code, titles = load_presidio(PRESIDIO, "recognizers.yaml")
    assert zip_code.name == "ZIP" and zip_code.language == "de" and zip_code.context == ("zip", "code")
    assert [(p.regex, p.score) for p in zip_code.patterns] == [(r"(\b\d{5}(?:\-\d{4})?\b)", 0.01)]
    assert zip_code.flags == ("ignore_case", "multiline", "dotall")  # Presidio's default flags
    assert titles.name == "TITLE" and [p.name for p in titles.patterns] == ["deny_list"]
    assert titles.patterns[0].score == 1.0


def test_presidio_errors_are_all_reported_with_their_place() -> None:
    text = """
recognizers:
  - name: a
    supported_entity: A
    patterns: [{name: p, regex: "(", score: 0.5}]
  - name: b
    patterns: [{regex: "x"}]
  - name: c
    supported_entity: C
    patterns: [{regex: "x"}]
    validator: nosuch
  - name: d
    supported_entity: D
    colour: red
"""
    with pytest.raises(ValueError) as info:
        load_presidio(text, "r.yaml")
    lines = str(info.value).splitlines()
    assert lines[0].startswith("r.yaml: recognizers[0]: patterns[0]: invalid regex")
    assert lines[1] == "r.yaml: recognizers[1]: supported_entity: expected a name"
    assert lines[2].startswith("r.yaml: recognizers[2]: unknown validator 'nosuch'")
    assert lines[3] == "r.yaml: recognizers[3]: unknown key(s): colour"


def test_presidio_disabled_and_invalid_yaml() -> None:
    assert load_presidio("recognizers:\n  - {supported_entity: X, patterns: [{regex: x}], enabled: false}\n") == []
    with pytest.raises(ValueError, match="invalid YAML"):
        load_presidio("recognizers: [")
    with pytest.raises(ValueError, match="recognizers: expected a list"):
        load_presidio("other: 1\n")


def test_global_regex_flags_replace_the_defaults() -> None:
    (spec,) = load_presidio("global_regex_flags: 0\nrecognizers: [{supported_entity: X, patterns: [{regex: x}]}]\n")
    assert spec.flags == ()


@pytest.mark.parametrize(("spec", "message"), [
    ({"name": "card", "patterns": [{"regex": "x"}]}, "is a built-in kind"),
    ({"name": "order", "patterns": []}, "give at least one"),
    ({"name": "order", "patterns": [{"regex": "("}]}, r"patterns\[0\]: invalid regex"),
    ({"name": "order", "patterns": [{"regex": "x"}], "validator": "nosuch"}, "unknown validator 'nosuch'"),
    ({"name": "order", "patterns": [{"regex": "x", "score": 1.5}]}, "less than or equal to 1"),
    ({"name": "1order", "patterns": [{"regex": "x"}]}, "is not a kind name"),
])
def test_a_custom_detector_that_cannot_work_is_refused(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CustomDetectorSpec.model_validate(spec)
