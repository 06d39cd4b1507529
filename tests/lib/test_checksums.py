"""Check-digit validators by name."""

from __future__ import annotations

import pytest

from gateway.lib.checksums import UnknownValidator, resolve


@pytest.mark.parametrize(("name", "good", "bad"), [
    ("luhn", "4111 1111 1111 1111", "4111 1111 1111 1112"),
    ("mod97", "NO9386011117947", "NO9486011117947"),
    ("mod11", "86011117947", "86011117948"),
    ("no.orgnr", "988 077 917", "988 077 918"),
    ("iban", "NO9386011117947", "NO9486011117947"),
])
def test_validators(name: str, good: str, bad: str) -> None:
    validate = resolve(name)
    assert validate(good) and not validate(bad)




@pytest.mark.parametrize("name", ["crc32", "no.nosuchthing", "../os", "os.path", "Luhn"])
def test_an_unknown_validator_is_a_clear_error(name: str) -> None:
    with pytest.raises(UnknownValidator, match="unknown validator"):
        resolve(name)


def test_a_stdnum_module_that_raises_on_odd_input_says_invalid() -> None:
    assert resolve("isbn")("\x00" * 3) is False
