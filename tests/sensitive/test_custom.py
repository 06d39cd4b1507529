"""Custom detectors: validated matches, context words, built from the policy's specs and Presidio's recognizers."""

from __future__ import annotations

import pytest

from gateway.policy.detectors import CustomDetectorSpec, CustomPattern, load_presidio
from gateway.sensitive.custom import CustomDetector, CustomDetectorError, Pattern, from_spec
from tests.policy.test_detectors import PRESIDIO


def found(detector: CustomDetector, text: str) -> list[tuple[str, float]]:
    return [(text[d.start:d.end], d.confidence) for d in detector.find(text)]


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


def test_a_spec_builds_the_detector_it_describes() -> None:
    spec = CustomDetectorSpec(name="orgnr", patterns=(CustomPattern(regex=r"\b\d{3} ?\d{3} ?\d{3}\b", score=0.6),),
                              validator="no.orgnr", context=("organisasjonsnummer",), flags=("ignore_case",))
    detector = from_spec(spec)
    assert found(detector, "Organisasjonsnummer 988 077 917 og 988 077 918") == [("988 077 917", 0.95)]


def test_presidio_recognizers_build_detectors() -> None:
    zip_code, titles = [from_spec(spec) for spec in load_presidio(PRESIDIO, "recognizers.yaml")]
    assert zip_code.kinds == ("ZIP",) and zip_code.language == "de"
    assert found(zip_code, "zip code 12345-6789, then a few words later 54321") == [("12345-6789", 0.4), ("54321", 0.01)]
    assert titles.kinds == ("TITLE",)
    assert found(titles, "Dear mr. Smith and Dr. Who") == [("mr.", 1.0), ("Dr.", 1.0)]
