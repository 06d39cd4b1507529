"""``privacy-gateway checklist`` as a user runs it: real ``python -m gateway`` subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.checklist.items import ITEM_IDS
from tests.support.helpdesk import POLICY_ENV
from tests.test_cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "policies" / "demo.yaml"
SHIPPED = sorted((ROOT / "policies").glob("*.yaml"))

# Everything the checklist asks for but the portal (its cases: tests/checklist/test_items.py); it and retention
# stay missing.
COMPLETE = """\
upstream: {url: "https://helpdesk.internal.example"}
ip_lists: {office: [192.0.2.0/24]}
client_ip: {trusted_proxies: [10.0.0.7]}
firewall:
  rules: [{name: staff, path: /agent/, allow: [office]}]
consent:
  enabled: true
  keys: [{id: k1, secret: "${file:consent.key}"}]
  categories: {necessary: {cookies: [{name: sessionid}]}}
links:
  enabled: true
  keys: [{id: k1, secret: "${file:links.key}"}]
notifications:
  enabled: true
  templates: {default: {subject: "New reply on {case_id}", text: "There is a reply on {case_id}."}}
  smtp: {listen: {port: 0}, upstream: {host: 127.0.0.1}, allow: [127.0.0.1]}
sensitive:
  enabled: true
  rules: [{name: contact, path: /contact, action: mask}]
organisation:
  name: Example AS
  dpo: {email: dpo@example.com}
  privacy_notice_url: /privacy
legal_basis:
  enabled: true
  keys: [{id: k1, secret: "${file:legal.key}"}]
  routes:
    - {name: signup, path: /signup, basis: consent, purpose: Answer questions., notice: {en: I agree.},
       email_field: email}
store: {url: "postgresql://gateway@db.example:5432/gateway"}
"""


@pytest.fixture
def complete(tmp_path: Path) -> Path:
    for name, fill in (("consent.key", "c"), ("links.key", "l"), ("legal.key", "b")):
        (tmp_path / name).write_text("raw:" + fill * 40)
    path = tmp_path / "complete.yaml"
    path.write_text(COMPLETE)
    return path


def test_the_demo_policy_one_line_per_item() -> None:
    result = run_cli("checklist", "--policy", str(DEMO))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(ITEM_IDS) + 1
    for line in lines[:-1]:
        status, key, rest = line.split(maxsplit=2)
        assert status in ("ok", "warn", "missing") and key and ": " in rest, line
    assert lines[-1].startswith(f"{DEMO}: {len(ITEM_IDS)} items: ")
    dpo = next(line for line in lines if "DPO contact shown" in line)
    assert dpo.split()[:2] == ["ok", "organisation.dpo"]
    portal = next(line for line in lines if "Data-subject portal" in line)
    assert portal.split()[:2] == ["warn", "requests.helpdesk.adapter"] and "webhook" in portal


@pytest.mark.parametrize("policy", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_policy_as_json(policy: Path) -> None:
    keys = POLICY_ENV  # policies/django-helpdesk.yaml takes its keys from the environment
    result = run_cli("checklist", "--policy", str(policy), "--format", "json", **keys)
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)
    assert [item["id"] for item in items] == list(ITEM_IDS)
    for item in items:
        assert set(item) == {"id", "status", "key", "title", "why"}
        assert item["status"] in ("ok", "warn", "missing") and item["key"] and item["title"] and item["why"]
    statuses = {item["id"]: item["status"] for item in items}
    assert statuses["retention"] == ("ok" if policy.name == "demo.yaml" else "missing")  # the demo's: a schedule
    assert statuses["portal"] == ("warn" if policy.name == "demo.yaml" else "missing")  # the demo's: by webhook


def test_the_demo_policy_as_json() -> None:
    result = run_cli("checklist", "--policy", str(DEMO), "--format", "json")
    items = {item["id"]: item for item in json.loads(result.stdout)}
    assert items["dpo"]["status"] == "ok" and items["privacy_notice"]["status"] == "ok"
    assert items["secrets"]["status"] == "warn" and "demo's public key" in items["secrets"]["why"]
    assert items["firewall"] == {
        "id": "firewall", "status": "warn", "key": "firewall.rules[1].shadow",
        "title": "Staff area behind the firewall",
        "why": "rule api-office-only only reports (shadow mode): /api/ answers every address",
    }


def test_strict_fails_on_a_missing_item_only(complete: Path) -> None:
    assert run_cli("checklist", "--policy", str(complete)).returncode == 0
    strict = run_cli("checklist", "--policy", str(complete), "--strict", "--format", "json")
    assert strict.returncode == 1
    missing = [item["id"] for item in json.loads(strict.stdout) if item["status"] == "missing"]
    assert missing == ["portal", "retention"]
    skipped = run_cli("checklist", "--policy", str(complete), "--strict", "--skip", "portal", "--skip", "retention")
    assert skipped.returncode == 0, skipped.stdout
    assert "Data-subject portal" not in skipped.stdout and "Retention" not in skipped.stdout
    assert f"{len(ITEM_IDS) - 2} items: " in skipped.stdout.splitlines()[-1]
    assert " 0 missing" in skipped.stdout.splitlines()[-1]


def test_replicas(complete: Path) -> None:
    result = run_cli("checklist", "--policy", str(DEMO), "--replicas", "3", "--format", "json")
    assert result.returncode == 0
    store = next(item for item in json.loads(result.stdout) if item["id"] == "store")
    assert (store["status"], store["key"]) == ("missing", "store.url") and "3 replicas" in store["why"]
    strict = run_cli("checklist", "--policy", str(complete), "--replicas", "3", "--strict",
                     "--skip", "portal", "--skip", "retention")
    assert strict.returncode == 0, strict.stdout  # PostgreSQL: as many replicas as you like
    bad = run_cli("checklist", "--policy", str(DEMO), "--replicas", "0")
    assert bad.returncode == 2 and "'0' is not a number of replicas" in bad.stderr


def test_an_invalid_policy_exits_2_with_the_errors_check_prints(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text("upstream: {url: 8081}\nlisten: {prot: 1}\n")
    checked = run_cli("check", "site.yaml", cwd=tmp_path)
    result = run_cli("checklist", "--policy", "site.yaml", "--strict", cwd=tmp_path)
    assert checked.returncode == 1 and result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == checked.stderr
    assert "site.yaml: 2 errors; policy is NOT valid" in result.stderr


def test_an_unknown_item_to_skip_is_a_usage_error() -> None:
    result = run_cli("checklist", "--policy", str(DEMO), "--skip", "nothing")
    assert result.returncode == 2 and "invalid choice: 'nothing'" in result.stderr
