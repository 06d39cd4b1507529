"""What the gateway writes down, and cleans up, around each case it anonymises.

A :class:`Journal` is handed to :func:`~.cases.anonymise_cases` by whoever
anonymises for real (the command, an erasure request, a schedule). For each
case, before the first change, it:

1. begins the case's record in the store (``store.cases``): ``started``, the
   trigger, the action. When another process holds a live record of that case
   the case is left to it (``busy``); a record left started by a process that
   died is taken over;
2. revokes the signed links bound to the case (its id and its reference) and
   to the requester (the recipient hash, with ``notifications.link``'s salt),
   so no link sent before opens the case afterwards;

and after the last change finishes the record with the outcome and the
summary (replacements by kind, operations and their outcomes: never a value),
and counts it in ``privacy_gateway_cases_total``. A dry run writes nothing.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from ..links.signing import recipient_hash
from ..metrics import Metrics
from ..policy.schema import Policy
from ..store import Store
from ..store.base import RevocationKind
from ..store.cases import CaseRecord, owner_name
from .metrics import anonymisation_metrics

#: A case's record older than this, still started, belongs to a process that died.
DEFAULT_STALE_AFTER = 600.0


def trigger_kind(trigger: str) -> str:
    """The bounded label of a trigger: ``command``, ``request`` or ``schedule``."""
    return trigger.split(" ", 1)[0]


@dataclass
class Journal:
    store: Store
    helpdesk: str  # the adapter's name: the records' key with the case id
    trigger: str  # "command", "request DSR-…", "schedule <name>"
    owner: str = field(default_factory=owner_name)
    stale_after: float = DEFAULT_STALE_AFTER
    link_salt: bytes | None = None  # notifications.link.recipient_salt
    revoke_for: float = 0.0  # how long a revocation must last: the longest link lifetime (0: none revoked)
    metrics: Metrics | None = None
    clock: Callable[[], float] = time.time

    @classmethod
    def for_policy(cls, policy: Policy, store: Store, helpdesk: str, trigger: str, *,
                   metrics: Metrics | None = None, owner: str | None = None) -> Journal:
        link = policy.notifications.link
        lifetimes = [policy.links.ttl, *(rule.ttl for rule in policy.links.rules if rule.ttl)]
        if link is not None and link.ttl:
            lifetimes.append(link.ttl)
        return cls(store, helpdesk, trigger, owner=owner or owner_name(), stale_after=policy.anonymisation.lease,
                   link_salt=link.recipient_salt.encode("utf-8") if link and link.recipient_salt else None,
                   revoke_for=max(lifetimes) + policy.links.leeway, metrics=metrics)

    async def begin(self, case_id: str, action: str) -> CaseRecord | None:
        """The record this process works under, or None when another process is on the case."""
        now = self.clock()
        record = CaseRecord(secrets.token_hex(16), self.helpdesk, case_id, self.trigger, action, "started", now,
                            owner=self.owner)
        return await self.store.begin_case(record, stale_before=now - self.stale_after)

    async def revoke_links(self, case_ids: set[str], requester: str) -> int:
        """Revoke the links bound to the case (by id and reference) and to the requester; how many bindings."""
        if self.revoke_for <= 0:
            return 0
        now = self.clock()
        targets: list[tuple[RevocationKind, str]] = [("case", value) for value in sorted(v for v in case_ids if v)]
        if self.link_salt is not None and requester:
            targets.append(("recipient", recipient_hash(requester, self.link_salt)))
        for kind, value in targets:
            await self.store.revoke(kind, value, expires_at=now + self.revoke_for, reason="anonymised", now=now)
        return len(targets)

    async def finish(self, record: CaseRecord, state: str, summary: dict[str, object], action: str) -> bool:
        done = await self.store.finish_case(record.record_id, self.owner, state,
                                            orjson.dumps(summary, option=orjson.OPT_SORT_KEYS).decode(), self.clock())
        self.count(action, state)
        return done

    def count(self, action: str, result: str) -> None:
        if self.metrics is not None:
            anonymisation_metrics(self.metrics).cases.labels(trigger_kind(self.trigger), action, result).inc()
