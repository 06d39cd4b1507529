"""A detection names its kind and span, never the value; detectors satisfy the protocol."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.sensitive.base import Detection, Detector
from gateway.sensitive.scanner import builtin_detectors


def test_a_detection_is_frozen_and_holds_no_value() -> None:
    detection = Detection("card", 3, 19, 0.9)
    assert {f.name for f in dataclasses.fields(detection)} == {"kind", "start", "end", "confidence"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        detection.kind = "iban"  # type: ignore[misc]


def test_every_builtin_detector_follows_the_protocol() -> None:
    detectors: list[Detector] = list(builtin_detectors())
    kinds = [kind for detector in detectors for kind in detector.kinds]
    assert len(kinds) == len(set(kinds))  # one detector per kind
    assert {"no_fnr", "se_pnr", "fi_hetu", "dk_cpr", "card", "iban", "email", "phone"} <= set(kinds)
    for detector in detectors:
        assert list(detector.find("")) == []
