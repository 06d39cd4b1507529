"""bench/egress.py end to end on its shortest settings: a row per provider, each with requests and no errors."""

from __future__ import annotations

import subprocess
import sys

from tests.bench.test_run import ROOT


def test_the_smoke_run_prints_a_row_per_provider_without_errors() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "egress.py"), "--smoke"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {line[:14].strip(): line[14:].split() for line in proc.stdout.splitlines()[2:]}
    assert set(rows) == {"sendgrid", "postmark", "mailgun", "sparkpost", "fcm (push)", "expo (push)"}
    for name, (size, req_s, cpu, p50, errors) in rows.items():
        assert int(size) > 0 and float(req_s) > 0 and float(cpu) > 0 and errors == "0", name
