"""The client address behind trusted proxies (pure: no aiohttp).

The socket peer is the client unless it is a trusted proxy. Then the one
X-Forwarded-For header is read from the right: each trusted proxy appended the
address it saw, so the rightmost untrusted entry is the last address nobody
we trust could have forged. Entries left of it came from the client and are
neither believed nor parsed (a client behind a proxy that writes ``unknown``
must not be refused for it). Anything we have to read but cannot: ClientIPError,
and the proxy answers 400 rather than guess (fail closed).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..policy.schema import Policy
from .addresses import AddressBook, AddressSet, canonical_ip


class ClientIPError(ValueError):
    """No trustworthy client address; ``reason`` is a stable word for logs and metrics.

    ``peer_invalid``: the socket peer is not an IP address (a UNIX socket);
    ``xff_multiple``: more than one X-Forwarded-For header from a trusted peer;
    ``xff_invalid``: an entry we had to read is not an address (``unknown``,
    an obfuscated identifier, an empty entry, garbage).
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Hop:
    """One address looked at: where it came from and whether it is trusted."""

    source: str  # "peer" or "X-Forwarded-For[i]" (0 is the leftmost entry)
    address: str
    trusted: bool


def _parse_port(port: str) -> bool:
    return 0 < len(port) <= 5 and port.isascii() and port.isdigit() and int(port) <= 65535


def parse_forwarded_entry(entry: str) -> str:
    """One X-Forwarded-For entry as canonical address text; ValueError if it is none.

    Accepted: ``1.2.3.4``, ``1.2.3.4:5678``, ``2001:db8::1``, ``[2001:db8::1]``,
    ``[2001:db8::1]:443``, IPv4-mapped IPv6 (returned as IPv4), surrounding spaces.
    """
    text = entry.strip(" \t")
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or ":" not in host or (rest and not (rest[0] == ":" and _parse_port(rest[1:]))):
            raise ValueError(f"{entry!r} is not an address")
    elif text.count(":") == 1:  # IPv4 with a port; bare IPv6 has at least two colons
        host, _, port = text.partition(":")
        if not _parse_port(port):
            raise ValueError(f"{entry!r} is not an address")
    else:
        host = text
    return canonical_ip(host)


def _peer_ip(peer: str) -> str:
    # aiohttp reports link-local IPv6 peers with a zone (fe80::1%eth0); the zone names our interface.
    return canonical_ip(peer.partition("%")[0])


class ClientIPResolver:
    """Derives the client address of a request; compiled once per policy."""

    __slots__ = ("trusted",)

    def __init__(self, policy: Policy) -> None:
        self.trusted: AddressSet = AddressBook(policy.ip_lists).compile(policy.client_ip.trusted_proxies)

    def is_trusted(self, peer: str) -> bool:
        """Whether the socket peer is a trusted proxy (whose X-Forwarded-* may be kept)."""
        try:
            return self.trusted.contains(_peer_ip(peer))
        except ValueError:
            return False

    def resolve(self, peer: str, forwarded_for: list[str], *, trace: list[Hop] | None = None) -> str:
        """The canonical client address.

        ``forwarded_for`` holds every X-Forwarded-For header value received, in
        order. ``trace``, when given, receives each address looked at (what
        ``explain`` shows); it is filled before an error is raised.
        """
        try:
            client = _peer_ip(peer)
        except ValueError:
            raise ClientIPError("peer_invalid", f"socket peer {peer!r} is not an IP address") from None
        trusted = self.trusted.contains(client)
        if trace is not None:
            trace.append(Hop("peer", client, trusted))
        if not trusted or not forwarded_for:
            return client
        if len(forwarded_for) > 1:
            raise ClientIPError("xff_multiple", f"{len(forwarded_for)} X-Forwarded-For headers from a trusted proxy")
        entries = forwarded_for[0].split(",")
        for index in range(len(entries) - 1, -1, -1):
            try:
                client = parse_forwarded_entry(entries[index])
            except ValueError:
                # The entry itself stays out of the message: it may be logged and is client data.
                raise ClientIPError("xff_invalid", f"X-Forwarded-For[{index}] is not an address") from None
            trusted = self.trusted.contains(client)
            if trace is not None:
                trace.append(Hop(f"X-Forwarded-For[{index}]", client, trusted))
            if not trusted:
                return client
        return client  # every hop is trusted: the leftmost is as far as we can see
