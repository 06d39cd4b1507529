"""bench/profile.py end to end on its shortest settings: each variant answers, with a number per row.

Needs wrk and nginx like the suite's smoke test: skipped without them, except in CI, where it fails.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.bench.test_run import MISSING, ROOT


def test_prints_a_row_per_variant_without_errors() -> None:
    if MISSING:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI: {' and '.join(MISSING)} not installed")
        pytest.skip(f"{' and '.join(MISSING)} not installed")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "profile.py"), "--duration", "1", "--rounds", "1",
         "--variants", "firewall-only,no-links"],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {line.split()[0]: line.split()[1:] for line in proc.stdout.splitlines()[-2:]}
    assert set(rows) == {"firewall-only", "no-links"}
    for req_s, cpu_us, _p50, errors in rows.values():
        assert float(req_s) > 0 and float(cpu_us) > 0
        assert errors == "0"


def test_refuses_an_unknown_variant() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "profile.py"), "--variants", "full,turbo"],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
    )
    assert proc.returncode == 2
    assert "unknown variant(s): turbo" in proc.stderr


def _bench_module(name: str) -> ModuleType:
    """A bench/ script as a module (by path: bench/profile.py shares its name with the standard library's)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_variant_switches_off_exactly_its_parts(tmp_path: Path) -> None:
    profile = _bench_module("profile")  # it puts bench/ on sys.path for its siblings
    servers = _bench_module("servers")
    full = servers.gateway_policy(tmp_path, "gw", 1, 2, 3)
    off = profile.strip_sections(full, profile.VARIANTS["firewall-only"])
    assert "links:\n  enabled: false" in off and "consent:\n  enabled: false" in off
    assert "access_log: false" in off and "firewall:\n  enabled: true" in off
    assert profile.strip_sections(full, profile.VARIANTS["full"]) == full
    with pytest.raises(SystemExit, match="cannot switch off 'links'"):
        profile.strip_sections(full.replace("links:\n  enabled: true", "links:\n  enabled: yes"), ("links",))
