"""A key given by reference in a policy: an id and a secret of at least 32 bytes."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from ..lib.keyring import MIN_SECRET_BYTES, decode_secret
from .schema_base import Model

_KID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class KeyRef(Model):
    """A key. Give the secret by reference: ``${ENV_VAR}`` or ``${file:path}``."""

    id: str = Field(description="Key id, written with what it signs so rotation works. Required.")
    secret: str = Field(
        description="At least 32 bytes: base64:/hex:/raw: prefixed, base64 text, or a 32+ character "
        "passphrase. Required; never write it inline in a shared file.",
        repr=False,
    )

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _KID.fullmatch(value):
            raise ValueError(f"{value!r} is not a key id (1-64 of letters, digits, '.', '_', '-')")
        return value

    @field_validator("secret")
    @classmethod
    def _check_secret(cls, value: str) -> str:
        try:
            long_enough = len(decode_secret(value)) >= MIN_SECRET_BYTES
        except ValueError:
            long_enough = False
        if not long_enough:
            # The message must not echo the secret.
            raise ValueError(f"the secret must decode to at least {MIN_SECRET_BYTES} bytes")
        return value
