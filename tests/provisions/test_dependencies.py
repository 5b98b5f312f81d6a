"""Dependencies run one way: vms builds on provisions, marketplace on vms. provisions imports
neither (not at load, not inside a function); what it needs from them, they register in
provisions.hooks."""

import ast
from pathlib import Path

import provisions
from provisions import hooks

PROVISIONS = Path(provisions.__file__).parent
FORBIDDEN = ("vms", "marketplace")


def forbidden_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of every import of vms or marketplace, wherever it sits (module level,
    function, class, `if TYPE_CHECKING:`), importlib.import_module("...") by name included."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in ("import_module", "__import__"):
                found.append((node.lineno, node.args[0].value))
    return sorted(
        (line, module)
        for line, module in found
        if isinstance(module, str) and module.split(".")[0] in FORBIDDEN
    )


def test_no_module_under_provisions_imports_vms_or_marketplace():
    files = sorted(PROVISIONS.rglob("*.py"))
    assert len(files) > 10  # the walk found the package
    offenders = [
        f"{path.relative_to(PROVISIONS.parent)}:{line} imports {module}"
        for path in files
        for line, module in forbidden_imports(path.read_text())
    ]
    assert offenders == []


def test_the_check_catches_imports_inside_functions():
    source = (
        "import os\n"
        "import vmsx\n"
        "def f():\n"
        "    from vms.services import end_with_cluster\n"
        "    import marketplace.models as m\n"
        "    import importlib; importlib.import_module('vms.models')\n"
        "    from . import networks\n"
    )
    assert forbidden_imports(source) == [
        (4, "vms.services"),
        (5, "marketplace.models"),
        (6, "vms.models"),
    ]


def test_vms_registers_what_provisions_needs():
    from vms import hooks as vms_hooks
    from vms.services import end_with_cluster

    assert end_with_cluster in hooks.end_cluster_vms.callables
    assert vms_hooks.cluster_vm_count in hooks.cluster_vm_count.callables


def test_a_hook_calls_each_registered_callable_once_in_order():
    hook = hooks.Hook("sample", "for the test")
    assert hook(1) == []

    def double(n):
        return 2 * n

    hook.register(double)
    hook.register(double)  # a repeated ready() registers nothing new
    hook.register(lambda n: n + 1)
    assert hook(5) == [10, 6]
