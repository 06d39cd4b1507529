"""The policy: typed models (``schema``), loading and validation (``loader``)."""

from .errors import Issue, PolicyError, format_issues
from .jsonschema import policy_json_schema, render_json_schema
from .loader import LoadedPolicy, load_policy, load_policy_text

__all__ = [
    "Issue",
    "LoadedPolicy",
    "PolicyError",
    "format_issues",
    "load_policy",
    "load_policy_text",
    "policy_json_schema",
    "render_json_schema",
]
