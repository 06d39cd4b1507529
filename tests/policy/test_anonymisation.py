"""The ``anonymisation`` policy model: defaults, schedules, and what is refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.policy.anonymisation import Anonymisation

KEY = {"id": "p1", "secret": "raw:" + "a-pseudonym-key-for-tests-000000001"}


def test_absent_means_off_with_bounded_batches() -> None:
    section = Anonymisation()
    assert section.enabled is False and section.schedules == () and section.batch_size == 100


def test_a_schedule_loads() -> None:
    section = Anonymisation.model_validate({"keys": [KEY], "schedules": [{"name": "old", "older_than": "365d"}]})
    assert section.schedules[0].older_than == 365 * 86400 and section.schedules[0].action == "anonymise"


@pytest.mark.parametrize("doc", [
    {"schedules": [{"name": "old", "older_than": "0s"}]},
    {"batch_size": 0},
    {"action": "shred"},
])
def test_what_cannot_work_is_refused(doc: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Anonymisation.model_validate({"keys": [KEY], **doc})
