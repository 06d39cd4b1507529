"""Throughput of the egress listener per provider: a 50 KiB HTML mail, or a push, hidden.

    python bench/egress.py [--duration 5] [--connections 8] [--smoke]

A one-worker gateway (``privacy-gateway serve``, its own process) with an
egress route per provider forwards to a stand-in provider (its own process:
an aiohttp app answering each API's success status at once). This process is
the helpdesk, posting each provider's request shape with aiohttp. Every
request is decided ``hide`` (the recipient is a customer), so every one is
parsed, rewritten and forwarded. Printed per provider: requests/s, CPU ms of
the gateway per request, p50 latency; errors must be 0.

SES is left out: the stand-in cannot answer its signature check, and its
route differs from SendGrid's only by the botocore re-signing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parent.parent
CUSTOMER = "kari.nordmann@customer.example"
SENDER = "support@helpdesk.example"
SUBJECT = "[support-12] (Updated) Ny melding fra Bjørn Ålesund"
CASE_URL = "https://help.example/helpdesk/view/?ticket=support-12"
PARAGRAPH = ("<p>Bjørn Ålesund wrote: my phone is +47 912 34 567 and I live at Storgata 7, 0155 Oslo. "
             f"<a href=\"{CASE_URL}\">View the case</a>.</p>\n")
HTML = PARAGRAPH * (50 * 1024 // len(PARAGRAPH))
TEXT = "Bjørn Ålesund wrote: my phone is +47 912 34 567. View the case: " + CASE_URL + "\n"
FCM_TOKEN = "d" * 64


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def requests() -> dict[str, tuple[str, dict[str, str], bytes]]:
    """Per provider: path on the egress listener, headers, body, as the SDKs send them."""
    as_json = {"Content-Type": "application/json"}
    mailgun = urlencode({"from": SENDER, "to": CUSTOMER, "subject": SUBJECT, "text": TEXT, "html": HTML}).encode()
    mailgun_headers = {"Content-Type": "application/x-www-form-urlencoded"}  # what requests sends without files
    return {
        "sendgrid": ("/sendgrid/v3/mail/send", {**as_json, "Authorization": "Bearer SG.x"}, json.dumps({
            "personalizations": [{"to": [{"email": CUSTOMER, "name": "Kari"}]}], "from": {"email": SENDER},
            "subject": SUBJECT, "content": [{"type": "text/plain", "value": TEXT}, {"type": "text/html", "value": HTML}],
        }).encode()),
        "postmark": ("/postmark/email", {**as_json, "X-Postmark-Server-Token": "t"}, json.dumps({
            "From": SENDER, "To": CUSTOMER, "Subject": SUBJECT, "TextBody": TEXT, "HtmlBody": HTML,
        }).encode()),
        "mailgun": ("/mailgun/v3/mg.example/messages", mailgun_headers, mailgun),
        "sparkpost": ("/sparkpost/api/v1/transmissions", {**as_json, "Authorization": "k"}, json.dumps({
            "recipients": [{"address": {"email": CUSTOMER}}],
            "content": {"from": SENDER, "subject": SUBJECT, "text": TEXT, "html": HTML},
        }).encode()),
        "fcm (push)": ("/fcm/v1/projects/p/messages:send", {**as_json, "Authorization": "Bearer x"}, json.dumps({
            "message": {"token": FCM_TOKEN, "notification": {"title": SUBJECT, "body": TEXT},
                        "data": {"ticket_id": "support-12", "body": TEXT}},
        }).encode()),
        "expo (push)": ("/expo/--/api/v2/push/send", as_json, json.dumps(
            {"to": "ExponentPushToken[xxxxxxxxxxxxxxxxxxxxxx]", "title": SUBJECT, "body": TEXT,
             "data": {"ticket_id": "support-12"}},
        ).encode()),
    }


def policy(egress: int, provider: str) -> str:
    routes = "\n".join(
        f"      - {{provider: {name}, upstream: \"{provider}\"}}"
        for name in ("sendgrid", "postmark", "mailgun", "sparkpost", "fcm", "expo")
    )
    return f"""\
listen: {{host: 127.0.0.1, port: {free_port()}}}
admin: {{host: 127.0.0.1, port: {free_port()}}}
upstream: {{url: "http://127.0.0.1:9"}}
logging: {{access_log: false, level: warning}}
links:
  enabled: true
  keys: [{{id: bench, secret: "${{file:links.key}}"}}]
notifications:
  enabled: true
  templates:
    default:
      subject: "New reply on your case {{case_id}}"
      text: "Hello {{recipient_name}}, read it here: {{link}}"
      html: '<p>Hello {{recipient_name}}, <a href="{{link}}">read it here</a>.</p>'
      push_body: "There is a new reply on your case {{case_id}}."
  link:
    find: 'https://help\\.example/helpdesk/view/\\?ticket=[^\\s"<>&]+'
    url: "https://help.example/helpdesk/view/?ticket={{case_id}}"
    base: https://gw.example
  egress:
    listen: {{host: 127.0.0.1, port: {egress}}}
    allow: [127.0.0.1]
    routes:
{routes}
"""


PROVIDER_CODE = """
from aiohttp import web
answers = {"/v3/mail/send": 202}
async def ok(request):
    await request.read()
    status = answers.get(request.path, 200)
    return web.Response(status=status, body=b"" if status == 202 else b'{"id": "1", "name": "projects/p/messages/1", '
                        b'"data": [{"status": "ok", "id": "1"}], "results": {"id": "1"}, "ErrorCode": 0}',
                        content_type="application/json")
app = web.Application(client_max_size=64 * 1024 * 1024)
app.router.add_route("*", "/{tail:.*}", ok)
web.run_app(app, host="127.0.0.1", port=PORT, access_log=None, print=None)
"""


async def wait_for(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s")


async def load(session: aiohttp.ClientSession, url: str, headers: dict[str, str], body: bytes,
               duration: float, connections: int) -> tuple[int, int, list[float]]:
    deadline = time.monotonic() + duration
    done = errors = 0
    latencies: list[float] = []

    async def client() -> None:
        nonlocal done, errors
        while time.monotonic() < deadline:
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                if resp.status < 300:
                    done += 1
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

    await asyncio.gather(*(client() for _ in range(connections)))
    return done, errors, latencies


async def main(args: argparse.Namespace) -> int:
    shapes = requests()
    with tempfile.TemporaryDirectory(prefix="pgw-egress-") as tmp:
        work = Path(tmp)
        (work / "links.key").write_text("raw:" + "an egress benchmark link key, 32+ bytes")
        egress, provider_port = free_port(), free_port()
        (work / "policy.yaml").write_text(policy(egress, f"http://127.0.0.1:{provider_port}"))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        procs = [subprocess.Popen([sys.executable, "-c", PROVIDER_CODE.replace("PORT", str(provider_port))],
                                  env=env, cwd=work)]
        procs.append(subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--policy", "policy.yaml"],
                                      env=env, cwd=work, stdout=subprocess.DEVNULL))
        try:
            await wait_for(provider_port, procs[0])
            await wait_for(egress, procs[1])
            gateway = psutil.Process(procs[1].pid)
            print(f"mail: {len(HTML) / 1024:.0f} KiB HTML + text; push: title and body; hidden; "
                  f"{args.connections} connections, {args.duration:g} s each")
            print(f"{'provider':<14} {'bytes in':>9} {'req/s':>8} {'CPU ms/req':>11} {'p50 ms':>8} {'errors':>7}")
            connector = aiohttp.TCPConnector(limit=args.connections)
            async with aiohttp.ClientSession(connector=connector) as session:
                for name, (path, headers, body) in shapes.items():
                    url = f"http://127.0.0.1:{egress}{path}"
                    await load(session, url, headers, body, 0.3, 1)  # warm-up
                    before = gateway.cpu_times()
                    done, errors, latencies = await load(session, url, headers, body, args.duration, args.connections)
                    after = gateway.cpu_times()
                    cpu = (after.user + after.system - before.user - before.system) / max(done, 1) * 1000
                    p50 = sorted(latencies)[len(latencies) // 2] * 1000 if latencies else 0.0
                    print(f"{name:<14} {len(body):>9} {done / args.duration:>8.1f} {cpu:>11.2f} {p50:>8.2f} "
                          f"{errors:>7}")
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--smoke", action="store_true", help="0.5 s, 2 connections: checks the harness")
    parsed = parser.parse_args()
    if parsed.smoke:
        parsed.duration, parsed.connections = 0.5, 2
    sys.exit(asyncio.run(main(parsed)))
