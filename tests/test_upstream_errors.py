"""Each upstream failure maps to a metric kind and an answer: 502 unreachable, 504 slow."""

from __future__ import annotations

import pytest
from aiohttp import ClientConnectorError, ClientOSError, ClientResponseError, ConnectionTimeoutError
from aiohttp import ServerDisconnectedError, ServerTimeoutError
from aiohttp.client_reqrep import ConnectionKey, RequestInfo
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from gateway.upstream_errors import (
    UPSTREAM_BAD_RESPONSE, UPSTREAM_TIMEOUT, UPSTREAM_UNREACHABLE, classify_upstream_error,
)

_KEY = ConnectionKey("127.0.0.1", 1, False, True, None, None, None)
_INFO = RequestInfo(URL("http://127.0.0.1:1/"), "GET", CIMultiDictProxy(CIMultiDict()), URL("http://127.0.0.1:1/"))


@pytest.mark.parametrize(
    ("exc", "kind", "reply"),
    [
        (ConnectionTimeoutError(), "connect_timeout", UPSTREAM_TIMEOUT),
        (ServerTimeoutError(), "first_byte_timeout", UPSTREAM_TIMEOUT),
        (TimeoutError(), "first_byte_timeout", UPSTREAM_TIMEOUT),
        (ClientConnectorError(_KEY, ConnectionRefusedError(111, "refused")), "connect", UPSTREAM_UNREACHABLE),
        (ServerDisconnectedError(), "disconnected", UPSTREAM_UNREACHABLE),
        (ClientResponseError(_INFO, (), status=400, message="bad"), "bad_response", UPSTREAM_BAD_RESPONSE),
        (ClientOSError(104, "reset"), "connection", UPSTREAM_UNREACHABLE),
        (OSError("other"), "connection", UPSTREAM_UNREACHABLE),
        (RuntimeError("surprise"), "internal", UPSTREAM_UNREACHABLE),
    ],
)
def test_classification(exc: BaseException, kind: str, reply: object) -> None:
    assert classify_upstream_error(exc) == (kind, reply)


def test_answers_name_their_reason() -> None:
    assert (UPSTREAM_UNREACHABLE.status, UPSTREAM_UNREACHABLE.reason) == (502, "upstream_unreachable")
    assert (UPSTREAM_TIMEOUT.status, UPSTREAM_TIMEOUT.reason) == (504, "upstream_timeout")
    assert (UPSTREAM_BAD_RESPONSE.status, UPSTREAM_BAD_RESPONSE.reason) == (502, "upstream_bad_response")
