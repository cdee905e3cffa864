"""Imports point one way: a module imports only from its own layer or the layers below, and
nothing imports in a circle. Walks every import statement of the package with ``ast``,
including the ones inside functions (a lazy import upward is still an upward dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "qpbench"

# Bottom to top. A module belongs to the first entry that is its dotted name or a parent of it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("qpbench", "qpbench.errors", "qpbench.files", "qpbench.progress", "qpbench.stats", "qpbench.timing", "qpbench.runtime",
     "qpbench.hookspec", "qpbench.compare", "qpbench.run", "qpbench.schema", "qpbench.options"),  # the packages (their modules are placed below)
    ("qpbench.config", "qpbench.options.argparse_help", "qpbench.criteria", "qpbench.system", "qpbench.variant_info", "qpbench.results", "qpbench.peak"),
    ("qpbench.models", "qpbench.data"),
    ("qpbench.workload",),
    ("qpbench.optimize",),
    ("qpbench.variants",),  # variants.build_cache too
    ("qpbench.measure",),
    ("qpbench.verdict", "qpbench.run.screening", "qpbench.run.selection", "qpbench.compare.gate", "qpbench.compare.comparison", "qpbench.compare.runs", "qpbench.compare.thresholds", "qpbench.compare.judge",
     "qpbench.compare.speed", "qpbench.compare.differences", "qpbench.run.hosts", "qpbench.compare.baseline",
     "qpbench.record", "qpbench.run.xdist", "qpbench.run.journal", "qpbench.run.clock",
     "qpbench.run.plan", "qpbench.run.finish", "qpbench.run.collect", "qpbench.run.variants", "qpbench.run.predictions"),
    ("qpbench.render", "qpbench.compare.text", "qpbench.compare.markdown"),
    ("qpbench.compare.regression", "qpbench.deploy", "qpbench.train", "qpbench.run.timing_lock", "qpbench.run.output"),
    ("qpbench.suite", "qpbench.session"),
    ("qpbench.plugin", "qpbench.options.pytest_options", "qpbench.cli", "qpbench.compare.cli", "qpbench.__main__", "qpbench.options.doc",
     "qpbench.schema.generate", "qpbench.schema.__main__"),
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The qpbench modules ``path`` imports (a ``from X import y`` of a submodule ``y`` counts as X.y)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "qpbench")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "qpbench":
                continue
            subs = {f"{target}.{a.name}" for a in node.names} & known
            found.update(subs or {target})
    return {m for m in found if m != name}


def layer_of(name: str) -> int:
    best = None
    for rank, entries in enumerate(LAYERS):
        for entry in entries:
            if name == entry or (entry != "qpbench" and name.startswith(entry + ".")):
                if best is None or len(entry) > best[1]:
                    best = (rank, len(entry))
    if best is None:
        raise AssertionError(f"{name} is in no layer: add it to LAYERS in {__file__}")
    return best[0]


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports_of(name, path, set(found)) for name, path in found.items()}


def test_every_module_has_a_layer(graph: dict[str, set[str]]) -> None:
    for name in graph:
        layer_of(name)


def test_imports_only_point_down(graph: dict[str, set[str]]) -> None:
    upward = sorted(f"{name} (layer {layer_of(name)}) imports {dep} (layer {layer_of(dep)})"
                    for name, deps in graph.items() for dep in deps if layer_of(dep) > layer_of(name))
    assert not upward, "imports from a lower layer to a higher one:\n" + "\n".join(upward)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in graph.get(node, ()):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles(graph: dict[str, set[str]]) -> None:
    # A package's __init__ re-exporting its modules is not a cycle with them: leave those edges out.
    edges = {name: {d for d in deps if not name.startswith(d + ".")} for name, deps in graph.items()}
    edges = {name: {d for d in deps if not (d.startswith(name + ".") and (PACKAGE.parent / Path(*name.split("."))
                                                                           / "__init__.py").exists())}
             for name, deps in edges.items()}
    assert cycles(edges) == []


def test_cycle_detector_sees_a_planted_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_layer_check_sees_a_planted_upward_import() -> None:
    graph = {"qpbench.optimize.fusion": {"qpbench.measure.latency"}}
    upward = [d for n, ds in graph.items() for d in ds if layer_of(d) > layer_of(n)]
    assert upward == ["qpbench.measure.latency"]


def test_runtime_layer_imports_nothing_of_qpbench_by_name() -> None:
    """Its modules are copied into deployment packages as ``qpdeploy``: only relative imports work there."""
    offenders = []
    for path in (PACKAGE / "runtime").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "qpbench"]
    assert offenders == []
