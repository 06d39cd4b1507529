"""Each upstream failure maps to a metric kind and an answer: 502 unreachable, 504 slow."""

from __future__ import annotations

import pytest

from gateway.http.upstream_errors import (
    UPSTREAM_BAD_RESPONSE,
    UPSTREAM_TIMEOUT,
    UPSTREAM_UNREACHABLE,
    BadResponse,
    BodyTruncated,
    ConnectFailed,
    ConnectTimeout,
    Disconnected,
    classify_upstream_error,
)


@pytest.mark.parametrize(
    ("exc", "kind", "reply"),
    [
        (ConnectTimeout(), "connect_timeout", UPSTREAM_TIMEOUT),
        (TimeoutError(), "first_byte_timeout", UPSTREAM_TIMEOUT),
        (ConnectFailed(), "connect", UPSTREAM_UNREACHABLE),
        (Disconnected(), "disconnected", UPSTREAM_UNREACHABLE),
        (BadResponse(), "bad_response", UPSTREAM_BAD_RESPONSE),
        (BodyTruncated(), "upstream_reset", UPSTREAM_UNREACHABLE),
        (ConnectionResetError(104, "reset"), "connection", UPSTREAM_UNREACHABLE),
        (OSError("other"), "connection", UPSTREAM_UNREACHABLE),
        (ValueError("a line break inside a header value"), "internal", UPSTREAM_UNREACHABLE),
    ],
)
def test_classification(exc: BaseException, kind: str, reply: object) -> None:
    assert classify_upstream_error(exc) == (kind, reply)


def test_answers_name_their_reason() -> None:
    assert (UPSTREAM_UNREACHABLE.status, UPSTREAM_UNREACHABLE.reason) == (502, "upstream_unreachable")
    assert (UPSTREAM_TIMEOUT.status, UPSTREAM_TIMEOUT.reason) == (504, "upstream_timeout")
    assert (UPSTREAM_BAD_RESPONSE.status, UPSTREAM_BAD_RESPONSE.reason) == (502, "upstream_bad_response")
