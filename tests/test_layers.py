"""The floor plan: every import runs down, never up and never across to a sibling.

Floors, bottom to top: the core (imports no package of the project); the plumbing (job leases,
host execution) on the core; the apps, each on those below it; the project (`portal`) on top.
The CLI is a pure HTTP client beside them all: it imports the core's Django-free console
protocol, ID rule and units and nothing else of the project, and loads no Django module.
Imports inside functions and `importlib.import_module("...")` count like any other.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FLOORS = {
    "core": 0,
    "jobs": 1,
    "hostexec": 1,
    "providers": 2,
    "provisions": 3,
    "vms": 4,
    "marketplace": 5,
    "monitoring": 5,
    "consoles": 5,
    "backups": 6,
    "costs": 6,
    "audit": 6,
    "webhooks": 6,
    "portal": 7,
}
# What each package outside the floors may import of the project.
BESIDE = {"cli": {"core.console_protocol", "core.ids", "core.units"}, "lab": set()}


def imported_modules(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def wrong_imports(package: str, source: str) -> list[tuple[int, str]]:
    """(line, module) of every import of the project that `package` may not make."""
    wrong = []
    for line, module in imported_modules(source):
        top = module.split(".")[0]
        if top == package or (top not in FLOORS and top not in BESIDE):
            continue
        if package in BESIDE:
            allowed = any(module.startswith(ok) for ok in BESIDE[package])
        else:
            allowed = top in FLOORS and FLOORS[top] < FLOORS[package]
        if not allowed:
            wrong.append((line, module))
    return wrong


def project_files(package: str):
    return [
        path
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.relative_to(ROOT).parts
    ]


@pytest.mark.parametrize("package", [*FLOORS, *BESIDE])
def test_imports_run_down_the_floors(package):
    files = project_files(package)
    assert files, f"no Python files found under {package}/"
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in files
        for line, module in wrong_imports(package, path.read_text())
    ]
    assert offenders == []


def test_no_module_imports_a_private_name_of_another():
    offenders = []
    for package in [*FLOORS, *BESIDE]:
        for path in project_files(package):
            for line, module in imported_modules(path.read_text()):
                top, _, rest = module.partition(".")
                leaf = module.rsplit(".", 1)[-1]
                if top in FLOORS | BESIDE and leaf.startswith("_") and not leaf.startswith("__"):
                    offenders.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert offenders == []


def test_the_check_sees_imports_anywhere():
    source = (
        "import os\n"
        "from core import names\n"
        "def f():\n"
        "    from vms.services import end_with_cluster\n"
        "    import portal.settings\n"
        "    import importlib; importlib.import_module('marketplace.models')\n"
        "    from . import networks\n"
    )
    assert wrong_imports("provisions", source) == [
        (4, "vms.services.end_with_cluster"),
        (5, "portal.settings"),
        (6, "marketplace.models"),
    ]
    assert wrong_imports("cli", "from core.console_protocol import VM_PATH\n") == []
    assert wrong_imports("cli", "from core import names\n") == [(1, "core.names")]


def test_the_cli_loads_no_django():
    probe = (
        "import importlib, pkgutil, sys, cli\n"
        "for m in pkgutil.iter_modules(cli.__path__): importlib.import_module('cli.' + m.name)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules}))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "'cli'" in loaded
    for framework in ("django", "rest_framework", "channels"):
        assert f"'{framework}'" not in loaded


def test_test_modules_import_no_other_test_module():
    # Shared helpers live in tests/factories.py, tests/helpers.py, a package's helpers.py or its
    # conftest.py, so a test module can be moved or deleted without breaking another.
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        for line, module in imported_modules(path.read_text())
        if module.startswith("tests.") and any(p.startswith("test_") for p in module.split("."))
    ]
    assert offenders == []


def module_file(module: str) -> Path | None:
    """The project file an imported name comes from: the longest prefix that is a module."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        path = ROOT.joinpath(*parts[:end])
        for candidate in (path.with_suffix(".py"), path / "__init__.py"):
            if candidate.exists():
                return candidate
    return None


def import_circles(graph: dict[Path, set[Path]]) -> list[list[Path]]:
    """Files that import each other in a loop (strongly connected, Tarjan's algorithm)."""
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            circle = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                circle.append(member)
                if member == node:
                    break
            if len(circle) > 1:
                circles.append(sorted(circle))

    for node in list(graph):
        if node not in index:
            visit(node)
    return circles


def test_no_files_import_each_other_in_a_circle():
    # Within an app too: a circle makes the import order matter and hides which file is the
    # base of the other (a model refers to another app's model by its "app.Model" label).
    graph = {}
    for package in [*FLOORS, *BESIDE]:
        for path in project_files(package):
            targets = {module_file(module) for _, module in imported_modules(path.read_text())}
            graph[path] = {t for t in targets if t is not None and t != path}
    circles = [[str(p.relative_to(ROOT)) for p in circle] for circle in import_circles(graph)]
    assert circles == []


def test_the_circle_check_finds_a_loop_of_three():
    a, b, c, d = (Path(name) for name in "abcd")
    assert import_circles({a: {b}, b: {c}, c: {a, d}, d: set()}) == [[a, b, c]]
    assert import_circles({a: {b}, b: {c}, c: set()}) == []
