"""The demo helpdesk's django-helpdesk API: the gateway's real DjangoHelpdesk adapter against it, on loopback,
and ``privacy-gateway cases`` and the retention schedule against a running ``privacy-gateway demo``."""

from __future__ import annotations

import base64
import calendar
import json
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from gateway.demo.api import BASE, authorised
from gateway.demo.helpdesk import runner_url, start_helpdesk
from gateway.helpdesks.base import HelpdeskError, NewCase
from gateway.helpdesks.django_helpdesk import DjangoHelpdesk
from gateway.policy.helpdesks import HelpdeskSettings
from tests.conftest import free_port
from tests.test_cli import ROOT, Proc, eventually, processes, run_cli, wait_for_port, write_policy

TOKEN = "a-demo-api-token-for-the-tests-0001"
KARI = "kari.nordmann@example.com"
KARI_PHONE = "+44 20 7946 0123"  # her number in tickets 5 and 6
KARI_HOME_PHONE = "+47 000 00 000"  # her customer record's
FNR = "01010012356"
DEMO_SECRETS = ROOT / "policies" / "demo-secrets"


def _epoch(iso: str) -> float:
    return float(calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")))


@pytest.fixture
async def helpdesk() -> AsyncIterator[str]:
    runner = await start_helpdesk("127.0.0.1", 0, api_token=TOKEN)
    try:
        yield runner_url(runner)
    finally:
        await runner.cleanup()


def _settings(url: str, **credentials: str) -> HelpdeskSettings:
    return HelpdeskSettings(adapter="django-helpdesk", url=f"{url}/helpdesk", queue="1", retries=0,
                            **(credentials or {"token": TOKEN}))


@pytest.fixture
async def adapter(helpdesk: str) -> AsyncIterator[DjangoHelpdesk]:
    desk = DjangoHelpdesk(_settings(helpdesk))
    try:
        yield desk
    finally:
        await desk.close()


async def _api(url: str, method: str, path: str, body: Any = None, *, token: str = TOKEN) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.request(method, f"{url}{BASE}{path}", json=body,
                                   headers={"Authorization": f"Token {token}"}) as resp:
            text = await resp.text()
            return resp.status, json.loads(text) if text else None


async def _page(url: str, path: str) -> str:
    async with aiohttp.ClientSession() as session:
        async with session.get(url + path) as resp:
            assert resp.status == 200
            return await resp.text()


# -- the adapter's reads ---------------------------------------------------------------------------------


async def test_find_cases_by_address_and_by_reference(adapter: DjangoHelpdesk) -> None:
    assert [ref.id for ref in await adapter.find_cases(KARI.upper())] == ["1", "5", "6"]
    assert [(r.id, r.title) for r in await adapter.find_cases(KARI, "5")] == [("5", "Change of address")]
    assert await adapter.find_cases(KARI, "[support-2]") == []  # Ola's ticket
    assert await adapter.find_cases(KARI, "99") == []
    assert await adapter.find_cases("nobody@example.org") == []


async def test_read_case_has_the_tickets_followups_attachments_and_text_fields(adapter: DjangoHelpdesk) -> None:
    case = await adapter.read_case("5")
    assert (case.id, case.title, case.status, case.queue, case.requester) == (
        "5", "Change of address", "closed", "1", KARI)
    assert (case.created, case.updated) == ("2021-03-01T09:12:00Z", "2021-03-01T10:40:00Z")
    customer, agent = case.messages
    assert customer.author == KARI and agent.author == "user 1" and customer.public
    assert FNR in customer.text and KARI_PHONE in agent.text
    [attachment] = customer.attachments
    assert (attachment.name, attachment.size, attachment.content_type) == (
        "lease-agreement.pdf", 48_213, "application/pdf")
    assert case.fields["description"] == customer.text
    assert case.fields["resolution"] == f"Address updated for {KARI}."
    assert case.fields[f"followup_title:{customer.id}"] == "Change of address"
    assert (await adapter.read_case("2")).fields["on_hold"] == "True"  # the demo's pending
    with pytest.raises(HelpdeskError) as missing:
        await adapter.read_case("99")
    assert missing.value.status == 404


async def test_list_cases_by_state_and_age_across_pages(adapter: DjangoHelpdesk) -> None:
    adapter.page_size = 2  # three pages of closed and resolved tickets' listing: 4, 5, 6
    old = await adapter.list_cases(["closed"], time.time() - 365 * 86400)
    assert [(c.id, c.status, c.requester) for c in old] == [("5", "closed", KARI), ("6", "closed", KARI)]
    assert old[0].updated == _epoch("2021-03-01T10:40:00Z")
    assert [c.id for c in await adapter.list_cases(["closed"], _epoch("2021-04-01T00:00:00Z"))] == ["5"]
    assert [c.id for c in await adapter.list_cases(["resolved", "closed"], time.time())] == ["4", "5", "6"]
    assert await adapter.list_cases(["open"], _epoch("2020-01-01T00:00:00Z")) == []


# -- the adapter's writes: what the API changes, the pages show --------------------------------------------


async def test_the_writes_change_the_tickets_the_pages_show(helpdesk: str, adapter: DjangoHelpdesk) -> None:
    case = await adapter.read_case("5")
    customer, agent = case.messages
    await adapter.update_requester("5", "Customer 7f3a", "customer-7f3a@anonymised.invalid")
    await adapter.update_case("5", "Change of address [name]", {
        "description": "[no_fnr]", "resolution": "Address updated for [e-mail].",
        f"followup_title:{customer.id}": "Change of address [name]"})
    await adapter.update_message("5", customer.id, "Hello, I moved: [name], [no_fnr], [phone], [e-mail].")
    await adapter.update_message("5", agent.id, "Done: we will call [phone].")
    await adapter.delete_attachment("5", customer.id, customer.attachments[0].id)
    await adapter.delete_attachment("5", customer.id, customer.attachments[0].id)  # gone already: done
    after = await adapter.read_case("5")
    assert after.requester == "customer-7f3a@anonymised.invalid" and after.title == "Change of address [name]"
    assert after.fields["description"] == "[no_fnr]"
    assert after.fields[f"followup_title:{customer.id}"] == "Change of address [name]"
    assert [m.text for m in after.messages] == [
        "Hello, I moved: [name], [no_fnr], [phone], [e-mail].", "Done: we will call [phone]."]
    assert after.messages[0].attachments == () and after.created == case.created
    page = await _page(helpdesk, "/agent/tickets/5")
    for gone in (KARI, KARI_PHONE, KARI_HOME_PHONE, FNR, "Kari Nordmann", "lease-agreement.pdf"):
        assert gone not in page
    assert "customer-7f3a@anonymised.invalid" in page and "[no_fnr]" in page
    assert KARI in await _page(helpdesk, "/agent/tickets/1")  # her open ticket is another ticket
    await adapter.delete_case("6")
    await adapter.delete_case("6")  # gone already, and the API answers for tickets: done
    assert [ref.id for ref in await adapter.find_cases(KARI)] == ["1"]
    assert "/agent/tickets/6" not in await _page(helpdesk, "/agent/")


async def test_update_case_refuses_the_fields_the_api_cannot_change(adapter: DjangoHelpdesk) -> None:
    from gateway.helpdesks.base import NotSupported

    with pytest.raises(NotSupported):
        await adapter.update_case("4", fields={"priority": "1", "description": "[e-mail]"})
    assert (await adapter.read_case("4")).fields["description"] == "[e-mail]"  # the rest was written


async def test_add_note_is_internal_and_open_case_opens_a_ticket(helpdesk: str, adapter: DjangoHelpdesk) -> None:
    await adapter.add_note("3", "Anonymised 2 cases: 5, 6.")
    note = (await adapter.read_case("3")).messages[-1]
    assert (note.text, note.public, note.author) == ("Anonymised 2 cases: 5, 6.", False, "user 2")
    assert "Anonymised 2 cases" in await _page(helpdesk, "/agent/tickets/3")
    assert "Anonymised 2 cases" not in await _page(helpdesk, "/tickets/3")  # customers see no internal note
    with pytest.raises(HelpdeskError) as missing:
        await adapter.add_note("99", "x")
    assert missing.value.status == 400
    ref = await adapter.open_case(NewCase("[DSR-ABCDE-12345] Access", "Requester: jane@example.org",
                                          "jane@example.org"))
    opened = await adapter.read_case(ref.id)
    assert (ref.id, opened.status, opened.requester, opened.fields["priority"]) == ("7", "open", "jane@example.org",
                                                                                    "3")
    assert opened.messages[0].text == "Requester: jane@example.org"
    assert "[DSR-ABCDE-12345] Access" in await _page(helpdesk, "/agent/")


# -- the API itself: credentials, pages, refusals -----------------------------------------------------------


async def test_credentials_token_or_basic_and_nothing_else(helpdesk: str) -> None:
    basic = DjangoHelpdesk(_settings(helpdesk, username="demo", password=TOKEN))
    wrong = DjangoHelpdesk(_settings(helpdesk, token="not-the-token"))
    try:
        assert [ref.id for ref in await basic.find_cases(KARI)] == ["1", "5", "6"]
        with pytest.raises(HelpdeskError) as refused:
            await wrong.find_cases(KARI)
        assert refused.value.status == 401 and not refused.value.retryable
    finally:
        await basic.close()
        await wrong.close()
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{helpdesk}{BASE}/tickets/5/") as resp:
            assert resp.status == 401 and "Basic" in resp.headers["WWW-Authenticate"]
            assert KARI not in await resp.text()
    pair = base64.b64encode(f"demo:{TOKEN}".encode()).decode()
    assert authorised(f"Basic {pair}", TOKEN) and authorised(f"Token {TOKEN}", TOKEN)
    for header in ("", f"Bearer {TOKEN}", "Token ", f"Basic {base64.b64encode(b'admin:' + TOKEN.encode()).decode()}",
                   "Basic !!!"):
        assert not authorised(header, TOKEN), header


async def test_listing_pages_status_filter_and_a_page_past_the_end(helpdesk: str) -> None:
    status, first = await _api(helpdesk, "GET", "/tickets/?page_size=4")
    assert status == 200 and first["count"] == 6 and first["previous"] is None
    assert [t["id"] for t in first["results"]] == [1, 2, 3, 4] and "page=2" in first["next"]
    status, second = await _api(helpdesk, "GET", "/tickets/?page_size=4&page=2")
    assert [t["id"] for t in second["results"]] == [5, 6] and second["next"] is None
    _, closed = await _api(helpdesk, "GET", "/tickets/?status=4")
    assert [(t["id"], t["status"]) for t in closed["results"]] == [(5, 4), (6, 4)]
    _, everything = await _api(helpdesk, "GET", "/tickets/?status=9")  # no such status: no filter
    assert everything["count"] == 6 and len(everything["results"]) == 6  # 25 a page
    assert (await _api(helpdesk, "GET", "/tickets/?page=3&page_size=4"))[0] == 404
    assert (await _api(helpdesk, "GET", "/tickets/?page=x"))[0] == 404


async def test_writes_refuse_what_the_demo_cannot_change(helpdesk: str) -> None:
    status, errors = await _api(helpdesk, "PATCH", "/tickets/5/", {"status": 1, "title": "x"})
    assert status == 400 and "status" in errors
    assert (await _api(helpdesk, "PATCH", "/tickets/5/", {"submitter_email": "no address"}))[0] == 400
    assert (await _api(helpdesk, "PATCH", "/tickets/5/", {"title": ""}))[0] == 400
    assert (await _api(helpdesk, "PATCH", "/followups/1/", {"email_recipients": []}))[0] == 400
    assert (await _api(helpdesk, "PATCH", "/tickets/99/", {"title": "x"}))[0] == 404
    assert (await _api(helpdesk, "DELETE", "/followups-attachments/99/"))[0] == 404
    _, ticket = await _api(helpdesk, "GET", "/tickets/5/")
    assert ticket["title"] == "Change of address" and ticket["status"] == 4  # nothing half written
    status, followup = await _api(helpdesk, "GET", f"/followups/{ticket['followup_set'][0]['id']}/")
    assert status == 200 and followup["ticket"] == 5 and followup["user"] is None


async def test_without_a_token_there_is_no_api() -> None:
    runner = await start_helpdesk("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{runner_url(runner)}{BASE}/tickets/",
                                   headers={"Authorization": f"Token {TOKEN}"}) as resp:
                assert resp.status == 404
    finally:
        await runner.cleanup()
    with pytest.raises(ValueError):
        from gateway.demo import api

        api.setup(web.Application(), api.Desk(), "")


# -- privacy-gateway demo, with its own policy ---------------------------------------------------------------


def _demo_policy(tmp_path: Path, helpdesk: int, *, schedules: bool) -> tuple[Path, int]:
    """policies/demo.yaml on free ports, its store in ``tmp_path``; the anonymisation helpdesk is the demo's."""
    shutil.copytree(DEMO_SECRETS, tmp_path / "demo-secrets")
    doc = yaml.safe_load((ROOT / "policies" / "demo.yaml").read_text())
    listen = free_port()
    doc["upstream"]["url"] = f"http://127.0.0.1:{helpdesk}"
    doc["listen"]["port"], doc["admin"]["port"] = listen, free_port()
    doc["notifications"]["smtp"]["listen"]["port"] = free_port()
    doc["notifications"]["smtp"]["upstream"]["port"] = free_port()
    doc["notifications"]["egress"]["listen"]["port"] = free_port()
    doc["store"]["url"] = f"sqlite:///{tmp_path}/state.sqlite3"
    doc["logging"]["access_log"] = False
    doc["anonymisation"]["helpdesk"]["url"] = f"http://127.0.0.1:{helpdesk}/helpdesk"
    if not schedules:
        del doc["anonymisation"]["schedules"]
    path = tmp_path / "demo.yaml"
    write_policy(path, doc)
    return path, listen


def _lines(stdout: str) -> dict[str, dict[str, Any]]:
    return {line["case"]: line for line in map(json.loads, stdout.splitlines())}


def _personal_data_in(ticket: dict[str, Any]) -> list[str]:
    text = json.dumps(ticket, ensure_ascii=False)
    return [value for value in (KARI, KARI_PHONE, FNR, "Kari", "Nordmann", "lease-agreement.pdf") if value in text]


async def test_cases_anonymise_against_the_running_demo_dry_run_first(tmp_path: Path) -> None:
    helpdesk = free_port()
    policy, listen = _demo_policy(tmp_path, helpdesk, schedules=False)
    token = (DEMO_SECRETS / "helpdesk-api.key").read_text().strip()
    url = f"http://127.0.0.1:{helpdesk}"
    async with processes() as procs:
        demo = Proc("demo", ["-m", "gateway", "demo", "--policy", str(policy), "--helpdesk-port", str(helpdesk),
                             "--no-uvloop"], tmp_path)
        procs.append(demo)
        await wait_for_port(listen, demo)
        before = {n: (await _api(url, "GET", f"/tickets/{n}/", token=token))[1] for n in ("5", "6")}
        assert all(_personal_data_in(ticket) for ticket in before.values())
        command = ("cases", "anonymise", "--policy", str(policy), "--email", KARI)
        dry = run_cli(*command, "--dry-run")
        assert dry.returncode == 1, dry.stderr  # ticket 1 is open: refused without --force
        planned = _lines(dry.stdout)
        assert planned["1"]["state"] == "refused"
        assert planned["5"]["dry_run"] is True and planned["5"]["state"] != "refused"
        assert KARI not in dry.stdout and FNR not in dry.stdout
        assert (await _api(url, "GET", "/tickets/5/", token=token))[1] == before["5"]  # a dry run changes nothing
        done = run_cli(*command, "--name", "Kari Nordmann", "--phone", KARI_PHONE)
        assert done.returncode == 1, done.stderr
        lines = _lines(done.stdout)
        assert (lines["1"]["state"], lines["5"]["state"], lines["6"]["state"]) == ("refused", "done", "done")
        for number in ("5", "6"):
            _, ticket = await _api(url, "GET", f"/tickets/{number}/", token=token)
            assert _personal_data_in(ticket) == [], ticket
            assert ticket["submitter_email"].endswith("@anonymised.invalid") and ticket["status"] == 4
            assert [f["date"] for f in ticket["followup_set"]] == [f["date"] for f in before[number]["followup_set"]]
        _, open_ticket = await _api(url, "GET", "/tickets/1/", token=token)
        assert open_ticket["submitter_email"] == KARI
        page = await _page(url, "/agent/tickets/5")
        assert FNR not in page and KARI not in page and "[no_fnr]" in page
        records = run_cli("cases", "records", "--policy", str(policy))
        assert records.returncode == 0, records.stderr
        journal = [json.loads(line) for line in records.stdout.splitlines()]
        assert sorted(r["case_id"] for r in journal) == ["5", "6"] and {r["trigger"] for r in journal} == {"command"}


async def test_the_demos_retention_schedule_anonymises_the_old_closed_tickets(tmp_path: Path) -> None:
    helpdesk = free_port()
    policy, listen = _demo_policy(tmp_path, helpdesk, schedules=True)
    token = (DEMO_SECRETS / "helpdesk-api.key").read_text().strip()
    url = f"http://127.0.0.1:{helpdesk}"

    async def anonymised() -> bool:
        tickets = [(await _api(url, "GET", f"/tickets/{n}/", token=token))[1] for n in (5, 6)]
        return all(t["submitter_email"].endswith("@anonymised.invalid") for t in tickets)

    async with processes() as procs:
        demo = Proc("demo", ["-m", "gateway", "demo", "--policy", str(policy), "--helpdesk-port", str(helpdesk),
                             "--no-uvloop"], tmp_path)
        procs.append(demo)
        await wait_for_port(listen, demo)
        await eventually(anonymised, timeout=30, what="the schedule's run")
        for number in (5, 6):
            _, ticket = await _api(url, "GET", f"/tickets/{number}/", token=token)
            for value in (KARI, KARI_PHONE, FNR, "lease-agreement.pdf"):  # a schedule knows no name: the detectors'
                assert value not in json.dumps(ticket, ensure_ascii=False), (number, value)
        _, resolved = await _api(url, "GET", "/tickets/4/", token=token)
        assert resolved["submitter_email"] == "max.mustermann@example.com"  # resolved, not closed: kept
        records = run_cli("cases", "records", "--policy", str(policy))
        journal = [json.loads(line) for line in records.stdout.splitlines()]
        assert {(r["case_id"], r["trigger"], r["state"]) for r in journal} == {("5", "schedule closed-a-year", "done"),
                                                                              ("6", "schedule closed-a-year", "done")}
