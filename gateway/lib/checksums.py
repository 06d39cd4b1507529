"""Check-digit validators by name: ``luhn``, ``mod97``, ``mod11``, or any python-stdnum module's ``is_valid``.

- ``luhn``: the Luhn check over the value's digits;
- ``mod97``: ISO 7064 mod 97-10 over its letters and digits (as IBANs);
- ``mod11``: weights 2, 3, 4, 5, 6, 7 repeating from the right, the last
  digit being ``11 - sum mod 11`` (11 gives 0, 10 is never valid), as in
  Norwegian account and organisation numbers;
- any python-stdnum module name (``no.orgnr``, ``se.orgnr``, ``isbn``).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable

Validator = Callable[[str], bool]


class UnknownValidator(ValueError):
    """No validator has this name."""


def _luhn(value: str) -> bool:
    digits = [int(c) for c in value if c.isdigit()]
    if len(digits) < 2:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _mod97(value: str) -> bool:
    chars = "".join(c for c in value.upper() if c.isascii() and c.isalnum())
    if len(chars) < 3:
        return False
    if not chars[:2].isdigit():  # IBAN-style: country and check digits go last
        chars = chars[4:] + chars[:4]
    return int("".join(str(int(c, 36)) for c in chars)) % 97 == 1


def _mod11(value: str) -> bool:
    digits = [int(c) for c in value if c.isdigit()]
    if len(digits) < 2:
        return False
    body, check = digits[:-1], digits[-1]
    total = sum(d * (2 + i % 6) for i, d in enumerate(reversed(body)))
    expected = (11 - total % 11) % 11
    return expected != 10 and expected == check


BUILTIN_VALIDATORS: dict[str, Validator] = {"luhn": _luhn, "mod97": _mod97, "mod11": _mod11}


def resolve(name: str) -> Validator:
    """The validator called ``name``; :class:`UnknownValidator` when there is none."""
    if name in BUILTIN_VALIDATORS:
        return BUILTIN_VALIDATORS[name]
    if not re.fullmatch(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*", name):
        raise UnknownValidator(f"unknown validator {name!r}")
    try:
        module = importlib.import_module(f"stdnum.{name}")
    except ImportError:
        module = None
    is_valid = getattr(module, "is_valid", None)
    if not callable(is_valid):
        raise UnknownValidator(
            f"unknown validator {name!r}: expected luhn, mod97, mod11 or a python-stdnum module such as no.orgnr"
        )

    def validate(value: str) -> bool:
        try:
            return bool(is_valid(value))
        except Exception:  # a stdnum module that raises on odd input: not a valid number
            return False

    return validate
