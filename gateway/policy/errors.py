"""Policy problems, pinned to a file, a line and a key path, in plain words.

An issue prints as ``file:line: path: message`` (like a compiler's, so editors
and CI logs can jump to it), e.g.::

    policies/site.yaml:14: firewall.rules[2].allow[1]: '10.0.0.300/8' is not an IPv4 or IPv6 network

The line is left out when a problem concerns a whole file (unreadable, too
large) and the path when it concerns no key (invalid YAML). ``describe`` turns
pydantic's validation errors into messages written for an operator.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from .schema import Policy

Loc = tuple[str | int, ...]

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")
_MAX_SHOWN = 60

_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_parsing_size": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "string_unicode": "a string",
    "list_type": "a list",
    "tuple_type": "a list",
    "iterable_type": "a list",
    "dict_type": "a mapping",
    "mapping_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}
_BOUNDS = {
    "greater_than": (">", "gt"),
    "greater_than_equal": (">=", "ge"),
    "less_than": ("<", "lt"),
    "less_than_equal": ("<=", "le"),
}


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem. ``line`` is 1-based, 0 when it concerns the whole file."""

    file: str
    line: int
    path: Loc
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return ": ".join(part for part in (where, format_path(self.path), self.message) if part)


class PolicyError(Exception):
    """An invalid policy. ``issues`` holds every problem found, sorted by file and line."""

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues: tuple[Issue, ...] = tuple(sorted(issues, key=lambda i: (i.file, i.line)))
        super().__init__("\n".join(map(str, self.issues)))

    def __reduce__(self) -> tuple[type[PolicyError], tuple[tuple[Issue, ...]]]:
        # The default would rebuild from the formatted text; keep the issues.
        return (PolicyError, (self.issues,))


def format_issues(err: PolicyError) -> str:
    """Every issue on its own line, in file and line order."""
    return "\n".join(map(str, err.issues))


def format_path(loc: Loc) -> str:
    """``('firewall', 'rules', 2, 'allow', 1)`` -> ``firewall.rules[2].allow[1]``."""
    out = ""
    for step in loc:
        if isinstance(step, int):
            out += f"[{step}]"
        elif _PLAIN_KEY.match(step):
            out += f".{_cut(step)}" if out else _cut(step)
        else:
            out += f"[{_cut(step)!r}]"
    return out


def show(value: object) -> str:
    """A short rendering of a bad value, in YAML's words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        try:
            text = str(value)
        except ValueError:  # an integer past Python's digit limit (YAML hex can make one)
            return "a number of thousands of digits"
        return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."
    if isinstance(value, str):
        return repr(_cut(value))
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def describe(error: ErrorDetails, shown: str) -> str:
    """A message for one pydantic error; ``shown`` renders the bad input."""
    kind = error["type"]
    loc = tuple(error["loc"])
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "required key missing"
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    if kind == "literal_error":
        return f"{_one_of(loc, ctx)}, got {shown}"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error") or error["msg"].removeprefix("Value error, "))
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {shown}"
    if kind in _BOUNDS:
        op, key = _BOUNDS[kind]
        return f"must be {op} {show(ctx.get(key))}, got {shown}"
    msg = error["msg"]
    return msg[:1].lower() + msg[1:]


def _unknown_key(loc: Loc) -> str:
    key = str(loc[-1])
    model = _type_at(loc[:-1])
    valid = list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []
    close = difflib.get_close_matches(key, valid, n=1)
    if close:
        return f"unknown key {_cut(key)!r} (did you mean {close[0]!r}?)"
    if valid:
        return f"unknown key {_cut(key)!r} (valid keys: {', '.join(valid)})"
    return f"unknown key {_cut(key)!r}"


def _one_of(loc: Loc, ctx: dict[str, Any]) -> str:
    tp = _type_at(loc)
    if get_origin(tp) is not Literal:
        return f"must be {ctx.get('expected', 'one of the allowed values')}"
    choices = [repr(c) if isinstance(c, str) else show(c) for c in get_args(tp)]
    return f"must be {choices[0]}" if len(choices) == 1 else f"must be one of {', '.join(choices)}"


def _type_at(loc: Loc) -> Any:
    """The declared type at ``loc`` in the Policy model, or None when off the model."""
    tp: Any = Policy
    for step in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(step) if isinstance(step, str) else None
            if field is None:
                return None
            tp = field.annotation
            continue
        origin, args = get_origin(tp), get_args(tp)
        if origin is tuple and isinstance(step, int) and args:
            tp = args[0]
        elif origin is dict and isinstance(step, str) and len(args) == 2:
            tp = args[1]
        else:
            return None
    return _unwrap(tp)


def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated[...]`` and ``X | None`` down to X."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin is Union or origin is types.UnionType:
            rest = [a for a in get_args(tp) if a is not type(None)]
            if len(rest) != 1:
                return tp
            tp = rest[0]
        else:
            return tp


def _cut(text: str) -> str:
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."
