"""The contract's pure parts: results, the error, address comparison and reference numbers."""

from __future__ import annotations

import pytest

from gateway.helpdesks.base import Attachment, Case, HelpdeskError, Message, NewCase, reference_number, same_address


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
