"""The benchmark harness (bench/run.py) in its smoke mode: it runs end to end and writes the JSON it promises.

Needs wrk and nginx (Debian packages; scripts/test installs them). Without them
the test is skipped, except in CI (CI=true), where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MISSING = [tool for tool in ("wrk", "nginx") if shutil.which(tool) is None]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    if MISSING:
        message = f"{' and '.join(MISSING)} not installed (apt-get install wrk nginx-light; scripts/test does it)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI: {message}")
        pytest.skip(message)
    out = tmp_path_factory.mktemp("bench") / "results.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--json", str(out)],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "results:" in proc.stdout
    return dict(json.loads(out.read_text()))


def test_writes_every_section(smoke: dict[str, object]) -> None:
    for key in ("date", "machine", "command", "settings", "small_page", "body_1mib", "rewriter", "streaming",
                "checks", "targets", "problems", "notes"):
        assert key in smoke, key
    machine = smoke["machine"]
    assert isinstance(machine, dict)
    for key in ("cpu_model", "cores", "python", "aiohttp", "nginx", "wrk"):
        assert machine[key], key


def test_measures_upstream_and_gateway(smoke: dict[str, object]) -> None:
    for section in ("small_page", "body_1mib"):
        rows = smoke[section]
        assert isinstance(rows, dict)
        assert set(rows) == {"upstream (nginx direct)", "gateway, 1 worker"}
        for row in rows.values():
            for key in ("rps", "mb_s", "p50_ms", "p99_ms", "cpu_us_per_req", "peak_rss_mib", "ratio_to_nginx",
                        "non2xx", "socket_errors"):
                assert key in row, key
            assert row["rps"] > 0 and row["cpu_us_per_req"] > 0 and row["peak_rss_mib"] > 0
            assert row["non2xx"] == 0 and row["socket_errors"] == 0


def test_the_gateway_did_the_privacy_work(smoke: dict[str, object]) -> None:
    assert smoke["problems"] == []
    checks = smoke["checks"]
    assert isinstance(checks, dict)
    gateway = checks["gateway, 1 worker"]
    assert gateway["signed_links"] == 6 and gateway["set_cookies"] == ["sessionid"] and gateway["binary_intact"]
    streaming = smoke["streaming"]
    assert isinstance(streaming, dict)
    for key in ("plain", "rewriting"):
        assert streaming[key]["status"] == 200 and streaming[key]["received"] >= streaming["size_bytes"]
    assert streaming["rewriting"]["signed_links_seen"]
    rewriter = smoke["rewriter"]
    assert isinstance(rewriter, dict) and rewriter["mb_s"] > 0
