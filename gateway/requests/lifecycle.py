"""A request's life, as pure functions: pending until verified, then received, in progress, extended,
fulfilled or refused; and what is private in it, sealed.

- A submission becomes a :class:`~gateway.store.requests.Verification`
  (what was asked, sealed, bound to a random nonce) that expires.
- Verified, it becomes a :class:`~gateway.store.requests.SubjectRequest`
  due ``due_days`` later (Art. 12(3)), with its first work: open the helpdesk
  case, mail the receipt, and, for an access or portability request approved
  automatically, assemble the export.
- Operators approve, refuse (with a reason) or extend (with a reason, by up
  to :data:`MAX_EXTENSION_DAYS` in all: "two further months"); each change
  names the state it was decided on, so two operators cannot both apply one.
- An erasure approved while the gateway anonymises cases (``erase``) is in
  progress until the worker has anonymised the requester's cases
  (``Work.ERASE``), then fulfilled as its mail goes. When the worker could
  not do it all (:data:`ERASURE_INCOMPLETE`: the helpdesk cannot do an
  operation, or a case is in a state the policy does not allow), the request
  stays open; the note in its case lists what remains. Approving it again
  then says a person has done the rest (by hand, or with
  ``privacy-gateway cases anonymise``): it is fulfilled and the requester
  told. Refusing it (with the reason) is the other way to close it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import orjson

from ..policy.requests import EXPORT_TYPES
from ..store.requests import RequestState, RequestUpdate, SubjectRequest, Verification, Work
from .keys import PortalKeys

DAY = 86400.0
#: ``last_error`` of an erasure whose anonymisation the worker could not complete: people must finish it.
ERASURE_INCOMPLETE = "erasure_incomplete"
MAX_EXTENSION_DAYS = 61
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32: no I, L, O, U


class NotAllowed(Exception):
    """An operator's action that does not apply to the request as it is (closed, too long an extension)."""


@dataclass(frozen=True, slots=True)
class Private:
    """What a request holds that only the portal may read: sealed in the store."""

    kind: str
    email: str
    reference: str
    text: str
    language: str
    consents: tuple[str, ...] = ()  # the consent ids of the browser that asked (its consent cookie)


def new_request_id() -> str:
    chars = [secrets.choice(_ALPHABET) for _ in range(10)]
    return f"DSR-{''.join(chars[:5])}-{''.join(chars[5:])}"


def seal(keys: PortalKeys, private: Private, binding: str) -> str:
    doc = {"k": private.kind, "e": private.email, "r": private.reference, "t": private.text, "l": private.language,
           "c": list(private.consents)}
    return keys.seal_text(orjson.dumps(doc), binding.encode("ascii"))


def unseal(keys: PortalKeys, sealed: str, binding: str) -> Private:
    """The private part of a verification (bound to its nonce) or request (bound to its id); Unsealable if not."""
    doc = orjson.loads(keys.open_text(sealed, binding.encode("ascii")))
    return Private(doc["k"], doc["e"], doc["r"], doc["t"], doc["l"], tuple(doc.get("c", ())))


def pending(keys: PortalKeys, private: Private, *, now: float, ttl: float) -> Verification:
    nonce = secrets.token_hex(16)
    return Verification(nonce, now, now + ttl, keys.email_hash(private.email), seal(keys, private, nonce))


def verified(keys: PortalKeys, private: Private, *, now: float, due_days: int, automatic: bool) -> SubjectRequest:
    """The request a verification becomes, with its first work (a worker without a helpdesk skips the case)."""
    request_id = new_request_id()
    work = Work.CASE | Work.RECEIPT
    if automatic and private.kind in EXPORT_TYPES:
        work |= Work.EXPORT
    return SubjectRequest(request_id, private.kind, "received", now, now + due_days * DAY, now,
                          keys.email_hash(private.email), seal(keys, private, request_id), private.language,
                          work=int(work), next_attempt_at=now)


def _open(request: SubjectRequest, action: str) -> None:
    if not request.is_open:
        raise NotAllowed(f"{request.request_id} is {request.state}: it cannot be {action}")


def approve(request: SubjectRequest, now: float, *, erase: bool = False) -> RequestUpdate:
    """Access and portability: assemble and release the export; erasure, with ``erase`` (anonymisation on):
    anonymise the requester's cases, then tell them; other types: done, the requester told."""
    _open(request, "approved")
    state: RequestState = "extended" if request.state == "extended" else "in_progress"
    if request.kind in EXPORT_TYPES:
        return RequestUpdate(state, now, add_work=Work.EXPORT)  # fulfilled once the export is out
    if request.kind == "erasure" and erase and not request.work & Work.ERASE:
        if request.last_error != ERASURE_INCOMPLETE:  # else: a person did what the worker could not
            return RequestUpdate(state, now, add_work=Work.ERASE | Work.MAIL_FULFILLED)  # fulfilled as it goes
    if request.kind == "erasure" and request.work & Work.ERASE:
        raise NotAllowed(f"{request.request_id}: its erasure is under way; it cannot be approved again now")
    return RequestUpdate("fulfilled", now, add_work=Work.MAIL_FULFILLED)


def refuse(request: SubjectRequest, reason: str, now: float) -> RequestUpdate:
    _open(request, "refused")
    reason = reason.strip()
    if not reason:
        raise NotAllowed("a refusal needs its reason (Art. 12(4)): the requester is told it")
    return RequestUpdate("refused", now, reason=reason[:2000], add_work=Work.MAIL_REFUSED)


def extend(request: SubjectRequest, days: int, reason: str, now: float) -> RequestUpdate:
    _open(request, "extended")
    reason = reason.strip()
    if not reason:
        raise NotAllowed("an extension needs its reason (Art. 12(3)): the requester is told it")
    if days < 1 or request.extended_days + days > MAX_EXTENSION_DAYS:
        left = MAX_EXTENSION_DAYS - request.extended_days
        raise NotAllowed(f"a request can be extended by {MAX_EXTENSION_DAYS} days in all; {left} are left")
    return RequestUpdate("extended", now, reason=reason[:2000], due_at=request.due_at + days * DAY,
                         extended_days=request.extended_days + days, add_work=Work.MAIL_EXTENDED)
