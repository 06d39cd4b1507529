"""A request's life: pending until verified, then its first work; operators' changes and their limits."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.lib.keyring import KeyRing
from gateway.requests import lifecycle
from gateway.requests.keys import PortalKeys, Unsealable
from gateway.store.requests import SubjectRequest, Work

KEYS = PortalKeys(KeyRing.from_config([("r1", "raw:" + "a-data-subject-request-key-000001")], "r1"))
NOW = 1_700_000_000.0
PRIVATE = lifecycle.Private("access", "kari@example.no", "support-7", "All of it", "nb", ("consent-id",))


def test_a_pending_request_is_sealed_to_its_nonce_and_expires() -> None:
    pending = lifecycle.pending(KEYS, PRIVATE, now=NOW, ttl=3600)
    assert pending.expires_at == NOW + 3600 and pending.email_hash == KEYS.email_hash("kari@example.no")
    assert "kari" not in pending.sealed and lifecycle.unseal(KEYS, pending.sealed, pending.nonce) == PRIVATE
    with pytest.raises(Unsealable):
        lifecycle.unseal(KEYS, pending.sealed, "0" * 32)


@pytest.mark.parametrize(("kind", "automatic", "work"), [
    ("access", False, Work.CASE | Work.RECEIPT),
    ("access", True, Work.CASE | Work.RECEIPT | Work.EXPORT),
    ("erasure", True, Work.CASE | Work.RECEIPT),  # nothing to release without an operator
])
def test_a_verified_request_is_due_in_a_month_with_its_first_work(kind: str, automatic: bool, work: int) -> None:
    private = lifecycle.Private(kind, "kari@example.no", "", "", "en")
    request = lifecycle.verified(KEYS, private, now=NOW, due_days=30, automatic=automatic)
    assert request.state == "received" and request.due_at == NOW + 30 * 86400 and request.work == work
    assert request.request_id.startswith("DSR-") and lifecycle.unseal(KEYS, request.sealed, request.request_id) == private


def test_approve_refuse_and_extend() -> None:
    request = lifecycle.verified(KEYS, PRIVATE, now=NOW, due_days=30, automatic=False)
    approved = lifecycle.approve(request, NOW)
    assert (approved.state, approved.add_work) == ("in_progress", Work.EXPORT)
    erasure = lifecycle.verified(KEYS, lifecycle.Private("erasure", "a@b.no", "", "", "en"), now=NOW, due_days=30,
                                 automatic=False)
    assert (lifecycle.approve(erasure, NOW).state, lifecycle.approve(erasure, NOW).add_work) == (
        "fulfilled", Work.MAIL_FULFILLED)
    extended = lifecycle.extend(request, 30, " Many cases ", NOW)
    assert (extended.state, extended.due_at, extended.extended_days, extended.reason) == (
        "extended", request.due_at + 30 * 86400, 30, "Many cases")
    refused = lifecycle.refuse(request, "Unfounded", NOW)
    assert (refused.state, refused.add_work) == ("refused", Work.MAIL_REFUSED)


@pytest.mark.parametrize(("action", "message"), [
    (lambda r: lifecycle.refuse(r, "  ", NOW), "needs its reason"),
    (lambda r: lifecycle.extend(r, 30, "", NOW), "needs its reason"),
    (lambda r: lifecycle.extend(r, 62, "long", NOW), "61 days in all; 61 are left"),
    (lambda r: lifecycle.extend(r, 0, "none", NOW), "61 days in all"),
    (lambda r: lifecycle.approve(lifecycle_closed(r), NOW), "is refused: it cannot be approved"),
])
def test_what_operators_cannot_do(action, message: str) -> None:  # type: ignore[no-untyped-def]
    request = lifecycle.verified(KEYS, PRIVATE, now=NOW, due_days=30, automatic=False)
    with pytest.raises(lifecycle.NotAllowed, match=message):
        action(request)


def lifecycle_closed(request: SubjectRequest) -> SubjectRequest:
    return dataclasses.replace(request, state="refused")


def test_request_ids_are_readable_and_random() -> None:
    ids = {lifecycle.new_request_id() for _ in range(200)}
    assert len(ids) == 200 and all(len(i) == 15 and not set(i[4:]) & set("ILOU") for i in ids)


def test_an_erasure_approved_with_anonymisation_on_is_erased_before_it_is_fulfilled() -> None:
    private = lifecycle.Private("erasure", "kari@example.no", "", "", "en")
    request = dataclasses.replace(lifecycle.verified(KEYS, private, now=NOW, due_days=30, automatic=False),
                                  state="in_progress", work=0)
    approved = lifecycle.approve(request, NOW, erase=True)
    assert (approved.state, approved.add_work) == ("in_progress", Work.ERASE | Work.MAIL_FULFILLED)
    extended = lifecycle.approve(dataclasses.replace(request, state="extended"), NOW, erase=True)
    assert extended.state == "extended"
    plain = lifecycle.approve(request, NOW)  # anonymisation off: people erase, the request is done
    assert (plain.state, plain.add_work) == ("fulfilled", Work.MAIL_FULFILLED)
    access = lifecycle.approve(dataclasses.replace(request, kind="access"), NOW, erase=True)
    assert access.add_work == Work.EXPORT
    with pytest.raises(lifecycle.NotAllowed, match="its erasure is under way"):
        lifecycle.approve(dataclasses.replace(request, work=Work.ERASE | Work.MAIL_FULFILLED), NOW, erase=True)


def test_approving_an_incomplete_erasure_again_says_people_finished_it() -> None:
    private = lifecycle.Private("erasure", "kari@example.no", "", "", "en")
    request = dataclasses.replace(lifecycle.verified(KEYS, private, now=NOW, due_days=30, automatic=False),
                                  state="in_progress", work=0, last_error=lifecycle.ERASURE_INCOMPLETE)
    again = lifecycle.approve(request, NOW, erase=True)
    assert (again.state, again.add_work) == ("fulfilled", Work.MAIL_FULFILLED)
    refused = lifecycle.refuse(request, "Kept by law: the accounts act (bokføringsloven) asks for it", NOW)
    assert (refused.state, refused.add_work) == ("refused", Work.MAIL_REFUSED)
