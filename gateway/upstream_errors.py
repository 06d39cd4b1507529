"""What a failure talking to the upstream means: a metric kind and the client's answer."""

from __future__ import annotations

from .exchange import LocalReply
from .upstream_client import UpstreamError

UPSTREAM_UNREACHABLE = LocalReply(502, "upstream_unreachable", "The helpdesk could not be reached.")
UPSTREAM_TIMEOUT = LocalReply(504, "upstream_timeout", "The helpdesk did not answer in time.")
UPSTREAM_BAD_RESPONSE = LocalReply(502, "upstream_bad_response", "The helpdesk sent an invalid response.")

_REPLIES = {
    "connect_timeout": UPSTREAM_TIMEOUT,
    "bad_response": UPSTREAM_BAD_RESPONSE,
}


def classify_upstream_error(exc: BaseException) -> tuple[str, LocalReply]:
    if isinstance(exc, UpstreamError):
        return exc.kind, _REPLIES.get(exc.kind, UPSTREAM_UNREACHABLE)
    if isinstance(exc, TimeoutError):  # the proxy's own deadline for the response head
        return "first_byte_timeout", UPSTREAM_TIMEOUT
    if isinstance(exc, OSError):
        return "connection", UPSTREAM_UNREACHABLE
    return "internal", UPSTREAM_UNREACHABLE
