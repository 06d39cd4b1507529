"""Scalar types of the policy language: durations, byte sizes, addresses.

Each parser takes what an admin would naturally write in YAML and raises
ValueError with a message that names the bad value, so the loader can report
``file:line: key: message``.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

import netaddr
from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

# Matched against the stripped text: surrounding ``\s*`` next to the optional
# unit would backtrack quadratically on long runs of spaces.
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}

_SIZE = re.compile(r"(\d+)\s*(B|KiB|MiB|GiB|KB|MB|GB)?")
_SIZE_UNITS = {
    None: 1, "B": 1,
    "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30,
    "KB": 10**3, "MB": 10**6, "GB": 10**9,
}


def parse_duration(value: Any) -> float:
    """``30s``, ``250ms``, ``5m``, ``2h``, ``7d`` or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 250ms, 5m, 7d)")
    if isinstance(value, (int, float)):
        try:
            seconds = float(value)
        except OverflowError:  # an integer of hundreds of digits
            raise ValueError(f"{value!r} is not a finite duration") from None
    elif isinstance(value, str) and (m := _DURATION.fullmatch(value.strip())):
        seconds = float(m.group(1)) * _DURATION_UNITS[m.group(2)]
    else:
        raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 250ms, 5m, 7d)")
    if not math.isfinite(seconds):  # .nan, .inf, or a string of hundreds of digits
        raise ValueError(f"{value!r} is not a finite duration")
    if seconds < 0:
        raise ValueError(f"{value!r} is negative; a duration must be >= 0")
    return seconds


def parse_size(value: Any) -> int:
    """``16KiB``, ``10MiB``, ``1GiB``, ``500KB`` or a number of bytes."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size (use e.g. 16KiB, 10MiB, 1GiB)")
    if isinstance(value, int):
        size = value
    elif isinstance(value, str) and (m := _SIZE.fullmatch(value.strip())):
        if len(m.group(1)) > 30:  # int() refuses thousands of digits; no real size has 30
            raise ValueError(f"{value!r} is too large for a size")
        size = int(m.group(1)) * _SIZE_UNITS[m.group(2)]
    else:
        raise ValueError(f"{value!r} is not a size (use e.g. 16KiB, 10MiB, 1GiB)")
    if size < 0:
        raise ValueError(f"{value!r} is negative; a size must be >= 0")
    return size


def parse_address_set(text: str) -> netaddr.IPSet:
    """One address, CIDR network or dash range (``10.0.0.5-10.0.0.40``).

    IPv4 and IPv6 are both accepted; a range must not mix them.
    """
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not an IPv4 or IPv6 address, network or range")
    raw = text.strip()
    try:
        if "-" in raw:
            first, _, last = raw.partition("-")
            start, end = netaddr.IPAddress(first.strip()), netaddr.IPAddress(last.strip())
            if start.version != end.version:
                raise ValueError(f"{text!r} mixes IPv4 and IPv6")
            if start > end:
                raise ValueError(f"{text!r} is an empty range (start after end)")
            return netaddr.IPSet(netaddr.IPRange(start, end))
        if "/" in raw:
            return netaddr.IPSet([netaddr.IPNetwork(raw, flags=netaddr.NOHOST)])
        return netaddr.IPSet([netaddr.IPAddress(raw)])
    except (netaddr.AddrFormatError, TypeError, ValueError) as exc:
        if isinstance(exc, ValueError) and str(exc).startswith(repr(text)):
            raise
        kind = "network" if "/" in raw else "range" if "-" in raw else "address"
        raise ValueError(f"{text!r} is not an IPv4 or IPv6 {kind}") from None


def is_address_literal(text: str) -> bool:
    """True when ``text`` looks like an address, network or range rather than a list name."""
    # The part before the first ':' or '.' is hex only, so the match is linear
    # (overlapping classes there backtrack quadratically on long hostile input).
    return bool(re.match(r"^[0-9A-Fa-f]*[:.][0-9A-Fa-f:./\-\s%]*$", text.strip()))


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$"},
            ],
            "description": "Duration: seconds as a number, or 250ms, 30s, 5m, 2h, 7d",
        }
    ),
]

ByteSize = Annotated[
    int,
    BeforeValidator(parse_size),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0},
                {"type": "string", "pattern": r"^\s*\d+\s*(B|KiB|MiB|GiB|KB|MB|GB)?\s*$"},
            ],
            "description": "Size: bytes as an integer, or 16KiB, 10MiB, 1GiB, 500KB",
        }
    ),
]


#: A name in the policy (an ip list, a route, a rule): it labels metrics and logs.
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,62}$")


def check_address_ref(value: str) -> str:
    """An address/network/range literal, or the name of an ``ip_lists`` entry."""
    if is_address_literal(value):
        parse_address_set(value)
    elif not NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is neither an IPv4/IPv6 address, network or range nor a list name"
        )
    return value.strip()


def check_name(value: str) -> str:
    if not NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid name (letters, digits, '_', '.', '-'; starts with a letter)"
        )
    return value


AddressRef = Annotated[str, AfterValidator(check_address_ref)]
Name = Annotated[str, AfterValidator(check_name)]
