"""Rate limits of the portal's form: per client address and per e-mail address, in fixed windows.

Counts live in the store (``count_rate``), so every replica counts the same
submissions. A window is named by a keyed hash of what is counted (an IPv4
address, an IPv6 /64, an e-mail hash) and the window's index: the store
never sees an address, and a window ends by itself (purged after its end).
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from typing import Literal

from ..policy.requests import RateLimit, RequestsRateLimits
from ..store import Store
from .keys import PortalKeys

Scope = Literal["client", "email"]


@dataclass(frozen=True, slots=True)
class Limited:
    scope: Scope
    retry_after: int  # seconds until the window ends


def client_network(ip: str) -> str:
    """What one client is counted as: its IPv4 address, or its IPv6 /64 (one household or host)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6 and address.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address.ipv4_mapped or address) if address.version == 6 else str(address)


class RateLimiter:
    def __init__(self, keys: PortalKeys, limits: RequestsRateLimits) -> None:
        self._keys = keys
        self._limits = limits

    async def client(self, store: Store, ip: str, now: float) -> Limited | None:
        name = self._keys.mac(self._keys.current, "rate|client|" + client_network(ip))
        return await self._count(store, "client", f"c:{name}", self._limits.per_client, now)

    async def email(self, store: Store, email_hash: str, now: float) -> Limited | None:
        return await self._count(store, "email", f"e:{email_hash}", self._limits.per_email, now)

    @staticmethod
    async def _count(store: Store, scope: Scope, name: str, limit: RateLimit, now: float) -> Limited | None:
        index = math.floor(now / limit.per)
        window_end = (index + 1) * limit.per
        count = await store.count_rate(f"{name}:{index}", window_end)
        if count <= limit.requests:
            return None
        return Limited(scope, max(1, math.ceil(window_end - now)))
