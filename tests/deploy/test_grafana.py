"""deploy/grafana/privacy-gateway.json: the rows ops need, valid PromQL (promtool parses every query), and
only metric names a running gateway exports; every metric it exports is on the dashboard."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from tests.conftest import upstream_url
from tests.deploy.support import (
    DEPLOY,
    SCRAPE_SERIES,
    exported_names,
    promql_metric_names,
    run,
    scrape_all_features,
    tool,
)

DASHBOARD = DEPLOY / "grafana" / "privacy-gateway.json"
ROWS = ("Traffic and latency", "Local replies", "Firewall", "Cookie consent", "Links", "Policy reloads", "State store",
        "Notifications", "Sensitive data", "Legal basis", "Data-subject requests", "Erasure and retention")


def dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def rows() -> dict[str, list[dict[str, Any]]]:
    """Panels under each row title, in order."""
    out: dict[str, list[dict[str, Any]]] = {}
    current = None
    for panel in dashboard()["panels"]:
        if panel["type"] == "row":
            current = out.setdefault(panel["title"], [])
        else:
            assert current is not None, f"panel {panel['title']!r} before the first row"
            current.append(panel)
    return out


def expressions() -> list[str]:
    return [target["expr"] for panel in panels() for target in panel["targets"]]


def as_promql(expr: str) -> str:
    """A dashboard query with Grafana's variables filled in, as Prometheus receives it."""
    return expr.replace("$__rate_interval", "5m").replace('"$job"', '"gw"')


@pytest.fixture
async def scrape(tmp_path: Path, upstream: web.AppRunner) -> str:
    return await scrape_all_features(upstream_url(upstream), tmp_path / "state.sqlite3")


def test_the_rows_the_issue_of_operations_needs() -> None:
    found = rows()
    assert tuple(found) == ROWS
    assert all(found.values()), "every row has panels"
    text = {title: json.dumps(panels) for title, panels in found.items()}
    assert "gateway_overhead_seconds" in text["Traffic and latency"] and "upstream_duration_seconds" in text[
        "Traffic and latency"]
    assert 'mode=\\"enforce\\"' in text["Firewall"] and 'mode=\\"shadow\\"' in text["Firewall"]
    assert "sum by (category, direction)" in text["Cookie consent"]
    assert "links_rewritten_total" in text["Links"] and "link_redirects_total" in text["Links"]
    assert "policy_reload_success" in text["Policy reloads"] and "store_up" in text["State store"]
    assert all(f"privacy_gateway_{family}" in text["Erasure and retention"] for family in (
        "cases_total", "retention_runs_total", "retention_last_run_timestamp_seconds", "retention_cases_due"))


def test_panels_are_well_formed_and_do_not_overlap() -> None:
    board = dashboard()
    assert board["uid"] == "privacy-gateway" and board["schemaVersion"] >= 36
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
        columns, lines = range(grid["x"], grid["x"] + grid["w"]), range(grid["y"], grid["y"] + grid["h"])
        mine = {(x, y) for x in columns for y in lines}
        assert not cells & mine, f"{panel['title']!r} overlaps another panel"
        cells |= mine
    for panel in panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"] and panel["description"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"]
            # every query is limited to the chosen jobs
            assert all('job=~"$job"' in selector for selector in re.findall(r"\w+\{[^}]*\}", target["expr"])), target


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    rules = [{"record": f"dashboard:query_{n}", "expr": as_promql(expr)} for n, expr in enumerate(expressions())]
    path = tmp_path / "queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = run(tool("promtool"), "check", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout


async def test_the_dashboard_names_only_exported_metrics_and_all_of_them(scrape: str) -> None:
    exported = exported_names(scrape)
    named = {name for expr in expressions() for name in promql_metric_names(as_promql(expr))}
    [job] = [v for v in dashboard()["templating"]["list"] if v["name"] == "job"]
    named |= set(re.findall(r"label_values\((\w+)", job["definition"]))
    assert named <= exported | SCRAPE_SERIES, f"not exported by the gateway: {sorted(named - exported - SCRAPE_SERIES)}"
    # each family the gateway exports has a panel (histograms through any of their series)
    families = {line.split()[2] for line in scrape.splitlines() if line.startswith("# TYPE ")}
    shown = {name.removesuffix(suffix) for name in named for suffix in ("_bucket", "_sum", "_count", "")}
    missing = sorted(f for f in families if f not in shown and not f.endswith("_created"))
    assert not missing, f"exported but on no panel: {missing}"
