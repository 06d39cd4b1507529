"""Shared helpers of the deployment tests: the tools, the manifests, PromQL names and a real scrape."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from gateway.metrics import Metrics
from gateway.policy.loader import load_policy_text
from gateway.server import Gateway

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
PRODUCTION = KUBERNETES / "overlays" / "production"
POLICIES = ROOT / "policies"
TOOL_TIMEOUT = 60

# Where the Secret is mounted in the pod; the policies name their files under it.
SECRETS_MOUNT = "/run/secrets/privacy-gateway/"


def tool(name: str) -> str:
    """The path of a command-line tool that scripts/test installs: fail in CI, skip elsewhere when missing.

    The venv's own scripts come first: the PyPI wheels (kubectl, hadolint) install there, and another
    kubectl on PATH may be of another version.
    """
    venv_bin = Path(sysconfig.get_path("scripts")) / name
    found = str(venv_bin) if venv_bin.is_file() else shutil.which(name)
    if found is None:
        message = f"{name} is not installed (scripts/test installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=TOOL_TIMEOUT, check=False)


def documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def kustomize(directory: Path) -> list[dict[str, Any]]:
    """The resources ``kubectl kustomize`` builds from ``directory``."""
    done = run(tool("kubectl"), "kustomize", str(directory))
    assert done.returncode == 0, f"kustomize build of {directory} failed:\n{done.stderr}"
    return documents(done.stdout)


def secret_files(policy_text: str, directory: Path) -> str:
    """``policy_text`` with its Secret files (``${file:/run/secrets/...}``) written as test keys into ``directory``.

    Keys get 32 random bytes; the passwords (pgpassword, smtp-password) a random hex string.
    """
    for name in sorted(set(re.findall(re.escape("${file:" + SECRETS_MOUNT) + r"([^}]+)\}", policy_text))):
        (directory / name).write_text(os.urandom(24).hex() if "password" in name else "hex:" + os.urandom(32).hex())
    return policy_text.replace("${file:" + SECRETS_MOUNT, "${file:" + str(directory) + "/")


# --- PromQL ------------------------------------------------------------------

_KEYWORDS = frozenset({
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool",
    "inf", "nan", "Inf", "NaN",
    # aggregation operators: "sum by (job) (...)" has no "(" right after the name
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile",
    "limitk", "limit_ratio",
})
_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+")
_LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*")


def promql_metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (not its functions, keywords, labels or durations)."""
    text = _STRING.sub('""', expr)
    text = _GRAFANA_VARIABLE.sub("5m", text)
    text = re.sub(r"\{[^}]*\}", "{}", text)  # label matchers
    text = _LABEL_LIST.sub(r"\1", text)  # by (job, le), on (instance) ...
    text = re.sub(r"\[[^\]]*\]", "[]", text)  # ranges and subqueries
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name = match.group()
        if name in _KEYWORDS or text[match.end():].lstrip().startswith("("):
            continue  # a keyword, or a function call
        names.add(name)
    return names


def exported_names(exposition: str) -> set[str]:
    """Every series name a scrape can hold: each family's samples, histograms with their suffixes."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            if kind == "histogram":
                names.update({f"{name}_bucket", f"{name}_sum", f"{name}_count"})
            elif kind == "summary":
                names.update({name, f"{name}_sum", f"{name}_count"})
            else:
                names.add(name)
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


# Series Prometheus itself adds to every scrape target.
SCRAPE_SERIES = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})


# --- a real scrape -------------------------------------------------------------

def all_features_policy(upstream: str, state: Path) -> str:
    """policies/demo.yaml (every feature on: links, consent, notifications, sensitive data, the store)
    on free loopback ports in front of ``upstream``."""
    doc = yaml.safe_load((POLICIES / "demo.yaml").read_text())
    doc["listen"] = {"host": "127.0.0.1", "port": 0}
    doc["admin"] = {"host": "127.0.0.1", "port": 0}
    doc["upstream"]["url"] = upstream
    doc["store"] = {"url": f"sqlite:///{state}"}
    doc["logging"]["access_log"] = False
    doc["notifications"]["smtp"]["listen"]["port"] = 0
    doc["notifications"]["egress"]["listen"]["port"] = 0
    doc["anonymisation"]["helpdesk"]["url"] = f"{upstream}/helpdesk"  # retention runs ask it, not the demo's port
    return yaml.safe_dump(doc, sort_keys=False)


async def scrape_all_features(upstream: str, state: Path) -> str:
    """The /metrics text of a real gateway with every feature on, after a few requests went through it."""
    loaded = load_policy_text(all_features_policy(upstream, state), "demo.yaml", base_dir=POLICIES)
    gateway = Gateway(loaded, Metrics())
    await gateway.start(watch=False)
    try:
        async with aiohttp.ClientSession() as session:
            base = f"http://127.0.0.1:{gateway.public_port}"
            for path in ("/", "/echo", "/_l/not-a-token", "/_privacy/consent/settings"):
                async with session.get(base + path) as response:
                    await response.read()
            async with session.get(f"http://127.0.0.1:{gateway.admin_port}/metrics") as response:
                assert response.status == 200
                return await response.text()
    finally:
        await gateway.stop()
