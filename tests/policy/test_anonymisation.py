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


def _policy(anonymisation: dict[str, object], **sections: object) -> str:
    import yaml

    return yaml.safe_dump({"upstream": {"url": "http://127.0.0.1:9"}, "anonymisation": anonymisation, **sections})


HELPDESK = {"adapter": "django-helpdesk", "url": "http://127.0.0.1:9/", "username": "gw", "password": "${H}",
            "queue": "3"}
ENV = {"P": KEY["secret"], "H": "a-helpdesk-token-000000000000000001"}


def test_the_helpdesk_is_the_sections_own_or_else_the_portals() -> None:
    from gateway.policy.loader import load_policy_text

    keys = [{"id": "p1", "secret": "${P}"}]
    own = load_policy_text(_policy({"enabled": True, "keys": keys, "helpdesk": HELPDESK}), "p.yaml", env=ENV).policy
    assert own.anonymisation_helpdesk is own.anonymisation.helpdesk and own.anonymisation.every == 3600
    portal = load_policy_text(_policy({"enabled": True, "keys": keys}, requests={"helpdesk": HELPDESK}), "p.yaml",
                              env=ENV).policy
    assert portal.anonymisation.helpdesk is None and portal.anonymisation_helpdesk is portal.requests.helpdesk


def test_enabled_without_any_helpdesk_is_an_error_naming_both_keys() -> None:
    from gateway.policy.loader import PolicyError, load_policy_text

    with pytest.raises(PolicyError) as caught:
        load_policy_text(_policy({"enabled": True, "keys": [{"id": "p1", "secret": "${P}"}]}), "p.yaml", env=ENV)
    assert "p.yaml:" in str(caught.value) and "anonymisation.helpdesk" in str(caught.value)
    assert "requests.helpdesk" in str(caught.value)
