"""The IP firewall: per-route allow and deny lists, first matching rule decides.

A rule in shadow mode is evaluated, logged and counted, and then ignored: the
next rules (or the default) decide as if it were not there. Report-only must
never change what is enforced; a shadow allowlist in front of ``default: deny``
would otherwise open everything it matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..exchange import LocalReply
from ..http.addresses import AddressBook, AddressKey, AddressSet, address_key
from ..http.paths import normalize_host
from ..routing import Matcher
from .base import Filter

if TYPE_CHECKING:
    from ..exchange import Exchange
    from ..metrics import Metrics
    from ..policy.schema import FirewallRule, Policy
    from ..store import Store

NAME = "firewall"
DENIED_MESSAGE = "Access from your network is not allowed here."


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one rule (or the default) says about a request."""

    rule: str  # rule name, or "default"
    decision: Literal["allow", "deny"]
    mode: Literal["enforce", "shadow"]
    status: int | None  # the status a deny answers with; None for allow


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The enforced verdict, and the shadow rules' verdicts met before it (in order)."""

    verdict: Verdict
    shadow: tuple[Verdict, ...] = ()


class _Outcome:
    """A verdict with what acting on it needs, built once: counter child, reply."""

    __slots__ = ("counter", "reply", "verdict")

    def __init__(self, verdict: Verdict, metrics: Metrics) -> None:
        self.verdict = verdict
        self.counter = metrics.batches.counter(
            metrics.firewall_decisions.labels(verdict.rule, verdict.decision, verdict.mode)
        )
        # A 404 denial hides the area: it must read as an ordinary "Not Found" (conceal).
        self.reply = (
            LocalReply(
                status=verdict.status, reason="firewall_denied", message=DENIED_MESSAGE,
                conceal=verdict.status == 404,
            )
            if verdict.decision == "deny" and verdict.mode == "enforce" and verdict.status is not None
            else None
        )

    def record(self, ex: Exchange) -> None:
        ex.decide(NAME, self.verdict.decision, self.verdict.rule, self.verdict.mode)
        self.counter.inc()


class _Rule:
    __slots__ = ("allow", "allowed", "denied", "deny", "matcher", "shadow")

    def __init__(self, rule: FirewallRule, book: AddressBook, default_status: int, metrics: Metrics) -> None:
        self.matcher = Matcher(rule)
        self.shadow = rule.shadow
        self.deny: AddressSet | None = book.compile(rule.deny) if rule.deny else None
        self.allow: AddressSet | None = None if rule.allow is None else book.compile(rule.allow)
        mode: Literal["enforce", "shadow"] = "shadow" if rule.shadow else "enforce"
        status = rule.status if rule.status is not None else default_status
        self.allowed = _Outcome(Verdict(rule.name, "allow", mode, None), metrics)
        self.denied = _Outcome(Verdict(rule.name, "deny", mode, status), metrics)

    def judge(self, key: AddressKey) -> _Outcome:
        if self.deny is not None and self.deny.contains_key(key):
            return self.denied
        if self.allow is None or self.allow.contains_key(key):
            return self.allowed
        return self.denied


class Firewall(Filter):
    """Allows or refuses a request by client address, method, host and path."""

    name = NAME

    def __init__(self, policy: Policy, metrics: Metrics, *, store: Store | None = None) -> None:
        super().__init__(policy, metrics, store=store)
        config = policy.firewall
        book = AddressBook(policy.ip_lists)
        self._rules = tuple(_Rule(rule, book, config.status, metrics) for rule in config.rules)
        default_status = config.status if config.default == "deny" else None
        self._default = _Outcome(Verdict("default", config.default, "enforce", default_status), metrics)
        self._uses_host = any(rule.host is not None for rule in config.rules)

    @classmethod
    def enabled_in(cls, policy: Policy) -> bool:
        return policy.firewall.enabled

    def _evaluate(self, method: str, host: str, path: str, client_ip: str) -> tuple[_Outcome, tuple[_Outcome, ...]]:
        key = address_key(client_ip)  # ValueError on a non-address: the chain fails closed
        if self._uses_host:
            host = normalize_host(host)
        shadow: tuple[_Outcome, ...] = ()
        for rule in self._rules:
            if rule.matcher.matches(method, host, path):
                outcome = rule.judge(key)
                if not rule.shadow:
                    return outcome, shadow
                shadow += (outcome,)
        return self._default, shadow

    def evaluate(self, method: str, host: str, path: str, client_ip: str) -> Evaluation:
        """The decision for a request, without recording or counting it.

        ``path`` is already normalised (gateway.http.paths.normalize_path); ``host``
        may carry a port and any case.
        """
        enforced, shadow = self._evaluate(method, host, path, client_ip)
        return Evaluation(enforced.verdict, tuple(o.verdict for o in shadow))

    async def on_request(self, ex: Exchange) -> LocalReply | None:
        enforced, shadow = self._evaluate(ex.method, ex.host, ex.path, ex.client_ip)
        for outcome in shadow:
            outcome.record(ex)
        enforced.record(ex)
        return enforced.reply
