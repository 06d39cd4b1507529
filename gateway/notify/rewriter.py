"""One notification and its recipients in, what is sent on out: the part every channel shares.

``decide`` and ``neutral`` are channel-neutral (the provider APIs use them on
payload fields); ``plan`` applies them to a MIME message for the SMTP relay.

Each recipient gets the decision of the first matching rule. ``pass``
recipients share one unchanged copy; each ``hide`` recipient gets a neutral
message of their own (their name, a link bound to them); one ``block``
refuses the whole message. What cannot be rewritten safely (an unreadable
message, a template whose case id or link cannot be found) is refused as the
policy's ``on_error`` says: never relayed as it came.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..lib.keyring import KeyRing
from ..links.signing import LinkSigner, recipient_hash
from ..policy.links import Links
from ..policy.notifications import Action, CaseLink, Notifications
from .compose import KEPT_FIELDS, compose
from .message import Notification, UnreadableMessage
from .rules import Decision, RuleSet
from .templates import CompiledTemplate

_KEPT_WITH_SUBJECT = KEPT_FIELDS | {"subject"}


class Refusal(Exception):
    """The message is not relayed: an SMTP-style ``code`` and ``text``, a ``reason`` word for metrics."""

    def __init__(self, code: int, text: str, reason: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Delivery:
    """One copy to relay: to these recipients, these bytes."""

    recipients: tuple[str, ...]
    data: bytes
    rule: str
    action: Action


class Content(Protocol):
    """What the rules and templates read of a notification, whatever channel it came by."""

    @property
    def subject(self) -> str: ...

    @property
    def language(self) -> str | None: ...

    @property
    def names(self) -> dict[str, str]: ...  # address (lower case) -> display name

    def texts(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class ApiContent:
    """A notification from a provider API's payload: its fields already decoded."""

    subject: str
    bodies: tuple[str, ...] = ()
    language: str | None = None
    names: dict[str, str] = field(default_factory=dict)

    def texts(self) -> tuple[str, ...]:
        return self.bodies


@dataclass(frozen=True, slots=True)
class Neutral:
    """The neutral texts of one hidden copy; ``subject`` None keeps the original subject."""

    subject: str | None
    text: str
    html: str | None
    case_id: str | None
    push_title: str = ""
    push_body: str = ""


@dataclass(frozen=True, slots=True)
class Plan:
    deliveries: tuple[Delivery, ...]
    decisions: tuple[Decision, ...]  # one per recipient, in envelope order


class _CaseLink:
    """Finds or builds the case URL and signs it for one recipient."""

    def __init__(self, link: CaseLink, links: Links) -> None:
        if not links.keys:
            raise ValueError("notifications.link signs with the links key ring: define links.keys")
        ring = KeyRing.from_config([(k.id, k.secret) for k in links.keys], links.current_key or links.keys[0].id)
        self._signer = LinkSigner(ring, ttl=link.ttl or links.ttl, leeway=links.leeway)
        self._find = re.compile(link.find) if link.find is not None else None
        self._url = link.url
        self._prefix = link.base + links.endpoint
        self._salt = link.recipient_salt.encode("utf-8") if link.recipient_salt else None

    def url_in(self, notification: Content) -> str | None:
        if self._find is not None:
            for text in notification.texts():
                m = self._find.search(text)
                if m is not None:
                    return m.group(0)
        return None

    def make(self, notification: Content, case_id: str | None, recipient: str) -> str:
        return self._prefix + self.token(notification, case_id, recipient)

    def token(self, notification: Content, case_id: str | None, recipient: str) -> str:
        url = self.url_in(notification)
        if url is None and self._url is not None and case_id is not None:
            url = self._url.format(case_id=case_id)
        if url is None:
            raise Refusal(0, "no case link found in the message", "no_link")
        bound = recipient_hash(recipient, self._salt) if self._salt is not None and recipient else None
        try:
            token = self._signer.sign(url, case=case_id, recipient=bound)
        except ValueError:
            raise Refusal(0, "the case link cannot be signed", "bad_link") from None
        return token


class Notifier:
    """The compiled ``notifications`` section: rules, templates, case ids and links."""

    def __init__(self, config: Notifications, links: Links) -> None:
        self.rules = RuleSet(config)
        self._templates = {name: CompiledTemplate(t) for name, t in config.templates.items()}
        self._case = re.compile(config.case_id.pattern)
        self._case_in = config.case_id.search
        self._link = _CaseLink(config.link, links) if config.link is not None else None
        if config.on_error == "defer":
            self._error_code, self._error_text = 451, "4.3.0 Message cannot be rewritten now; try again later"
        else:
            self._error_code, self._error_text = 554, "5.6.0 Message cannot be rewritten safely; refused"

    def decide(self, recipients: Sequence[str], sender: str, subject: str) -> tuple[Decision, ...]:
        """Each recipient's decision; Refusal (550, ``blocked``) when a rule blocks any of them."""
        decisions = tuple(self.rules.decide(r, sender, subject) for r in recipients)
        if any(d.action == "block" for d in decisions):
            raise Refusal(550, "5.7.1 Message refused by policy", "blocked")
        return decisions

    def neutral(self, content: Content, decision: Decision, recipient: str) -> Neutral:
        """The neutral texts for one recipient of a hidden message; Refusal as ``on_error`` says."""
        try:
            return self._neutral(content, decision, recipient)
        except (UnreadableMessage, Refusal) as exc:
            raise self.failure(exc.reason) from None

    def case_token(self, content: Content, case_id: str) -> str:
        """The signed token of the case's link, bound to the case only (a push goes to a device, not an
        address): what an id-only push carries for the app; Refusal as ``on_error`` says."""
        if self._link is None:
            raise self.failure("no_link")
        try:
            return self._link.token(content, case_id, "")
        except Refusal as exc:
            raise self.failure(exc.reason) from None

    def failure(self, reason: str) -> Refusal:
        """The refusal of a message that cannot be rewritten safely (``on_error``)."""
        return Refusal(self._error_code, self._error_text, reason)

    def plan(self, raw: bytes, sender: str, recipients: Sequence[str]) -> Plan:
        """What to relay for the MIME message ``raw``; Refusal when nothing may go."""
        try:
            notification = Notification(raw)
        except UnreadableMessage as exc:
            raise self.failure(exc.reason) from None
        decisions = self.decide(recipients, sender, notification.subject)
        deliveries: list[Delivery] = []
        passed = tuple(r for r, d in zip(recipients, decisions) if d.action == "pass")
        if passed:
            first = next(d for d in decisions if d.action == "pass")
            deliveries.append(Delivery(passed, raw, first.rule, "pass"))
        for recipient, decision in zip(recipients, decisions):
            if decision.action == "hide":
                texts = self.neutral(notification, decision, recipient)
                kept = _KEPT_WITH_SUBJECT if texts.subject is None else KEPT_FIELDS
                data = compose(notification.raw_fields(kept), texts.subject, texts.text, texts.html,
                               notification.language)
                deliveries.append(Delivery((recipient,), data, decision.rule, "hide"))
        return Plan(tuple(deliveries), decisions)

    def _neutral(self, content: Content, decision: Decision, recipient: str) -> Neutral:
        template = self._templates[decision.template]
        case_match = self._case_match(content, decision)
        case_id = case_match.group("case_id") if case_match is not None else None
        values = {"case_id": case_id or "", "recipient_name": content.names.get(recipient.lower(), "")}
        if case_id is None and "case_id" in template.needs:
            raise Refusal(0, "no case id found", "no_case_id")
        if "link" in template.needs:
            if self._link is None:  # the policy requires notifications.link then; never send "{link}" unfilled
                raise Refusal(0, "no case link configured", "no_link")
            values["link"] = self._link.make(content, case_id, recipient)
        rendered = template.render(content.language, values)
        subject: str | None = rendered.subject
        if decision.subject_line == "keep":
            subject = None
        elif decision.subject_line == "case_id_only":
            in_subject = case_match is not None and case_match.string == content.subject
            tag = " ".join(case_match.group(0).split()) if case_match is not None and in_subject else ""
            subject = f"{tag} {rendered.subject}" if tag else rendered.subject
        return Neutral(subject, rendered.text, rendered.html, case_id, rendered.push_title, rendered.push_body)

    def _case_match(self, notification: Content, decision: Decision) -> re.Match[str] | None:
        if decision.case_pattern is not None:
            m = decision.case_pattern.search(notification.subject)
            if m is not None and m.group("case_id"):
                return m
        if self._case_in in ("subject", "both"):
            m = self._case.search(notification.subject)
            if m is not None:
                return m
        if self._case_in in ("body", "both"):
            for text in notification.texts():
                m = self._case.search(text)
                if m is not None:
                    return m
        return None
