"""The ``requests`` policy section: the self-service portal for data-subject requests (GDPR Art. 12, 15-21).

The portal takes a request (access, portability, rectification, erasure,
objection or restriction, withdrawal of consent), verifies the requester's
e-mail address with a signed, single-use link, and answers within the month
of Art. 12(3). Its mail goes through the smarthost the SMTP relay uses
(``notifications.smtp.upstream``): one outbound mail configuration for the
whole gateway, checked by :func:`check_mail_route` at the line that needs it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal, cast, get_args

from pydantic import Field, field_validator, model_validator

from .helpdesks import HelpdeskSettings
from .keys import KeyRef
from .schema_base import Model
from .units import Duration

if TYPE_CHECKING:
    from .errors import Issue
    from .yamlsource import Node

RequestType = Literal["access", "portability", "rectification", "erasure", "objection", "withdraw_consent"]
REQUEST_TYPES: tuple[RequestType, ...] = cast("tuple[RequestType, ...]", get_args(RequestType))
#: Types whose answer is an export the gateway assembles (and may release on its own).
EXPORT_TYPES = frozenset({"access", "portability"})
Approval = Literal["manual", "automatic"]
MailKind = Literal["verify", "receipt", "extended", "refused", "fulfilled", "export"]
#: Languages the portal has its own texts for (pages and mails).
Language = Literal["en", "nb"]
LANGUAGES: tuple[Language, ...] = ("en", "nb")

_PREFIX = re.compile(r"^/[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$")
_EMAIL = re.compile(r"[^@\s<>\"']{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}")
_NAME_AND_ADDRESS = re.compile(r"(?P<name>[^<>\r\n]*)<(?P<address>[^<>\s]+)>")


class RequestsKey(KeyRef):
    """Signs the portal's links and CSRF tokens, keys the e-mail hashes, and encrypts what the store keeps
    (e-mail addresses, free text, exports). The first key writes; every key reads, so keys rotate."""


class ApiToken(KeyRef):
    """A bearer token for the operators' API on the admin listener; its id is who the audit log names."""


class RateLimit(Model):
    requests: int = Field(ge=1, le=100_000, description="Submissions allowed per window. Required.")
    per: Duration = Field(gt=0, description="The window (fixed, e.g. 1h or 1d). Required.")


class RequestsRateLimits(Model):
    """Submissions of the form allowed, counted in the store (shared by every replica); more get a 429 page."""

    per_client: RateLimit = Field(
        default_factory=lambda: RateLimit(requests=10, per=3600.0),
        description="Per client address (IPv6: per /64). Absent: 10 per hour.",
    )
    per_email: RateLimit = Field(
        default_factory=lambda: RateLimit(requests=3, per=86400.0),
        description="Per e-mail address (counted by its keyed hash). Absent: 3 per day.",
    )


class RequestsRetry(Model):
    """How a request's pending work (its helpdesk case, its mails, its export) is retried after a failure."""

    initial: Duration = Field(30.0, gt=0, description="Wait after the first failure; doubled after each "
                              "further one. Absent: 30s.")
    max: Duration = Field(3600.0, gt=0, description="The longest wait between two tries. Absent: 1h.")


class RequestsMail(Model):
    """The portal's mail: sent through ``notifications.smtp.upstream`` (the smarthost)."""

    sender: str = Field(alias="from", description="The From address, e.g. 'Example AS <privacy@example.org>'. "
                        "Required.")
    subjects: dict[MailKind, dict[str, str]] = Field(
        default_factory=dict, description="Subject lines by mail (verify, receipt, extended, refused, fulfilled, "
        "export) and language, replacing the built-in ones; {request_id} is replaced. Absent: built-in.",
    )

    @field_validator("sender")
    @classmethod
    def _check_sender(cls, value: str) -> str:
        match = _NAME_AND_ADDRESS.fullmatch(value.strip())
        address = match.group("address") if match else value.strip()
        if not _EMAIL.fullmatch(address) or "\n" in value or "\r" in value:
            raise ValueError(f"{value!r} is not an address or 'Name <address>'")
        return value.strip()

    @field_validator("subjects")
    @classmethod
    def _check_subjects(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for kind, texts in value.items():
            for language, text in texts.items():
                if language not in LANGUAGES:
                    raise ValueError(f"{kind}: {language!r}: the portal speaks {', '.join(LANGUAGES)}")
                if not text.strip() or "\n" in text or "\r" in text or len(text) > 200:
                    raise ValueError(f"{kind}.{language}: a subject is one line of 1-200 characters")
                if "{" in text.replace("{request_id}", "") or "}" in text.replace("{request_id}", ""):
                    raise ValueError(f"{kind}.{language}: the only placeholder is {{request_id}}")
        return value


class Requests(Model):
    enabled: bool = Field(False, description="Absent: false (no portal; the prefix is forwarded like any path).")
    prefix: str = Field("/_privacy/requests", description="Where the portal is served (never forwarded). "
                        "Absent: /_privacy/requests.")
    public_url: str | None = Field(
        None, description="The gateway's public base URL, e.g. https://help.example.com: links in the portal's "
        "mails start with it (never with the Host a request names). Required when enabled.",
    )
    languages: tuple[Language, ...] = Field(
        LANGUAGES, description="Languages offered, by Accept-Language or the page's switch; the first is the "
        "fallback. Absent: en, nb.",
    )
    types: tuple[RequestType, ...] = Field(
        REQUEST_TYPES, description="Request types offered on the form: access, portability, rectification, "
        "erasure, objection (objection or restriction), withdraw_consent. Absent: all.",
    )
    keys: tuple[RequestsKey, ...] = Field((), description="The portal's key ring. Required (non-empty) when "
                                          "enabled.")
    mail: RequestsMail | None = Field(None, description="The portal's mail. Required when enabled.")
    verification_ttl: Duration = Field(
        86400.0, gt=0, description="How long the link that verifies a request works; an unverified request is "
        "then forgotten. Absent: 24h.",
    )
    due_days: int = Field(30, ge=1, le=31, description="Days to answer a verified request (Art. 12(3): one "
                          "month; operators may extend it by up to 61 more days, with a reason). Absent: 30.")
    rate_limits: RequestsRateLimits = Field(default_factory=RequestsRateLimits)
    approval: dict[RequestType, Approval] = Field(
        default_factory=dict, description="Per type: manual (an operator approves) or automatic (access and "
        "portability only: the export is released once assembled). Absent: manual.",
    )
    export_ttl: Duration = Field(7 * 86400.0, gt=0, description="How long an export's download link works; "
                                 "the export is deleted once downloaded or expired. Absent: 7d.")
    status_link_ttl: Duration = Field(400 * 86400.0, gt=0, description="How long the status link of a receipt "
                                      "works. Absent: 400d.")
    retry: RequestsRetry = Field(default_factory=RequestsRetry)
    helpdesk: HelpdeskSettings | None = Field(
        None, description="The helpdesk where each verified request is opened as a case (its queue: the "
        "data-subject requests' queue), and whose cases an export reads. Required when enabled.",
    )
    api_tokens: tuple[ApiToken, ...] = Field(
        (), description="Bearer tokens of the operators' API on the admin listener (/requests). Absent or "
        "empty: every API call is refused (401); the CLI still works.",
    )

    @field_validator("prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if not _PREFIX.fullmatch(value):
            raise ValueError(f"{value!r} must be a path like /_privacy/requests (no trailing '/')")
        return value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", value):
            raise ValueError(f"{value!r} is not an http(s) base URL like https://help.example.com")
        return None if value is None else value.rstrip("/")

    @field_validator("languages", "types")
    @classmethod
    def _check_unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("must not be empty (leave it out for all)")
        if len(set(value)) != len(value):
            raise ValueError("lists an entry twice")
        return value

    @field_validator("approval")
    @classmethod
    def _check_approval(cls, value: dict[str, str]) -> dict[str, str]:
        for kind, approval in value.items():
            if approval == "automatic" and kind not in EXPORT_TYPES:
                raise ValueError(f"{kind}: only access and portability can be automatic (the gateway assembles "
                                 "their export); an operator approves the others once the helpdesk has acted")
        return value

    @model_validator(mode="after")
    def _check_enabled(self) -> Requests:
        ids = [key.id for key in self.keys]
        if len(set(ids)) != len(ids):
            raise ValueError("keys: key ids must be unique")
        tokens = [token.id for token in self.api_tokens]
        if len(set(tokens)) != len(tokens):
            raise ValueError("api_tokens: token ids must be unique")
        if self.enabled:
            missing = [name for name, value in (("keys", self.keys), ("mail", self.mail),
                                                ("public_url", self.public_url), ("helpdesk", self.helpdesk))
                       if not value]
            if missing:
                raise ValueError(f"an enabled portal needs {', '.join(missing)} (or set enabled: false)")
        return self

    def approval_of(self, kind: str) -> Approval:
        return self.approval.get(kind, "manual")  # type: ignore[call-overload, no-any-return]


def check_mail_route(root: Node) -> list[Issue]:
    """An enabled portal sends its mail through ``notifications.smtp.upstream``: it must be defined."""
    from .errors import Issue

    def child(node: Node | None, dotted: str) -> Node | None:
        for key in dotted.split("."):
            if node is None or not isinstance(node.value, dict):
                return None
            node = node.value.get(key)
        return node

    enabled = child(root, "requests.enabled")
    if enabled is None or enabled.value is not True:
        return []
    if child(root, "notifications.smtp.upstream") is not None:
        return []
    at = child(root, "requests.mail") or enabled
    path = ("requests", "mail") if at is not enabled else ("requests", "enabled")
    return [Issue(at.file, at.line, path, "the portal's mail goes through the smarthost: define "
                  "notifications.smtp (its upstream is the smarthost)")]
