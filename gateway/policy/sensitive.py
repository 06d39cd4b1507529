"""The ``sensitive`` policy section: personal data in request bodies flagged, masked or refused; marked on pages."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, field_validator, model_validator

from .detectors import BUILTIN_KINDS, CustomDetectorSpec, Kind, PresidioDocument, presidio_specs
from .keys import KeyRef
from .schema_base import Model
from .units import Name

KINDS = BUILTIN_KINDS

Action = Literal["flag", "mask", "reject"]
MaskStyle = Literal["last4", "token"]
ContentKind = Literal["form", "multipart", "json", "text"]


def _check_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{value!r} must start with '/'")
    return value


def _check_glob(value: str) -> str:
    if not value or len(value) > 200:
        raise ValueError(f"{value!r} is not a field name glob (1-200 characters)")
    return value


FieldGlob = Annotated[str, AfterValidator(_check_glob)]


class SensitiveKey(KeyRef):
    """A key for ``mask: token``: the token is a keyed hash, the same value gives the same token."""


class _Scope(Model):
    """Where a rule applies and to which kinds: what rules and page rules have in common."""

    name: Name = Field(
        description="Rule name, used in logs and as the metric label. Required."
    )
    routes: tuple[str, ...] | None = Field(
        None, description="Route names (routes[].name, or default) this rule applies on. Not together with path. "
        "Absent: path decides; both absent: every request.",
    )
    path: Annotated[str, AfterValidator(_check_path)] | None = Field(
        None, description="Path prefix or glob, as in firewall rules. Absent: routes decide.",
    )
    detectors: tuple[Kind, ...] | None = Field(
        None, description="Kinds of data (no_fnr, card, email..., or a custom detector's name). Absent: every kind. "
        "Empty: an error.",
    )

    @field_validator("detectors")
    @classmethod
    def _check_detectors(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and not value:
            raise ValueError("must not be empty (leave it out for every kind)")
        return value

    @model_validator(mode="after")
    def _check_where(self) -> Self:
        if self.routes is not None and self.path is not None:
            raise ValueError("give either routes or path, not both")
        if self.routes is not None and not self.routes:
            raise ValueError("routes: must not be empty (leave it out for every route)")
        return self


class SensitiveRule(_Scope):
    """Where to look in request bodies and what to do with what is found. For each value found, the first
    rule whose routes (or path), fields and detectors all fit decides; a shadow rule is counted and skipped."""

    fields: tuple[FieldGlob, ...] = Field(
        ("*",),
        description="Field name globs (form fields, JSON keys: the innermost key, or the dotted path when the "
        "glob has a dot). Absent: every field (and a text/plain body). Empty: an error.",
    )
    action: Action = Field(
        description="flag (X-Privacy-Flags header upstream), mask (value replaced), reject (422). Required."
    )
    mask: MaskStyle = Field("last4", description="With action mask: last4 (all but the last 4 characters "
                            "become *) or token ([kind:8 hex], keyed with sensitive.keys). Absent: last4.")
    shadow: bool = Field(False, description="Report-only: count what would be done, change nothing. Absent: false.")

    @field_validator("fields")
    @classmethod
    def _check_fields(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("must not be empty (leave it out for every field)")
        return value


class SensitivePage(_Scope):
    """Pages (an agent's ticket view) whose shown text is scanned: values found are highlighted or masked,
    and a notice says what the page holds. For each value, the first page rule that fits decides."""

    mark: Literal["highlight", "mask"] = Field(
        "highlight", description="highlight (the value stays, inside <mark>) or mask (the value is replaced, as "
        "rules' mask). Absent: highlight.",
    )
    mask: MaskStyle = Field("last4", description="With mark: mask: last4 or token. Absent: last4.")
    notice: bool = Field(True, description="Insert a notice before </body>: 'This page contains 1 national ID "
                         "number, 2 card numbers.' Absent: true.")
    shadow: bool = Field(False, description="Report-only: count what would be marked, change nothing. Absent: false.")


class SensitiveField(Model):
    """A field whose whole value is masked or refused whatever it holds (a password, an ID number field)."""

    field: FieldGlob = Field(description="Field name glob, as in rules. Required.")
    action: Literal["mask", "reject"] = Field(description="mask or reject. Required.")
    mask: MaskStyle = Field("last4", description="With action mask: last4 or token. Absent: last4.")
    shadow: bool = Field(False, description="Report-only. Absent: false.")


class Sensitive(Model):
    enabled: bool = Field(False, description="Absent: false (request bodies and pages are not read).")
    floor: float = Field(0.8, ge=0.0, le=1.0, description="Confidence below which a detection is ignored. Absent: 0.8.")
    rules: tuple[SensitiveRule, ...] = Field((), description="Checked in order per value. Absent or empty: none.")
    sensitive_fields: tuple[SensitiveField, ...] = Field(
        (), description="Fields always masked or refused, on every route, before the rules. Absent or empty: none."
    )
    content_types: tuple[ContentKind, ...] = Field(
        ("form", "multipart", "json", "text"),
        description="Bodies read: form (application/x-www-form-urlencoded), multipart (multipart/form-data, "
        "text fields only), json (application/json, *+json), text (text/plain). Others pass unread. "
        "Absent: all four. Empty: an error.",
    )
    pages: tuple[SensitivePage, ...] = Field(
        (), description="HTML pages whose shown text is scanned (agents' views). Absent or empty: none."
    )
    detectors: tuple[CustomDetectorSpec, ...] = Field(
        (), description="Custom detectors: regex, validator, context words. Absent or empty: none."
    )
    presidio: tuple[PresidioDocument, ...] = Field(
        (), description="Microsoft Presidio recognizer documents ({recognizers: [...]}), inline or as text "
        "(\"${file:recognizers.yaml}\"): each recognizer is a detector named by its supported_entity. "
        "Absent or empty: none.",
    )
    keys: tuple[SensitiveKey, ...] = Field((), description="Token keys; the first one makes tokens. "
                                           "Required (non-empty) when a rule or field masks with token.")

    @field_validator("content_types")
    @classmethod
    def _check_content_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("must not be empty (leave it out for all four, or set enabled: false)")
        return value

    @model_validator(mode="after")
    def _check_keys(self) -> Sensitive:
        ids = [key.id for key in self.keys]
        if len(set(ids)) != len(ids):
            raise ValueError("keys: key ids must be unique")
        styles: list[tuple[str, str]] = [(r.action, r.mask) for r in self.rules]
        styles += [(f.action, f.mask) for f in self.sensitive_fields] + [(p.mark, p.mask) for p in self.pages]
        tokens = ("mask", "token") in styles
        if tokens and not self.keys:
            raise ValueError("keys: a key is required when a rule, page or sensitive field masks with token")
        return self

    def custom_detectors(self) -> tuple[CustomDetectorSpec, ...]:
        """The policy's own detectors, then those of its Presidio documents."""
        return self.detectors + tuple(spec for document in self.presidio for spec in presidio_specs(document))

    def custom_kinds(self) -> tuple[str, ...]:
        """The kinds the custom and Presidio detectors report, in order."""
        return tuple(dict.fromkeys(spec.name for spec in self.custom_detectors()))
