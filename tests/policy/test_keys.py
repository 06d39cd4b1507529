"""KeyRef: the shared shape of signing and consent keys given by reference."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.policy.consent import ConsentKey
from gateway.policy.keys import KeyRef
from gateway.policy.links import LinkKey

GOOD = "raw:" + "k" * 32


@pytest.mark.parametrize("model", [KeyRef, LinkKey, ConsentKey])
def test_a_good_key(model: type[KeyRef]) -> None:
    key = model(id="k-2025.1", secret=GOOD)
    assert key.id == "k-2025.1"
    assert GOOD not in repr(key)  # the secret never shows in a repr


@pytest.mark.parametrize("secret", ["raw:" + "k" * 31, "short", "hex:abcd", "base64:!!!"])
def test_short_or_undecodable_secrets_are_refused_without_echo(secret: str) -> None:
    with pytest.raises(ValidationError) as info:
        KeyRef(id="k1", secret=secret)
    (error,) = info.value.errors()
    assert error["loc"] == ("secret",)
    assert error["msg"] == "Value error, the secret must decode to at least 32 bytes"  # no echo of the value


@pytest.mark.parametrize("kid", ["", "k 1", "k1\n", "k" * 65, "ключ"])
def test_bad_key_ids(kid: str) -> None:
    with pytest.raises(ValidationError, match="is not a key id"):
        KeyRef(id=kid, secret=GOOD)
