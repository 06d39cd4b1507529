"""The published JSON Schema of the policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.policy import policy_json_schema, render_json_schema
from gateway.policy.schema import Policy

COMMITTED = Path(__file__).resolve().parents[2] / "policies" / "policy.schema.json"


def test_committed_schema_is_up_to_date() -> None:
    assert COMMITTED.read_text() == render_json_schema(), (
        "policies/policy.schema.json is stale; regenerate it with:\n"
        "    privacy-gateway schema > policies/policy.schema.json"
    )


def test_schema_declares_its_dialect_and_title() -> None:
    schema = policy_json_schema()
    assert list(schema)[:2] == ["$schema", "title"]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "privacy-gateway policy"
    assert json.loads(render_json_schema()) == schema


def test_schema_covers_the_model_and_forbids_unknown_keys() -> None:
    schema = policy_json_schema()
    assert set(schema["properties"]) == set(Policy.model_fields)
    assert schema["additionalProperties"] is False
    assert all(model.get("additionalProperties") is False for model in schema["$defs"].values())
    rule = schema["$defs"]["FirewallRule"]
    assert "name" in rule["required"]
    assert rule["properties"]["name"]["description"].startswith("Rule name")


def test_durations_and_sizes_accept_numbers_and_strings() -> None:
    limits = policy_json_schema()["$defs"]["Limits"]["properties"]
    assert [alt["type"] for alt in limits["body_timeout"]["anyOf"]] == ["number", "string"]
    assert [alt["type"] for alt in limits["max_body_bytes"]["anyOf"]] == ["integer", "string"]


def test_the_regenerate_command_prints_the_committed_schema(capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.__main__ import main

    assert main(["schema"]) == 0
    assert capsys.readouterr().out == COMMITTED.read_text()
