"""Issue formatting and the wording of validation errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.policy.errors import Issue, PolicyError, describe, format_issues, format_path, show
from gateway.policy.schema import Policy


@pytest.mark.parametrize(
    ("loc", "text"),
    [
        ((), ""),
        (("listen", "port"), "listen.port"),
        (("firewall", "rules", 2, "allow", 1), "firewall.rules[2].allow[1]"),
        (("ip_lists", "office.v4", 0), "ip_lists.office.v4[0]"),
        (("ip_lists", "my office"), "ip_lists['my office']"),
        (("x" * 100,), "x" * 57 + "..."),
    ],
)
def test_format_path(loc: tuple[str | int, ...], text: str) -> None:
    assert format_path(loc) == text


def test_issue_format_leaves_out_what_does_not_apply() -> None:
    assert str(Issue("a.yaml", 3, ("listen", "port"), "bad")) == "a.yaml:3: listen.port: bad"
    assert str(Issue("a.yaml", 3, (), "bad")) == "a.yaml:3: bad"
    assert str(Issue("a.yaml", 0, (), "bad")) == "a.yaml: bad"


def test_policy_error_sorts_by_file_then_line() -> None:
    err = PolicyError([Issue("b.yaml", 1, (), "4"), Issue("a.yaml", 9, (), "2"), Issue("a.yaml", 2, (), "1"), Issue("a.yaml", 9, (), "3")])
    assert [issue.message for issue in err.issues] == ["1", "2", "3", "4"]
    assert format_issues(err) == str(err) == "a.yaml:2: 1\na.yaml:9: 2\na.yaml:9: 3\nb.yaml:1: 4"


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "null"), (True, "true"), (3.0, "3"), (2.5, "2.5"), ("a'b", '"a\'b"'), ({}, "a mapping"), ([1], "a list"), ("x" * 99, repr("x" * 57 + "..."))],
)
def test_show(value: object, text: str) -> None:
    assert show(value) == text


def messages(data: object) -> list[str]:
    with pytest.raises(ValidationError) as info:
        Policy.model_validate(data)
    return [describe(error, show(error["input"])) for error in info.value.errors()]


def test_describe_words_pydantic_errors_for_operators() -> None:
    assert messages({"listen": {"port": 1.5, "hots": "x"}, "logging": {"client_ip": "hash"}, "routes": "x",
                     "upstream": {"url": "http://h"}}) == [
        "expected an integer, got 1.5",
        "unknown key 'hots' (did you mean 'host'?)",
        "expected a list, got 'x'",
        "must be one of 'full', 'truncated', 'hashed', got 'hash'",
    ]


def test_describe_strips_the_value_error_prefix() -> None:
    assert messages({"upstream": {"url": "x"}}) == ["'x' is not an http:// or https:// URL with a host"]
