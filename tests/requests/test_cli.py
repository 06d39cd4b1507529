"""``privacy-gateway requests …`` as a subprocess, on the store of a running gateway: the gateway's worker acts
on what the CLI decided."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.support.portal import StartPortal

ROOT = Path(__file__).resolve().parent.parent.parent
EMAIL = "kari@example.no"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", "requests", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


async def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(run, *args, "--policy", str(tmp_path / "policy.yaml"), cwd=tmp_path)


async def test_list_show_approve_and_export_from_the_command_line(start_portal: StartPortal, tmp_path: Path) -> None:
    site = await start_portal()
    request_id = site.request_id(await site.verify(EMAIL, "erasure", text="Please delete"))
    other = site.request_id(await site.verify("ola@example.no", "access"))

    listed = await cli(tmp_path, "list")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert {r["request_id"] for r in rows} == {request_id, other} and EMAIL not in listed.stdout
    assert listed.stderr.strip() == "2 requests"

    shown = await cli(tmp_path, "show", request_id, "--actor", "cli:dpo")
    doc = json.loads(shown.stdout)
    assert shown.returncode == 0 and doc["email"] == EMAIL and doc["text"] == "Please delete"

    approved = await cli(tmp_path, "approve", request_id, "--actor", "cli:dpo")
    assert approved.returncode == 0 and json.loads(approved.stdout)["state"] == "fulfilled"
    await site.wait_for(lambda: any("is done" in m["Subject"] for m in site.mails_to(EMAIL)))  # the gateway mailed

    again = await cli(tmp_path, "approve", request_id)
    assert again.returncode == 1 and "fulfilled: it cannot be approved" in again.stderr
    refused = await cli(tmp_path, "refuse", other, "--reason", "Identity unclear")
    assert refused.returncode == 0 and json.loads(refused.stdout)["state"] == "refused"
    assert (await cli(tmp_path, "extend", "DSR-00000-00000", "--days", "5", "--reason", "x")).returncode == 1

    exported = await cli(tmp_path, "export", request_id, "--out", str(tmp_path / "x.zip"), "--actor", "cli:dpo")
    assert exported.returncode == 0, exported.stderr
    data = json.loads(zipfile.ZipFile(io.BytesIO((tmp_path / "x.zip").read_bytes())).read("data.json"))
    assert data["request"]["request_id"] == request_id and "cannot be searched" in data["cases_note"]

    audit = json.loads((await cli(tmp_path, "show", request_id, "--actor", "cli:dpo")).stdout)["audit"]
    assert [(e["actor"], e["action"]) for e in audit] == [
        ("cli:dpo", "show"), ("cli:dpo", "approve"), ("cli:dpo", "export"), ("cli:dpo", "show")]
    refused_audit = json.loads((await cli(tmp_path, "show", other)).stdout)["audit"]
    assert refused_audit[0]["action"] == "refuse" and refused_audit[0]["actor"].startswith("cli:")
    assert (await cli(tmp_path, "list")).stderr.strip() == "0 requests"
    assert len((await cli(tmp_path, "list", "--all")).stdout.splitlines()) == 2


def test_a_policy_without_the_portal_is_exit_status_2(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("upstream: {url: 'http://127.0.0.1:9'}\n")
    done = run("list", "--policy", str(tmp_path / "p.yaml"), cwd=tmp_path)
    assert done.returncode == 2 and "requests.enabled is false" in done.stderr
