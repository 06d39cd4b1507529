"""Carrying out a case's plan through its helpdesk adapter: exactly its operations, each with its result.

:func:`run_plan` performs the operations of a :class:`~.plan.CasePlan`
(``plan.operations()``, no more) in a fixed order:

1. the attachments to delete,
2. the messages to rewrite,
3. the case's title and fields,
4. the requester, last: once the case is the pseudonym's, it is no longer
   found by the person's address, so the operations a re-run must complete
   come before it. After a failure that trying again may cure, the requester
   is left for that re-run (``deferred``).

Every operation is idempotent in the adapter (setting a text again changes
nothing more, deleting what is gone is success), so running a plan again after
a crash, or a fresh plan of the half-done case, completes it without doing
anything twice. An operation the adapter does not offer (not in its
``capabilities``, or refused with :class:`~..helpdesks.base.NotSupported`) is
reported ``not_supported``, never as done. Nothing raises past the case: each
failure is a result, with ``retryable`` saying whether a later run may succeed.

A dry run returns the same results with ``planned`` (or ``not_supported``)
and calls nothing at all. The results name operations and the helpdesk's ids,
never a value removed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from ..helpdesks.base import HelpdeskAdapter, HelpdeskError, NotSupported, Operation
from .plan import CasePlan

log = logging.getLogger("gateway.anonymise")

Outcome = Literal["done", "planned", "not_supported", "failed", "deferred"]
#: Awaited before each write (a rate limit against the helpdesk's API).
Pace = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class OperationResult:
    operation: Operation
    target: str  # the helpdesk's id of what it acts on: "7", "message 12", "attachment 31"
    outcome: Outcome
    retryable: bool = False  # for "failed": a later run may succeed
    error: str = ""  # the adapter's message: adapter, operation, status (never personal data)

    def to_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"operation": self.operation, "target": self.target, "outcome": self.outcome}
        if self.outcome == "failed":
            shown["retryable"] = self.retryable
        if self.error:
            shown["error"] = self.error
        return shown


@dataclass(frozen=True, slots=True)
class CaseResult:
    plan: CasePlan
    dry_run: bool
    results: tuple[OperationResult, ...]

    @property
    def state(self) -> str:
        """``planned`` (a dry run), ``done`` (every operation), ``retry`` (a later run may finish it), ``incomplete``."""
        if self.dry_run:
            return "planned"
        if all(r.outcome == "done" for r in self.results):
            return "done"
        if any(r.outcome == "deferred" or (r.outcome == "failed" and r.retryable) for r in self.results):
            return "retry"
        return "incomplete"

    @property
    def complete(self) -> bool:
        return self.state == "done"

    def to_dict(self) -> dict[str, Any]:
        """The plan's summary (kinds, counts, operations) with the outcome of each operation: no value."""
        summary = self.plan.summary()
        summary["operations"] = dict(summary["operations"])
        return {**summary, "dry_run": self.dry_run, "state": self.state,
                "results": [r.to_dict() for r in self.results]}


Step = tuple[Operation, str, Callable[[], Awaitable[None]]]


def steps(adapter: HelpdeskAdapter, plan: CasePlan) -> list[Step]:
    """The plan's operations in the order they are carried out, each with its call (not yet made)."""
    case_id = plan.case_id
    if plan.action == "delete":
        return [("delete_case", case_id, lambda: adapter.delete_case(case_id))]
    found: list[Step] = [
        ("delete_attachment", f"attachment {attachment.id or '?'}",
         partial(adapter.delete_attachment, case_id, message_id, attachment.id))
        for message_id, attachment in plan.attachments
    ]
    found += [("update_message", f"message {edit.message_id}",
               partial(adapter.update_message, case_id, edit.message_id, edit.text)) for edit in plan.messages]
    if plan.title is not None or plan.fields:
        found.append(("update_case", case_id,
                      partial(adapter.update_case, case_id, title=plan.title, fields=dict(plan.fields) or None)))
    found.append(("update_requester", case_id,
                  partial(adapter.update_requester, case_id, plan.pseudonym, plan.requester)))
    return found


async def run_plan(adapter: HelpdeskAdapter, plan: CasePlan, *, dry_run: bool = False,
                   pace: Pace | None = None) -> CaseResult:
    """Carry out ``plan`` (or, with ``dry_run``, only say what would be done); never raises a helpdesk's error."""
    results: list[OperationResult] = []
    for operation, target, call in steps(adapter, plan):
        if operation not in adapter.capabilities:
            results.append(OperationResult(operation, target, "not_supported",
                                           error=f"{adapter.name}: {operation.replace('_', ' ')}: not supported"))
            continue
        if dry_run:
            results.append(OperationResult(operation, target, "planned"))
            continue
        if operation == "update_requester" and any(r.outcome == "failed" and r.retryable for r in results):
            results.append(OperationResult(operation, target, "deferred",
                                           error="left for a re-run: an earlier operation may succeed then"))
            continue
        results.append(await _perform(adapter, operation, target, call, pace))
    return CaseResult(plan, dry_run, tuple(results))


async def _perform(adapter: HelpdeskAdapter, operation: Operation, target: str,
                   call: Callable[[], Awaitable[None]], pace: Pace | None) -> OperationResult:
    if operation == "delete_attachment" and target.endswith("?"):
        return OperationResult(operation, target, "failed", error=f"{adapter.name}: the attachment has no id")
    try:
        if pace is not None:
            await pace()
        await call()
    except NotSupported as exc:
        return OperationResult(operation, target, "not_supported", error=str(exc))
    except HelpdeskError as exc:
        return OperationResult(operation, target, "failed", retryable=exc.retryable, error=str(exc))
    except Exception as exc:  # a bug must not end the batch; its text may hold data, so only its type is kept
        log.error("anonymisation operation failed unexpectedly", extra={"fields": {
            "adapter": adapter.name, "operation": operation, "error": type(exc).__name__}})
        return OperationResult(operation, target, "failed", error=f"{adapter.name}: {operation.replace('_', ' ')}: "
                               f"unexpected {type(exc).__name__}")
    return OperationResult(operation, target, "done")


class Pacer:
    """At most ``per_second`` calls a second: each call waits until its slot (shared by every caller)."""

    def __init__(self, per_second: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.interval = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def __call__(self) -> None:
        async with self._lock:
            now = self._clock()
            wait = self._next - now
            self._next = max(now, self._next) + self.interval
        if wait > 0:
            await self._sleep(wait)
