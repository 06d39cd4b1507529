"""deploy/prometheus: the alert rules pass promtool's checks and unit tests, name only metrics the gateway
exports, and a real scrape of the gateway passes ``promtool check metrics``.

promtool comes with Debian's ``prometheus`` package (scripts/test installs it).
"""

from __future__ import annotations

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

ALERTS = DEPLOY / "prometheus" / "alerts.yaml"
ALERTS_TEST = DEPLOY / "prometheus" / "alerts_test.yaml"


def rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


@pytest.fixture
async def scrape(tmp_path: Path, upstream: web.AppRunner) -> str:
    return await scrape_all_features(upstream_url(upstream), tmp_path / "state.sqlite3")


def test_promtool_checks_the_rules(tmp_path: Path) -> None:
    done = run(tool("promtool"), "check", "rules", str(ALERTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout
    # and refuses a broken one
    broken = tmp_path / "broken.yaml"
    broken.write_text("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: sum by (job) (rate(x[5m])\n")
    done = run(tool("promtool"), "check", "rules", str(broken))
    assert done.returncode != 0 and "unclosed left parenthesis" in done.stdout + done.stderr


def test_promtool_unit_tests_pass() -> None:
    done = run(tool("promtool"), "test", "rules", str(ALERTS_TEST))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_a_wrong_expectation_fails_the_unit_tests(tmp_path: Path) -> None:
    (tmp_path / "alerts.yaml").write_text(ALERTS.read_text())
    text = ALERTS_TEST.read_text()
    summary = '"privacy-gateway a:9100 rejected a policy reload"'
    wrong = text.replace(summary, summary.replace("a:9100", "b:9100"))
    assert wrong != text
    (tmp_path / "alerts_test.yaml").write_text(wrong)
    done = run(tool("promtool"), "test", "rules", str(tmp_path / "alerts_test.yaml"))
    assert done.returncode != 0 and "FAILED" in done.stdout + done.stderr


def test_every_alert_is_tested_firing_and_silent() -> None:
    cases: dict[str, set[bool]] = {}
    for test in yaml.safe_load(ALERTS_TEST.read_text())["tests"]:
        for case in test["alert_rule_test"]:
            cases.setdefault(case["alertname"], set()).add(bool(case["exp_alerts"]))
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    assert len(alerts) >= 13
    assert set(cases) <= alerts, "tests of alerts that no longer exist"
    untested = sorted(name for name in alerts if cases.get(name) != {True, False})
    assert not untested, f"alerts without both a firing and a silent case in {ALERTS_TEST.name}: {untested}"


async def test_promtool_checks_a_real_scrape(scrape: str) -> None:
    done = run(tool("promtool"), "check", "metrics", stdin=scrape)
    assert done.returncode == 0, done.stdout + done.stderr
    # a family that breaks the conventions is reported
    assert "\nprivacy_gateway_requests_total{" in scrape
    bad = scrape.replace("privacy_gateway_requests_total", "privacy_gateway_requests")
    done = run(tool("promtool"), "check", "metrics", stdin=bad)
    assert done.returncode != 0 and '"_total" suffix' in done.stdout + done.stderr


def test_metric_names_are_read_from_promql() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (job, le) ('
        'rate(privacy_gateway_x_bucket{job=~"$job", le!="1"}[$__rate_interval])))'
        ' > 0.1 and on (job) sum without (instance) (increase(privacy_gateway_y_total[1d] offset 1h)) > 1e3'
        ' or label_replace(up, "a", "$1", "b", "(.*)") unless absent(z)'
    )
    assert promql_metric_names(expr) == {"privacy_gateway_x_bucket", "privacy_gateway_y_total", "up", "z"}


async def test_the_rules_name_only_exported_metrics(scrape: str) -> None:
    exported = exported_names(scrape)
    assert {"privacy_gateway_requests_total", "privacy_gateway_request_duration_seconds_bucket",
            "privacy_gateway_notifications_total", "privacy_gateway_sensitive_detections_total"} <= exported
    named = {name for rule in rules() for name in promql_metric_names(rule["expr"])}
    assert named and named <= exported | SCRAPE_SERIES, f"not exported by the gateway: {sorted(named - exported)}"
    # a misspelt name would be caught
    assert not promql_metric_names("rate(privacy_gateway_request_total[5m])") <= exported
