"""``privacy-gateway consent receipts|export|expire`` on SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.__main__ import main
from gateway.consent.cli import parse_since, receipt_json
from gateway.consent.receipts import make_receipt
from gateway.store import ConsentReceipt, open_store_url

DAY = 86400.0
ROOT = Path(__file__).resolve().parent.parent.parent


def receipt(consent_id: str, age_days: float, method: str = "banner") -> ConsentReceipt:
    return make_receipt(
        consent_id=consent_id, choices={"analytics": True}, version="v1", text_hash="a" * 64, method=method,  # type: ignore[arg-type]
        client_ip="192.0.2.55", user_agent="Firefox/1", path="/p?q=1", now=time.time() - age_days * DAY,
    )


@pytest.fixture
def policy_file(tmp_path: Path, store_url: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(f"upstream: {{url: 'http://helpdesk:8000'}}\nstore:\n  url: '{store_url}'\n  receipt_retention: 30d\n")

    async def fill() -> None:
        async with open_store_url(store_url) as store:
            for r in (receipt("old-visitor-000000001", 40), receipt("visitor-0000000000001", 5),
                      receipt("visitor-0000000000001", 1, "api"), receipt("visitor-0000000000002", 2)):
                await store.add_receipt(r)

    asyncio.run(fill())
    return path


def lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines()]


def test_receipts_of_one_consent_id(policy_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["consent", "receipts", "--policy", str(policy_file), "--id", "visitor-0000000000001"]) == 0
    found = lines(capsys.readouterr().out)
    assert [r["method"] for r in found] == ["banner", "api"]
    assert found[0]["ip_truncated"] == "192.0.2.0/24" and found[0]["page_path"] == "/p"
    assert str(found[0]["created"]).endswith("Z")
    assert main(["consent", "receipts", "--policy", str(policy_file), "--id", "nobody"]) == 1
    assert "no receipts for consent id 'nobody'" in capsys.readouterr().err


def test_export_all_and_since(policy_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["consent", "export", "--policy", str(policy_file)]) == 0
    captured = capsys.readouterr()
    assert [r["consent_id"] for r in lines(captured.out)] == [
        "old-visitor-000000001", "visitor-0000000000001", "visitor-0000000000002", "visitor-0000000000001"
    ]
    assert "4 receipts exported" in captured.err
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3 * DAY))
    assert main(["consent", "export", "--policy", str(policy_file), "--since", since]) == 0
    assert len(lines(capsys.readouterr().out)) == 2


def test_expire_applies_the_retention(policy_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["consent", "expire", "--policy", str(policy_file)]) == 0
    assert "1 receipt older than 2.592e+06 seconds deleted" in capsys.readouterr().err
    assert main(["consent", "expire", "--policy", str(policy_file), "--older-than", "36h"]) == 0
    assert "2 receipts" in capsys.readouterr().err
    main(["consent", "export", "--policy", str(policy_file)])
    assert [r["method"] for r in lines(capsys.readouterr().out)] == ["api"]


def test_an_invalid_policy_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("store: {url: 'mysql://x'}\n")
    with pytest.raises(SystemExit) as info:
        main(["consent", "export", "--policy", str(bad)])
    assert info.value.code == 1
    assert "store.url" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1700000000", 1_700_000_000.0), ("2023-11-14T22:13:20Z", 1_700_000_000.0), ("2023-11-14", 1_699_920_000.0),
     ("2023-11-14T23:13:20+01:00", 1_700_000_000.0)],
)
def test_parse_since(text: str, expected: float) -> None:
    assert parse_since(text) == expected


def test_parse_since_refuses_other_text() -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_since("last tuesday")


def test_receipt_json_is_one_sorted_line() -> None:
    line = receipt_json(receipt("visitor-0000000000009", 0))
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    doc = json.loads(line)
    assert list(doc) == sorted(doc)


def test_export_into_a_reader_that_stops_early_ends_quietly(tmp_path: Path) -> None:
    """``privacy-gateway consent export … | head -1``: one line read, then no traceback."""
    store_url = f"sqlite:///{tmp_path / 'state.sqlite3'}"
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"upstream:\n  url: http://127.0.0.1:9\nstore:\n  url: '{store_url}'\n")

    async def fill() -> None:
        async with open_store_url(store_url) as store:
            for n in range(600):  # ~200 KB of JSON lines: far more than a pipe holds
                await store.add_receipt(receipt(f"visitor-{n:016d}", 1))

    asyncio.run(fill())
    with subprocess.Popen(
        [sys.executable, "-m", "gateway", "consent", "export", "--policy", str(policy)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        first = json.loads(proc.stdout.readline())
        proc.stdout.close()
        err = proc.stderr.read().decode()
        status = proc.wait(timeout=60)
    assert first["consent_id"] == "visitor-0000000000000000"
    assert (status, err) == (141, "")
