"""What can fail talking to the upstream, and what each failure means: a metric kind and the client's answer."""

from __future__ import annotations

from ..exchange import LocalReply


class UpstreamError(Exception):
    """A failure talking to the upstream; ``kind`` names it in metrics."""

    kind = "connection"


class ConnectFailed(UpstreamError):
    kind = "connect"


class ConnectTimeout(UpstreamError):
    kind = "connect_timeout"


class Disconnected(UpstreamError):
    """The upstream closed the connection before a complete response head."""

    kind = "disconnected"


class BadResponse(UpstreamError):
    kind = "bad_response"


class BodyTruncated(UpstreamError):
    """The connection ended before the response body was complete."""

    kind = "upstream_reset"


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
