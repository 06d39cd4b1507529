"""Header handling between client and upstream: hop-by-hop removal, forwarding headers.

Hop-by-hop headers describe one connection and never cross the proxy
(RFC 9110 §7.6.1). Client-address headers from an untrusted peer are lies
until proven otherwise: they are removed and set anew from what the gateway
derived itself.
"""

from __future__ import annotations

from typing import Iterable

from multidict import CIMultiDict, CIMultiDictProxy

HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "te", "trailer", "trailers", "transfer-encoding", "upgrade",
        "proxy-authenticate", "proxy-authorization", "proxy-connection",
    }
)

# Every header a helpdesk framework might read a client address or scheme from.
FORWARDING = frozenset(
    {
        "forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port",
        "x-forwarded-prefix", "x-forwarded-server", "x-forwarded-ssl", "x-forwarded-scheme",
        "x-real-ip", "x-client-ip", "true-client-ip", "cf-connecting-ip", "x-cluster-client-ip",
        "x-original-forwarded-for", "client-ip",
    }
)

# Handled by the gateway itself on the request side.
_REQUEST_OWN = frozenset({"host", "expect"})
# Built once: what never goes upstream as the client sent it.
_DROP_KEEP_LENGTH = HOP_BY_HOP | FORWARDING | _REQUEST_OWN
_DROP_WITH_LENGTH = _DROP_KEEP_LENGTH | {"content-length"}


def connection_tokens(values: Iterable[str]) -> frozenset[str]:
    """Header names listed in Connection headers; they are hop-by-hop too."""
    return frozenset(
        token.strip().lower() for value in values for token in value.split(",") if token.strip()
    )


def _end_to_end(incoming: CIMultiDict[str] | CIMultiDictProxy[str], drop: frozenset[str]) -> CIMultiDict[str]:
    """A copy of ``incoming`` without ``drop`` and without the headers its Connection headers name."""
    named = incoming.getall("Connection", ())
    if named:
        drop = drop | connection_tokens(named)
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in incoming.items():
        if name.lower() not in drop:
            out.add(name, value)
    return out


def upstream_request_headers(
    incoming: CIMultiDictProxy[str],
    *,
    client_ip: str,
    proto: str,
    forwarded_host: str,
    host: str,
    via: bool,
    keep_length: bool,
) -> CIMultiDict[str]:
    """Headers to send upstream: end-to-end headers of the client plus our own forwarding set."""
    out = _end_to_end(incoming, _DROP_KEEP_LENGTH if keep_length else _DROP_WITH_LENGTH)
    out["Host"] = host
    out["X-Forwarded-For"] = client_ip
    out["X-Forwarded-Proto"] = proto
    out["X-Forwarded-Host"] = forwarded_host
    if via:
        out.add("Via", "1.1 privacy-gateway")
    return out


def downstream_response_headers(incoming: CIMultiDict[str] | CIMultiDictProxy[str], *, via: bool) -> CIMultiDict[str]:
    """Headers of the upstream response that may reach the client."""
    out = _end_to_end(incoming, HOP_BY_HOP)
    if via:
        out.add("Via", "1.1 privacy-gateway")
    return out


def head_size(raw_headers: Iterable[tuple[bytes, bytes]]) -> int:
    """Bytes of the header block as sent: ``name: value\\r\\n`` per field."""
    return sum(len(name) + len(value) + 4 for name, value in raw_headers)


def is_websocket_upgrade(headers: CIMultiDictProxy[str]) -> bool:
    return (
        headers.get("Upgrade", "").lower() == "websocket"
        and "upgrade" in headers.get("Connection", "").lower()
    )


def forwarded_proto(headers: CIMultiDictProxy[str], *, trusted_peer: bool, secure: bool) -> str:
    """The scheme the client used: a trusted proxy's word for it, else this connection's."""
    if trusted_peer:
        claimed = headers.get("X-Forwarded-Proto", "").strip().lower()
        if claimed in ("http", "https"):
            return claimed
    return "https" if secure else "http"


def forwarded_host(headers: CIMultiDictProxy[str], host_header: str, *, trusted_peer: bool) -> str:
    """The host the client asked for: a trusted proxy's single, printable word for it, else Host."""
    if trusted_peer:
        claimed = headers.get("X-Forwarded-Host", "").strip()
        if claimed and "," not in claimed and claimed.isprintable():
            return claimed
    return host_header
