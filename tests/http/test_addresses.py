"""Address sets: parsing, merging, named lists, IPv4-mapped IPv6, lookups."""

from __future__ import annotations

import ipaddress
import random

import netaddr
import pytest

from gateway.http.addresses import (
    AddressBook,
    AddressError,
    AddressSet,
    address_key,
    canonical_ip,
)


def compile_refs(refs: list[str], lists: dict[str, list[str]] | None = None) -> AddressSet:
    return AddressBook(lists or {}).compile(refs)


@pytest.mark.parametrize(
    ("refs", "inside", "outside"),
    [
        (["10.0.0.0/8"], ["10.0.0.0", "10.255.255.255", "10.1.2.3"], ["9.255.255.255", "11.0.0.0"]),
        (["203.0.113.5"], ["203.0.113.5"], ["203.0.113.4", "203.0.113.6"]),
        (["10.0.0.5-10.0.0.40"], ["10.0.0.5", "10.0.0.40", "10.0.0.17"], ["10.0.0.4", "10.0.0.41"]),
        (["2001:db8::/32"], ["2001:db8::", "2001:db8:ffff::1"], ["2001:db9::", "2001:db7:ffff::"]),
        (["2001:db8::1-2001:db8::ff"], ["2001:db8::1", "2001:db8::ff"], ["2001:db8::100", "2001:db8::"]),
        ([" 192.0.2.1 "], ["192.0.2.1"], ["192.0.2.2"]),
        # Adjacent entries merge into one range; the lookup must still see both ends.
        (["10.0.0.0/24", "10.0.1.0/24"], ["10.0.0.255", "10.0.1.0", "10.0.1.255"], ["10.0.2.0"]),
        # A host-bit network is its network (netaddr NOHOST), as the loader reads it.
        (["10.0.0.7/24"], ["10.0.0.1"], ["10.0.1.1"]),
    ],
)
def test_membership(refs: list[str], inside: list[str], outside: list[str]) -> None:
    s = compile_refs(refs)
    for ip in inside:
        assert s.contains(ip), ip
    for ip in outside:
        assert not s.contains(ip), ip


def test_versions_do_not_mix() -> None:
    # The integer 1 is 0.0.0.1 and ::1; the two must not meet.
    assert not compile_refs(["::/96"]).contains("0.0.0.1")
    assert not compile_refs(["0.0.0.0/8"]).contains("::1")
    # An IPv6 allowlist of "everything" is not an IPv4 allowlist.
    assert not compile_refs(["::/0"]).contains("1.2.3.4")


@pytest.mark.parametrize("ip", ["::ffff:10.1.2.3", "::FFFF:10.1.2.3", "::ffff:0a01:0203", "0:0:0:0:0:ffff:10.1.2.3"])
def test_mapped_ipv6_is_ipv4(ip: str) -> None:
    assert compile_refs(["10.0.0.0/8"]).contains(ip)
    assert not compile_refs(["11.0.0.0/8"]).contains(ip)
    assert address_key(ip) == (4, int(ipaddress.IPv4Address("10.1.2.3")))
    assert canonical_ip(ip) == "10.1.2.3"


@pytest.mark.parametrize("entry", ["::ffff:10.0.0.0/104", "::ffff:10.0.0.0-::ffff:10.255.255.255"])
def test_mapped_policy_entries_are_folded_into_ipv4(entry: str) -> None:
    s = compile_refs([entry])
    assert s.contains("10.20.30.40")
    assert s.contains("::ffff:10.20.30.40")
    assert not s.contains("11.0.0.1")
    assert s.ipset == netaddr.IPSet(["10.0.0.0/8"])


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("1.2.3.4", "1.2.3.4"),
        ("2001:DB8::0001", "2001:db8::1"),
        ("2001:db8:0:0:0:0:0:1", "2001:db8::1"),
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("::1", "::1"),
    ],
)
def test_canonical_ip(text: str, canonical: str) -> None:
    assert canonical_ip(text) == canonical


@pytest.mark.parametrize(
    "bad",
    ["", "1.2.3", "01.2.3.4", "1.2.3.04", "0x7f.0.0.1", "127.1", "256.1.1.1", " 1.2.3.4", "1.2.3.4 ",
     "fe80::1%eth0", "1::2::3", "unknown", "1.2.3.4\x00", "١.٢.٣.٤", "[::1]", "1.2.3.4:80"],
)
def test_not_an_address(bad: str) -> None:
    s = AddressSet.everything()
    with pytest.raises(ValueError, match="is not an IPv4 or IPv6 address"):
        s.contains(bad)
    with pytest.raises(ValueError):
        canonical_ip(bad)


def test_empty_and_everything() -> None:
    assert AddressSet.empty().is_empty
    assert not AddressSet.empty().contains("1.2.3.4")
    assert compile_refs([]).is_empty
    every = AddressSet.everything()
    assert not every.is_empty
    for ip in ["0.0.0.0", "255.255.255.255", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"]:
        assert every.contains(ip)


def test_named_lists_nest() -> None:
    lists = {
        "office": ["192.0.2.0/24", "vpn"],
        "vpn": ["198.51.100.10-198.51.100.20", "2001:db8:1::/48"],
        "staff": ["office", "203.0.113.7"],
    }
    s = compile_refs(["staff"], lists)
    for ip in ["192.0.2.9", "198.51.100.15", "2001:db8:1::5", "203.0.113.7"]:
        assert s.contains(ip), ip
    for ip in ["198.51.100.21", "2001:db8:2::5", "203.0.113.8"]:
        assert not s.contains(ip), ip


def test_list_compiled_once_and_shared() -> None:
    book = AddressBook({"office": ["192.0.2.0/24"], "a": ["office"], "b": ["office"]})
    assert book.ipset(["a"]) == book.ipset(["b"]) == netaddr.IPSet(["192.0.2.0/24"])
    assert set(book._resolved) == {"office", "a", "b"}


@pytest.mark.parametrize(
    ("lists", "refs", "message"),
    [
        ({}, ["nosuch"], "'nosuch' is neither an address, network or range nor an ip_lists name"),
        ({"a": ["b"], "b": ["a"]}, ["a"], "ip_lists: a -> b -> a is a cycle"),
        ({"a": ["a"]}, ["a"], "ip_lists: a -> a is a cycle"),
        ({}, ["10.0.0.300/8"], "'10.0.0.300/8' is not an IPv4 or IPv6 network"),
        ({}, ["10.0.0.9-10.0.0.1"], "'10.0.0.9-10.0.0.1' is an empty range (start after end)"),
    ],
)
def test_bad_references(lists: dict[str, list[str]], refs: list[str], message: str) -> None:
    with pytest.raises(AddressError) as info:
        compile_refs(refs, lists)
    assert str(info.value) == message


def test_agrees_with_netaddr_on_random_addresses() -> None:
    rnd = random.Random(7)
    entries = [f"{rnd.randrange(256)}.{rnd.randrange(256)}.0.0/{rnd.randrange(8, 25)}" for _ in range(50)]
    entries += [f"2001:db8:{rnd.randrange(65536):x}::/{rnd.randrange(33, 64)}" for _ in range(50)]
    reference = netaddr.IPSet()
    for entry in entries:
        reference.add(netaddr.IPNetwork(entry, flags=netaddr.NOHOST))
    s = compile_refs(entries)
    for _ in range(3000):
        v4 = str(ipaddress.IPv4Address(rnd.getrandbits(32)))
        v6 = str(ipaddress.IPv6Address((0x20010DB8 << 96) | rnd.getrandbits(96)))
        assert s.contains(v4) == (v4 in reference), v4
        assert s.contains(v6) == (v6 in reference), v6
