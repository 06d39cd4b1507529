"""Anonymising cases in the real django-helpdesk: cases/s, operations/s and time per case.

    python bench/anonymise.py [--cases 50] [--followups 3] [--auth token|basic] [--smoke]

django-helpdesk is started as the tests start it (tests/support/helpdesk.py:
migrated and seeded in a temporary directory, gunicorn with one worker and
four threads on loopback). ``--cases`` closed tickets are seeded through its
REST API, each with an attachment and ``--followups`` follow-ups (public and
internal, one with an attachment) full of the requester's name, address,
phone numbers, a fødselsnummer and an IBAN. Then each case is anonymised, one
after the other as ``privacy-gateway cases anonymise --case`` does, through
the django-helpdesk adapter with the journal of a SQLite store (a record
before and after each case, its links revoked). The rate limit is 1000
requests a second, the policy's maximum: far above what the helpdesk
answers, so the pacer never waits. Printed: cases/s, operations/s (the
adapter's writes: follow-ups, attachments, ticket, requester), p50 and p95
per case (its read, its writes and its records); every case must end
``incomplete`` only because django-helpdesk's API cannot rewrite whom a
follow-up was mailed to (errors: any other outcome).

``--auth`` is how the adapter authenticates (the test helpdesk takes both):
``token`` (the default) sends the staff user's REST framework token
(``Authorization: Token ...``, one database lookup a request); ``basic``
sends the user and password, and Django checks the password with its default
hasher (PBKDF2) on every request: about 0.2 s a request on a small machine,
most of each case's time, as an update of the ticket's texts is several
requests (each follow-up's title, then the ticket). Token authentication is
what to use in production. On a small machine (2 cores), the default sizes:
7.35 cases/s (p50 134 ms a case) with ``token``, 0.36 cases/s (p50 2.7 s)
with ``basic``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.anonymise.cases import anonymise_cases
from gateway.anonymise.journal import Journal
from gateway.anonymise.run import Pacer
from gateway.helpdesks.django_helpdesk import DjangoHelpdesk
from gateway.policy.anonymisation import Anonymisation
from gateway.policy.helpdesks import HelpdeskSettings
from gateway.sensitive.scanner import Scanner, builtin_detectors
from gateway.store import SQLiteStore
from tests.support.helpdesk import Helpdesk, start_helpdesk

NAME = "Kari Nordmann"
RATE_LIMIT = 1000.0  # the policy's maximum: the pacer never waits at the helpdesk's speed
CLOSED = 4


async def seed(helpdesk: Helpdesk, cases: int, followups: int) -> list[tuple[str, str]]:
    """``cases`` closed tickets, each of its own requester; (ticket id, address)."""
    token = base64.b64encode(f"{helpdesk.staff_user}:{helpdesk.staff_password}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    base = helpdesk.url + "/helpdesk/api"

    async def one(session: aiohttp.ClientSession, n: int) -> tuple[str, str]:
        email = f"kari.{n}.{secrets.token_hex(3)}@example.no"
        form = aiohttp.FormData()
        for key, value in {"queue": helpdesk.queue_id, "title": f"{NAME}: invoice, fnr 01010012356",
                           "description": f"I am {NAME} ({email}), call me on +47 412 34 567.",
                           "submitter_email": email, "priority": 3}.items():
            form.add_field(key, str(value))
        form.add_field("attachment", b"%PDF-1.4 passport", filename="passport.pdf", content_type="application/pdf")
        async with session.post(base + "/tickets/", data=form, headers=headers) as response:
            assert response.status == 201, await response.text()
            ticket = str((await response.json())["id"])
        for k in range(followups):
            form = aiohttp.FormData()
            for key, value in {"ticket": ticket, "public": "true" if k % 2 else "false",
                               "comment": f"Refund {NAME} to NO93 8601 1117 947, ring 41234567 ({k})."}.items():
                form.add_field(key, value)
            if k == 0:
                form.add_field("attachments", f"{email}".encode(), filename="statement.txt",
                               content_type="text/plain")
            async with session.post(base + "/followups/", data=form, headers=headers) as response:
                assert response.status == 201, await response.text()
        async with session.patch(f"{base}/tickets/{ticket}/", json={"status": CLOSED}, headers=headers) as response:
            assert response.status == 200, await response.text()
        return ticket, email

    async with aiohttp.ClientSession(trust_env=False) as session:
        made: list[tuple[str, str]] = []
        for start in range(0, cases, 4):  # four at a time: gunicorn's four threads
            made += await asyncio.gather(*(one(session, n) for n in range(start, min(cases, start + 4))))
        return made


async def measure(
    helpdesk: Helpdesk, tickets: list[tuple[str, str]], data_dir: Path, auth: str
) -> tuple[list[float], int, int]:
    """Seconds per case, operations done, cases with any outcome besides the recipients' refusal."""
    settings = Anonymisation.model_validate({
        "keys": [{"id": "p1", "secret": "base64:" + base64.b64encode(secrets.token_bytes(32)).decode()}],
        "rate_limit": RATE_LIMIT})
    credentials = ({"token": helpdesk.staff_token} if auth == "token"
                   else {"username": helpdesk.staff_user, "password": helpdesk.staff_password})
    desk = HelpdeskSettings.model_validate({
        "adapter": "django-helpdesk", "url": helpdesk.url + "/helpdesk", "queue": helpdesk.queue_id,
        **credentials, "timeout": 30})
    scanner, pace = Scanner(builtin_detectors()), Pacer(RATE_LIMIT)
    times: list[float] = []
    operations = errors = 0
    async with DjangoHelpdesk(desk) as adapter, SQLiteStore(data_dir / "state.sqlite3") as store:
        journal = Journal(store, adapter.name, "command", revoke_for=7 * 86400)
        for ticket, email in tickets:
            started = time.perf_counter()
            [report] = await anonymise_cases(adapter, settings, case_id=ticket, names=[NAME],
                                             phones=["+47 412 34 567"], scanner=scanner, pace=pace, journal=journal)
            times.append(time.perf_counter() - started)
            results = report.result.results if report.result is not None else ()
            operations += sum(1 for r in results if r.outcome == "done")
            unexpected = {(r.operation, r.outcome) for r in results} - {
                ("update_case", "not_supported"), ("update_message", "done"), ("delete_attachment", "done"),
                ("update_requester", "done")}
            errors += bool(unexpected) or report.state not in ("done", "incomplete")
    return times, operations, errors


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--followups", type=int, default=3)
    parser.add_argument("--auth", choices=("token", "basic"), default="token",
                        help="the adapter's credentials: the REST framework token, or Basic user and password")
    parser.add_argument("--smoke", action="store_true", help="3 cases, 2 follow-ups: checks the harness")
    args = parser.parse_args()
    cases, followups = (3, 2) if args.smoke else (args.cases, args.followups)
    with tempfile.TemporaryDirectory(prefix="bench-anonymise-") as tmp, start_helpdesk(Path(tmp) / "hd") as helpdesk:
        began = time.perf_counter()
        tickets = asyncio.run(seed(helpdesk, cases, followups))
        seeded = time.perf_counter() - began
        times, operations, errors = asyncio.run(measure(helpdesk, tickets, Path(tmp), args.auth))
    total = sum(times)
    print(f"django-helpdesk (gunicorn, 1 worker, 4 threads), {cases} cases x {followups} follow-ups, "
          f"auth {args.auth}, rate limit {RATE_LIMIT:.0f}/s (not throttling); seeded in {seeded:.1f} s")
    print(f"{'cases':>6} {'operations':>11} {'cases/s':>8} {'ops/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7}")
    print(f"{cases:>6} {operations:>11} {cases / total:>8.2f} {operations / total:>7.1f} "
          f"{statistics.median(times) * 1000:>8.1f} {percentile(times, 0.95) * 1000:>8.1f} {errors:>7}")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
