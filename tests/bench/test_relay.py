"""bench/relay.py end to end on its shortest settings: every row has numbers and no errors."""

from __future__ import annotations

import subprocess
import sys

from tests.bench.test_run import ROOT


def test_the_smoke_run_prints_a_row_per_path_without_errors() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "relay.py"), "--smoke"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {line[:22].strip(): line[22:].split() for line in proc.stdout.splitlines()
            if line.startswith(("relay, ", "smarthost direct"))}
    assert set(rows) == {"smarthost direct", "relay, hide", "relay, pass"}
    for name in ("relay, hide", "relay, pass"):
        msgs, cpu, p50, p99, errors = rows[name]
        assert float(msgs) > 0 and float(cpu) > 0 and float(p50) > 0 and errors == "0"
    assert "added latency (hide):" in proc.stdout
