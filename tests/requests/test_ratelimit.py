"""Fixed windows counted in the store: per client (an IPv6 /64 is one client) and per e-mail hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.lib.keyring import KeyRing
from gateway.policy.requests import RequestsRateLimits
from gateway.requests.keys import PortalKeys
from gateway.requests.ratelimit import RateLimiter, client_network
from gateway.store import SQLiteStore

KEYS = PortalKeys(KeyRing.from_config([("r1", "raw:" + "a-data-subject-request-key-000001")], "r1"))
T0 = 1_700_000_000.0  # a multiple of 3600 plus 800


@pytest.mark.parametrize(("ip", "counted_as"), [
    ("192.0.2.7", "192.0.2.7"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("::ffff:192.0.2.7", "192.0.2.7"),
    ("not-an-ip", "not-an-ip"),
])
def test_what_a_client_is_counted_as(ip: str, counted_as: str) -> None:
    assert client_network(ip) == counted_as


async def test_the_limit_is_counted_per_window_and_told_with_the_time_left(tmp_path: Path) -> None:
    limits = RequestsRateLimits.model_validate({"per_client": {"requests": 2, "per": "1h"},
                                                "per_email": {"requests": 1, "per": "1d"}})
    limiter = RateLimiter(KEYS, limits)
    async with SQLiteStore(tmp_path / "s.sqlite3") as store:
        assert await limiter.client(store, "2001:db8::1", T0) is None
        assert await limiter.client(store, "2001:db8::2", T0) is None  # the same /64
        limited = await limiter.client(store, "2001:db8::3", T0)
        assert limited is not None and limited.scope == "client" and limited.retry_after == 3600 - T0 % 3600
        assert await limiter.client(store, "2001:db9::1", T0) is None  # another client
        assert await limiter.client(store, "2001:db8::1", T0 - T0 % 3600 + 3600) is None  # the next window
        assert await limiter.email(store, "r1:" + "e" * 32, T0) is None
        email_limited = await limiter.email(store, "r1:" + "e" * 32, T0)
        assert email_limited is not None and email_limited.scope == "email"
        rows = await store._fetch("SELECT bucket FROM dsr_rate")
        assert not [r for r in rows if "2001" in r[0] or "db8" in r[0]]  # keyed hashes, no address
