"""The portal's form as submitted: read, checked, and either a submission or the fields with their errors.

The form is posted URL-encoded (the page's own form, no file). Every field is
checked and all errors are given back at once, keyed by field, as words the
pages translate (``error_email``...); what was typed goes back into the form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

_EMAIL = re.compile(r"[^@\s<>\"'(),;:\\\[\]]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,63}")
MAX_EMAIL = 254
MAX_REFERENCE = 100
MAX_TEXT = 4000
MAX_FIELDS = 12


@dataclass(frozen=True, slots=True)
class Submission:
    kind: str
    email: str
    reference: str
    text: str
    language: str


@dataclass(frozen=True, slots=True)
class Checked:
    """The form read: a submission when every field is right; else the errors by field."""

    values: dict[str, str]
    token: str
    language: str
    submission: Submission | None = None
    errors: dict[str, str] = field(default_factory=dict)


def normal_email(email: str) -> str:
    """The address as typed, trimmed, with its domain in lower case (the local part is the mailbox's own)."""
    local, _, domain = email.strip().rpartition("@")
    return f"{local}@{domain.lower()}"


def read_form(body: bytes, types: tuple[str, ...], languages: tuple[str, ...]) -> Checked:
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        pairs = []
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)  # the first of repeated fields, as a browser sends one
    language = fields.get("lang", "")
    language = language if language in languages else languages[0]
    values = {name: fields.get(name, "") for name in ("type", "email", "reference", "text")}
    errors: dict[str, str] = {}
    if values["type"] not in types:
        errors["type"] = "error_type"
    email = values["email"].strip()
    if len(email) > MAX_EMAIL or not _EMAIL.fullmatch(email):
        errors["email"] = "error_email"
    reference = values["reference"].strip()
    if len(reference) > MAX_REFERENCE or not reference.isprintable():
        errors["reference"] = "error_reference"
    text = values["text"].replace("\r\n", "\n").strip()
    if len(text) > MAX_TEXT or "\x00" in text:
        errors["text"] = "error_text"
    token = fields.get("token", "")
    if errors:
        return Checked(values, token, language, errors=errors)
    return Checked(values, token, language, Submission(values["type"], normal_email(email), reference, text,
                                                       language))
