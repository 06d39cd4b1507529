"""The ``consent`` policy section: cookie consent enforced on the wire."""

from __future__ import annotations

from pydantic import Field

from .schema_base import Model


class Consent(Model):
    enabled: bool = Field(False, description="Absent: false (no cookie is touched).")
