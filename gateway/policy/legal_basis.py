"""The ``legal_basis`` policy section: the basis recorded for each route that creates users or cases,
and active consent where that basis is consent (GDPR Art. 6, 7, 13, 30)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .consent import Texts
from .helpdesks import HelpdeskSettings
from .keys import KeyRef
from .schema_base import Model
from .units import Name

Basis = Literal["consent", "contract", "legitimate_interest", "legal_obligation"]
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-\[\]]{0,63}")
_PREFIX = re.compile(r"^/[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$")


def _check_field(value: str) -> str:
    if not _FIELD.fullmatch(value):
        raise ValueError(f"{value!r} is not a form field name (a letter or '_', then letters, digits, _ . - [ ])")
    return value


class LegalBasisKey(KeyRef):
    """Keys the e-mail hashes of records and the withdrawal cookie; the first one writes, every one reads."""


class LegalBasisRoute(Model):
    """A route that creates users or cases: its legal basis, its purpose, and the notice people are shown."""

    name: Name = Field(description="Used in records, logs and metric labels. Required.")
    path: str = Field(description="Where the form is submitted: a path, a prefix ending in '/', or a glob "
                      "(as in firewall rules). Required.")
    methods: tuple[str, ...] = Field(("POST",), description="Submission methods. Absent: POST.")
    pages: tuple[str, ...] | None = Field(
        None, description="Paths (prefix or glob) of the HTML pages that show the form; the consent checkbox is "
        "injected there. Absent: the submission path itself (GET).",
    )
    basis: Basis = Field(description="consent, contract, legitimate_interest or legal_obligation. Required.")
    purpose: str = Field(description="What the data is processed for, in a sentence. Required.")
    notice: Texts = Field(
        description="The notice by language (en, nb...), shown next to the checkbox (consent) or recorded as "
        "the information given (other bases); the first language is the fallback. Each version is recorded "
        "by its hash. Required (at least one language).",
    )
    consent_field: str = Field(
        "privacy_consent", description="Name of the injected checkbox (consent). Absent: privacy_consent.",
    )
    helpdesk_field: str | None = Field(
        None, description="Forward the consent to the helpdesk as this field (value: the notice version). "
        "Absent: the injected fields are removed before the helpdesk sees the request.",
    )
    record_field: str | None = Field(
        None, description="Also forward the id of the consent record as this field, so the helpdesk can match a "
        "later withdrawal (legal_basis.webhook) to the person. Absent: not forwarded.",
    )
    email_field: str | None = Field(
        None, description="The form field (or JSON key) with the person's e-mail address; recorded as a keyed "
        "hash, for lookup and withdrawal. Absent: recorded without one.",
    )
    shadow: bool = Field(False, description="Report-only: inject, record and count, but never refuse a "
                         "submission without consent. Absent: false.")

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"{value!r} must start with '/'")
        return value

    @field_validator("pages")
    @classmethod
    def _check_pages(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None:
            if not value:
                raise ValueError("must not be empty (leave it out for the submission path)")
            for page in value:
                if not page.startswith("/"):
                    raise ValueError(f"{page!r} must start with '/'")
        return value

    @field_validator("methods")
    @classmethod
    def _check_methods(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        upper = tuple(m.upper() for m in value)
        for method in upper:
            if method not in ("POST", "PUT", "PATCH"):
                raise ValueError(f"{method!r}: a submission is POST, PUT or PATCH")
        if not upper:
            raise ValueError("must not be empty (leave it out for POST)")
        return upper

    @field_validator("purpose")
    @classmethod
    def _check_purpose(cls, value: str) -> str:
        if not value.strip() or len(value) > 500:
            raise ValueError("must be a sentence of 1-500 characters")
        return value.strip()

    @field_validator("notice")
    @classmethod
    def _check_notice(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("give the notice in at least one language (notice: {en: ...})")
        return value

    @field_validator("consent_field", "helpdesk_field", "record_field", "email_field")
    @classmethod
    def _check_fields(cls, value: str | None) -> str | None:
        return None if value is None else _check_field(value)

    @model_validator(mode="after")
    def _check_consent(self) -> LegalBasisRoute:
        if self.basis != "consent" and self.helpdesk_field is not None:
            raise ValueError("helpdesk_field forwards a consent: only with basis: consent")
        if self.basis != "consent" and self.record_field is not None:
            raise ValueError("record_field forwards a consent record: only with basis: consent")
        forwarded = [f for f in (self.helpdesk_field, self.record_field) if f is not None]
        if self.consent_field in forwarded or len(set(forwarded)) != len(forwarded):
            raise ValueError("consent_field, helpdesk_field and record_field must be different fields")
        return self


class LegalBasis(Model):
    enabled: bool = Field(False, description="Absent: false (nothing is injected, enforced or recorded).")
    prefix: str = Field("/_privacy/legal-basis", description="Path of the withdrawal page (never forwarded). "
                        "Absent: /_privacy/legal-basis.")
    keys: tuple[LegalBasisKey, ...] = Field(
        (), description="Key ring for the records' e-mail hashes and the withdrawal cookie. Required (non-empty) "
        "when enabled.",
    )
    routes: tuple[LegalBasisRoute, ...] = Field(
        (), description="Routes that create users or cases, first match wins. Required (non-empty) when enabled.",
    )
    webhook: HelpdeskSettings | None = Field(
        None, description="Tell the helpdesk of each withdrawal: a signed POST (adapter: webhook) with the event "
        "consent.withdrawn, the record ids, route, purpose and times (never an address). Absent: not told; the "
        "withdrawal is recorded either way.",
    )

    @field_validator("prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if not _PREFIX.fullmatch(value):
            raise ValueError(f"{value!r} must be a path like /_privacy/legal-basis (no trailing '/')")
        return value

    @model_validator(mode="after")
    def _check_enabled(self) -> LegalBasis:
        if self.enabled and not self.routes:
            raise ValueError("routes: an enabled section needs at least one route (or set enabled: false)")
        if self.enabled and not self.keys:
            raise ValueError("keys: required when enabled (they key the records' e-mail hashes)")
        if self.webhook is not None and self.webhook.adapter != "webhook":
            raise ValueError("webhook: adapter must be webhook (a signed POST to the helpdesk)")
        ids = [key.id for key in self.keys]
        if len(set(ids)) != len(ids):
            raise ValueError("keys: key ids must be unique")
        return self
