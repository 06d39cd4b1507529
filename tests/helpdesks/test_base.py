"""The contract's pure parts: results, the errors, address comparison, reference numbers, unsupported writes."""

from __future__ import annotations

from typing import get_args

import pytest

from gateway.helpdesks.base import (
    OPERATIONS,
    Attachment,
    Case,
    CaseRef,
    HelpdeskAdapter,
    HelpdeskError,
    Message,
    NewCase,
    NotSupported,
    Operation,
    reference_number,
    same_address,
)


def test_results_are_frozen_with_documented_defaults() -> None:
    message = Message(id="1", author="jane@example.com", created="2025-01-01T00:00:00Z", text="hi")
    assert message.public is True and message.attachments == ()
    assert Attachment("a.pdf").size is None and Attachment("a.pdf").content_type == ""
    case = Case(id="1", reference="1", title="t", status="open", queue="q", created="", updated="", requester="r")
    assert case.messages == () and case.fields == {}
    new = NewCase(title="t", body="b", requester="r")
    assert new.queue is None and new.tags == () and new.idempotency_key is None
    with pytest.raises(AttributeError):
        new.title = "changed"  # type: ignore[misc]


def test_the_error_says_whether_to_try_again() -> None:
    error = HelpdeskError("zammad: find cases: answered 502", retryable=True, status=502)
    assert (str(error), error.retryable, error.status) == ("zammad: find cases: answered 502", True, 502)
    assert HelpdeskError("x", retryable=False).status is None


@pytest.mark.parametrize(("held", "asked", "same"), [
    ("jane@example.com", "jane@example.com", True),
    ("Jane@Example.COM", "jane@example.com", True),
    (" jane@example.com ", "jane@example.com", True),
    ("mary.jane@example.com", "jane@example.com", False),
    ("jane@example.com.evil", "jane@example.com", False),
    ("", "", False),  # two empty addresses are nobody
    (None, "jane@example.com", False),
    (42, "42", False),
])
def test_same_address(held: object, asked: str, same: bool) -> None:
    assert same_address(held, asked) is same


@pytest.mark.parametrize(("reference", "number"), [
    ("7", "7"), ("#7", "7"), ("[support-7]", "7"), ("support-7", "7"), ("Ticket#31007", "31007"),
    ("Request #123.", "123"), ("  42  ", "42"), ("my last request", None), ("", None), ("7a", None),
    ("1" * 21, None),  # longer than any id
])
def test_reference_number(reference: str, number: str | None) -> None:
    assert reference_number(reference) == number


class Minimal(HelpdeskAdapter):
    """An adapter that implements only what every adapter must: it writes nothing."""

    name = "minimal"

    async def find_cases(self, email: str, reference: str | None = None) -> list[CaseRef]:
        return []

    async def read_case(self, case_id: str) -> Case:
        raise NotImplementedError

    async def open_case(self, case: NewCase) -> CaseRef:
        raise NotImplementedError


async def test_writing_operations_are_not_supported_unless_implemented() -> None:
    adapter = Minimal()
    assert adapter.capabilities == frozenset() and set(OPERATIONS) == set(get_args(Operation))
    calls = {
        "update_requester": adapter.update_requester("1", "Customer 1", "c@x.invalid"),
        "update_case": adapter.update_case("1", title="t"),
        "update_message": adapter.update_message("1", "2", "t"),
        "delete_attachment": adapter.delete_attachment("1", "2", "3"),
        "delete_case": adapter.delete_case("1"),
        "delete_requester": adapter.delete_requester("jane@example.com"),
    }
    assert list(calls) == list(OPERATIONS)
    for operation, call in calls.items():
        with pytest.raises(NotSupported) as info:
            await call
        assert isinstance(info.value, HelpdeskError) and info.value.retryable is False and info.value.status is None
        assert str(info.value) == f"minimal: {operation.replace('_', ' ')}: not supported"


def test_an_attachment_has_an_id_to_delete_it_by() -> None:
    assert Attachment("a.pdf").id == "" and Attachment("a.pdf", 1, "application/pdf", "42").id == "42"
    assert str(NotSupported("zendesk", "update case", "fields due_at:")) == (
        "zendesk: update case: fields due_at: not supported")


def test_helpdesk_times_read_as_epoch_seconds_and_the_search_sieve_is_two_days_later() -> None:
    from gateway.helpdesks.base import iso_epoch, sieve_day

    assert iso_epoch("2026-01-02T03:04:05Z") == iso_epoch("2026-01-02T04:04:05+01:00") == 1767323045.0
    assert iso_epoch("2026-01-02T03:04:05") == 1767323045.0  # no offset: UTC
    assert iso_epoch("yesterday") is None and iso_epoch(None) is None
    assert sieve_day(1767323045.0) == "2026-01-04"
