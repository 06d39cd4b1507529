"""bench/sensitive_eval.py and bench/sensitive_speed.py on tiny sizes: a row per kind, a number per text."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def run(script: str, *args: str) -> list[str]:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.splitlines()


def test_eval_prints_precision_and_recall_per_kind() -> None:
    lines = run("sensitive_eval.py", "--samples", "200", "--seed", "3")
    assert lines[0].split()[:3] == ["kind", "precision", "recall"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert {"card", "iban", "email", "phone"} <= set(rows)
    for kind in ("card", "iban", "email", "phone"):
        precision, recall, tp, _fp, _fn = rows[kind]
        assert float(precision) >= 0.99 and float(recall) >= 0.99 and int(tp) > 0


def test_speed_prints_mb_per_second_per_text() -> None:
    lines = run("sensitive_speed.py", "--size", "20000", "--rounds", "1")
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert set(rows) == {"helpdesk", "dense", "tickets", "nothing"}
    assert all(float(rate) > 0 for rate, *_density in rows.values())


def test_eval_shows_misclassified_values_in_their_context_on_request() -> None:
    assert "" not in run("sensitive_eval.py", "--samples", "300", "--seed", "1")
    lines = run("sensitive_eval.py", "--samples", "4000", "--seed", "1", "--show-errors", "2")
    errors = lines[lines.index("") + 1:] if "" in lines else []
    counts = {line.split()[0]: line.split()[1:] for line in lines[1:lines.index("")]} if errors else {}
    for line in errors:
        what, kind = line.split()[0], line.split()[1].rstrip(":")
        assert what in ("FP", "FN") and "[[" in line and "]]" in line
        assert int(counts[kind][3 if what == "FP" else 4]) > 0
    per_kind = [tuple(line.split()[:2]) for line in errors]
    assert all(per_kind.count(key) <= 2 for key in per_kind)
