"""The policy's JSON Schema, so editors can complete and check policy files.

Generated from ``schema.Policy``; a copy is committed as
``policies/policy.schema.json``. Regenerate it after changing the models::

    privacy-gateway schema > policies/policy.schema.json

A YAML file opts in with a first line of
``# yaml-language-server: $schema=policy.schema.json``.
"""

from __future__ import annotations

import json
from typing import Any

from .schema import Policy

DIALECT = "https://json-schema.org/draft/2020-12/schema"
TITLE = "privacy-gateway policy"


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of what a policy file may contain."""
    generated = Policy.model_json_schema(mode="validation")
    generated.pop("title", None)
    return {"$schema": DIALECT, "title": TITLE, **generated}


def render_json_schema() -> str:
    """The schema as the committed file holds it: indented JSON, final newline."""
    return json.dumps(policy_json_schema(), indent=2) + "\n"
