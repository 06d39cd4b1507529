"""Address sets compiled once from policy references, with a fast membership test.

netaddr parses and merges what the policy names (addresses, CIDRs, dash ranges,
named lists); the hot path then never touches netaddr: each set is flattened
into sorted, merged ``(start, end)`` integer ranges per IP version and a lookup
is one ``inet_pton`` plus one ``bisect``.

An IPv4-mapped IPv6 address (``::ffff:1.2.3.4``) is the IPv4 address: a
dual-stack socket reports IPv4 clients that way, and an allowlist written in
IPv4 must still apply to them. Policy entries inside ``::ffff:0:0/96`` are
folded into IPv4 for the same reason (a wider IPv6 network such as ``::/0`` stays IPv6 only).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from socket import AF_INET, AF_INET6, inet_ntop, inet_pton

import netaddr

from ..policy.units import is_address_literal, parse_address_set

AddressKey = tuple[int, int]
"""(IP version, integer value): the parsed form the sets are searched with."""

_MAPPED_PREFIX = b"\x00" * 10 + b"\xff\xff"
_MAPPED_OFFSET = 0xFFFF_0000_0000
_MAPPED_NET = netaddr.IPSet(["::ffff:0:0/96"])


class AddressError(ValueError):
    """A policy address reference that cannot be compiled."""


def _pton(ip: str) -> tuple[int, bytes]:
    family = AF_INET6 if ":" in ip else AF_INET
    try:
        return family, inet_pton(family, ip)
    except (OSError, ValueError, UnicodeError):
        raise ValueError(f"{ip!r} is not an IPv4 or IPv6 address") from None


def address_key(ip: str) -> AddressKey:
    """Parse an address (no port, no zone) for lookups; ValueError if it is not one.

    inet_pton is strict (no leading zeros, short IPv4 forms or spaces) and
    ten times faster than the ipaddress module.
    """
    try:
        if ":" not in ip:
            return 4, int.from_bytes(inet_pton(AF_INET, ip), "big")
        packed = inet_pton(AF_INET6, ip)
    except (OSError, ValueError, UnicodeError):
        raise ValueError(f"{ip!r} is not an IPv4 or IPv6 address") from None
    if packed[:12] == _MAPPED_PREFIX:
        return 4, int.from_bytes(packed[12:], "big")
    return 6, int.from_bytes(packed, "big")


def canonical_ip(ip: str) -> str:
    """The canonical text of an address: lower-case, compressed, mapped IPv6 as IPv4."""
    family, packed = _pton(ip)
    if family == AF_INET6 and packed[:12] == _MAPPED_PREFIX:
        return inet_ntop(AF_INET, packed[12:])
    return inet_ntop(family, packed)


def _fold_mapped(ipset: netaddr.IPSet) -> netaddr.IPSet:
    """An entry written inside ::ffff:0:0/96 as the IPv4 addresses it maps."""
    if not ipset or not ipset.issubset(_MAPPED_NET):
        return ipset
    return netaddr.IPSet(
        netaddr.IPRange(netaddr.IPAddress(r.first - _MAPPED_OFFSET, 4), netaddr.IPAddress(r.last - _MAPPED_OFFSET, 4))
        for r in ipset.iter_ipranges()
    )


class AddressSet:
    """An immutable set of addresses. ``ipset`` keeps the netaddr form for display."""

    __slots__ = ("_ranges", "ipset")

    def __init__(self, ipset: netaddr.IPSet) -> None:
        self.ipset = ipset
        starts: dict[int, list[int]] = {4: [], 6: []}
        ends: dict[int, list[int]] = {4: [], 6: []}
        for r in ipset.iter_ipranges():  # sorted and merged: adjacent ranges are one
            starts[r.version].append(r.first)
            ends[r.version].append(r.last)
        self._ranges = {v: (tuple(starts[v]), tuple(ends[v])) for v in (4, 6)}

    @classmethod
    def empty(cls) -> AddressSet:
        return cls(netaddr.IPSet())

    @classmethod
    def everything(cls) -> AddressSet:
        return cls(netaddr.IPSet(["0.0.0.0/0", "::/0"]))

    @property
    def is_empty(self) -> bool:
        return not self._ranges[4][0] and not self._ranges[6][0]

    def contains_key(self, key: AddressKey) -> bool:
        starts, ends = self._ranges[key[0]]
        i = bisect_right(starts, key[1]) - 1
        return i >= 0 and key[1] <= ends[i]

    def contains(self, ip: str) -> bool:
        """Whether ``ip`` is in the set; ValueError if ``ip`` is not an address."""
        # Measured: 0.33 µs (v4) / 0.39 µs (v6) here vs 11 / 42 µs for `ip in netaddr.IPSet`; a dict cache saves 0.28 µs, not worth its churn.
        version, value = address_key(ip)
        starts, ends = self._ranges[version]
        i = bisect_right(starts, value) - 1
        return i >= 0 and value <= ends[i]

    def __repr__(self) -> str:
        return f"AddressSet({[str(c) for c in self.ipset.iter_cidrs()]})"


class AddressBook:
    """Resolves address references against the policy's named ``ip_lists``.

    The loader already rejects unknown names and cycles; this stays defensive
    (a bad reference raises AddressError) because a filter compiled from a
    broken policy must fail the reload, not guess.
    """

    def __init__(self, ip_lists: Mapping[str, Iterable[str]]) -> None:
        self._lists = {name: tuple(refs) for name, refs in ip_lists.items()}
        self._resolved: dict[str, netaddr.IPSet] = {}

    def ipset(self, refs: Iterable[str], _stack: tuple[str, ...] = ()) -> netaddr.IPSet:
        result = netaddr.IPSet()
        for ref in refs:
            ref = ref.strip()
            if is_address_literal(ref):
                try:
                    result |= _fold_mapped(parse_address_set(ref))
                except ValueError as exc:
                    raise AddressError(str(exc)) from None
            else:
                result |= self._named(ref, _stack)
        return result

    def _named(self, name: str, stack: tuple[str, ...]) -> netaddr.IPSet:
        cached = self._resolved.get(name)
        if cached is not None:
            return cached
        if name in stack:
            raise AddressError(f"ip_lists: {' -> '.join((*stack, name))} is a cycle")
        if name not in self._lists:
            raise AddressError(f"{name!r} is neither an address, network or range nor an ip_lists name")
        resolved = self._resolved[name] = self.ipset(self._lists[name], (*stack, name))
        return resolved

    def compile(self, refs: Iterable[str]) -> AddressSet:
        """One AddressSet for all ``refs`` (literals and list names)."""
        return AddressSet(self.ipset(refs))
