"""The base of every policy model: unknown keys are errors and a loaded policy cannot change."""

from __future__ import annotations

import importlib

import pytest
from pydantic import BaseModel, ValidationError

from gateway.policy.links import LinkRule, Links
from gateway.policy.schema_base import Model


class Sample(Model):
    name: str
    count: int = 1
    tags: tuple[str, ...] = ()


def test_unknown_keys_are_forbidden() -> None:
    with pytest.raises(ValidationError) as info:
        Sample.model_validate({"name": "a", "nmae": "b"})
    assert [(e["type"], e["loc"]) for e in info.value.errors()] == [("extra_forbidden", ("nmae",))]
    with pytest.raises(ValidationError):
        Sample(name="a", extra=1)  # type: ignore[call-arg]


def test_instances_are_frozen() -> None:
    sample = Sample(name="a", tags=("x",))
    with pytest.raises(ValidationError) as info:
        sample.name = "b"  # type: ignore[misc]
    assert info.value.errors()[0]["type"] == "frozen_instance"
    with pytest.raises(ValidationError):
        setattr(sample, "count", 2)
    assert sample == Sample(name="a", tags=("x",))
    assert hash(sample) == hash(Sample(name="a", tags=("x",)))  # frozen models can be dict keys and set members
    assert sample.model_copy(update={"name": "b"}).name == "b" and sample.name == "a"


def test_strings_are_not_stripped() -> None:
    assert Sample(name=" padded ").name == " padded "


def test_a_loaded_links_section_cannot_be_changed() -> None:
    links = Links(rules=(LinkRule(hosts=("a.example",), action="keep"),))
    with pytest.raises(ValidationError):
        links.enabled = True  # type: ignore[misc]
    with pytest.raises(ValidationError):
        links.rules[0].action = "sign"  # type: ignore[misc]
    assert isinstance(links.rules, tuple) and isinstance(links.rules[0].hosts, tuple)


@pytest.mark.parametrize("module", ["gateway.policy.schema", "gateway.policy.links", "gateway.policy.consent"])
def test_every_policy_model_keeps_the_base_configuration(module: str) -> None:
    loaded = importlib.import_module(module)
    models = [
        obj for obj in vars(loaded).values()
        if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ == module
    ]
    assert models
    for model in models:
        assert issubclass(model, Model), model
        assert model.model_config.get("extra") == "forbid", model
        assert model.model_config.get("frozen") is True, model
