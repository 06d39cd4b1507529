"""Throughput and added latency of the SMTP relay, on a helpdesk-sized notification.

    python bench/relay.py [--duration 10] [--connections 4] [--messages 200] [--smoke]

A one-worker gateway (``privacy-gateway serve``, its own process) relays to a
sink smarthost (the demo's, its own process); this process is the helpdesk,
sending with aiosmtplib. The message is a 50 KiB HTML notification with a
text alternative and a 200 KiB attachment, in the shape real helpdesks send.
Printed, for the ``hide`` rule (a neutral message per recipient) and for
``pass`` (relayed unchanged):

- messages/s over ``--duration`` seconds with ``--connections`` clients;
- CPU ms of the gateway per message;
- latency: p50 and p99 of ``--messages`` messages sent one after another,
  directly to the sink and through the relay; the difference of the p50s is
  the latency the relay adds (a second smarthost transaction, the rewrite).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import psutil

ROOT = Path(__file__).resolve().parent.parent
SENDER = "support@helpdesk.example"
CUSTOMER = "kari.nordmann@customer.example"
AGENT = "agent@helpdesk.example"


def notification() -> bytes:
    message = EmailMessage()
    message["From"] = f"Helpdesk <{SENDER}>"
    message["To"] = f"Kari Nordmann <{CUSTOMER}>"
    message["Subject"] = "[support-12] (Updated) Ny melding fra Bjørn Ålesund"
    message["Message-ID"] = "<bench-1@helpdesk.example>"
    message["References"] = "<bench-0@helpdesk.example>"
    paragraph = ("Bjørn Ålesund wrote: my phone is +47 912 34 567 and I live at Storgata 7, 0155 Oslo. "
                 "View the case at https://help.example/helpdesk/view/?ticket=support-12 please. ")
    text = paragraph * (50 * 1024 // len(paragraph))
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(f"<html><body><p>{text}</p></body></html>", subtype="html", cte="quoted-printable")
    message.add_attachment(os.urandom(200 * 1024), maintype="application", subtype="octet-stream",
                           filename="scan.pdf")
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def policy(relay: int, sink: int, admin: int, public: int) -> str:
    return f"""\
listen: {{host: 127.0.0.1, port: {public}}}
admin: {{host: 127.0.0.1, port: {admin}}}
upstream: {{url: "http://127.0.0.1:9"}}
logging: {{access_log: false, level: warning}}
links:
  enabled: true
  keys: [{{id: bench, secret: "${{file:links.key}}"}}]
notifications:
  enabled: true
  audiences: {{agents: {{addresses: [helpdesk.example]}}}}
  rules: [{{name: agents, audience: agents, action: pass}}]
  templates:
    default:
      subject: "New reply on your case {{case_id}}"
      text: "Hello {{recipient_name}}, read it here: {{link}}"
      html: '<p>Hello {{recipient_name}}, <a href="{{link}}">read it here</a>.</p>'
  link:
    find: 'https://help\\.example/helpdesk/view/\\?ticket=[^\\s"<>]+'
    base: https://gw.example
  smtp:
    listen: {{host: 127.0.0.1, port: {relay}}}
    upstream: {{host: 127.0.0.1, port: {sink}, tls: none}}
    allow: [127.0.0.1]
    max_connections: 64
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


async def one(port: int, data: bytes, recipient: str) -> None:
    await aiosmtplib.send(data, sender=SENDER, recipients=[recipient], hostname="127.0.0.1", port=port,
                          start_tls=False, timeout=30)


async def throughput(port: int, data: bytes, recipient: str, duration: float, connections: int) -> tuple[int, int]:
    """Messages accepted and errors, over ``duration`` with ``connections`` clients, each on one connection."""
    deadline = time.monotonic() + duration
    done = errors = 0

    async def client() -> None:
        nonlocal done, errors
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=30)
        await smtp.connect()
        try:
            while time.monotonic() < deadline:
                try:
                    await smtp.sendmail(SENDER, [recipient], data)
                    done += 1
                except aiosmtplib.SMTPException:
                    errors += 1
        finally:
            await smtp.quit()

    await asyncio.gather(*(client() for _ in range(connections)))
    return done, errors


async def latencies(port: int, data: bytes, recipient: str, count: int) -> list[float]:
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=30)
    await smtp.connect()
    out = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            await smtp.sendmail(SENDER, [recipient], data)
            out.append(time.perf_counter() - started)
    finally:
        await smtp.quit()
    return out


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def main(args: argparse.Namespace) -> int:
    data = notification()
    with tempfile.TemporaryDirectory(prefix="pgw-relay-") as tmp:
        work = Path(tmp)
        (work / "links.key").write_text("raw:" + "a relay benchmark link key, 32+ bytes")
        relay, sink, admin, public = free_port(), free_port(), free_port(), free_port()
        (work / "policy.yaml").write_text(policy(relay, sink, admin, public))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        sink_code = ("import asyncio\nfrom gateway.demo.mail import MailSink\n"
                     f"async def main():\n    await MailSink(keep=1).start('127.0.0.1', {sink})\n"
                     "    await asyncio.Event().wait()\nasyncio.run(main())\n")
        procs = [subprocess.Popen([sys.executable, "-c", sink_code], env=env, cwd=work)]
        procs.append(subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--policy", "policy.yaml"],
                                      env=env, cwd=work, stdout=subprocess.DEVNULL))
        try:
            await wait_for(sink, procs[0])
            await wait_for(relay, procs[1])
            gateway = psutil.Process(procs[1].pid)
            print(f"message: {len(data) / 1024:.0f} KiB (50 KiB HTML + text, 200 KiB attachment); "
                  f"{args.connections} connections, {args.duration:g} s; latency over {args.messages} messages")
            print(f"{'path':<22} {'msg/s':>8} {'CPU ms/msg':>11} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
            direct = await latencies(sink, data, CUSTOMER, args.messages)
            print(f"{'smarthost direct':<22} {'':>8} {'':>11} {p(direct, 0.5):>8.2f} {p(direct, 0.99):>8.2f} {0:>7}")
            results = {}
            for action, recipient in (("hide", CUSTOMER), ("pass", AGENT)):
                await latencies(relay, data, recipient, 5)  # warm-up
                before = gateway.cpu_times()
                done, errors = await throughput(relay, data, recipient, args.duration, args.connections)
                after = gateway.cpu_times()
                cpu = (after.user + after.system - before.user - before.system) / max(done, 1) * 1000
                timings = await latencies(relay, data, recipient, args.messages)
                results[action] = p(timings, 0.5)
                print(f"{'relay, ' + action:<22} {done / args.duration:>8.1f} {cpu:>11.2f} {p(timings, 0.5):>8.2f} "
                      f"{p(timings, 0.99):>8.2f} {errors:>7}")
            for action, median in results.items():
                print(f"added latency ({action}): {median - p(direct, 0.5):.2f} ms at p50")
            print(f"median of direct sends: {statistics.median(direct) * 1000:.2f} ms")
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
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--smoke", action="store_true", help="1 s, 1 connection, 10 messages: checks the harness")
    parsed = parser.parse_args()
    if parsed.smoke:
        parsed.duration, parsed.connections, parsed.messages = 1.0, 1, 10
    sys.exit(asyncio.run(main(parsed)))
