"""The CLI as a user runs it: real ``python -m gateway`` subprocesses.

``serve`` tests run the gateway in front of the demo helpdesk (its own
subprocess) on free loopback ports, talk to it over HTTP, send it signals and
read its admin listener's /metrics. Every subprocess is killed in ``finally``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any, AsyncIterator

import aiohttp
import psutil  # type: ignore[import-untyped]
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
DEMO_POLICY = ROOT / "policies" / "demo.yaml"
SCHEMA = ROOT / "policies" / "policy.schema.json"
START_TIMEOUT = 20.0

# Nothing from the test run's environment may change how the CLI behaves.
_SCRUBBED = ("AIOHTTP_NO_EXTENSIONS", "PROMETHEUS_MULTIPROC_DIR", "PRIVACY_GATEWAY_WORKER")


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run_cli(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=cwd, env=cli_env(**env), capture_output=True, text=True, timeout=60,
    )


# --- check, schema, explain -----------------------------------------------------------


def test_check_accepts_the_demo_policy() -> None:
    result = run_cli("check", str(DEMO_POLICY))
    assert result.returncode == 0, result.stderr
    assert "policy is valid" in result.stdout


def test_check_reports_every_error_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(
        "listen:\n"                                     # 1
        "  prot: 8080\n"                                # 2
        "upstream:\n"                                   # 3
        "  url: 8081\n"                                 # 4
        "firewall:\n"                                   # 5
        "  rules:\n"                                    # 6
        "    - name: office\n"                          # 7
        "      allow: [10.0.0.0/8, 10.0.0.300/8]\n"     # 8
        "limits:\n"                                     # 9
        "  header_timeout: 0\n"                         # 10
    )
    result = run_cli("check", "site.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "site.yaml:2: listen.prot: unknown key 'prot' (did you mean 'port'?)",
        "site.yaml:4: upstream.url: expected a string, got 8081",
        "site.yaml:8: firewall.rules[0].allow[1]: '10.0.0.300/8' is not an IPv4 or IPv6 network",
        "site.yaml:10: limits.header_timeout: must be > 0, got 0",
        "site.yaml: 4 errors; policy is NOT valid",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "site.yaml:1: the file is empty; a policy file must set at least one key"),
        ("# to do\n", "site.yaml:1: the file holds only comments; a policy file must set at least one key"),
        ("firewall: {default: deny}\n", "site.yaml:1: upstream.url: required key missing: the helpdesk's base URL, "
         "e.g. http://helpdesk.internal:8000"),
    ],
)
def test_check_refuses_an_empty_policy_and_one_without_an_upstream(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "site.yaml").write_text(text)
    result = run_cli("check", "site.yaml", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [expected, "site.yaml: 1 error; policy is NOT valid"]


def test_check_refuses_inline_secrets_and_pre_ticked_consent(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(
        "upstream: {url: 'http://helpdesk:8000'}\n"                          # 1
        "consent:\n"                                                         # 2
        "  keys: [{id: k1, secret: 'raw:an inline key of more than 32 bytes'}]\n"  # 3
        "  categories:\n"                                                    # 4
        "    analytics: {default: true}\n"                                   # 5
    )
    result = run_cli("check", "site.yaml", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "site.yaml:3: consent.keys[0].secret: key material must be a reference, not inline: "
        "write ${ENV_VAR} or ${file:path}",
        "site.yaml:4: consent.categories: analytics: default: true pre-ticks consent, which is unlawful in the EU "
        "(GDPR Art. 4(11), CJEU C-673/17 Planet49); remove it, or set allow_preticked: true on the category "
        "for a site outside EU law",
        "site.yaml: 2 errors; policy is NOT valid",
    ]
    assert "inline key" not in result.stderr


def test_schema_prints_the_committed_schema() -> None:
    result = run_cli("schema")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(SCHEMA.read_text()), (
        "policies/policy.schema.json is stale: regenerate it with `python -m gateway schema`"
    )


@pytest.mark.parametrize(
    ("xff", "client_ip", "decision"),
    [
        pytest.param([], "127.0.0.1", "deny", id="loopback-is-not-the-office"),
        pytest.param(["--xff", "192.0.2.10"], "192.0.2.10", "allow", id="office-via-trusted-proxy"),
    ],
)
def test_explain_the_demo_agent_area(xff: list[str], client_ip: str, decision: str) -> None:
    base = ["explain", "--policy", str(DEMO_POLICY), "--peer", "127.0.0.1", *xff, "--path", "/agent/"]
    result = run_cli(*base, "--json")
    assert result.returncode == 0, result.stderr
    explained = json.loads(result.stdout)
    assert (explained["client_ip"], explained["rule"], explained["decision"]) == (client_ip, "agent-area", decision)
    assert explained["status"] == (403 if decision == "deny" else None)
    text = run_cli(*base)
    assert text.returncode == 0, text.stderr
    assert f"client IP:    {client_ip}" in text.stdout
    assert f"decision:     {decision}" in text.stdout


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["schema"], id="schema"),
        pytest.param(["explain", "--policy", str(DEMO_POLICY), "--peer", "127.0.0.1", "--json"], id="explain"),
        pytest.param(["links", "sign", "--policy", str(DEMO_POLICY), "https://example.org/x", "--base", "http://gw"],
                     id="links-sign"),
    ],
)
def test_output_into_a_closed_pipe_ends_quietly(args: list[str]) -> None:
    """``privacy-gateway schema | head -c0``: no traceback, the status a shell gives a writer SIGPIPE ended."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte: every write fails
    try:
        result = subprocess.run(
            [sys.executable, "-m", "gateway", *args], cwd=ROOT, env=cli_env(), stdout=write_end,
            stderr=subprocess.PIPE, text=True, timeout=60,
        )
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (141, "")


# --- serve -----------------------------------------------------------------------------


class Proc:
    """A subprocess with its output in files (no pipe to fill up), killed on exit."""

    def __init__(self, name: str, args: list[str], tmp_path: Path, **env: str) -> None:
        self.name = name
        self._out_path = tmp_path / f"{name}.stdout"
        self._err_path = tmp_path / f"{name}.stderr"
        self._files: list[IO[bytes]] = [self._out_path.open("wb"), self._err_path.open("wb")]
        self.popen = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=cli_env(**env),
            stdout=self._files[0], stderr=self._files[1],
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return f"--- {self.name} stdout ---\n{self._out_path.read_text(errors='replace')[-4000:]}" \
               f"\n--- {self.name} stderr ---\n{self._err_path.read_text(errors='replace')[-4000:]}"

    async def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while (code := self.popen.poll()) is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} still running after {timeout}s\n{self.output()}")
            await asyncio.sleep(0.05)
        return code

    def signal(self, sig: signal.Signals) -> None:
        self.popen.send_signal(sig)

    def kill(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(psutil.Error):
                for child in psutil.Process(self.pid).children(recursive=True):
                    child.kill()
            self.popen.kill()
        self.popen.wait(10)
        for file in self._files:
            file.close()


@contextlib.asynccontextmanager
async def processes() -> AsyncIterator[list[Proc]]:
    started: list[Proc] = []
    try:
        yield started
    finally:
        for proc in reversed(started):
            proc.kill()


async def wait_for_port(port: int, proc: Proc) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.popen.poll() is not None:
            raise AssertionError(f"{proc.name} exited with {proc.popen.returncode}\n{proc.output()}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"{proc.name} never listened on {port}\n{proc.output()}") from None
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return


async def get(url: str, **kwargs: Any) -> tuple[int, str]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.get(url, **kwargs) as resp:
            return resp.status, await resp.text()


async def metric(admin_port: int, name: str, labels: dict[str, str] | None = None) -> float | None:
    _, text = await get(f"http://127.0.0.1:{admin_port}/metrics")
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in (labels or {}).items()):
                return float(sample.value)
    return None


async def eventually(check: Any, timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def write_policy(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(doc))
    tmp.replace(path)


def serve_policy(listen: int, admin: int, upstream: int, **extra: Any) -> dict[str, Any]:
    return {
        "listen": {"host": "127.0.0.1", "port": listen},
        "admin": {"host": "127.0.0.1", "port": admin},
        "upstream": {"url": f"http://127.0.0.1:{upstream}"},
        "limits": {"drain_timeout": "10s"},
        "logging": {"access_log": False, "level": "info"},
        **extra,
    }


async def start_helpdesk(procs: list[Proc], tmp_path: Path) -> int:
    port = free_port()
    helpdesk = Proc("helpdesk", ["-m", "gateway.demo.helpdesk", "--port", str(port)], tmp_path)
    procs.append(helpdesk)
    await wait_for_port(port, helpdesk)
    return port


def test_serve_refuses_the_pure_python_parser(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    write_policy(policy, serve_policy(free_port(), free_port(), free_port()))
    result = run_cli("serve", "--policy", str(policy), AIOHTTP_NO_EXTENSIONS="1")
    assert result.returncode != 0
    assert "parser" in result.stderr
    assert "llhttp" in result.stderr


async def test_serve_reloads_on_sighup_keeps_the_last_good_policy_and_drains_on_sigterm(tmp_path: Path) -> None:
    async with processes() as procs:
        upstream = await start_helpdesk(procs, tmp_path)
        listen, admin = free_port(), free_port()
        policy_path = tmp_path / "policy.yaml"
        doc = serve_policy(listen, admin, upstream)
        write_policy(policy_path, doc)
        gateway = Proc("gateway", ["-m", "gateway", "serve", "--policy", str(policy_path)], tmp_path)
        procs.append(gateway)
        await wait_for_port(listen, gateway)
        await wait_for_port(admin, gateway)
        base = f"http://127.0.0.1:{listen}"

        # Served through to the real upstream.
        status, body = await get(f"{base}/echo?x=1")
        assert status == 200, body
        assert json.loads(body)["query_string"] == "x=1"
        reloads = "privacy_gateway_policy_reloads_total"

        # SIGHUP alone reloads (the file is unchanged, so the file watcher stays quiet).
        gateway.signal(signal.SIGHUP)
        await eventually(lambda: metric(admin, reloads, {"result": "success"}), what="a reload after SIGHUP")
        assert await metric(admin, reloads, {"result": "success"}) == 1

        # A changed policy plus SIGHUP: the new rule is enforced.
        doc["firewall"] = {"rules": [{"name": "no-echo", "path": "/echo", "allow": []}]}
        write_policy(policy_path, doc)
        gateway.signal(signal.SIGHUP)

        async def echo_denied() -> bool:
            return (await get(f"{base}/echo"))[0] == 403

        await eventually(echo_denied, what="the reloaded rule")
        assert (await metric(admin, reloads, {"result": "success"}) or 0) >= 2
        assert await metric(admin, "privacy_gateway_policy_reload_success") == 1

        # An invalid edit: the reload fails, the last good policy keeps serving.
        doc["firewall"]["rules"][0]["allow"] = ["10.0.0.300/8"]
        write_policy(policy_path, doc)
        gateway.signal(signal.SIGHUP)
        await eventually(lambda: metric(admin, reloads, {"result": "failure"}), what="a failed reload")
        assert await metric(admin, "privacy_gateway_policy_reload_success") == 0
        assert (await get(f"{base}/echo"))[0] == 403
        assert (await get(f"{base}/"))[0] == 200

        # SIGTERM with a request in flight: it finishes, new connections are refused, exit 0.
        slow = asyncio.create_task(get(f"{base}/delay/3"))
        await eventually(lambda: metric(admin, "privacy_gateway_in_flight_requests"), what="the request in flight")
        gateway.signal(signal.SIGTERM)

        async def refused() -> bool:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", listen)
            except ConnectionRefusedError:
                return True
            writer.close()
            await writer.wait_closed()
            return False

        await eventually(refused, timeout=2.0, what="the listener to stop accepting")
        assert not slow.done(), "the in-flight request should still be running"
        status, body = await asyncio.wait_for(slow, 15)
        assert (status, body) == (200, "answered after 3s\n")
        assert await gateway.wait(15) == 0, gateway.output()


def _listening_workers(supervisor: int, port: int) -> list[int]:
    pids = []
    for child in psutil.Process(supervisor).children():
        with contextlib.suppress(psutil.Error):
            if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in child.net_connections("tcp")):
                pids.append(child.pid)
    return pids


def _worker_serving(workers: list[int], client_port: int) -> int | None:
    for pid in workers:
        with contextlib.suppress(psutil.Error):
            for conn in psutil.Process(pid).net_connections("tcp"):
                if conn.raddr and conn.raddr.port == client_port and conn.status == psutil.CONN_ESTABLISHED:
                    return pid
    return None


async def test_serve_with_two_workers_shares_the_port_and_aggregates_metrics(tmp_path: Path) -> None:
    async with processes() as procs:
        upstream = await start_helpdesk(procs, tmp_path)
        listen, admin = free_port(), free_port()
        policy_path = tmp_path / "policy.yaml"
        write_policy(policy_path, serve_policy(listen, admin, upstream, limits={"drain_timeout": "2s"}))
        supervisor = Proc("supervisor", ["-m", "gateway", "serve", "--workers", "2", "--policy", str(policy_path)], tmp_path)
        procs.append(supervisor)
        await wait_for_port(admin, supervisor)

        async def two_listening() -> list[int]:
            if supervisor.popen.poll() is not None:
                raise AssertionError(supervisor.output())
            found = _listening_workers(supervisor.pid, listen)
            return found if len(found) == 2 else []

        workers = await eventually(two_listening, timeout=START_TIMEOUT, what="two workers listening")

        # Fresh connections spread over the workers (SO_REUSEPORT): both must answer.
        answered_by: set[int] = set()
        requests = 0
        for _ in range(100):
            reader, writer = await asyncio.open_connection("127.0.0.1", listen)
            try:
                writer.write(b"GET /echo HTTP/1.1\r\nHost: gw.test\r\n\r\n")
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                assert head.startswith(b"HTTP/1.1 200 "), head
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
                await asyncio.wait_for(reader.readexactly(length), 10)
                requests += 1
                pid = _worker_serving(workers, writer.get_extra_info("sockname")[1])
                if pid is not None:
                    answered_by.add(pid)
            finally:
                writer.close()
                await writer.wait_closed()
            if answered_by == set(workers):
                break
        assert answered_by == set(workers), f"only {answered_by} of {workers} answered"

        # The supervisor's admin listener sums both workers' counters.
        async def all_counted() -> bool:
            value = await metric(admin, "privacy_gateway_requests_total", {"route": "default", "status_class": "2xx"})
            return value == requests

        await eventually(all_counted, what=f"{requests} requests counted across workers")

        supervisor.signal(signal.SIGTERM)
        assert await supervisor.wait(15) == 0, supervisor.output()
        for pid in workers:
            assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", listen), timeout=1).close()


def test_serve_says_in_one_line_when_the_store_cannot_be_opened(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    (tmp_path / "links.key").write_text("raw:" + "k" * 40 + "\n")
    write_policy(policy, {
        "listen": {"port": 0}, "admin": {"enabled": False}, "upstream": {"url": "http://127.0.0.1:9"},
        "links": {"enabled": True, "keys": [{"id": "k1", "secret": "${file:links.key}"}]},
        "store": {"url": f"postgresql://nobody@127.0.0.1:{free_port()}/x"},
    })
    result = run_cli("serve", "--policy", str(policy))
    assert result.returncode == 1
    assert "cannot open the state store" in result.stderr
    assert "Traceback" not in result.stderr


# --- demo: the only command with an upstream of its own ----------------------------------


async def test_demo_runs_its_helpdesk_as_the_upstream_a_policy_leaves_out(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(ROOT / "policies" / "demo-secrets", tmp_path / "demo-secrets")
    doc = yaml.safe_load(DEMO_POLICY.read_text())
    del doc["upstream"]["url"]
    listen, admin, helpdesk, relay, sink = free_port(), free_port(), free_port(), free_port(), free_port()
    doc["listen"]["port"], doc["admin"]["port"] = listen, admin
    doc["notifications"]["smtp"]["listen"]["port"] = relay
    doc["notifications"]["smtp"]["upstream"]["port"] = sink
    doc["notifications"]["egress"]["listen"]["port"] = free_port()
    doc["notifications"]["egress"]["routes"][0]["upstream"] = f"http://127.0.0.1:{helpdesk}"  # SendGrid's stand-in
    doc["store"]["url"] = f"sqlite:///{tmp_path}/state.sqlite3"
    doc["logging"]["access_log"] = False
    doc["anonymisation"]["helpdesk"]["url"] = f"http://127.0.0.1:{helpdesk}/helpdesk"  # the demo helpdesk's API
    policy_path = tmp_path / "demo.yaml"
    write_policy(policy_path, doc)
    # Outside the demo the upstream is required.
    assert "upstream.url: required key missing" in run_cli("check", str(policy_path)).stderr
    async with processes() as procs:
        demo = Proc("demo", ["-m", "gateway", "demo", "--policy", str(policy_path), "--helpdesk-port", str(helpdesk),
                             "--no-uvloop"], tmp_path)
        procs.append(demo)
        await wait_for_port(listen, demo)
        await wait_for_port(admin, demo)
        status, body = await get(f"http://127.0.0.1:{listen}/echo")
        assert status == 200, body
        assert json.loads(body)["path"] == "/echo"  # the demo helpdesk answered
        # The helpdesk's notification goes through the relay; the sink (the demo's smarthost) got the neutral one.
        async with aiohttp.ClientSession() as session:
            async with session.post(f"http://127.0.0.1:{listen}/tickets/2/notify", allow_redirects=False) as resp:
                assert resp.status == 303, await resp.text()
        status, outbox = await get(f"http://127.0.0.1:{helpdesk}/outbox")
        assert "New reply on your case support-2" in outbox and "http://127.0.0.1:8080/_l/" in outbox
        assert "4111" not in outbox and "+47 000 00 001" not in outbox and "charged twice" not in outbox
        # The contact form: the card and the national ID reach the helpdesk masked.
        async with aiohttp.ClientSession() as session:
            form = {"message": "card 4111 1111 1111 1111, fnr 01010012356"}
            async with session.post(f"http://127.0.0.1:{listen}/contact", data=form) as resp:
                page = await resp.text()
        assert resp.status == 200 and "*1111" in page and "4111" not in page and "01010012356" not in page
        # An agent's ticket page: the card in the customer's message is highlighted, and a notice says so.
        status, page = await get(f"http://127.0.0.1:{listen}/agent/tickets/2", headers={"X-Forwarded-For": "192.0.2.10"})
        assert status == 200 and 'data-kind="card">4111 1111 1111 1111</mark>' in page
        assert "This page contains 1 card number." in page
        # The new-ticket form: the consent checkbox is injected; without it the helpdesk gets nothing.
        status, page = await get(f"http://127.0.0.1:{listen}/tickets/new")
        version = re.search(r'name="privacy_consent" value="([0-9a-f]{16})" required>', page)
        assert status == 200 and version is not None
        ticket = {"email": "kari@example.no", "subject": "Hi", "message": "Hello"}
        async with aiohttp.ClientSession() as session:
            async with session.post(f"http://127.0.0.1:{listen}/tickets/new", data=ticket) as resp:
                assert resp.status == 422 and "Your consent is needed" in await resp.text()
            async with session.post(f"http://127.0.0.1:{listen}/tickets/new",
                                    data={**ticket, "privacy_consent": version.group(1)}) as resp:
                page = await resp.text()
        assert resp.status == 200 and "kari@example.no" in page and "privacy_consent" not in page
        # The same notification as a SendGrid API call, through the egress listener.
        async with aiohttp.ClientSession() as session:
            async with session.post(f"http://127.0.0.1:{listen}/tickets/2/notify-api", allow_redirects=False) as resp:
                assert resp.status == 303, await resp.text()
        status, outbox = await get(f"http://127.0.0.1:{helpdesk}/outbox")
        api_call = outbox[outbox.index("=== API call /v3/mail/send"):]
        assert "New reply on your case support-2" in api_call and "/_l/" in api_call
        assert "4111" not in api_call and "+47 000 00 001" not in api_call and "charged twice" not in api_call
        # A reload reads the file again and still has the demo's upstream.
        demo.signal(signal.SIGHUP)
        reloads = "privacy_gateway_policy_reloads_total"
        await eventually(lambda: metric(admin, reloads, {"result": "success"}), what="a reload of the demo")
        assert await metric(admin, "privacy_gateway_policy_reload_success") == 1
        assert (await get(f"http://127.0.0.1:{listen}/echo"))[0] == 200
        demo.signal(signal.SIGTERM)
        assert await demo.wait(20) == 0, demo.output()


# --- stop: the drain is bounded, and cut-off requests are logged ---------------------

DRAIN = 2.0
STOP_MARGIN = 1.5  # the drain, then a fraction of a second of cleanup (measured: 0.1 s)


def _access_lines(proc: Proc) -> list[dict[str, Any]]:
    lines = proc._out_path.read_text(errors="replace").splitlines()
    return [entry for line in lines if line.startswith("{") and (entry := json.loads(line)).get("event") == "access"]


async def _stop_with_a_request_in_flight(tmp_path: Path, *workers: str) -> None:
    async with processes() as procs:
        upstream = await start_helpdesk(procs, tmp_path)
        listen, admin = free_port(), free_port()
        policy_path = tmp_path / "policy.yaml"
        doc = serve_policy(listen, admin, upstream, limits={"drain_timeout": f"{DRAIN:g}s"})
        doc["logging"]["access_log"] = True
        write_policy(policy_path, doc)
        gateway = Proc("gateway", ["-m", "gateway", "serve", *workers, "--policy", str(policy_path)], tmp_path)
        procs.append(gateway)
        await wait_for_port(admin, gateway)
        await wait_for_port(listen, gateway)
        base = f"http://127.0.0.1:{listen}"
        assert (await get(f"{base}/delay/0"))[0] == 200  # answered before the stop: logged as usual

        slow = asyncio.create_task(get(f"{base}/delay/60"))
        await eventually(lambda: metric(admin, "privacy_gateway_in_flight_requests"), what="the request in flight")
        signalled = time.monotonic()
        gateway.signal(signal.SIGTERM)
        assert await gateway.wait(DRAIN + 15) == 0, gateway.output()
        took = time.monotonic() - signalled
        with contextlib.suppress(aiohttp.ClientError):
            await asyncio.wait_for(slow, 5)
        assert took <= DRAIN + STOP_MARGIN, f"stopped {took:.1f}s after SIGTERM (drain {DRAIN}s)\n{gateway.output()}"

        entries = _access_lines(gateway)
        by_path = {entry["path"]: entry for entry in entries}
        assert by_path["/delay/0"]["status"] == 200, entries
        assert by_path["/delay/60"]["reason"] == "shutdown", entries
        stderr = gateway._err_path.read_text()
        assert "requests cut off at the end of the drain" in stderr, gateway.output()


async def test_sigterm_stops_within_the_drain_and_logs_the_request_it_cut_off(tmp_path: Path) -> None:
    await _stop_with_a_request_in_flight(tmp_path)


async def test_sigterm_with_workers_stops_within_the_drain_and_keeps_the_access_log(tmp_path: Path) -> None:
    await _stop_with_a_request_in_flight(tmp_path, "--workers", "2")
