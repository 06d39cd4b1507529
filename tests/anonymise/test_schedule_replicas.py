"""Retention schedules run by real gateway processes on the real PostgreSQL, against the real django-helpdesk.

Between the gateways and django-helpdesk sits a recording proxy: it counts
the requester changes the helpdesk receives, per ticket, and can hold one
write back, so a gateway is killed while it is in the middle of a case.

- Two gateways started together share one schedule: each due ticket is
  handled exactly once (one journal record, one requester change), by one of
  them, and tickets not due are untouched.
- A gateway killed with SIGKILL mid-batch leaves a ``started`` record behind
  (the case it was on); ``privacy-gateway cases retention`` run afterwards
  completes that case under the same record and handles the rest.
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import yaml
from aiohttp import web

from gateway.helpdesks.base import NewCase
from gateway.helpdesks.django_helpdesk import DjangoHelpdesk
from gateway.store import PostgresStore
from gateway.store.cases import CaseRecord
from tests.conftest import free_port, secrets_to_files
from tests.helpdesks.test_django_helpdesk import add_followup, settings_for
from tests.support.helpdesk import Helpdesk
from tests.support.postgres import dsn_with_schema
from tests.test_cli import Proc, processes, wait_for_port
from tests.test_replicas import cli

pytestmark = pytest.mark.timeout(180)

BOUND = 60.0  # seconds for anything to happen at all; no assertion is about speed
FNR = "01010012356"  # a checksum-valid Norwegian national identity number
KEY = "base64:" + base64.b64encode(secrets.token_bytes(32)).decode()


class RecordingProxy:
    """Forwards to django-helpdesk; counts the requester changes per ticket (a ``PATCH /api/tickets/<id>/``
    that sets ``submitter_email``) and the writes in all."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.hold_write: int | None = None  # the write (1, 2, ...) held until released: the gateway is mid-case
        self.holding = asyncio.Event()
        self.release = asyncio.Event()
        self.requester_changes: Counter[str] = Counter()
        self.writes = 0
        self._session: aiohttp.ClientSession | None = None
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(trust_env=False, auto_decompress=False)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.forward)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        body = await request.read()
        if request.method in ("PATCH", "PUT", "DELETE", "POST"):
            self.writes += 1
            ticket = re.fullmatch(r"/helpdesk/api/tickets/(\d+)/", request.path)
            if ticket is not None and request.method == "PATCH" and b'"submitter_email"' in body:
                self.requester_changes[ticket.group(1)] += 1
            if self.writes == self.hold_write:
                self.holding.set()
                await self.release.wait()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with self._session.request(request.method, self.target + request.rel_url.path_qs, headers=headers,
                                         data=body) as answer:
            body = await answer.read()
            kept = {k: v for k, v in answer.headers.items()
                    if k.lower() in ("content-type", "content-encoding", "retry-after")}
            return web.Response(status=answer.status, body=body, headers=kept)


@pytest.fixture
async def proxy(django_helpdesk: Helpdesk) -> AsyncIterator[RecordingProxy]:
    recording = RecordingProxy(django_helpdesk.url)
    await recording.start()
    try:
        yield recording
    finally:
        await recording.stop()


async def closed_tickets(helpdesk: Helpdesk, count: int, tag: str) -> list[str]:
    """``count`` tickets of distinct customers with personal data, closed; their ids."""
    ids = []
    async with DjangoHelpdesk(settings_for(helpdesk)) as adapter:
        for n in range(count):
            who = f"kunde.{tag}.{n}@example.no"
            ref = await adapter.open_case(NewCase(title=f"Faktura for {who}", body=f"Ring meg, {who}",
                                                  requester=who))
            await add_followup(helpdesk, ref.id, f"Mitt fødselsnummer er {FNR}", public=True)
            await adapter.client.send_json("PATCH", f"/api/tickets/{ref.id}/", {"status": 4}, operation="close")
            ids.append(ref.id)
    return ids


def gateway_policy(tmp_path: Path, name: str, helpdesk_url: str, store_url: str, helpdesk: Helpdesk,
                   **anonymisation: Any) -> Path:
    doc = {
        "listen": {"host": "127.0.0.1", "port": free_port()},
        "admin": {"host": "127.0.0.1", "port": free_port()},
        "upstream": {"url": helpdesk.url},
        "logging": {"access_log": False},
        "store": {"url": store_url},
        "anonymisation": {
            "enabled": True, "keys": [{"id": "p1", "secret": KEY}], "lease": "5s", "every": "60s",
            "rate_limit": 200, "batch_size": 100,
            "schedules": [{"name": "closed", "older_than": "1s", "states": ["closed"]}],
            "helpdesk": {"adapter": "django-helpdesk", "url": helpdesk_url + "/helpdesk", "queue": helpdesk.queue_id,
                         "token": "${file:helpdesk-token}", "timeout": 20},
            **anonymisation,
        },
    }
    (tmp_path / "helpdesk-token").write_text(helpdesk.staff_token)  # Basic auth costs a PBKDF2 check a request
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(secrets_to_files(doc, tmp_path)))
    return path


def start(procs: list[Proc], tmp_path: Path, name: str, policy: Path) -> Proc:
    proc = Proc(name, ["-m", "gateway", "serve", "--policy", str(policy)], tmp_path)
    procs.append(proc)
    return proc


async def records(store: PostgresStore, case_ids: list[str]) -> list[CaseRecord]:
    return await store.case_records(case_ids=case_ids, helpdesk="django-helpdesk")


async def until(condition: Any, what: str, procs: list[Proc]) -> None:
    deadline = time.monotonic() + BOUND
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {BOUND}s: {what}\n" + "\n".join(p.output() for p in procs))
        await asyncio.sleep(0.1)


def assert_only_recipients_left(record: CaseRecord) -> None:
    """Done but for what django-helpdesk's API cannot change: whom each follow-up was mailed to (read-only
    there), reported not_supported, so the record says incomplete and a person clears them on the helpdesk."""
    summary = orjson.loads(record.summary)
    left = [r for r in summary["results"] if r["outcome"] != "done"]
    assert record.state == summary["state"] == "incomplete" and len(left) == 1, summary
    assert left[0]["operation"] == "update_case" and left[0]["outcome"] == "not_supported"
    assert "followup_recipients" in left[0]["error"]


def without_recipients(ticket: dict[str, Any]) -> dict[str, Any]:
    return {**ticket, "followup_set": [{k: v for k, v in f.items() if k != "email_recipients"}
                                       for f in ticket["followup_set"]]}


async def ticket_json(helpdesk: Helpdesk, ticket_id: str) -> dict[str, Any]:
    async with DjangoHelpdesk(settings_for(helpdesk)) as adapter:
        found = await adapter.client.get(f"/api/tickets/{ticket_id}/", operation="read")
        assert isinstance(found, dict)
        return found


async def test_two_gateways_handle_each_due_case_exactly_once(django_helpdesk: Helpdesk, proxy: RecordingProxy,
                                                               tmp_path: Path, pg_dsn: str, pg_schema: str) -> None:
    due = await closed_tickets(django_helpdesk, 6, secrets.token_hex(3))
    async with DjangoHelpdesk(settings_for(django_helpdesk)) as adapter:
        still_open = (await adapter.open_case(NewCase(title="Open one", body=f"fnr {FNR}",
                                                      requester="open@example.no"))).id
    untouched = await ticket_json(django_helpdesk, still_open)
    await asyncio.sleep(1.1)  # older_than 1s
    store_url = dsn_with_schema(pg_dsn, pg_schema)
    async with processes() as procs, PostgresStore(pg_dsn, server_settings={"search_path": pg_schema}) as store:
        gateways = [start(procs, tmp_path, f"gateway-{n}",
                          gateway_policy(tmp_path, f"gateway-{n}", proxy.url, store_url, django_helpdesk))
                    for n in (1, 2)]

        async def all_finished() -> bool:
            return sum(r.state != "started" for r in await records(store, due)) == len(due)

        await until(all_finished, "every due ticket handled", gateways)
        await asyncio.sleep(1.0)  # a second run, were there one, would show now
        found = await records(store, due)
    assert sorted(r.case_id for r in found) == sorted(due)  # one record per case
    assert len({r.owner for r in found}) == 1  # one gateway ran the batch
    assert all(proxy.requester_changes[case_id] == 1 for case_id in due), proxy.requester_changes  # once each
    for record in found:
        assert_only_recipients_left(record)
        ticket = await ticket_json(django_helpdesk, record.case_id)
        assert ticket["submitter_email"].endswith("@anonymised.invalid")
        assert FNR not in str(ticket) and "@example.no" not in str(without_recipients(ticket))
        assert ticket["status"] == 4 and ticket["queue"] == django_helpdesk.queue_id  # metadata kept
    assert await ticket_json(django_helpdesk, still_open) == untouched


async def test_a_gateway_killed_mid_batch_leaves_a_record_the_next_run_completes(
        django_helpdesk: Helpdesk, proxy: RecordingProxy, tmp_path: Path, pg_dsn: str, pg_schema: str) -> None:
    due = await closed_tickets(django_helpdesk, 8, secrets.token_hex(3))
    await asyncio.sleep(1.1)
    proxy.hold_write = 9  # a write of the second case (five or six a case): the gateway is in its middle
    store_url = dsn_with_schema(pg_dsn, pg_schema)
    policy = gateway_policy(tmp_path, "gateway", proxy.url, store_url, django_helpdesk)
    async with processes() as procs, PostgresStore(pg_dsn, server_settings={"search_path": pg_schema}) as store:
        gateway = start(procs, tmp_path, "gateway", policy)
        await wait_for_port(yaml.safe_load(policy.read_text())["listen"]["port"], gateway)

        async with asyncio.timeout(BOUND):
            await proxy.holding.wait()
        gateway.signal(signal.SIGKILL)
        await gateway.wait(10)
        proxy.release.set()  # the write the gateway sent reaches the helpdesk, as it may have before a crash
        left = [r for r in await records(store, due) if r.state == "started"]
        assert len(left) == 1, "the case it was on is recorded as begun"
        assert sum(r.state != "started" for r in await records(store, due)) < len(due)
        code, out, err = await cli("cases", "retention", "--policy", str(policy))
        if "another process is running" in err:  # the dead gateway's hold has not run out yet
            assert code == 1 and out == ""
            await asyncio.sleep(5.5)  # anonymisation.lease
            code, out, err = await cli("cases", "retention", "--policy", str(policy))
        report = orjson.loads(out)
        assert code == 1, err  # 1: incomplete, as every django-helpdesk case is (see assert_only_recipients_left)
        assert [r["case"] for r in report["resumed"]] == [left[0].case_id]
        found = await records(store, due)
    assert sorted(r.case_id for r in found) == sorted(due)  # one record per case, the half-done one included
    [resumed] = [r for r in found if r.record_id == left[0].record_id]
    assert resumed.case_id == left[0].case_id  # the same record, completed by another owner
    assert resumed.owner != left[0].owner
    for record in found:
        assert_only_recipients_left(record)
        ticket = await ticket_json(django_helpdesk, record.case_id)
        assert FNR not in str(ticket) and ticket["submitter_email"].endswith("@anonymised.invalid")
