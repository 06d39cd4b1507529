"""``privacy-gateway legal-basis show|export`` on a real store, as a subprocess."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import yaml

from gateway.legal import proof
from gateway.lib.keyring import KeyRing
from gateway.store import SQLiteStore
from gateway.store.legal import LegalRecord

KEY = "raw:" + "a-legal-basis-record-key-00000001"
ROOT = Path(__file__).resolve().parent.parent.parent


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", "legal-basis", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_show_finds_a_persons_records_by_address_and_export_lists_all(tmp_path: Path) -> None:
    (tmp_path / "legal.key").write_text(KEY + "\n")
    (tmp_path / "p.yaml").write_text(yaml.safe_dump({
        "upstream": {"url": "http://127.0.0.1:9"}, "store": {"url": f"sqlite:///{tmp_path}/s.sqlite3"},
        "legal_basis": {"enabled": True, "keys": [{"id": "l1", "secret": "${file:legal.key}"}], "routes": [{
            "name": "signup", "path": "/signup", "basis": "consent", "purpose": "Accounts", "notice": {"en": "Yes."},
        }]},
    }))
    ring = KeyRing.from_config([("l1", KEY)], "l1")

    async def fill() -> None:
        async with SQLiteStore(tmp_path / "s.sqlite3") as store:
            for n, email in enumerate(["kari@example.no", "ola@example.no", "KARI@example.no"]):
                await store.add_legal_record(LegalRecord(
                    f"{n:032x}", 1_700_000_000.0 + n, "signup", "consent", "Accounts", "", "en",
                    proof.email_hash(ring, email), "192.0.2.0/24", "given"))

    asyncio.run(fill())
    shown = run("show", "--policy", "p.yaml", "--email", "Kari@Example.no", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    lines = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [line["record_id"] for line in lines] == [f"{0:032x}", f"{2:032x}"]
    assert lines[0]["created"] == "2023-11-14T22:13:20.000Z" and "kari" not in shown.stdout.lower()
    none = run("show", "--policy", "p.yaml", "--email", "nobody@example.no", cwd=tmp_path)
    assert none.returncode == 1 and "no records" in none.stderr
    exported = run("export", "--policy", "p.yaml", cwd=tmp_path)
    assert exported.returncode == 0 and len(exported.stdout.splitlines()) == 3 and "3 records exported" in exported.stderr
    broken = run("export", "--policy", "missing.yaml", cwd=tmp_path)
    assert broken.returncode == 1 and "Traceback" not in broken.stderr
