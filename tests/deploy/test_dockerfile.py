"""The Dockerfile's invariants (no Docker engine here to build it) and hadolint's verdict.

Non-root numeric user, a final stage that installs and compiles nothing, a HEALTHCHECK on the admin port,
a base image pinned to an exact release, the bundled example policy checked while building, the default
policy directory where the manifests mount it, and a build context that holds every file the build copies.
"""

from __future__ import annotations

import fnmatch
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from gateway.policy.loader import load_policy
from tests.deploy.support import KUBERNETES, ROOT, run, tool

DOCKERFILE = ROOT / "Dockerfile"
BUILD_TOOLS = re.compile(r"\b(pip3?|apt-get|apt|apk|dnf|yum|gcc|g\+\+|cc|make|cmake|build-essential|curl|wget|git)\b")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int


def instructions(text: str) -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined and comments left out."""
    out: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        pending.append(stripped.removesuffix("\\").strip())
        if not stripped.endswith("\\"):
            keyword, _, args = " ".join(pending).partition(" ")
            out.append(Instruction(keyword.upper(), args.strip(), start))
            pending = []
    return out


def stages(text: str) -> list[list[Instruction]]:
    """Instructions per build stage (a FROM starts one); the instructions before the first FROM come first."""
    out: list[list[Instruction]] = [[]]
    for instruction in instructions(text):
        if instruction.keyword == "FROM":
            out.append([])
        out[-1].append(instruction)
    return out


def final_stage() -> list[Instruction]:
    return stages(DOCKERFILE.read_text())[-1]


def only(stage: list[Instruction], keyword: str) -> list[Instruction]:
    return [i for i in stage if i.keyword == keyword]


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def test_the_parser_joins_continuations_and_skips_comments() -> None:
    parsed = instructions("# c\nFROM a AS b\nRUN x \\\n  # inside\n  && y\n\nUSER 1:1\n")
    assert parsed == [Instruction("FROM", "a AS b", 2), Instruction("RUN", "x && y", 3), Instruction("USER", "1:1", 7)]


def test_multi_stage_with_nothing_built_or_installed_in_the_final_stage() -> None:
    all_stages = stages(DOCKERFILE.read_text())
    assert len(all_stages) >= 3, "at least a build stage and a runtime stage"
    build, final = all_stages[-2], all_stages[-1]
    assert any(BUILD_TOOLS.search(i.args) for i in only(build, "RUN")), "the build stage installs"
    for instruction in only(final, "RUN"):
        assert not BUILD_TOOLS.search(instruction.args), f"line {instruction.line}: {instruction.args}"
    copies = [i.args.split() for i in only(final, "COPY") + only(final, "ADD")]
    from_build = [c for c in copies if c[0].startswith("--from=")]
    assert from_build == [["--from=build", "/opt/privacy-gateway", "/opt/privacy-gateway"]]  # the venv only


def test_the_base_image_is_an_exact_slim_release_of_the_tested_python() -> None:
    [arg] = [i for i in stages(DOCKERFILE.read_text())[0] if i.keyword == "ARG" and i.args.startswith("PYTHON_IMAGE=")]
    image = arg.args.split("=", 1)[1]
    match = re.fullmatch(r"python:(\d+)\.(\d+)\.(\d+)-slim-[a-z]+(@sha256:[0-9a-f]{64})?", image)
    assert match, f"{image!r} is not pinned to an exact release"
    assert (int(match[1]), int(match[2])) == sys.version_info[:2]
    assert {i.args.split()[0] for i in only(sum(stages(DOCKERFILE.read_text())[1:], []), "FROM")} == {
        "${PYTHON_IMAGE}"}


def test_a_non_root_numeric_user_runs_the_gateway() -> None:
    final = final_stage()
    users = only(final, "USER")
    assert users, "no USER: the image would run as root"
    uid, _, gid = users[-1].args.partition(":")
    assert uid.isdigit() and gid.isdigit() and int(uid) != 0 and int(gid) != 0
    assert users[-1].line < only(final, "ENTRYPOINT")[0].line
    # the same ids that the Deployment asks for
    deployment = yaml.safe_load((KUBERNETES / "base" / "deployment.yaml").read_text())
    context = deployment["spec"]["template"]["spec"]["securityContext"]
    assert (context["runAsUser"], context["runAsGroup"]) == (int(uid), int(gid))


def test_the_healthcheck_asks_the_admin_listener() -> None:
    final = final_stage()
    [check] = only(final, "HEALTHCHECK")
    command = check.args.split("CMD", 1)[1].strip()
    assert "http://127.0.0.1:9100/healthz" in " ".join(exec_form(command))
    assert "9100" in only(final, "EXPOSE")[0].args.split()
    configmap = yaml.safe_load((KUBERNETES / "base" / "configmap.yaml").read_text())
    assert yaml.safe_load(configmap["data"]["policy.yaml"])["admin"]["port"] == 9100


def test_the_default_policy_directory_is_where_the_manifests_mount_it() -> None:
    final = final_stage()
    [cmd] = only(final, "CMD")
    args = exec_form(cmd.args)
    policy_dir = args[args.index("--policy") + 1]
    assert policy_dir == "/etc/privacy-gateway"
    assert f"The default policy directory is {policy_dir}" in DOCKERFILE.read_text()
    deployment = yaml.safe_load((KUBERNETES / "base" / "deployment.yaml").read_text())
    [gateway] = deployment["spec"]["template"]["spec"]["containers"]
    assert gateway["args"] == args
    assert policy_dir in {m["mountPath"] for m in gateway["volumeMounts"]}
    assert policy_dir in (ROOT / "README.md").read_text()


def test_the_bundled_example_is_checked_while_building() -> None:
    final = final_stage()
    bundled = {c.args.split()[-1]: c.args.split()[0] for c in only(final, "COPY") if not c.args.startswith("--")}
    checks = [exec_form(r.args) for r in only(final, "RUN") if r.args.startswith("[")]
    checked = [c[2] for c in checks if c[:2] == ["privacy-gateway", "check"]]
    assert checked and all(path in bundled for path in checked)
    run_check = next(r for r in only(final, "RUN") if "check" in r.args)
    assert only(final, "USER")[-1].line < run_check.line, "checked as the gateway's user"
    for path in checked:
        load_policy(ROOT / bundled[path])  # what the build will run, here


def dockerignore_admits(path: str) -> bool:
    """Whether .dockerignore lets ``path`` into the build context (the last matching pattern decides)."""
    admitted = True
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        exclude = not pattern.startswith("!")
        pattern = pattern.lstrip("!")
        parts = Path(path).parts
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]  # a pattern naming a directory covers it
        candidates = prefixes if exclude else [path, *prefixes]
        if any(fnmatch.fnmatchcase(c, pattern) or fnmatch.fnmatchcase(c, pattern.removeprefix("**/")) for c in
               candidates):
            admitted = not exclude
    return admitted


def test_the_build_context_holds_every_copied_file() -> None:
    sources = []
    for stage in stages(DOCKERFILE.read_text()):
        for copy in only(stage, "COPY"):
            words = copy.args.split()
            if not words[0].startswith("--from="):
                sources += [w for w in words[:-1] if not w.startswith("--")]
    assert "policies/example-site.yaml" in sources
    for source in sources:
        assert (ROOT / source).exists(), source
        files = [source] if (ROOT / source).is_file() else [
            p.relative_to(ROOT).as_posix() for p in (ROOT / source).rglob("*.py") if "__pycache__" not in p.parts]
        assert files and all(dockerignore_admits(f) for f in files), source
    assert not dockerignore_admits("privacy-gateway-state.sqlite3")
    assert not dockerignore_admits("gateway/__pycache__/server.cpython-311.pyc")
    assert not dockerignore_admits("policies/demo-secrets/links.key")


def test_hadolint_passes(tmp_path: Path) -> None:
    hadolint = tool("hadolint")
    done = run(hadolint, "--no-color", str(DOCKERFILE))
    assert done.returncode == 0, done.stdout + done.stderr
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /tmp && pip install requests\n")
    done = run(hadolint, "--no-color", str(bad))
    assert done.returncode != 0 and "DL3007" in done.stdout  # the latest tag
