"""What operators do with requests, the same from the CLI and from the admin listener's API.

``list`` (open ones, or all), ``show`` (one request with the requester's
address and text, opened with the key ring, and its audit log), ``approve``,
``refuse`` (a reason), ``extend`` (days and a reason) and ``export`` (the
export assembled now, for the operator). Every action on a request is
written to the audit log first-hand: who (``cli:<user>``, ``api:<token id>``),
what, when, and the request id, nothing else. A change is decided on the
state the operator saw: if another operator changed the request meanwhile,
it is refused (:class:`Conflict`) instead of applied twice. The worker's own
step from ``received`` to ``in_progress`` (the case opened in the helpdesk)
is not such a change: the decision is made again on the request as it is.

The mails and the export an action calls for are sent by the gateway's
worker (within a second when it runs); ``export`` works on its own. So is
an approved erasure's anonymisation of the requester's cases, when the
policy anonymises (see :mod:`.lifecycle` for an erasure the worker could
not complete: approving it again, or refusing it, closes it).
"""

from __future__ import annotations

import time
from typing import Any

from ..helpdesks.base import HelpdeskAdapter
from ..store import Store
from ..store.requests import AuditEntry, RequestUpdate, SubjectRequest, Work
from . import export, lifecycle
from .compiled import CompiledRequests
from .keys import Unsealable
from .texts import iso_time

ACTIONS = ("approve", "refuse", "extend")


class NotFound(Exception):
    pass


class Conflict(Exception):
    """The request changed between reading and writing it."""


def pending_work(work: int) -> list[str]:
    return [flag.name.lower() for flag in Work if flag.name is not None and work & flag]


def request_json(r: SubjectRequest) -> dict[str, Any]:
    """A request as operators see it in a list: no address, no text."""
    return {
        "request_id": r.request_id, "type": r.kind, "state": r.state, "received": iso_time(r.created_at),
        "due": iso_time(r.due_at), "overdue": r.is_open and r.due_at <= time.time(), "updated": iso_time(r.updated_at),
        "reason": r.reason, "extended_days": r.extended_days, "case_id": r.case_id,
        "case_reference": r.case_reference, "pending": pending_work(r.work), "attempts": r.attempts,
        "last_error": r.last_error,
        "export": ("downloaded" if r.export_downloaded_at else "ready" if r.export_id and r.export_expires_at >
                   time.time() else "expired" if r.export_id else ""),
    }


async def list_requests(store: Store, *, open_only: bool = True, limit: int = 1000) -> list[dict[str, Any]]:
    return [request_json(r) for r in await store.list_requests(open_only=open_only, limit=limit)]


async def _get(store: Store, request_id: str) -> SubjectRequest:
    request = await store.get_request(request_id)
    if request is None:
        raise NotFound(f"no request {request_id!r}")
    return request


async def _audit(store: Store, actor: str, action: str, request_id: str) -> None:
    await store.add_audit(AuditEntry(time.time(), actor, action, request_id))


async def show(compiled: CompiledRequests, store: Store, request_id: str, *, actor: str) -> dict[str, Any]:
    """One request with what the requester wrote (opened here), and its audit log."""
    request = await _get(store, request_id)
    await _audit(store, actor, "show", request.request_id)
    doc = request_json(request)
    try:
        private = lifecycle.unseal(compiled.keys, request.sealed, request.request_id)
        doc.update(email=private.email, case_reference_given=private.reference, text=private.text,
                   language=request.language)
    except Unsealable:
        doc["sealed"] = "does not open with requests.keys (a removed key?)"
    doc["audit"] = [{"at": iso_time(e.at), "actor": e.actor, "action": e.action}
                    for e in await store.audit_for(request.request_id)]
    return doc


async def act(store: Store, request_id: str, action: str, *, actor: str, reason: str = "",
              days: int = 0, erase: bool = False) -> dict[str, Any]:
    """Approve, refuse or extend; the request as it is then (NotFound, lifecycle.NotAllowed, Conflict).

    ``erase``: the policy anonymises cases, so an approved erasure anonymises the requester's cases.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    request = await _get(store, request_id)
    while not await store.update_request(request.request_id,
                                         _decision(request, action, reason, days, time.time(), erase),
                                         expect_state=request.state):
        seen, request = request, await _get(store, request_id)
        if not (seen.state == "received" and request.state == "in_progress"):
            raise Conflict(f"{request.request_id} changed meanwhile; look at it again")
    await _audit(store, actor, action, request.request_id)
    changed = await _get(store, request.request_id)
    return request_json(changed)


def _decision(request: SubjectRequest, action: str, reason: str, days: int, now: float,
              erase: bool) -> RequestUpdate:
    if action == "approve":
        return lifecycle.approve(request, now, erase=erase)
    if action == "refuse":
        return lifecycle.refuse(request, reason, now)
    return lifecycle.extend(request, days, reason, now)


async def export_now(compiled: CompiledRequests, store: Store, request_id: str, adapter: HelpdeskAdapter | None,
                     *, actor: str) -> bytes:
    """The export of a request, assembled now for the operator (nothing is stored or mailed)."""
    request = await _get(store, request_id)
    private = lifecycle.unseal(compiled.keys, request.sealed, request.request_id)
    await _audit(store, actor, "export", request.request_id)
    gathered = await export.gather(compiled, store, request, private, adapter)
    return export.archive(gathered, organisation=compiled.mailer.organisation, now=time.time())
