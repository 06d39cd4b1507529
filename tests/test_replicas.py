"""Three gateway processes sharing one PostgreSQL, behind a round-robin client: one truth.

Each test starts three real ``python -m gateway serve`` processes on loopback
ports, in front of one real upstream, with ``store.url`` naming the same
fresh schema of the real PostgreSQL (127.0.0.1:5432). The client plays the
load balancer: each request goes to the next replica in turn; a connection
refused (nothing was sent) takes the replica out of the rotation and the
request goes to the next one, as a load balancer's passive health check does.
It knows which replica each request went to, so a failure is attributed.

The figures the tests print (``-s``) are the ones the README quotes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from gateway.store import SCHEMA_VERSION
from gateway.store.postgres import SCHEMA_LOCK
from tests.conftest import free_port, secrets_to_files, upstream_url
from tests.support.postgres import dsn_with_schema
from tests.support.shared_state import CONSENT, consent_cookie, signed_link, stateful_policy
from tests.test_cli import ROOT, Proc, cli_env, processes, wait_for_port

REPLICAS = 3
BOUND = 20.0  # seconds for anything to happen at all; no assertion is about speed


@dataclass
class Replica:
    index: int
    proc: Proc
    port: int
    admin: int
    policy: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def spawn_replicas(
    procs: list[Proc], tmp_path: Path, upstream: web.AppRunner, store_url: str, **store: Any
) -> list[Replica]:
    """Three replicas started back to back (not yet listening): the same policy but for the ports."""
    replicas = []
    for index in range(REPLICAS):
        port, admin = free_port(), free_port()
        doc = {
            "listen": {"host": "127.0.0.1", "port": port},
            "admin": {"host": "127.0.0.1", "port": admin},
            "upstream": {"url": upstream_url(upstream)},
            "logging": {"access_log": False},
            **stateful_policy(store_url, **store),
        }
        path = tmp_path / f"replica-{index + 1}.yaml"
        path.write_text(yaml.safe_dump(secrets_to_files(doc, tmp_path)))
        replicas.append(Replica(index, Proc(f"replica-{index + 1}", ["-m", "gateway", "serve", "--policy",
                                                                     str(path)], tmp_path), port, admin, path))
    procs.extend(r.proc for r in replicas)
    return replicas


async def serving(replicas: list[Replica]) -> list[Replica]:
    for replica in replicas:
        await wait_for_port(replica.port, replica.proc)
        await wait_for_port(replica.admin, replica.proc)
    return replicas


def logged_errors(replica: Replica) -> list[str]:
    """Log lines at error or critical level, and tracebacks, from the replica's output."""
    return [line for line in replica.proc.output().splitlines() if _ERROR_LINE.search(line) or "Traceback" in line]


_ERROR_LINE = re.compile(r'"level":\s*"(?:error|critical)"')


async def until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {BOUND}s: {what}")
        await asyncio.sleep(0.02)


async def cli(*args: str) -> tuple[int, str, str]:
    """``python -m gateway ...`` without blocking the event loop (the replicas' clients keep running)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", *args, cwd=ROOT, env=cli_env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


# --- the round-robin client -----------------------------------------------------------------


@dataclass
class Answer:
    replica: int
    status: int
    body: bytes
    set_cookies: list[str]

    def json(self) -> Any:
        return json.loads(self.body)


class InFlightFailure(Exception):
    """A request that was sent to ``replica`` and got no complete answer."""

    def __init__(self, replica: int, request_id: int, error: BaseException) -> None:
        super().__init__(f"request {request_id} on replica {replica + 1}: {type(error).__name__}: {error}")
        self.replica = replica
        self.request_id = request_id


@dataclass
class RoundRobin:
    replicas: list[Replica]
    session: aiohttp.ClientSession
    alive: list[int] = field(default_factory=list)
    in_flight: dict[int, set[int]] = field(default_factory=dict)
    refused: int = 0  # connections refused and retried on the next replica
    _turn: itertools.count[int] = field(default_factory=itertools.count)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.alive = [r.index for r in self.replicas]
        self.in_flight = {r.index: set() for r in self.replicas}

    async def request(
        self, method: str, path: str, *, replica: int | None = None, cookie: str = "", body: Any = None,
    ) -> Answer:
        request_id = next(self._ids)
        while True:
            if not self.alive:
                raise AssertionError("no replica left")
            target = replica if replica is not None else self.alive[next(self._turn) % len(self.alive)]
            headers = {"Cookie": cookie} if cookie else {}
            self.in_flight[target].add(request_id)
            try:
                async with self.session.request(
                    method, self.replicas[target].url + path, headers=headers, json=body, allow_redirects=False,
                ) as response:
                    data = await response.read()
                    return Answer(target, response.status, data, response.headers.getall("Set-Cookie", []))
            except aiohttp.ClientConnectorError:
                # Refused: nothing was sent. Out of the rotation; the next replica gets the request.
                if replica is not None:
                    raise
                self.refused += 1
                if target in self.alive:
                    self.alive.remove(target)
            except (aiohttp.ClientError, OSError) as exc:
                raise InFlightFailure(target, request_id, exc) from exc
            finally:
                self.in_flight[target].discard(request_id)


def round_robin(replicas: list[Replica]) -> tuple[RoundRobin, aiohttp.ClientSession]:
    # A new connection per request: a failure then belongs to a request that was in flight, never
    # to an idle keep-alive connection the client would reuse after the replica died.
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(force_close=True, limit=0),
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=BOUND),
    )
    # aiohttp resends an idempotent request cut off by a dropped connection once, to the same replica; a
    # request in flight on a killed replica must count as failed instead (aiohttp's own TestClient does this).
    session._retry_connection = False
    return RoundRobin(replicas, session), session


# --- the tests --------------------------------------------------------------------------------


async def test_replicas_starting_at_the_same_moment_on_an_empty_schema_create_it_once(
    tmp_path: Path, upstream: web.AppRunner, pg_dsn: str, pg_schema: str
) -> None:
    """All three are inside schema creation at once: the test holds the schema lock until they all wait on it."""
    import asyncpg

    name = f"gw-start-{pg_schema}"
    store_url = f"{dsn_with_schema(pg_dsn, pg_schema)}&application_name={name}"
    holder = await asyncpg.connect(pg_dsn)
    async with processes() as procs:
        try:
            await holder.execute("SELECT pg_advisory_lock($1)", SCHEMA_LOCK)
            replicas = spawn_replicas(procs, tmp_path, upstream, store_url, timeouts={"connect": "20s",
                                                                                      "operation": "20s"})
            deadline = time.monotonic() + BOUND
            while True:
                waiting = await holder.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 "
                    "AND wait_event_type = 'Lock' AND wait_event = 'advisory'", name,
                )
                if waiting == REPLICAS:
                    break
                exited = [r.proc.output() for r in replicas if r.proc.popen.poll() is not None]
                assert not exited and time.monotonic() < deadline, f"{waiting} waiting\n" + "\n".join(exited)
                await asyncio.sleep(0.05)
        finally:
            await holder.execute("SELECT pg_advisory_unlock($1)", SCHEMA_LOCK)
            await holder.close()
        await serving(replicas)
        for replica in replicas:
            assert logged_errors(replica) == [], replica.proc.output()
        conn = await asyncpg.connect(pg_dsn, server_settings={"search_path": pg_schema})
        try:
            assert [tuple(r) for r in await conn.fetch("SELECT component, version FROM schema_version")] == [
                ("gateway", SCHEMA_VERSION)
            ]
            tables = await conn.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1", pg_schema
            )
            assert {"consent_receipts", "revocations", "schema_version"} <= {r[0] for r in tables}
        finally:
            await conn.close()


async def test_consent_given_through_one_replica_is_honoured_by_all_and_each_receipt_exported_once(
    tmp_path: Path, upstream: web.AppRunner, pg_dsn: str, pg_schema: str
) -> None:
    async with processes() as procs:
        replicas = await serving(spawn_replicas(procs, tmp_path, upstream, dsn_with_schema(pg_dsn, pg_schema)))
        rr, session = round_robin(replicas)
        async with session:
            given = await rr.request("POST", CONSENT, replica=0, body={"action": "accept"})
            assert given.status == 200
            consent_id, cookie = given.json()["consent_id"], consent_cookie(given.set_cookies)
            assert consent_id and cookie
            for other in (1, 2):
                state = (await rr.request("GET", CONSENT, replica=other, cookie=cookie)).json()
                assert state["decided"] is True and state["consent_id"] == consent_id
                assert {c["name"]: c["granted"] for c in state["categories"]}["analytics"] is True
                # The analytics cookie reaches the upstream through this replica too; without consent it does not.
                for sent, passes in ((f"_ga=GA1.2.3; {cookie}", True), ("_ga=GA1.2.3", False)):
                    echoed = (await rr.request("GET", "/echo", replica=other, cookie=sent)).json()
                    cookies = [v for k, v in echoed["headers"] if k.lower() == "cookie"]
                    assert ("_ga=GA1.2.3" in "".join(cookies)) is passes, (other, sent, cookies)

            # Nine more visitors, each decision through the next replica in turn.
            decided = Counter({consent_id: 1})
            through = Counter({0: 1})
            for number in range(9):
                answer = await rr.request("POST", CONSENT, body={"action": "accept" if number % 2 else "reject"})
                assert answer.status == 200
                decided[answer.json()["consent_id"]] += 1
                through[answer.replica] += 1
            assert through == {0: 4, 1: 3, 2: 3}

        code, out, err = await cli("consent", "export", "--policy", str(replicas[2].policy))
        assert code == 0, err
        exported = Counter(json.loads(line)["consent_id"] for line in out.splitlines())
        assert exported == decided and set(exported.values()) == {1}
        assert err.strip() == "10 receipts exported"


async def test_a_link_revoked_through_one_replica_is_refused_by_all_from_the_next_request(
    tmp_path: Path, upstream: web.AppRunner, pg_dsn: str, pg_schema: str
) -> None:
    """Nothing caches revocations: the bound is zero, and what is measured is one request's round trip."""
    path, claims = signed_link()
    async with processes() as procs:
        replicas = await serving(spawn_replicas(procs, tmp_path, upstream, dsn_with_schema(pg_dsn, pg_schema)))
        rr, session = round_robin(replicas)
        async with session:
            assert [(await rr.request("GET", path, replica=r.index)).status for r in replicas] == [200] * REPLICAS

            seen: list[tuple[int, float, float, int]] = []  # (replica, started, ended, status)
            stop = asyncio.Event()

            async def poll(replica: int) -> None:
                while not stop.is_set():
                    started = time.monotonic()
                    answer = await rr.request("GET", path, replica=replica)
                    seen.append((replica, started, time.monotonic(), answer.status))

            pollers = [asyncio.create_task(poll(r.index)) for r in replicas]
            await until(lambda: {r for r, *_ in seen} == {0, 1, 2}, "every replica polled")
            begun = time.monotonic()
            code, out, err = await cli("links", "revoke", "--policy", str(replicas[1].policy),
                                       "--token-id", claims.jti, "--reason", "replica test")
            done = time.monotonic()
            assert code == 0, err
            await until(lambda: {r for r, started, *_ in seen if started >= done} == {0, 1, 2},
                        "a request to every replica after the revocation")
            await asyncio.sleep(0.2)  # a few more, all of which must be refused too
            stop.set()
            await asyncio.gather(*pollers)

    assert {status for _, started, _, status in seen if started >= done} == {403}  # not one stale answer
    assert {status for _, _, ended, status in seen if ended < begun} == {200}
    firsts = []
    for replica in replicas:
        after = [(ended - done) for r, started, ended, _ in seen if r == replica.index and started >= done]
        assert after, f"replica {replica.index + 1} got no request after the revocation"
        firsts.append(min(after))
    late = sum(1 for _, started, _, status in seen if started >= done and status != 403)
    print(f"\nrevocation: `links revoke` took {done - begun:.3f}s; the first request each replica got after it "
          f"returned was refused, answered within {', '.join(f'{t * 1000:.1f}' for t in firsts)} ms; "
          f"stale answers after it: {late} of {sum(1 for s in seen if s[1] >= done)}")


async def test_a_replica_killed_mid_load_fails_only_the_requests_in_flight_on_it(
    tmp_path: Path, upstream: web.AppRunner, pg_dsn: str, pg_schema: str
) -> None:
    link, _ = signed_link()
    async with processes() as procs:
        replicas = await serving(spawn_replicas(procs, tmp_path, upstream, dsn_with_schema(pg_dsn, pg_schema)))
        victim = replicas[1]
        rr, session = round_robin(replicas)
        served: list[tuple[int, float, int]] = []  # (replica, started, status)
        failed: list[InFlightFailure] = []
        stop = asyncio.Event()

        async def load(worker: int) -> None:
            # Proxied requests held 0.1s by the upstream, and link checks that ask PostgreSQL.
            for number in itertools.count():
                if stop.is_set():
                    return
                path = "/slow?delay=0.1" if (worker + number) % 2 else link
                started = time.monotonic()
                try:
                    answer = await rr.request("GET", path)
                except InFlightFailure as failure:
                    failed.append(failure)
                    continue
                served.append((answer.replica, started, answer.status))

        def per_replica(since: float = 0.0) -> Counter[int]:
            return Counter(r for r, started, _ in served if started > since)

        async with session:
            workers = [asyncio.create_task(load(w)) for w in range(12)]
            await until(lambda: len(per_replica()) == REPLICAS and min(per_replica().values()) >= 30,
                        "load on every replica")
            in_flight_at_kill = set(rr.in_flight[victim.index])
            os.kill(victim.proc.pid, signal.SIGKILL)
            victim.proc.popen.wait(10)  # blocking on purpose: no request starts before it is gone
            killed_at = time.monotonic()
            await until(lambda: len(per_replica(killed_at)) == 2 and min(per_replica(killed_at).values()) >= 50,
                        "the others serve on")
            stop.set()
            await asyncio.gather(*workers)

    total = len(served) + len(failed)
    assert all(f.replica == victim.index and f.request_id in in_flight_at_kill for f in failed), failed
    assert {status for _, _, status in served} == {200}
    after = per_replica(killed_at)
    assert set(after) == {0, 2}, after  # the others serve on; the dead one is out of the rotation
    assert victim.index not in rr.alive
    print(f"\nreplica killed (SIGKILL) under load: {len(failed)} of {total} requests failed, all of them in flight "
          f"on the killed replica ({len(in_flight_at_kill)} were in flight on it); {rr.refused} refused "
          f"connection(s) went to the next replica; {sum(after.values())} served by the other two afterwards")
    assert len(failed) <= len(in_flight_at_kill)

