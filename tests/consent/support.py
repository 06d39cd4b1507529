"""Shared helpers of the consent tests: a policy section, compiled pieces, Exchange objects."""

from __future__ import annotations

import copy
from typing import Any, cast

from aiohttp.web import BaseRequest
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.consent.compiled import Compiled, compile_consent
from gateway.exchange import Exchange
from gateway.policy.schema import Policy
from gateway.routing import CompiledRoute
from tests.support.policy import make_policy

KEY = "base64:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="  # 32 bytes, tests only
OLD_KEY = "raw:an old key that is at least thirty-two bytes long"

SECTION: dict[str, Any] = {
    "enabled": True,
    "version": "v1",
    "keys": [{"id": "k1", "secret": KEY}],
    "categories": {
        "necessary": {"cookies": [{"name": "sessionid"}, {"glob": "csrf*"}]},
        "preferences": {"cookies": [{"name": "lang"}]},
        "analytics": {"cookies": [{"glob": "_ga*"}, {"name": "_gid"}]},
        "marketing": {"default": False, "gpc": True, "cookies": [{"glob": "_fb*"}]},
    },
}


def section(**overrides: Any) -> dict[str, Any]:
    """The test consent section with top-level keys replaced."""
    out = copy.deepcopy(SECTION)
    out.update(overrides)
    return out


def policy(**overrides: Any) -> Policy:
    return make_policy({"consent": section(**overrides)})


def compiled(**overrides: Any) -> Compiled:
    return compile_consent(policy(**overrides).consent)


class FakeRequest:
    """What the consent code reads from a request: headers and the raw target."""

    def __init__(self, headers: dict[str, str] | list[tuple[str, str]] | None = None, raw_path: str = "/") -> None:
        self.headers = CIMultiDictProxy(CIMultiDict(headers or {}))
        self.raw_path = raw_path


def make_exchange(
    path: str = "/", *, method: str = "GET", headers: dict[str, str] | list[tuple[str, str]] | None = None,
    client_ip: str = "203.0.113.77", proto: str = "http",
) -> Exchange:
    request = FakeRequest(headers, path)
    ex = Exchange(
        request=cast(BaseRequest, request), method=method, path=path.partition("?")[0], host="help.example",
        peer_ip=client_ip, client_ip=client_ip, route=CompiledRoute("default", 1 << 20, 60.0),
    )
    upstream: CIMultiDict[str] = CIMultiDict(request.headers)
    upstream["X-Forwarded-Proto"] = proto
    upstream["X-Forwarded-Host"] = "help.example"
    ex.upstream_headers = upstream
    return ex


def gateway_policy(store_url: str, **overrides: Any) -> dict[str, Any]:
    """A policy for ``start_gateway`` with the test consent section and a store at ``store_url``."""
    return {"consent": section(**overrides), "store": {"url": store_url}}


def set_cookie_value(set_cookies: list[str], name: str) -> str | None:
    """The value the last Set-Cookie for ``name`` sets (None when there is none)."""
    found = None
    for header in set_cookies:
        pair = header.split(";", 1)[0]
        key, _, value = pair.partition("=")
        if key.strip() == name:
            found = value
    return found
