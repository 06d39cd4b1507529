"""The whole flow against the real django-helpdesk (tests/support/helpdesk.py): request, case in its data-subject
queue, approval, and an export with the requester's tickets and follow-ups, and nobody else's."""

from __future__ import annotations

import asyncio
import io
import json
import secrets
import subprocess
import sys
import zipfile
from pathlib import Path

import aiohttp

from gateway.helpdesks.base import NewCase
from gateway.helpdesks.django_helpdesk import DjangoHelpdesk
from gateway.policy.helpdesks import HelpdeskSettings
from tests.helpdesks.test_django_helpdesk import add_followup
from tests.support.helpdesk import ROOT, Helpdesk, _env
from tests.support.portal import TOKEN, StartPortal

AUTH = {"Authorization": "Bearer " + TOKEN.removeprefix("raw:")}


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
