"""Client address behind trusted proxies: spoofing, chains, IPv6, ports, garbage."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.http.clientip import ClientIPError, ClientIPResolver, Hop, parse_forwarded_entry
from tests.support.policy import make_policy


def resolver(trusted: list[str], ip_lists: dict[str, Any] | None = None) -> ClientIPResolver:
    return ClientIPResolver(
        make_policy({"client_ip": {"trusted_proxies": trusted}, "ip_lists": ip_lists or {}})
    )


LB = ["10.0.0.0/24", "2001:db8:ffff::/48"]


@pytest.mark.parametrize(
    ("trusted", "peer", "xff", "client"),
    [
        # No trusted proxies: the peer is the client, whatever it claims.
        ([], "198.51.100.7", [], "198.51.100.7"),
        ([], "198.51.100.7", ["203.0.113.1"], "198.51.100.7"),
        ([], "198.51.100.7", ["a", "b"], "198.51.100.7"),  # not even read
        # Spoofing from an untrusted peer: XFF ignored, never parsed.
        (LB, "198.51.100.7", ["10.0.0.1"], "198.51.100.7"),
        (LB, "198.51.100.7", ["unknown"], "198.51.100.7"),
        (LB, "198.51.100.7", ["1.1.1.1", "2.2.2.2"], "198.51.100.7"),
        (LB, "203.0.113.9", ["10.0.0.5, 10.0.0.6"], "203.0.113.9"),
        # A trusted peer: the rightmost untrusted entry.
        (LB, "10.0.0.1", ["203.0.113.7"], "203.0.113.7"),
        (LB, "10.0.0.1", ["203.0.113.7, 10.0.0.2"], "203.0.113.7"),
        (LB, "10.0.0.1", ["203.0.113.7,10.0.0.2,10.0.0.3"], "203.0.113.7"),
        # The client forged entries on the left; the first untrusted from the right wins.
        (LB, "10.0.0.1", ["10.0.0.99, 192.0.2.1, 203.0.113.7, 10.0.0.2"], "203.0.113.7"),
        (LB, "10.0.0.1", ["1.1.1.1, 203.0.113.7"], "203.0.113.7"),
        # Entries left of the winner are client data: not parsed, so garbage there is fine.
        (LB, "10.0.0.1", ["unknown, 203.0.113.7"], "203.0.113.7"),
        (LB, "10.0.0.1", ["_hidden, , garbage\x00, 203.0.113.7, 10.0.0.2"], "203.0.113.7"),
        # Every hop trusted: the leftmost is the client.
        (LB, "10.0.0.1", ["10.0.0.9, 10.0.0.2"], "10.0.0.9"),
        # A trusted peer without XFF (its own health check): the peer.
        (LB, "10.0.0.1", [], "10.0.0.1"),
        # Ports, brackets, spaces and tabs.
        (LB, "10.0.0.1", ["203.0.113.7:51234"], "203.0.113.7"),
        (LB, "10.0.0.1", ["203.0.113.7:0, 10.0.0.2:65535"], "203.0.113.7"),
        (LB, "10.0.0.1", ["  203.0.113.7\t ,\t10.0.0.2:443 "], "203.0.113.7"),
        (LB, "10.0.0.1", ["[2001:db8::7]:443"], "2001:db8::7"),
        (LB, "10.0.0.1", ["[2001:db8::7]"], "2001:db8::7"),
        (LB, "10.0.0.1", ["2001:db8::7"], "2001:db8::7"),
        (LB, "10.0.0.1", ["2001:DB8:0:0::7"], "2001:db8::7"),
        # IPv6 chain, and a trusted IPv6 proxy in an IPv4 chain.
        (LB, "2001:db8:ffff::1", ["2001:db8::7, [2001:db8:ffff::2]:80"], "2001:db8::7"),
        (LB, "2001:db8:ffff::1", ["203.0.113.7, 10.0.0.2"], "203.0.113.7"),
        # IPv4-mapped IPv6 is IPv4: as a peer (dual-stack socket) and as an entry.
        (LB, "::ffff:10.0.0.1", ["203.0.113.7"], "203.0.113.7"),
        (LB, "::ffff:198.51.100.7", ["203.0.113.7"], "198.51.100.7"),
        (LB, "10.0.0.1", ["::ffff:203.0.113.7"], "203.0.113.7"),
        (LB, "10.0.0.1", ["203.0.113.7, ::ffff:10.0.0.2"], "203.0.113.7"),
        (LB, "10.0.0.1", ["[::ffff:203.0.113.7]:8080"], "203.0.113.7"),
        (LB, "10.0.0.1", ["10.0.0.9, [::ffff:10.0.0.2]:1"], "10.0.0.9"),
        # A peer with a zone, as aiohttp reports link-local IPv6 peers.
        ([], "fe80::1%eth0", [], "fe80::1"),
        (["fe80::/64"], "fe80::1%eth0", ["203.0.113.7"], "203.0.113.7"),
        # Peers in canonical form.
        ([], "2001:DB8::0:1", [], "2001:db8::1"),
    ],
)
def test_resolve(trusted: list[str], peer: str, xff: list[str], client: str) -> None:
    assert resolver(trusted).resolve(peer, xff) == client


@pytest.mark.parametrize(
    ("peer", "xff", "reason", "message"),
    [
        ("10.0.0.1", ["203.0.113.7", "203.0.113.8"], "xff_multiple",
         "2 X-Forwarded-For headers from a trusted proxy"),
        ("10.0.0.1", ["", ""], "xff_multiple", "2 X-Forwarded-For headers from a trusted proxy"),
        ("10.0.0.1", [""], "xff_invalid", "X-Forwarded-For[0] is not an address"),
        ("10.0.0.1", ["  "], "xff_invalid", "X-Forwarded-For[0] is not an address"),
        ("10.0.0.1", ["unknown"], "xff_invalid", "X-Forwarded-For[0] is not an address"),
        ("10.0.0.1", ["203.0.113.7, unknown"], "xff_invalid", "X-Forwarded-For[1] is not an address"),
        ("10.0.0.1", ["_gazonk"], "xff_invalid", "X-Forwarded-For[0] is not an address"),
        ("10.0.0.1", ["203.0.113.7,"], "xff_invalid", "X-Forwarded-For[1] is not an address"),
        ("10.0.0.1", ["203.0.113.7, , 10.0.0.2"], "xff_invalid", "X-Forwarded-For[1] is not an address"),
        ("10.0.0.1", ["10.0.0.2, not-an-ip, 10.0.0.3"], "xff_invalid", "X-Forwarded-For[1] is not an address"),
    ],
)
def test_resolve_errors(peer: str, xff: list[str], reason: str, message: str) -> None:
    with pytest.raises(ClientIPError) as info:
        resolver(LB).resolve(peer, xff)
    assert info.value.reason == reason
    assert str(info.value) == message


@pytest.mark.parametrize(
    "entry",
    [
        "", "unknown", "_hidden", "203.0.113.7:", "203.0.113.7:65536", "203.0.113.7:123456", "203.0.113.7:80:80",
        "203.0.113.7:http", "203.0.113.7:+80", "203.0.113.7:٨٠", "[203.0.113.7]", "[203.0.113.7]:80",
        "[2001:db8::7", "[2001:db8::7]80", "[2001:db8::7]:", "[2001:db8::7]:x", "2001:db8::7:80x",
        "[fe80::1%eth0]", "fe80::1%eth0", "203.0.113.07", "203.0.113", "0x7f000001", "2130706433",
        "203.0.113.7 80", '"203.0.113.7"', "for=203.0.113.7", "203.0.113.7/32", "203.0.113.7\x00",
        "ff::gg",
    ],
)
def test_entry_garbage(entry: str) -> None:
    with pytest.raises(ValueError):
        parse_forwarded_entry(entry)
    with pytest.raises(ClientIPError) as info:
        resolver(LB).resolve("10.0.0.1", [entry])
    assert info.value.reason == "xff_invalid"


@pytest.mark.parametrize("peer", ["", "unix:/run/gw.sock", "localhost", "1.2.3.4:80"])
def test_peer_not_an_address(peer: str) -> None:
    with pytest.raises(ClientIPError) as info:
        resolver(LB).resolve(peer, [])
    assert info.value.reason == "peer_invalid"


def test_multiple_headers_from_untrusted_peer_are_ignored() -> None:
    assert resolver(LB).resolve("203.0.113.9", ["1.1.1.1", "garbage"]) == "203.0.113.9"


def test_trusted_proxies_by_list_name() -> None:
    r = resolver(["edge"], {"edge": ["cdn", "10.0.0.1"], "cdn": ["192.0.2.0/24"]})
    assert r.resolve("10.0.0.1", ["203.0.113.7, 192.0.2.5"]) == "203.0.113.7"
    assert r.resolve("192.0.2.9", ["203.0.113.7"]) == "203.0.113.7"
    assert r.resolve("10.0.0.2", ["203.0.113.7"]) == "10.0.0.2"


def test_trace_records_every_hop() -> None:
    trace: list[Hop] = []
    client = resolver(LB).resolve("10.0.0.1", ["1.1.1.1, 203.0.113.7, 10.0.0.2:80"], trace=trace)
    assert client == "203.0.113.7"
    assert trace == [
        Hop("peer", "10.0.0.1", True),
        Hop("X-Forwarded-For[2]", "10.0.0.2", True),
        Hop("X-Forwarded-For[1]", "203.0.113.7", False),
    ]


def test_trace_is_filled_before_an_error() -> None:
    trace: list[Hop] = []
    with pytest.raises(ClientIPError):
        resolver(LB).resolve("10.0.0.1", ["unknown, 10.0.0.2"], trace=trace)
    assert trace == [Hop("peer", "10.0.0.1", True), Hop("X-Forwarded-For[1]", "10.0.0.2", True)]


@pytest.mark.parametrize(
    ("peer", "trusted"),
    [("10.0.0.1", True), ("::ffff:10.0.0.1", True), ("2001:db8:ffff::1", True), ("10.0.1.1", False),
     ("fe80::1%eth0", False), ("", False), ("garbage", False)],
)
def test_is_trusted(peer: str, trusted: bool) -> None:
    assert resolver(LB).is_trusted(peer) is trusted
