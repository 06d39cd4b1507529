"""tests/ mirrors gateway/: every module gateway/[pkg/]X.py has tests/[pkg/]test_X.py."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "gateway"
TESTS = ROOT / "tests"

# Not modules with behaviour of their own to mirror.
SKIPPED_NAMES = frozenset({"__init__.py", "__main__.py"})  # __main__ (the CLI) is covered by tests/test_cli.py

# Modules tested through another module's test file instead of a mirror of their own.
# Keep each entry justified; an entry goes stale (and fails below) once the mirror exists.
EXEMPT: dict[str, str] = {
    # The demo helpdesk's data, pages and tools are exercised through its app.
    "gateway/demo/data.py": "tests/demo/test_helpdesk.py",
    "gateway/demo/pages.py": "tests/demo/test_helpdesk.py",
    "gateway/demo/tools.py": "tests/demo/test_helpdesk.py",
    # WebSocket proxying needs the whole proxy on real sockets.
    "gateway/websocket.py": "tests/test_proxy.py",
    # Worker processes are started by `serve --workers N`, tested through the CLI.
    "gateway/workers.py": "tests/test_cli.py",
    # The HTTP/2 client to Apple is driven through the APNs listener, against a fake Apple on h2.
    "gateway/notify/apns_upstream.py": "tests/notify/test_apns.py",
    # Units and models are tested through loading policies (errors with file:line).
    "gateway/policy/units.py": "tests/policy/test_loader.py",
    "gateway/policy/schema.py": "tests/policy/test_loader.py",
}


def modules() -> list[str]:
    return sorted(
        path.relative_to(ROOT).as_posix()
        for path in PACKAGE.rglob("*.py")
        if path.name not in SKIPPED_NAMES and "__pycache__" not in path.parts
    )


def mirror(module: str) -> str:
    """gateway/pkg/x.py -> tests/pkg/test_x.py"""
    path = Path(module).relative_to("gateway")
    return (Path("tests") / path.parent / f"test_{path.name}").as_posix()


def test_mirror_names() -> None:
    assert mirror("gateway/routing.py") == "tests/test_routing.py"
    assert mirror("gateway/filters/base.py") == "tests/filters/test_base.py"
    assert mirror("gateway/policy/units.py") == "tests/policy/test_units.py"


def test_the_walk_finds_modules() -> None:
    found = modules()
    assert "gateway/routing.py" in found
    assert "gateway/filters/firewall.py" in found
    assert not any(m.endswith(("__init__.py", "__main__.py")) for m in found)


def test_every_module_has_a_test() -> None:
    missing = [
        f"{module}: expected {mirror(module)}"
        for module in modules()
        if module not in EXEMPT and not (ROOT / mirror(module)).is_file()
    ]
    for line in missing:
        print("module without a test:", line)
    assert not missing, "modules without a test:\n  " + "\n  ".join(missing)


def test_exemptions_are_current() -> None:
    stale = []
    for module, covered_by in EXEMPT.items():
        if not (ROOT / module).is_file():
            stale.append(f"{module}: no such module (remove the exemption)")
        elif (ROOT / mirror(module)).is_file():
            stale.append(f"{module}: {mirror(module)} exists now (remove the exemption)")
        if not (ROOT / covered_by).is_file():
            stale.append(f"{module}: said to be covered by {covered_by}, which does not exist")
    for line in stale:
        print("stale exemption:", line)
    assert not stale, "stale exemptions:\n  " + "\n  ".join(stale)


BUILDING_BLOCKS = ("http", "rewrite", "policy", "store", "lib")
FEATURES = ("filters", "consent", "links", "notify", "sensitive", "legal", "demo", "checklist", "requests",
            "helpdesks", "anonymise")


def imported_gateway_modules(path: Path) -> set[str]:
    """Absolute names of the gateway modules that ``path`` imports (relative imports resolved)."""
    import ast

    package = path.relative_to(ROOT).with_suffix("").parts[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join(base + ((node.module,) if node.module else ()))
            else:
                name = node.module or ""
            found.add(name)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("gateway")}


def test_building_blocks_import_no_feature() -> None:
    offences = []
    for block in BUILDING_BLOCKS:
        for path in (PACKAGE / block).rglob("*.py"):
            for name in imported_gateway_modules(path):
                parts = name.split(".")
                if len(parts) > 1 and parts[1] in FEATURES:
                    offences.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offences, "building blocks importing features:\n  " + "\n  ".join(offences)


def test_the_top_level_holds_story_modules_and_packages_only() -> None:
    story = {"__init__", "__main__", "workers", "server", "admin", "listener", "proxy", "websocket", "runtime",
             "chain", "exchange", "routing", "explain", "watcher", "logs", "metrics"}
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert modules == story
    assert packages == set(BUILDING_BLOCKS) | set(FEATURES)
