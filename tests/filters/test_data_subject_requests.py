"""The portal's filter: its prefix is the gateway's own when enabled (never forwarded, HEAD too), the helpdesk's
path like any other when not; the firewall still comes first; tokens never reach the access log."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from gateway.filters.data_subject_requests import DataSubjectRequests
from gateway.metrics import Metrics
from gateway.policy.loader import load_policy_text
from tests.conftest import StartGateway
from tests.support.portal import StartPortal, start_portal  # noqa: F401  (fixture)


async def test_the_prefix_is_answered_by_the_gateway_for_every_method(start_portal: StartPortal) -> None:
    site = await start_portal(prefix="/echo/privacy")  # a path the test helpdesk would echo
    for method in ("GET", "HEAD", "POST", "PUT", "DELETE"):
        async with site.session.request(method, site.base + "/echo/privacy/verify/x", data=b"a=1") as resp:
            assert resp.headers.get("X-Gateway-Reason", "") != "", method
            assert "X-Upstream" not in resp.headers and "received_headers" not in await resp.text()
    async with site.session.get(site.base + "/echo/privacy") as resp:
        assert resp.status == 200 and "Your privacy rights" in await resp.text()
    async with site.session.get(site.base + "/echo/privacy-elsewhere") as resp:
        assert resp.headers.get("X-Gateway-Reason") is None  # a neighbour path goes to the helpdesk


async def test_without_the_portal_the_path_is_the_helpdesks(start_gateway: StartGateway, tmp_path: Path) -> None:
    gateway = await start_gateway({"requests": {"enabled": False, "prefix": "/echo/privacy"}})
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gateway.base_url}/echo/privacy") as resp:  # type: ignore[attr-defined]
            assert resp.status == 200 and "X-Gateway-Reason" not in resp.headers


async def test_the_firewall_decides_before_the_portal(start_portal: StartPortal) -> None:
    site = await start_portal(extra={"firewall": {"rules": [
        {"name": "no-portal", "path": "/_privacy/requests", "allow": ["192.0.2.0/24"]}]}})
    status, _, resp = await site.get(site.prefix)
    assert status == 403 and resp.headers["X-Gateway-Reason"] == "firewall_denied"


def test_tokens_in_paths_are_kept_out_of_the_access_log(tmp_path: Path) -> None:
    import yaml

    from tests.support.portal import portal_policy

    doc = portal_policy(2526, 8080)
    doc["requests"]["keys"] = [{"id": "r1", "secret": "${K}"}]
    doc["requests"]["helpdesk"]["secret"] = "${H}"
    doc["requests"]["api_tokens"] = []
    policy = load_policy_text(yaml.safe_dump(doc), "p.yaml", default_upstream="http://h.test", env={
        "K": "raw:" + "a-data-subject-request-key-000001", "H": "a-webhook-secret-of-32-bytes-000001"}).policy
    flt = DataSubjectRequests(policy, Metrics())
    assert DataSubjectRequests.enabled_in(policy)
    assert flt.log_path("/_privacy/requests/verify/r1.abc.def") == "/_privacy/requests/verify/-"
    assert flt.log_path("/_privacy/requests/download/r1.x.y") == "/_privacy/requests/download/-"
    assert flt.log_path("/_privacy/requests") is None and flt.log_path("/tickets/1") is None
