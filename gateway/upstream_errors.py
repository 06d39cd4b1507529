"""What a failure talking to the upstream means: a metric kind and the client's answer."""

from __future__ import annotations

import aiohttp

from .exchange import LocalReply

UPSTREAM_UNREACHABLE = LocalReply(502, "upstream_unreachable", "The helpdesk could not be reached.")
UPSTREAM_TIMEOUT = LocalReply(504, "upstream_timeout", "The helpdesk did not answer in time.")
UPSTREAM_BAD_RESPONSE = LocalReply(502, "upstream_bad_response", "The helpdesk sent an invalid response.")


def classify_upstream_error(exc: BaseException) -> tuple[str, LocalReply]:
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "connect_timeout", UPSTREAM_TIMEOUT
    if isinstance(exc, (TimeoutError, aiohttp.ServerTimeoutError)):
        return "first_byte_timeout", UPSTREAM_TIMEOUT
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "connect", UPSTREAM_UNREACHABLE
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "disconnected", UPSTREAM_UNREACHABLE
    if isinstance(exc, aiohttp.ClientResponseError):
        return "bad_response", UPSTREAM_BAD_RESPONSE
    if isinstance(exc, (aiohttp.ClientError, OSError)):
        return "connection", UPSTREAM_UNREACHABLE
    return "internal", UPSTREAM_UNREACHABLE
