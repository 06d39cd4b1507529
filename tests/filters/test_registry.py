"""The filter registry: every filter is a Filter with a unique name that is a policy section."""

from __future__ import annotations

import inspect

from gateway.filters.base import Filter
from gateway.filters.firewall import Firewall
from gateway.filters.registry import FILTER_CLASSES
from gateway.metrics import Metrics
from gateway.policy.schema import Policy
from tests.support.policy import make_policy


def test_known_filters_in_request_order() -> None:
    assert FILTER_CLASSES[0] is Firewall  # access control runs before anything looks at content


def test_every_entry_is_a_concrete_filter() -> None:
    for cls in FILTER_CLASSES:
        assert issubclass(cls, Filter) and cls is not Filter
        assert not inspect.isabstract(cls)
        assert isinstance(cls.name, str) and cls.name


def test_names_are_unique_policy_sections() -> None:
    names = [cls.name for cls in FILTER_CLASSES]
    assert len(set(names)) == len(names)
    for name in names:
        assert name in Policy.model_fields, f"filter {name!r} has no policy section of that name"


def test_every_filter_builds_from_the_default_policy() -> None:
    policy = make_policy()
    metrics = Metrics()
    for cls in FILTER_CLASSES:
        if cls.enabled_in(policy):
            assert cls(policy, metrics).name == cls.name


def test_every_filter_can_be_disabled() -> None:
    # Each filter section has `enabled`, and enabled: false means the filter is not built.
    for cls in FILTER_CLASSES:
        policy = make_policy({cls.name: {"enabled": False}})
        assert cls.enabled_in(policy) is False
