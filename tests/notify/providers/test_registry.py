"""Every provider the policy language names has its module."""

from __future__ import annotations

from typing import get_args

from gateway.notify.providers.registry import PROVIDERS
from gateway.policy.notifications import Provider


def test_each_registered_provider_is_named_by_the_policy_language() -> None:
    assert set(PROVIDERS) <= set(get_args(Provider))
    for name, cls in PROVIDERS.items():
        assert cls.name == name and cls.operations
