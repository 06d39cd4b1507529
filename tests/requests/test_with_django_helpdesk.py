"""The whole flow against the real django-helpdesk (tests/support/helpdesk.py): request, case in its data-subject
queue, approval, and an export with the requester's tickets and follow-ups, and nobody else's; an approved
erasure that anonymises the requester's tickets and says so in an internal note of the request's own ticket."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import secrets
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any, cast

import aiohttp

from gateway.helpdesks.base import NewCase
from gateway.helpdesks.django_helpdesk import DjangoHelpdesk
from gateway.policy.helpdesks import HelpdeskSettings
from gateway.store.requests import SubjectRequest
from tests.helpdesks.test_django_helpdesk import add_followup, api_ticket
from tests.support.helpdesk import ROOT, Helpdesk, _env
from tests.support.portal import TOKEN, StartPortal

AUTH = {"Authorization": "Bearer " + TOKEN.removeprefix("raw:")}
PSEUDONYM_KEY = "raw:" + "a-pseudonym-key-of-32-bytes-000001"


def dsar_queue(helpdesk: Helpdesk) -> int:
    """A queue of its own for data-subject requests, as a site would make one."""
    script = ("import django; django.setup(); from helpdesk.models import Queue; "
              f"print(Queue.objects.create(title='Data-subject requests', slug='dsar-{secrets.token_hex(3)}', "
              "allow_public_submission=False, email_address='privacy@example.com').id)")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=_env(helpdesk.data_dir, None),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1])


async def test_request_case_in_the_dsar_queue_approval_and_export(django_helpdesk: Helpdesk, tmp_path: Path,
                                                                  start_portal: StartPortal) -> None:
    requester = f"kari.{secrets.token_hex(4)}@example.com"
    stranger = f"ola.{secrets.token_hex(4)}@example.com"
    settings = HelpdeskSettings.model_validate({
        "adapter": "django-helpdesk", "url": django_helpdesk.url + "/helpdesk", "queue": django_helpdesk.queue_id,
        "username": django_helpdesk.staff_user, "password": django_helpdesk.staff_password, "timeout": 20})
    async with DjangoHelpdesk(settings) as agent:  # what the helpdesk held before the request
        mine = await agent.open_case(NewCase("Printer on fire", "It burns since Monday.", requester))
        theirs = await agent.open_case(NewCase("Someone else's case", "Ola's own secret.", stranger))
    await add_followup(django_helpdesk, mine.id, "Call the fire brigade, please.", public=True)
    await add_followup(django_helpdesk, theirs.id, "Ola's follow-up.", public=True)

    queue = dsar_queue(django_helpdesk)
    (tmp_path / "helpdesk-password").write_text(django_helpdesk.staff_password)
    site = await start_portal(real_helpdesk=True, helpdesk={
        "adapter": "django-helpdesk", "url": django_helpdesk.url + "/helpdesk", "queue": queue,
        "username": django_helpdesk.staff_user, "password": "${file:helpdesk-password}", "timeout": "20s",
        "secret": None})
    request_id = site.request_id(await site.verify(requester, "access", text="Everything, please."))

    store = site.gateway.runtime.store
    assert store is not None

    async def opened() -> str:
        for _ in range(300):
            found = await store.get_request(request_id)
            if found is not None and found.case_id:
                return found.case_id
            await asyncio.sleep(0.1)
        raise AssertionError("no case was opened")

    case_id = await opened()
    async with DjangoHelpdesk(settings) as agent:
        case = await agent.read_case(case_id)
    assert case.queue == str(queue) and case.requester == requester and request_id in case.title
    assert "Everything, please." in case.messages[0].text

    async with aiohttp.ClientSession() as session:
        async with session.post(f"{site.admin}/requests/{request_id}/approve", headers=AUTH) as resp:
            assert resp.status == 200, await resp.text()
    await site.wait_for(lambda: any("Your data is ready" in m["Subject"] for m in site.mails_to(requester)), 60)
    ready = next(m for m in site.mails_to(requester) if "Your data is ready" in m["Subject"])
    status, archive, _ = await site.post(site.link_in(ready, "download"))
    assert status == 200
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        data = json.loads(zf.read("data.json"))
        messages = zf.read("messages.csv").decode("utf-8-sig")
    titles = sorted(c["title"] for c in data["cases"])
    assert titles == sorted(["Printer on fire", case.title])
    assert {c["requester"].casefold() for c in data["cases"]} == {requester}
    assert "Call the fire brigade, please." in messages and "It burns since Monday." in messages
    assert "Ola" not in json.dumps(data) and stranger not in messages and theirs.id not in {c["id"] for c in data["cases"]}


async def _close(helpdesk: Helpdesk, ticket_id: str) -> None:
    """Close a ticket as an agent would (status 4), through the helpdesk's own API."""
    auth = base64.b64encode(f"{helpdesk.staff_user}:{helpdesk.staff_password}".encode()).decode()
    async with aiohttp.ClientSession(trust_env=False) as session:
        async with session.patch(f"{helpdesk.url}/helpdesk/api/tickets/{ticket_id}/", json={"status": 4},
                                 headers={"Authorization": f"Basic {auth}"}) as response:
            assert response.status == 200, await response.text()


def clear_recipients(helpdesk: Helpdesk, ticket_ids: list[str]) -> None:
    """What a person does on the helpdesk itself: the API cannot rewrite whom a follow-up was mailed to."""
    script = ("import django; django.setup(); from helpdesk.models import FollowUp; "
              f"FollowUp.objects.filter(ticket_id__in={[int(i) for i in ticket_ids]!r}).update(email_recipients=[])")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=_env(helpdesk.data_dir, None),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


async def test_an_approved_erasure_anonymises_the_requesters_tickets_and_notes_it_in_the_dsar_ticket(
        django_helpdesk: Helpdesk, tmp_path: Path, start_portal: StartPortal) -> None:
    domain = f"x{secrets.token_hex(4)}.example.com"
    requester, stranger = f"kari.nordmann@{domain}", f"ola.hansen@{domain}"
    fnr, phone = "01010012356", "+47 912 34 567"
    seeded = (requester, "Kari", "Nordmann", phone, "91234567", fnr)
    settings = HelpdeskSettings.model_validate({
        "adapter": "django-helpdesk", "url": django_helpdesk.url + "/helpdesk", "queue": django_helpdesk.queue_id,
        "username": django_helpdesk.staff_user, "password": django_helpdesk.staff_password, "timeout": 20})
    async with DjangoHelpdesk(settings) as agent:  # what the helpdesk held before the request
        mine = [await agent.open_case(NewCase("Kari Nordmann: printer on fire", f"Call Kari on {phone}.",
                                              requester)),
                await agent.open_case(NewCase("Invoice", "Kari Nordmann asks about her invoice.", requester))]
        theirs = await agent.open_case(NewCase("Ola Hansen: refund", "Ola's own secret, +47 413 22 110.", stranger))
    await add_followup(django_helpdesk, mine[0].id, f"Her fødselsnummer is {fnr}; she says 91234567.", public=False)
    await add_followup(django_helpdesk, theirs.id, "Ola's follow-up: 02020212345.", public=True)
    for ref in (*mine, theirs):
        await _close(django_helpdesk, ref.id)
    _, theirs_before = await api_ticket(django_helpdesk, theirs.id)

    queue = dsar_queue(django_helpdesk)
    (tmp_path / "helpdesk-password").write_text(django_helpdesk.staff_password)
    site = await start_portal({"anonymisation": {"enabled": True, "keys": [{"id": "p1", "secret": PSEUDONYM_KEY}]}},
                              real_helpdesk=True, helpdesk={
        "adapter": "django-helpdesk", "url": django_helpdesk.url + "/helpdesk", "queue": queue,
        "username": django_helpdesk.staff_user, "password": "${file:helpdesk-password}", "timeout": "20s",
        "secret": None})
    request_id = site.request_id(await site.verify(requester, "erasure", text=f"Erase me. My phone: {phone}."))
    store = site.gateway.runtime.store
    assert store is not None

    async def settled() -> SubjectRequest:
        for _ in range(600):
            found = await store.get_request(request_id)
            if found is not None and found.case_id and not found.work:
                return found
            await asyncio.sleep(0.1)
        raise AssertionError("the request's work was not done")

    async def approve() -> dict[str, Any]:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{site.admin}/requests/{request_id}/approve", headers=AUTH) as resp:
                assert resp.status == 200, await resp.text()
                return cast(dict[str, Any], await resp.json())

    dsar_case = (await settled()).case_id
    assert (await approve())["pending"] == ["mail_fulfilled", "erase"]
    left = await settled()
    _, dsar = await api_ticket(django_helpdesk, dsar_case)
    assert dsar["submitter_email"] == requester  # the request's own record, kept as it was
    followups = cast(list[dict[str, Any]], dsar["followup_set"])
    [note] = [f for f in followups if str(f["comment"]).startswith(f"Erasure for data-subject request {request_id}")]
    text = str(note["comment"])
    assert note["public"] is False and left.state == "in_progress" and left.last_error == "erasure_incomplete", text
    # django-helpdesk mailed the requester when each ticket opened; its API cannot rewrite those recipients.
    assert "NOT complete" in text and "Cases of the requester found: 2; anonymised completely: 0." in text
    assert "no_fnr 1" in text
    assert all(f"- {ref.id} (anonymise, incomplete)" in text for ref in mine), text
    assert text.count("followup_recipients") == 2 and "What remains:" in text
    assert not [value for value in seeded if value.casefold() in text.casefold()], text
    assert not any(f"{request_id} is done" in m["Subject"] for m in site.mails_to(requester))

    clear_recipients(django_helpdesk, [ref.id for ref in mine])  # a person does the rest, then approves again
    assert (await approve())["state"] == "fulfilled"
    await site.wait_for(lambda: any(f"{request_id} is done" in m["Subject"] for m in site.mails_to(requester)))
    done = await store.get_request(request_id)
    assert done is not None and (done.state, done.work, done.last_error) == ("fulfilled", 0, "")

    for ref in mine:  # what the helpdesk's own API shows now
        status, ticket = await api_ticket(django_helpdesk, ref.id)
        assert status == 200 and ticket["status"] == 4
        held = json.dumps(ticket, ensure_ascii=False).casefold()
        assert not [value for value in seeded if value.casefold() in held], ticket
        assert str(ticket["submitter_email"]).endswith("@anonymised.invalid")
    status, theirs_after = await api_ticket(django_helpdesk, theirs.id)
    assert status == 200 and theirs_after == theirs_before
