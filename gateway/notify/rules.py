"""Which rule a notification falls under, per recipient (pure: compiled once per policy)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..policy.notifications import Action, NotificationRule, Notifications, SubjectMode


class AddressMatcher:
    """Addresses, domains and ``*.domain`` globs, matched case-insensitively.

    ``user@example.com`` is that address; ``example.com`` (or ``@example.com``)
    every address at that domain; ``*.example.com`` every address at a
    subdomain (not at example.com itself, as NGINX reads ``*.``); ``*`` any.
    """

    __slots__ = ("_addresses", "_any", "_domains", "_suffixes")

    def __init__(self, patterns: Iterable[str]) -> None:
        self._addresses: set[str] = set()
        self._domains: set[str] = set()
        suffixes: list[str] = []
        self._any = False
        for pattern in patterns:
            text = pattern.strip().lower().rstrip(".")
            if text == "*":
                self._any = True
            elif "@" in text and not text.startswith("@"):
                self._addresses.add(text)
            elif text.startswith("*."):
                suffixes.append(text[1:])
            else:
                self._domains.add(text.lstrip("@"))
        self._suffixes = tuple(suffixes)

    def __call__(self, address: str) -> bool:
        if self._any:
            return True
        text = address.strip().lower()
        if text in self._addresses:
            return True
        domain = text.rpartition("@")[2].rstrip(".")
        return domain in self._domains or (bool(self._suffixes) and domain.endswith(self._suffixes))


@dataclass(frozen=True, slots=True)
class Decision:
    """What happens to one recipient's copy; ``shadowed`` names the shadow rules that matched first."""

    rule: str
    action: Action
    template: str
    subject_line: SubjectMode
    case_pattern: re.Pattern[str] | None  # the rule's subject regex, when it names a case_id group
    shadowed: tuple[tuple[str, Action], ...] = ()


class _Rule:
    __slots__ = ("config", "recipients", "sender", "subject")

    def __init__(self, config: NotificationRule, audiences: dict[str, AddressMatcher]) -> None:
        self.config = config
        matchers = []
        if config.recipients is not None:
            matchers.append(AddressMatcher(config.recipients))
        if config.audience is not None:
            matchers.append(audiences[config.audience])
        self.recipients = tuple(matchers)
        self.sender = AddressMatcher(config.sender) if config.sender is not None else None
        self.subject = re.compile(config.subject) if config.subject is not None else None

    def matches(self, recipient: str, sender: str, subject: str) -> bool:
        return (
            all(match(recipient) for match in self.recipients)
            and (self.sender is None or self.sender(sender))
            and (self.subject is None or self.subject.search(subject) is not None)
        )

    def decision(self, shadowed: tuple[tuple[str, Action], ...]) -> Decision:
        config = self.config
        pattern = self.subject if self.subject is not None and "case_id" in self.subject.groupindex else None
        return Decision(config.name, config.action, config.template or "default", config.subject_line, pattern,
                        shadowed)


class RuleSet:
    """The rules of a policy, compiled; ``decide`` is called once per recipient."""

    def __init__(self, config: Notifications) -> None:
        audiences = {name: AddressMatcher(a.addresses) for name, a in config.audiences.items()}
        self._rules = tuple(_Rule(rule, audiences) for rule in config.rules)
        self._default = Decision("default", config.default_action, "default", "template", None)

    def decide(self, recipient: str, sender: str, subject: str) -> Decision:
        shadowed: list[tuple[str, Action]] = []
        for rule in self._rules:
            if not rule.matches(recipient, sender, subject):
                continue
            if rule.config.shadow:
                shadowed.append((rule.config.name, rule.config.action))
                continue
            return rule.decision(tuple(shadowed))
        if shadowed:
            return Decision(self._default.rule, self._default.action, "default", "template", None, tuple(shadowed))
        return self._default
