"""The operators' API on the real admin listener: bearer tokens only, every action audited, and an approved
access request's export mailed, downloaded once, then gone."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import aiohttp
import pytest

from gateway.helpdesks.base import Attachment, Case, Message
from tests.support.portal import TOKEN, PortalSite, StartPortal

EMAIL = "kari@example.no"
AUTH = {"Authorization": "Bearer " + TOKEN.removeprefix("raw:")}


async def api(site: PortalSite, method: str, path: str, *, headers: dict[str, str] | None = None,
              body: Any = None) -> tuple[int, Any, aiohttp.ClientResponse]:
    async with aiohttp.ClientSession() as session:
        async with session.request(method, site.admin + path, headers=AUTH if headers is None else headers,
                                   json=body) as resp:
            raw = await resp.read()
            kind = resp.headers.get("Content-Type", "")
            return resp.status, json.loads(raw) if "json" in kind else raw, resp


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic b3BzOng="},
                                     {"Authorization": "Bearer "}])
async def test_every_call_without_a_valid_token_is_401(start_portal: StartPortal, headers: dict[str, str]) -> None:
    site = await start_portal()
    for method, path in (("GET", "/requests"), ("GET", "/requests/DSR-00000-00000"),
                         ("POST", "/requests/DSR-00000-00000/approve"), ("POST", "/requests/DSR-00000-00000/export")):
        status, doc, resp = await api(site, method, path, headers=headers)
        assert status == 401 and doc["error"] == "unauthorized", (method, path)
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_policy_without_tokens_refuses_every_call(start_portal: StartPortal) -> None:
    site = await start_portal(api_tokens=[])
    assert (await api(site, "GET", "/requests"))[0] == 401


async def test_list_show_extend_and_refuse_with_the_audit_log(start_portal: StartPortal) -> None:
    site = await start_portal()
    request_id = site.request_id(await site.verify(EMAIL, "erasure", text="Delete it all"))
    status, doc, _ = await api(site, "GET", "/requests")
    assert status == 200 and [r["request_id"] for r in doc["requests"]] == [request_id]
    assert "email" not in doc["requests"][0] and EMAIL not in json.dumps(doc)

    status, doc, _ = await api(site, "GET", f"/requests/{request_id}")
    assert status == 200 and doc["email"] == EMAIL and doc["text"] == "Delete it all" and doc["type"] == "erasure"

    status, doc, _ = await api(site, "POST", f"/requests/{request_id}/extend", body={"days": 30, "reason": "Many cases"})
    assert status == 200 and doc["state"] == "extended" and doc["extended_days"] == 30
    await site.wait_for(lambda: any("More time" in m["Subject"] for m in site.mails_to(EMAIL)))
    extended = next(m for m in site.mails_to(EMAIL) if "More time" in m["Subject"])
    assert "Reason: Many cases" in site.text_of(extended) and doc["due"][:10] in site.text_of(extended)
    status, page, _ = await site.get(site.link_in(extended, "status"))
    assert "deadline extended" in page and "Many cases" in page

    status, doc, _ = await api(site, "POST", f"/requests/{request_id}/extend", body={"days": 40, "reason": "More"})
    assert status == 409 and "61 days in all" in doc["message"]
    status, doc, _ = await api(site, "POST", f"/requests/{request_id}/refuse", body={})
    assert status == 409 and "reason" in doc["message"]
    status, doc, _ = await api(site, "POST", f"/requests/{request_id}/refuse", body={"reason": "Legal hold"})
    assert status == 200 and doc["state"] == "refused"
    await site.wait_for(lambda: any(m["Subject"] == f"Your privacy request {request_id}" for m in site.mails_to(EMAIL)))
    status, doc, _ = await api(site, "POST", f"/requests/{request_id}/approve")
    assert status == 409 and "refused" in doc["message"]
    assert (await api(site, "GET", "/requests"))[1]["requests"] == []
    assert [r["state"] for r in (await api(site, "GET", "/requests?all=1"))[1]["requests"]] == ["refused"]

    status, doc, _ = await api(site, "GET", f"/requests/{request_id}")
    assert [(e["actor"], e["action"]) for e in doc["audit"]] == [
        ("api:ops", "show"), ("api:ops", "extend"), ("api:ops", "refuse"), ("api:ops", "show")]
    assert all(set(e) == {"at", "actor", "action"} for e in doc["audit"])


async def test_unknown_requests_and_bad_bodies(start_portal: StartPortal) -> None:
    site = await start_portal()
    assert (await api(site, "GET", "/requests/DSR-00000-00000"))[0] == 404
    assert (await api(site, "GET", "/requests/anything"))[0] == 404
    request_id = site.request_id(await site.verify(EMAIL))
    status, doc, _ = await api(site, "POST", f"/requests/{request_id}/extend", body=[1])
    assert status == 400
    status, doc, _ = await api(site, "POST", f"/requests/{request_id}/extend", body={"days": "30", "reason": "x"})
    assert status == 400


async def test_approving_an_access_request_mails_a_download_link_that_works_once(start_portal: StartPortal) -> None:
    site = await start_portal()
    mine = Case("7", "support-7", "Printer on fire", "closed", "support", "2025-01-01T10:00:00Z",
                "2025-01-02T10:00:00Z", "Kari@Example.no", (
                    Message("71", "Kari", "2025-01-01T10:00:00Z", "It burns", attachments=(
                        Attachment("photo.jpg", 2048, "image/jpeg"),)),
                    Message("72", "Agent Ola", "2025-01-01T11:00:00Z", "Call the fire brigade", public=True)))
    theirs = Case("8", "support-8", "Someone else's", "open", "support", "2025-01-01", "2025-01-01",
                  "ola@example.no", (Message("81", "Ola", "2025-01-01", "Ola's secret"),))
    site.helpdesk.add(mine)
    site.helpdesk.add(theirs)
    request_id = site.request_id(await site.verify(EMAIL, "access"))
    await site.wait_for(lambda: len(site.helpdesk.opened) == 1)
    assert not [m for m in site.mails_to(EMAIL) if "ready" in m["Subject"]]  # manual approval: nothing released

    status, doc, _ = await api(site, "POST", f"/requests/{request_id}/approve")
    assert status == 200 and doc["state"] == "in_progress" and "export" in doc["pending"]
    await site.wait_for(lambda: any("Your data is ready" in m["Subject"] for m in site.mails_to(EMAIL)))
    ready = next(m for m in site.mails_to(EMAIL) if "Your data is ready" in m["Subject"])
    download = site.link_in(ready, "download")
    status, page, _ = await site.get(download)
    assert status == 200 and "Download (ZIP)" in page

    status, archive, resp = await site.post(download)
    assert status == 200 and resp.headers["Content-Type"] == "application/zip"
    assert resp.headers["Content-Disposition"] == f'attachment; filename="privacy-export-{request_id}.zip"'
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        names = set(zf.namelist())
        data = json.loads(zf.read("data.json"))
        messages_csv = zf.read("messages.csv").decode("utf-8-sig")
        summary = zf.read("index.html").decode()
    assert names == {"data.json", "index.html", "cases.csv", "messages.csv", "attachments.csv",
                     "consent_receipts.csv", "legal_basis_records.csv", "requests.csv"}
    assert sorted(c["reference"] for c in data["cases"]) == ["DSAR-101", "support-7"]
    assert "Ola's secret" not in json.dumps(data) and "Ola's secret" not in summary and "support-8" not in summary
    assert "It burns" in messages_csv and "Call the fire brigade" in messages_csv
    (attachment,) = data["cases"][0]["messages"][0]["attachments"]
    assert (attachment["name"], attachment["size"], attachment["content_type"]) == ("photo.jpg", 2048, "image/jpeg")
    assert [r["request_id"] for r in data["requests"]] == [request_id] and data["email"] == EMAIL
    assert "<script" not in summary and "Printer on fire" in summary

    status, raw, resp = await site.post(download)
    assert status == 410 and resp.headers["X-Gateway-Reason"] == "requests_export_gone"
    status, doc, _ = await api(site, "GET", f"/requests/{request_id}")
    assert doc["state"] == "fulfilled" and doc["export"] == "downloaded"
    status, page, _ = await site.get(site.link_in(ready, "download").replace("/download/", "/status/"))
    assert status == 403  # a download token is not a status token
    store = site.gateway.runtime.store
    assert store is not None and await store.take_export("0" * 32, 0) == ("gone", None)


async def test_an_automatic_portability_request_is_released_without_an_operator(start_portal: StartPortal) -> None:
    site = await start_portal(approval={"portability": "automatic"})
    request_id = site.request_id(await site.verify(EMAIL, "portability"))
    await site.wait_for(lambda: any("Your data is ready" in m["Subject"] for m in site.mails_to(EMAIL)))
    status, doc, _ = await api(site, "GET", f"/requests/{request_id}")
    assert doc["state"] == "fulfilled" and doc["export"] == "ready"
    status, archive, _ = await api(site, "POST", f"/requests/{request_id}/export")
    assert status == 200 and zipfile.ZipFile(io.BytesIO(archive)).read("data.json")
    assert [e["action"] for e in (await api(site, "GET", f"/requests/{request_id}"))[1]["audit"]] == [
        "show", "export", "show"]


async def test_approving_an_erasure_request_fulfils_it_and_tells_the_requester(start_portal: StartPortal) -> None:
    site = await start_portal()
    request_id = site.request_id(await site.verify(EMAIL, "erasure"))
    status, doc, _ = await api(site, "POST", f"/requests/{request_id}/approve")
    assert status == 200 and doc["state"] == "fulfilled"
    await site.wait_for(lambda: any("is done" in m["Subject"] for m in site.mails_to(EMAIL)))
    metrics = site.gateway.metrics.registry
    await site.gateway.requests_worker.run_once()
    assert metrics.get_sample_value("privacy_gateway_data_subject_requests_open", {"type": "erasure"}) == 0


async def test_the_api_of_a_supervisor_without_a_store_opens_its_own(tmp_path: Any, aiohttp_client: Any) -> None:
    """`serve --workers N`: the supervisor serves the admin listener with no store of its own."""
    import yaml

    from gateway.admin import make_admin_app
    from gateway.metrics import Metrics
    from gateway.policy.loader import load_policy_text
    from gateway.requests import lifecycle
    from gateway.requests.compiled import compile_requests
    from gateway.runtime import Runtime
    from gateway.store import SQLiteStore
    from tests.support.portal import portal_policy

    doc = portal_policy(2526, 8080)
    doc["store"] = {"url": f"sqlite:///{tmp_path}/state.sqlite3"}
    for section, key in ((doc["requests"]["keys"][0], "K"), (doc["requests"]["api_tokens"][0], "T")):
        section["secret"] = "${" + key + "}"
    doc["requests"]["helpdesk"]["secret"] = "${H}"
    policy = load_policy_text(yaml.safe_dump(doc), "p.yaml", default_upstream="http://h.test", env={
        "K": "raw:" + "a-data-subject-request-key-000001", "T": TOKEN, "H": "a-webhook-secret-of-32-bytes-000001",
    }).policy
    compiled = compile_requests(policy)
    assert compiled is not None
    made = lifecycle.verified(compiled.keys, lifecycle.Private("access", EMAIL, "", "", "en"), now=1_000,
                              due_days=30, automatic=False)
    async with SQLiteStore(tmp_path / "state.sqlite3") as store:
        await store.add_request(made)

    class Supervisor:
        def __init__(self) -> None:
            self.metrics = Metrics()
            self.runtime = Runtime(policy, self.metrics, "x")  # no store: its workers have theirs

    client = await aiohttp_client(make_admin_app(Supervisor()))
    assert (await client.get("/requests")).status == 401
    resp = await client.get("/requests", headers=AUTH)
    assert resp.status == 200 and [r["request_id"] for r in (await resp.json())["requests"]] == [made.request_id]
    resp = await client.get(f"/requests/{made.request_id}", headers=AUTH)
    assert (await resp.json())["email"] == EMAIL


async def test_decisions_are_counted_once_the_requester_is_told(start_portal: StartPortal) -> None:
    site = await start_portal()
    first = site.request_id(await site.verify(EMAIL, "erasure"))
    second = site.request_id(await site.verify("ola@example.no", "objection"))
    await api(site, "POST", f"/requests/{first}/extend", body={"days": 10, "reason": "Busy"})
    await api(site, "POST", f"/requests/{first}/approve")
    await api(site, "POST", f"/requests/{second}/refuse", body={"reason": "No such processing"})
    value = site.gateway.metrics.registry.get_sample_value

    def counted() -> tuple[float | None, ...]:
        return (value("privacy_gateway_data_subject_requests_total", {"type": "erasure", "result": "extended"}),
                value("privacy_gateway_data_subject_requests_total", {"type": "erasure", "result": "fulfilled"}),
                value("privacy_gateway_data_subject_requests_total", {"type": "objection", "result": "refused"}))

    await site.wait_for(lambda: counted() == (1.0, 1.0, 1.0))
