"""The ``notifications`` policy section: personal content hidden in outbound e-mail.

A helpdesk's notification ("there is a new reply on your case") is relayed
through the gateway, which decides per recipient with the first matching rule
whether it passes unchanged, is replaced by a neutral template with a signed
link to the case, or is refused.
"""

from __future__ import annotations

import importlib.util
import re
import string
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from .schema_base import Model
from .units import AddressRef, ByteSize, Duration, Name

Action = Literal["hide", "pass", "block"]
SubjectMode = Literal["template", "case_id_only", "keep"]

#: Placeholders a template may use; anything else in braces is a policy error.
PLACEHOLDERS = frozenset({"case_id", "recipient_name", "link"})

_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
_DOMAIN_GLOB = re.compile(r"^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?$|^\*$")


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"{value!r} is not a regular expression: {exc}") from None
    return value


def _check_address_pattern(value: str) -> str:
    """``user@example.com``, ``@example.com`` / ``example.com`` (a domain), or ``*.example.com``."""
    text = value.strip().lower()
    local, at, domain = text.rpartition("@")
    if not _DOMAIN_GLOB.fullmatch(domain if at else text) or (at and local and not _local_part_ok(local)):
        raise ValueError(f"{value!r} is not an address, a domain or a domain glob like *.example.com")
    return text


def _local_part_ok(local: str) -> bool:
    return all(ch.isalnum() or ch in "!#$%&'*+-/=?^_`{|}~." for ch in local)


def placeholders_of(template: str) -> set[str]:
    """The ``{name}`` placeholders of a template; ValueError for bad braces."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"bad braces in template ({exc}); write {{{{ and }}}} for literal braces") from None
    names = set()
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in PLACEHOLDERS or spec or conversion:
            known = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
            raise ValueError(f"unknown placeholder {{{field}}}; a template may use {known}")
        names.add(field)
    return names


def _check_template(value: str) -> str:
    placeholders_of(value)
    return value


Pattern = Annotated[str, AfterValidator(_check_regex)]
AddressPattern = Annotated[str, AfterValidator(_check_address_pattern)]
TemplateText = Annotated[str, AfterValidator(_check_template)]


class TemplateTexts(Model):
    """The neutral message in one language. Placeholders: {case_id}, {recipient_name}, {link}."""

    subject: TemplateText = Field(description="Subject line. Required.")
    text: TemplateText = Field(description="The text/plain body. Required.")
    html: TemplateText | None = Field(
        None, description="The text/html alternative (placeholder values are HTML-escaped). Absent: text only."
    )
    push_title: TemplateText | None = Field(None, description="A push notification's title. Absent: the subject.")
    push_body: TemplateText | None = Field(
        None, description="A push notification's text (short; no {link}: a push opens the app). Absent: the "
        "text's first paragraph.",
    )

    @field_validator("subject")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\n" in value or "\r" in value:
            raise ValueError("a subject is one line")
        return value


class Template(TemplateTexts):
    """A neutral message, with optional translations chosen by the original's Content-Language."""

    languages: dict[str, TemplateTexts] = Field(
        default_factory=dict, description="Per language tag (nb, de, fr-CA). Absent: the texts above for all."
    )

    @field_validator("languages")
    @classmethod
    def _check_languages(cls, value: dict[str, TemplateTexts]) -> dict[str, TemplateTexts]:
        for tag in value:
            if not _LANGUAGE.fullmatch(tag):
                raise ValueError(f"{tag!r} is not a language tag (nb, de, fr-CA)")
        return {tag.lower(): texts for tag, texts in value.items()}


class Audience(Model):
    """A named group of recipients (``agents``, ``customers``) by address or domain."""

    addresses: tuple[AddressPattern, ...] = Field(
        min_length=1, description="Addresses, domains (example.com) or domain globs (*.example.com). Required."
    )


class NotificationRule(Model):
    """Which messages a rule is for, and what happens to them. Every condition given must hold."""

    name: Name = Field(description="Names the rule in metrics and logs. Required, unique.")
    recipients: tuple[AddressPattern, ...] | None = Field(
        None, description="The recipient is one of these addresses, domains or domain globs. Absent: any."
    )
    audience: Name | None = Field(None, description="The recipient is in this audience. Absent: any.")
    sender: tuple[AddressPattern, ...] | None = Field(
        None, description="The envelope sender is one of these. Absent: any."
    )
    subject: Pattern | None = Field(
        None, description="A regular expression searched in the decoded subject, e.g. '\\\\[support-\\\\d+\\\\]' "
        "or '\\\\((Opened|Updated)\\\\)'. Absent: any.",
    )
    action: Action = Field(description="hide (neutral template), pass (unchanged) or block (refused). Required.")
    template: Name | None = Field(None, description="For hide: the template. Absent: the template 'default'.")
    subject_line: SubjectMode = Field(
        "template",
        description="For hide: template (the template's subject), case_id_only (the case tag as the helpdesk wrote "
        "it, then the template's subject) or keep (the original subject; it may carry personal data). "
        "Absent: template.",
    )
    shadow: bool = Field(False, description="Decide and count only; the next matching rule acts. Absent: false.")


class CaseId(Model):
    """How the case (ticket) id is found in a message."""

    pattern: Pattern = Field(
        "\\[(?P<case_id>[A-Za-z0-9_.-]+-\\d+)\\]",
        description="A regular expression with a group named case_id. Absent: a tag like [support-12].",
    )
    search: Literal["subject", "body", "both"] = Field(
        "both", description="Where to look: the subject, the text body, or the subject first. Absent: both."
    )

    @field_validator("pattern")
    @classmethod
    def _named_group(cls, value: str) -> str:
        if "case_id" not in re.compile(value).groupindex:
            raise ValueError("the pattern needs a group named case_id: (?P<case_id>...)")
        return value


class CaseLink(Model):
    """The link to the case in a neutral message: signed and expiring, bound to the case and recipient."""

    find: Pattern | None = Field(
        None, description="A regular expression for the helpdesk's case URL in the original body "
        "(e.g. 'https://help\\\\.example\\\\.com/helpdesk/view/\\\\?ticket=[^\\\\s\"<>]+'). Absent: use url.",
    )
    url: str | None = Field(
        None, description="The case URL built from {case_id}, used when find finds nothing. Absent: find only.",
    )
    base: str = Field(description="The gateway's public base URL, where /_l/ tokens are served. Required.")
    ttl: Duration | None = Field(None, gt=0, description="Token lifetime. Absent: links.ttl.")
    recipient_salt: str | None = Field(
        None, repr=False,
        description="Secret that keys the recipient binding (${ENV} or ${file:...}); stable across key "
        "rotations. Absent: tokens are bound to the case only.",
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None:
            names = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
            if names - {"case_id"}:
                raise ValueError("the case URL may use {case_id} only")
            if not value.startswith(("https://", "http://")):
                raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    @field_validator("base")
    @classmethod
    def _check_base(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", value):
            raise ValueError(f"{value!r} is not an http(s) base URL like https://help.example.com")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _found_somehow(self) -> CaseLink:
        if self.find is None and self.url is None:
            raise ValueError("give find (the case URL in the original) or url (built from {case_id}), or both")
        return self


class ChannelListen(Model):
    """Where a notification channel (the SMTP relay, the egress listener) listens."""

    host: str = Field("127.0.0.1", description="Address to bind; an internal one. Absent: 127.0.0.1.")
    port: int = Field(ge=0, le=65535, description="Port (0: any free port). Required.")


class SmtpUpstream(Model):
    """The real smarthost that relayed messages go to."""

    host: str = Field(description="Host name or address. Required.")
    port: int = Field(25, ge=1, le=65535, description="Absent: 25.")
    tls: Literal["none", "starttls", "implicit"] = Field(
        "starttls", description="none, starttls (required, verified) or implicit (SMTPS, port 465). Absent: starttls."
    )
    tls_ca: str | None = Field(None, description="A private CA (PEM text, e.g. ${file:ca.pem}). Absent: system CAs.")
    username: str | None = Field(None, description="AUTH user (a reference). Absent: no AUTH.")
    password: str | None = Field(None, repr=False, description="AUTH password: ${ENV} or ${file:...}. Absent: no AUTH.")
    timeout: Duration = Field(
        30.0, gt=0, description="Per SMTP command to the smarthost, the message's DATA included. Absent: 30s."
    )

    @model_validator(mode="after")
    def _auth_pairs(self) -> SmtpUpstream:
        if (self.username is None) != (self.password is None):
            raise ValueError("give both username and password, or neither")
        return self


class SmtpRelay(Model):
    """The SMTP listener the helpdesk uses as its smarthost."""

    listen: ChannelListen = Field(description="Where the relay listens. Required.")
    upstream: SmtpUpstream = Field(description="The real smarthost. Required.")
    allow: tuple[AddressRef, ...] = Field(
        min_length=1, description="Client addresses, networks or ip_lists names allowed to send. Required: "
        "the relay is never open.",
    )
    hostname: str | None = Field(None, description="The name in the greeting. Absent: the machine's name.")
    max_message_bytes: ByteSize = Field(
        25 * 1024 * 1024, gt=0, description="Largest message accepted (advertised as SIZE; 552 beyond). Absent: 25MiB."
    )
    max_recipients: int = Field(100, ge=1, le=10000, description="Per message (452 beyond). Absent: 100.")
    max_connections: int = Field(100, ge=1, description="Concurrent client connections (421 beyond). Absent: 100.")
    command_timeout: Duration = Field(
        60.0, gt=0, description="Idle time allowed between the client's commands. Absent: 60s."
    )


#: Providers the egress listener knows, each one module of gateway/notify/providers.
Provider = Literal["sendgrid", "mailgun", "postmark", "ses", "sparkpost", "fcm", "expo", "webpush", "apns"]


_SES_CREDENTIALS = frozenset({"access_key_id", "secret_access_key", "session_token", "region"})


def botocore_installed() -> bool:
    return importlib.util.find_spec("botocore") is not None


class EgressRoute(Model):
    """One provider API behind the egress listener: the helpdesk's SDK is pointed at ``prefix``."""

    provider: Provider = Field(description="Which API shape the requests have. Required.")
    upstream: str = Field(description="The provider's real base URL, e.g. https://api.sendgrid.com. Required.")
    prefix: str | None = Field(None, description="Path prefix on the egress listener; / takes every path no "
                               "longer prefix takes (SDKs that drop the base URL's path, as postmarker does). "
                               "Absent: /<provider>/.")
    max_body_bytes: ByteSize | None = Field(
        None, gt=0, description="Largest request body (413 beyond). Absent: 10MiB (30MiB for mailgun and ses)."
    )
    tls_ca: str | None = Field(None, description="A private CA for the upstream (PEM, e.g. ${file:ca.pem}). "
                               "Absent: the system's CAs.")
    data_keys: tuple[str, ...] = Field(
        (), description="Push: the data keys kept (e.g. ticket_id); every other data value is dropped. Absent: none.",
    )
    push_mode: Literal["neutral", "id_only"] = Field(
        "neutral", description="Push (fcm, expo, apns): neutral (the template's push texts, data cut to "
        "data_keys) or id_only (the template's push texts, and data only {case_id, token}: the case id and its "
        "signed link token, for an app that loads the content itself). Absent: neutral.",
    )
    web_push: Literal["drop_payload", "block", "allow"] = Field(
        "drop_payload", description="webpush: the payload is end-to-end encrypted and cannot be read: forward "
        "without it (the app fetches the content), refuse (403), or allow it unread. Absent: drop_payload.",
    )
    credentials: dict[str, str] = Field(
        default_factory=dict, repr=False, validate_default=True,
        description="ses: access_key_id, secret_access_key (references), optional session_token, and region, "
        "to re-sign every request with SigV4; apns: cert and key (PEM references), the provider certificate the "
        "gateway presents to Apple (certificate authentication). Absent: none.",
    )

    @field_validator("upstream")
    @classmethod
    def _check_upstream(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^/\s?#]+", value.rstrip("/")):
            raise ValueError(f"{value!r} is not a base URL like https://api.sendgrid.com (no path)")
        return value.rstrip("/")

    @field_validator("prefix")
    @classmethod
    def _check_prefix(cls, value: str | None) -> str | None:
        if value is not None and value != "/" and not re.fullmatch(r"/[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/", value):
            raise ValueError(f"{value!r} is not a path prefix like /sendgrid/ (starts and ends with '/')")
        return value

    @field_validator("credentials")
    @classmethod
    def _check_credentials(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        if info.data.get("provider") != "ses":
            return value
        missing = [key for key in ("access_key_id", "secret_access_key", "region") if not value.get(key)]
        if missing:
            raise ValueError(f"ses re-signs every request with SigV4: give {', '.join(missing)}")
        unknown = sorted(set(value) - _SES_CREDENTIALS)
        if unknown:
            raise ValueError(f"unknown {', '.join(unknown)}: ses takes {', '.join(sorted(_SES_CREDENTIALS))}")
        if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-[0-9]+", value["region"]):
            raise ValueError(f"region {value['region']!r} is not an AWS region like eu-west-1")
        if not botocore_installed():
            raise ValueError("ses signs requests with botocore, which is not installed: "
                             "pip install 'privacy-gateway[ses]'")
        return value

    @property
    def path_prefix(self) -> str:
        return self.prefix or f"/{self.provider}/"


class ApnsListen(ChannelListen):
    """The HTTP/2 listener for Apple's push API (the apns route): APNs speaks HTTP/2 only."""

    tls: Literal["tls", "h2c"] = Field(
        "tls", description="tls (HTTP/2 over TLS, ALPN h2; needs cert and key) or h2c (cleartext HTTP/2 with prior "
        "knowledge, for a client on the same host or cluster network). Absent: tls.",
    )
    cert: str | None = Field(None, description="The listener's certificate chain (PEM, e.g. ${file:apns.pem}).")
    key: str | None = Field(None, repr=False, description="Its private key (PEM, e.g. ${file:apns.key}).")

    @model_validator(mode="after")
    def _tls_material(self) -> ApnsListen:
        if self.tls == "tls" and (self.cert is None or self.key is None):
            raise ValueError("tls: tls needs cert and key (or tls: h2c)")
        return self


class Egress(Model):
    """The egress listener the helpdesk's mail and push SDKs are pointed at."""

    listen: ChannelListen = Field(description="Where it listens: an internal address. Required.")
    allow: tuple[AddressRef, ...] = Field(
        min_length=1, description="Client addresses, networks or ip_lists names (403 for others). Required.",
    )
    routes: tuple[EgressRoute, ...] = Field(min_length=1, description="One per provider API. Required.")
    timeout: Duration = Field(30.0, gt=0, description="For the provider's whole answer. Absent: 30s.")
    apns_listen: ApnsListen | None = Field(
        None, description="Where the HTTP/2 listener for the apns route listens. Required with an apns route.",
    )

    @model_validator(mode="after")
    def _apns_listener(self) -> Egress:
        apns = [route for route in self.routes if route.provider == "apns"]
        if len(apns) > 1:
            raise ValueError("one apns route at most: its listener (apns_listen) serves one upstream")
        if apns and self.apns_listen is None:
            raise ValueError("an apns route needs apns_listen: APNs speaks HTTP/2 only")
        if self.apns_listen is not None and not apns:
            raise ValueError("apns_listen without an apns route")
        return self

    @field_validator("routes")
    @classmethod
    def _distinct_prefixes(cls, value: tuple[EgressRoute, ...]) -> tuple[EgressRoute, ...]:
        seen: set[str] = set()
        for route in value:
            if route.path_prefix in seen:
                raise ValueError(f"two routes share the prefix {route.path_prefix!r}")
            seen.add(route.path_prefix)
        return value


class Notifications(Model):
    enabled: bool = Field(False, description="Absent: false (no relay, nothing rewritten).")
    audiences: dict[Name, Audience] = Field(default_factory=dict, description="Named recipient groups. Absent: none.")
    rules: tuple[NotificationRule, ...] = Field(
        (), description="First match wins (shadow rules only count). Absent: default_action for every message."
    )
    default_action: Action = Field("hide", description="When no rule matches. Absent: hide.")
    templates: dict[Name, Template] = Field(
        default_factory=dict, description="Neutral messages by name; 'default' is used when a rule names none. "
        "Required when anything is hidden.",
    )
    case_id: CaseId = Field(default_factory=CaseId)
    link: CaseLink | None = Field(None, description="The signed case link. Required when a template uses {link}.")
    on_error: Literal["defer", "reject"] = Field(
        "defer", description="A message that cannot be rewritten safely (no case id for a template that needs "
        "one, unreadable MIME): defer (451: the helpdesk keeps it and retries; a message that never becomes "
        "readable stays in its queue) or reject (554: the helpdesk gives up and may bounce). Never relayed "
        "unrewritten. Absent: defer.",
    )
    smtp: SmtpRelay | None = Field(None, description="The SMTP relay. Absent: no relay.")
    egress: Egress | None = Field(None, description="The provider API listener. Absent: none.")

    @model_validator(mode="after")
    def _consistent(self) -> Notifications:
        # Names a rule refers to (audience, template) are checked by the loader, at the line that names them.
        problems = []
        for rule in self.rules:
            if rule.action == "hide" and rule.template is None and "default" not in self.templates:
                problems.append(f"rule {rule.name!r} hides with the template 'default': define templates.default")
        if self.default_action == "hide" and "default" not in self.templates and self.enabled:
            problems.append("default_action hides messages: define templates.default")
        uses_link = any("link" in placeholders_of(t) for tpl in self.templates.values() for t in _texts(tpl))
        if uses_link and self.link is None:
            problems.append("a template uses {link}: define notifications.link")
        if self.enabled and self.smtp is None and self.egress is None:
            problems.append("enabled without a channel: define notifications.smtp or notifications.egress")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _texts(template: Template) -> list[str]:
    texts = [template.subject, template.text, template.html or ""]
    for translation in (template, *template.languages.values()):
        texts += [translation.push_title or "", translation.push_body or ""]
    for translation in template.languages.values():
        texts += [translation.subject, translation.text, translation.html or ""]
    return texts
