"""Policies built in code for unit tests: the required upstream filled in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.policy.schema import Policy

# Unit tests never connect to it; integration tests name their real upstream.
UPSTREAM_URL = "http://127.0.0.1:8081"


def make_policy(doc: Mapping[str, Any] | None = None) -> Policy:
    """``Policy.model_validate(doc)`` with ``upstream.url`` set unless ``doc`` names one."""
    data = dict(doc or {})
    data["upstream"] = {"url": UPSTREAM_URL, **data.get("upstream", {})}
    return Policy.model_validate(data)
