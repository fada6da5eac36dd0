"""The package's shape: no import cycles, no method borrowing from another, a small root, small modules.

Imports are read from the source (``ast``), including those inside functions, so a cycle that
only closes at run time is found too.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "tfxai"
#: Packages that hold one method (or one family of methods); shared code lives elsewhere.
METHOD_PACKAGES = ("tfxai.attention", "tfxai.video", "tfxai.gan.stargan", "tfxai.gan.collaborative", "tfxai.signal",
                   "tfxai.synthesis", "tfxai.annotate")
#: The attention base every attention model extends (ABN, GAIN, ST-ABN): shared on purpose (docs/architecture.md).
SHARED_ATTENTION_BASE = ("tfxai.attention.base", "tfxai.attention.losses", "tfxai.attention.masking")


def _modules():
    modules = {}
    for path in ROOT.rglob("*.py"):
        name = ".".join(("tfxai",) + path.relative_to(ROOT).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    return modules


MODULES = _modules()


def _resolve(name):
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def import_graph():
    """Module -> the tfxai modules it imports anywhere in its source."""
    graph = {}
    for name, path in MODULES.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(_resolve(alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.add(full if full in MODULES else _resolve(base))
        graph[name] = {target for target in targets if target and target != name}
    return graph


def cycles(graph):
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def _method_package(module):
    return next((package for package in sorted(METHOD_PACKAGES, key=len, reverse=True)
                 if module == package or module.startswith(package + ".")), None)


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_tfxai_has_no_import_cycles():
    assert cycles(import_graph()) == []


def test_no_method_package_imports_another_method_package():
    borrowed = sorted(
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        for target in targets
        if _method_package(module) and _method_package(target) not in (None, _method_package(module))
        and target not in SHARED_ATTENTION_BASE
    )
    assert borrowed == []


def test_the_engine_imports_no_feature_and_no_method_package():
    """``tfxai.training`` runs every method, so it takes nothing from one: not classify's backbones, not a method's helpers."""
    borrowed = sorted(
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        if module == "tfxai.training" or module.startswith("tfxai.training.")
        for target in targets
        if target == "tfxai.classify" or target.startswith("tfxai.classify.") or _method_package(target)
    )
    assert borrowed == []


def test_the_package_root_keeps_at_most_six_modules_besides_init():
    root_modules = sorted(path.name for path in ROOT.glob("*.py") if path.name != "__init__.py")
    assert len(root_modules) <= 6, root_modules


@pytest.mark.parametrize("folder", ["tfxai", "apps"])
def test_no_module_is_over_450_lines(folder):
    base = ROOT.parent / folder
    long = {str(path.relative_to(base)): n for path in base.rglob("*.py") if (n := len(path.read_text(encoding="utf-8").splitlines())) > 450}
    assert long == {}


def test_old_import_paths_still_work_and_warn():
    import importlib
    import sys
    import warnings

    sys.modules.pop("tfxai.resume", None)  # a first import in this process warns
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = importlib.import_module("tfxai.resume")
        function = old.fit_resumable
    from tfxai.training.resume import fit_resumable

    assert function is fit_resumable
    assert any("tfxai.training.resume" in str(warning.message) and warning.category is DeprecationWarning for warning in caught)
