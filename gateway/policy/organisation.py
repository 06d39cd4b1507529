"""The ``organisation`` policy section: who the controller is and how to reach its data protection officer.

GDPR Art. 13(1)(a)(b): the people whose data the helpdesk holds are told the
controller's identity and the DPO's contact wherever the gateway speaks to
them (the consent banner's settings, the link interstitial, the legal-basis
notices and pages).
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from .schema_base import Model

_EMAIL = re.compile(r"[^@\s<>\"']{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}")


def _printable(value: str, what: str, limit: int) -> str:
    if not value.strip() or len(value) > limit or not all(c.isprintable() or c == "\n" for c in value):
        raise ValueError(f"{what} must be 1-{limit} printable characters")
    return value.strip()


class Dpo(Model):
    """The data protection officer (Art. 37-39), or whoever answers privacy questions."""

    name: str | None = Field(None, description="Name or role (Data Protection Officer). Absent: not shown.")
    email: str = Field(description="E-mail address people write to about their data. Required.")
    phone: str | None = Field(None, description="Phone number. Absent: not shown.")
    address: str | None = Field(None, description="Postal address (lines separated by newlines). Absent: not shown.")

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str) -> str:
        if not _EMAIL.fullmatch(value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value

    @field_validator("name", "phone")
    @classmethod
    def _check_short(cls, value: str | None) -> str | None:
        return None if value is None else _printable(value, "the value", 200)

    @field_validator("address")
    @classmethod
    def _check_address(cls, value: str | None) -> str | None:
        return None if value is None else _printable(value, "address", 500)


class Organisation(Model):
    """The controller: shown on every page the gateway serves to visitors and customers."""

    name: str = Field(description="The organisation's name, as its privacy notice gives it. Required.")
    dpo: Dpo | None = Field(None, description="The data protection officer's contact. Absent: not shown "
                            "(the checklist warns).")
    privacy_notice_url: str | None = Field(
        None, description="The privacy notice: a path or an http(s) URL. Absent: no link.",
    )

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return _printable(value, "name", 200)

    @model_validator(mode="after")
    def _check_url(self) -> Organisation:
        url = self.privacy_notice_url
        if url is not None and (not url.startswith(("/", "https://", "http://")) or any(c.isspace() for c in url)):
            raise ValueError("privacy_notice_url must be a path or an http(s) URL")
        return self
