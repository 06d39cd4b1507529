"""bench/anonymise.py end to end on its shortest settings: one row with cases, operations and no errors."""

from __future__ import annotations

import subprocess
import sys

from tests.bench.test_run import ROOT


def test_the_smoke_run_anonymises_every_case_without_errors() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "anonymise.py"), "--smoke"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    header, row = proc.stdout.splitlines()[-2:]
    assert header.split() == ["cases", "operations", "cases/s", "ops/s", "p50", "ms", "p95", "ms", "errors"]
    cases, operations, cases_s, ops_s, p50, p95, errors = row.split()
    assert cases == "3" and int(operations) > 3 * 3 and float(cases_s) > 0 and float(ops_s) > 0
    assert 0 < float(p50) <= float(p95) and errors == "0"
