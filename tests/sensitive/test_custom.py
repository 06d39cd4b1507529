"""Custom detectors: validators, context words, Presidio's YAML recognizers."""

from __future__ import annotations

import pytest

from gateway.sensitive.custom import CustomDetector, CustomDetectorError, Pattern, load_presidio, resolve_validator


def found(detector: CustomDetector, text: str) -> list[tuple[str, float]]:
    return [(text[d.start:d.end], d.confidence) for d in detector.find(text)]


@pytest.mark.parametrize(("name", "good", "bad"), [
    ("luhn", "4111 1111 1111 1111", "4111 1111 1111 1112"),
    ("mod97", "NO9386011117947", "NO9486011117947"),
    ("mod11", "86011117947", "86011117948"),
    ("no.orgnr", "988 077 917", "988 077 918"),
    ("iban", "NO9386011117947", "NO9486011117947"),
])
def test_validators(name: str, good: str, bad: str) -> None:
    validate = resolve_validator(name)
    assert validate(good) and not validate(bad)


@pytest.mark.parametrize("name", ["crc32", "no.nosuchthing", "../os", "os.path"])
def test_an_unknown_validator_is_a_clear_error_when_built(name: str) -> None:
    with pytest.raises(CustomDetectorError, match="unknown validator"):
        CustomDetector("x", [Pattern(r"\d+", 0.5)], validator=name)


def test_a_validated_detector_reports_only_valid_matches() -> None:
    detector = CustomDetector("orgnr", [Pattern(r"\b\d{3} ?\d{3} ?\d{3}\b", 0.6)], validator="no.orgnr")
    assert found(detector, "org 988 077 917 og 988 077 918") == [("988 077 917", 0.6)]
    assert detector.kinds == ("orgnr",)


def test_context_words_raise_the_score_like_presidio() -> None:
    detector = CustomDetector("zip", [Pattern(r"\b\d{4}\b", 0.01)], context=["postnummer", "zip"])
    assert found(detector, "postnummer 0150 Oslo, og ellers var det 1234") == [("0150", 0.4), ("1234", 0.01)]
    detector = CustomDetector("zip", [Pattern(r"\b\d{4}\b", 0.5)], context=["zip"])
    assert found(detector, "zip 0150") == [("0150", 0.85)]


def test_a_bad_regex_or_score_names_the_detector_and_pattern() -> None:
    with pytest.raises(CustomDetectorError, match=r"x: patterns\[0\]: invalid regex"):
        CustomDetector("x", [Pattern(r"(", 0.5)])
    with pytest.raises(CustomDetectorError, match=r"x: patterns\[0\]: score 2.0"):
        CustomDetector("x", [Pattern(r"a", 2.0)])


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
    assert zip_code.kinds == ("ZIP",) and zip_code.language == "de"
    assert found(zip_code, "zip code 12345-6789, then a few words later 54321") == [("12345-6789", 0.4), ("54321", 0.01)]
    assert titles.kinds == ("TITLE",)
    assert found(titles, "Dear mr. Smith and Dr. Who") == [("mr.", 1.0), ("Dr.", 1.0)]


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
    with pytest.raises(CustomDetectorError) as info:
        load_presidio(text, "r.yaml")
    lines = str(info.value).splitlines()
    assert lines[0].startswith("r.yaml: recognizers[0]: A: patterns[0]: invalid regex")
    assert lines[1] == "r.yaml: recognizers[1]: supported_entity: expected a name"
    assert lines[2].startswith("r.yaml: recognizers[2]: unknown validator 'nosuch'")
    assert lines[3] == "r.yaml: recognizers[3]: unknown key(s): colour"


def test_presidio_disabled_and_invalid_yaml() -> None:
    assert load_presidio("recognizers:\n  - {supported_entity: X, patterns: [{regex: x}], enabled: false}\n") == []
    with pytest.raises(CustomDetectorError, match="invalid YAML"):
        load_presidio("recognizers: [")
    with pytest.raises(CustomDetectorError, match="recognizers: expected a list"):
        load_presidio("other: 1\n")
