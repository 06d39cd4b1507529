"""``privacy-gateway cases …`` as a process against the real django-helpdesk, checked through the helpdesk's own API.

A requester's closed tickets hold their name, address, phone (two ways of
writing it), fødselsnummer and IBAN in titles, bodies, follow-ups and
attachments; another customer's ticket sits next to them. A dry run changes
nothing; the real run leaves none of it, keeps the metadata, leaves the other
ticket byte for byte, records each case and revokes the links bound to it
(checked at a running gateway's link endpoint).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.metrics import Metrics
from gateway.policy.loader import load_policy
from gateway.server import Gateway
from tests.support.helpdesk import POLICY_ENV, ROOT, Helpdesk, helpdesk_policy

NAME = "Kari Nordmann"
PHONES = ("+47 412 34 567", "41234567")
FNR = "01010012356"  # checksum-valid fødselsnummer
IBAN = "NO93 8601 1117 947"
ANON_ENV = {"HELPDESK_ANON_KEY": "base64:" + base64.b64encode(secrets.token_bytes(32)).decode()}
CLOSED = 4  # Ticket.STATUS_CHOICES


def helpdesk_section(helpdesk: Helpdesk) -> dict[str, Any]:
    return {"adapter": "django-helpdesk", "url": helpdesk.url + "/helpdesk", "queue": helpdesk.queue_id,
            "username": helpdesk.staff_user, "password": "${HELPDESK_API_PASSWORD}", "timeout": 20}


@pytest.fixture
def env(django_helpdesk: Helpdesk, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in {**POLICY_ENV, **ANON_ENV, "HELPDESK_API_PASSWORD": django_helpdesk.staff_password}.items():
        monkeypatch.setenv(name, value)
    return dict(os.environ)


def policy_for(desk: Helpdesk, tmp_path: Path, **anonymisation: Any) -> Path:
    """The test policy in front of ``desk`` with an anonymisation section (a None value leaves a key out)."""
    section = {"keys": [{"id": "p1", "secret": "${HELPDESK_ANON_KEY}"}], "helpdesk": helpdesk_section(desk),
               "keep_attachments": ["image/png"], "rate_limit": 200, **anonymisation}
    return helpdesk_policy(desk, tmp_path, anonymisation={k: v for k, v in section.items() if v is not None})


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def lines(proc: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in proc.stdout.splitlines()]


class Api:
    """The helpdesk's REST API as its staff user, straight to it."""

    def __init__(self, helpdesk: Helpdesk, session: aiohttp.ClientSession) -> None:
        token = base64.b64encode(f"{helpdesk.staff_user}:{helpdesk.staff_password}".encode()).decode()
        self.base, self.session, self.headers = helpdesk.url + "/helpdesk/api", session, {"Authorization": f"Basic {token}"}
        self.queue = helpdesk.queue_id

    async def send(self, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        async with self.session.request(method, self.base + path, headers=self.headers, **kwargs) as response:
            assert response.status == expect, await response.text()
            return await response.json()

    async def ticket(self, title: str, body: str, requester: str, priority: int = 2,
                     files: dict[str, tuple[bytes, str]] | None = None) -> str:
        form = aiohttp.FormData()
        for name, value in {"queue": self.queue, "title": title, "description": body, "submitter_email": requester,
                            "priority": priority}.items():
            form.add_field(name, str(value))
        for filename, (content, content_type) in (files or {}).items():
            form.add_field("attachment", content, filename=filename, content_type=content_type)
        return str((await self.send("POST", "/tickets/", 201, data=form))["id"])

    async def followup(self, ticket: str, comment: str, *, public: bool,
                       files: dict[str, tuple[bytes, str]] | None = None) -> None:
        form = aiohttp.FormData()
        for name, value in {"ticket": ticket, "comment": comment, "public": "true" if public else "false"}.items():
            form.add_field(name, value)
        for filename, (content, content_type) in (files or {}).items():
            form.add_field("attachments", content, filename=filename, content_type=content_type)
        await self.send("POST", "/followups/", 201, data=form)

    async def close(self, ticket: str) -> None:
        await self.send("PATCH", f"/tickets/{ticket}/", 200, json={"status": CLOSED})

    async def raw(self, ticket: str) -> bytes:
        async with self.session.get(f"{self.base}/tickets/{ticket}/", headers=self.headers) as response:
            assert response.status == 200
            return await response.read()


async def seed(api: Api, email: str, other: str) -> tuple[list[str], str]:
    """Two closed tickets of the requester full of their identifiers, one closed ticket of another customer."""
    first = await api.ticket(f"{NAME}: invoice, fnr {FNR}", f"Hi, I am {NAME} ({email}), call me on {PHONES[0]}.",
                             email, files={"passport.pdf": (f"%PDF-1.4 {NAME} {FNR}".encode(), "application/pdf")})
    await api.followup(first, f"Refund to {IBAN}, or ring {PHONES[1]}. Regards, {NAME}", public=True, files={
        "statement.txt": (f"{IBAN} {email}".encode(), "text/plain"), "logo.png": (b"\x89PNG logo", "image/png")})
    await api.followup(first, f"Checked: fnr {FNR} belongs to {NAME}, phone {PHONES[1]}.", public=False)
    second = await api.ticket(f"Address change for {email}", f"New number {PHONES[1]}; my IBAN is {IBAN}.", email,
                              priority=4)
    await api.followup(second, f"Done, {NAME}. We wrote to {email}.", public=True)
    theirs = await api.ticket("Ola's laptop", "My fnr is 15076500565, call 22 33 44 55.", other,
                              files={"receipt.pdf": (b"%PDF-1.4 receipt", "application/pdf")})
    await api.followup(theirs, "Laptop sent back to Ola.", public=True)
    for ticket in (first, second, theirs):
        await api.close(ticket)
    return [first, second], theirs


def without_recipients(ticket: dict[str, Any]) -> dict[str, Any]:
    return {**ticket, "followup_set": [{k: v for k, v in f.items() if k != "email_recipients"}
                                       for f in ticket["followup_set"]]}


async def test_dry_run_then_anonymise_through_the_api_with_records_and_links_revoked(
    django_helpdesk: Helpdesk, env: dict[str, str], tmp_path: Path
) -> None:
    email, other = f"kari.{secrets.token_hex(4)}@example.no", f"ola.{secrets.token_hex(4)}@example.no"
    policy = policy_for(django_helpdesk, tmp_path)
    who = ["--policy", str(policy), "--email", email.upper(), "--name", NAME, "--name", "Kari",
           *(f"--phone={phone}" for phone in PHONES)]
    async with aiohttp.ClientSession(trust_env=False) as session:
        api = Api(django_helpdesk, session)
        mine, theirs = await seed(api, email, other)
        before = {ticket: await api.raw(ticket) for ticket in (*mine, theirs)}

        dry = cli("cases", "anonymise", *who, "--dry-run", env=env)
        assert dry.returncode == 0, dry.stderr
        planned = lines(dry)
        assert [p["case"] for p in planned] == mine and all(p["state"] == "planned" for p in planned)
        assert planned[0]["operations"] == {"delete_attachment": 2, "update_case": 1, "update_message": 3,
                                            "update_requester": 1}
        assert all(r["outcome"] == "planned" for p in planned for r in p["results"])
        for kind in ("no_fnr", "iban", "phone", "name", "email", "requester"):
            assert planned[0]["replacements"].get(kind), kind
        assert {ticket: await api.raw(ticket) for ticket in before} == before  # nothing changed
        assert email not in dry.stdout.lower() and FNR not in dry.stdout and NAME not in dry.stdout
        assert lines(cli("cases", "records", "--policy", str(policy), env=env)) == []  # a dry run records nothing

        # A link bound to the first case opens at the running gateway, until the case is anonymised.
        signed = cli("links", "sign", "--policy", str(policy), "--case", mine[0], "--base", "",
                     f"{django_helpdesk.url}/helpdesk/tickets/{mine[0]}/", env=env)
        assert signed.returncode == 0, signed.stderr
        gateway = Gateway(load_policy(policy), Metrics(), policy_path=policy)
        await gateway.start()
        try:
            link = f"http://127.0.0.1:{gateway.public_port}{signed.stdout.strip()}"
            async with session.get(link, allow_redirects=False) as response:
                assert response.status in (200, 302, 303), await response.text()

            done = cli("cases", "anonymise", *who, env=env)
            async with session.get(link, allow_redirects=False) as response:
                assert response.status == 403
        finally:
            await gateway.stop()
        reports = lines(done)
        assert [r["case"] for r in reports] == mine, done.stderr
        # django-helpdesk's API cannot rewrite whom a follow-up was mailed to (the adapter refuses it, after
        # writing the rest): the case stays incomplete, and the command says so.
        assert done.returncode == 1 and [r["state"] for r in reports] == ["incomplete", "incomplete"]
        for report in reports:
            outcomes = {(r["operation"], r["outcome"]) for r in report["results"]}
            assert ("update_case", "not_supported") in outcomes
            assert outcomes - {("update_case", "not_supported")} <= {
                ("update_message", "done"), ("delete_attachment", "done"), ("update_requester", "done")}
            assert report["links_revoked"] >= 1
        assert email not in done.stdout.lower() and FNR not in done.stdout and IBAN not in done.stdout

        after = {ticket: json.loads(await api.raw(ticket)) for ticket in before}
        assert await api.raw(theirs) == before[theirs]  # the other customer's ticket: byte for byte
        for ticket in mine:
            old, new = json.loads(before[ticket]), after[ticket]
            shown = json.dumps(without_recipients(new), ensure_ascii=False)
            for value in (email, NAME, "Kari", "Nordmann", FNR, IBAN, IBAN.replace(" ", ""), *PHONES,
                          "412 34 567", "passport.pdf", "statement.txt"):
                assert value.lower() not in shown.lower(), (ticket, value, shown)
            assert new["submitter_email"].endswith("@anonymised.invalid")
            for key in ("queue", "status", "priority", "assigned_to", "on_hold", "due_date"):
                assert new[key] == old[key], key
            assert [(f["id"], f["date"], f["user"], f["public"]) for f in new["followup_set"]] == [
                (f["id"], f["date"], f["user"], f["public"]) for f in old["followup_set"]]
            # The recipients the helpdesk mailed are what is left: read-only in its API.
            assert {a for f in new["followup_set"] for a in f["email_recipients"]} <= {email}
        kept = [a["filename"] for f in after[mine[0]]["followup_set"] for a in f["followupattachment_set"]]
        assert kept == ["logo.png"]  # keep_attachments: image/png
        assert all(not f["followupattachment_set"] for f in after[mine[1]]["followup_set"])

    records = cli("cases", "records", "--policy", str(policy), env=env)
    assert records.returncode == 0, records.stderr
    found = lines(records)
    assert sorted((r["case_id"], r["state"], r["trigger"], r["helpdesk"]) for r in found) == sorted(
        (ticket, "incomplete", "command", "django-helpdesk") for ticket in mine)
    assert all(r["summary"]["replacements"]["requester"] == 1 and r["finished_at"] >= r["started_at"] for r in found)
    assert email not in records.stdout.lower() and NAME not in records.stdout and FNR not in records.stdout
    [one] = lines(cli("cases", "records", "--policy", str(policy), "--case", mine[1], env=env))
    assert one["case_id"] == mine[1]
    assert len(lines(cli("cases", "records", "--policy", str(policy), "--limit", "1", env=env))) == 1


async def test_a_case_of_another_state_is_refused_unless_forced(
    django_helpdesk: Helpdesk, env: dict[str, str], tmp_path: Path
) -> None:
    policy = policy_for(django_helpdesk, tmp_path, states=["resolved"])
    async with aiohttp.ClientSession(trust_env=False) as session:
        api = Api(django_helpdesk, session)
        ticket = await api.ticket("Printer", "It jams.", f"per.{secrets.token_hex(4)}@example.no")
        await api.close(ticket)
        before = await api.raw(ticket)
        refused = cli("cases", "anonymise", "--policy", str(policy), "--case", ticket, env=env)
        assert refused.returncode == 1 and [r["state"] for r in lines(refused)] == ["refused"]
        assert await api.raw(ticket) == before
        forced = cli("cases", "anonymise", "--policy", str(policy), "--case", ticket, "--force", env=env)
        assert [r["state"] for r in lines(forced)] == ["incomplete"]  # recipients, as above
        assert json.loads(await api.raw(ticket))["submitter_email"].endswith("@anonymised.invalid")
    nobody = cli("cases", "anonymise", "--policy", str(policy), "--email", "nobody@example.no", env=env)
    assert (nobody.returncode, nobody.stdout, nobody.stderr.strip()) == (0, "", "no cases found")


def test_an_unusable_policy_or_helpdesk_is_exit_2(django_helpdesk: Helpdesk, env: dict[str, str],
                                                  tmp_path: Path) -> None:
    def run(policy: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        return cli("cases", "anonymise", "--policy", str(policy), "--case", "1", *extra, env=env)

    (tmp_path / "bad").mkdir()
    bad = policy_for(django_helpdesk, tmp_path / "bad", rate_limit=0)
    proc = run(bad)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "anonymisation.rate_limit" in proc.stderr and "the policy is not valid" in proc.stderr
    assert cli("cases", "records", "--policy", str(bad), env=env).returncode == 2

    (tmp_path / "nokeys").mkdir()
    proc = run(policy_for(django_helpdesk, tmp_path / "nokeys", keys=[]))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.strip().endswith("anonymisation.keys is empty: pseudonyms need a key")

    (tmp_path / "nohelpdesk").mkdir()
    proc = run(policy_for(django_helpdesk, tmp_path / "nohelpdesk", helpdesk=None))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert "no helpdesk to anonymise in (anonymisation.helpdesk, or requests.helpdesk)" in proc.stderr

    (tmp_path / "down").mkdir()
    down = policy_for(django_helpdesk, tmp_path / "down",
                      helpdesk={**helpdesk_section(django_helpdesk), "password": "${HELPDESK_WRONG_PASSWORD}"})
    proc = cli("cases", "anonymise", "--policy", str(down), "--email", "kari@example.no",
               env={**env, "HELPDESK_WRONG_PASSWORD": "not-the-password"})
    assert (proc.returncode, proc.stdout) == (2, "")
    assert "django-helpdesk: find cases: answered 403" in proc.stderr
