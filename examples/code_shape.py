"""The package's shape, for the refactor's before/after report: module counts (top level and
total), the largest modules and functions, QPSession's lines and methods, the run schema's lines.

    python examples/code_shape.py [REPO]
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path


def functions(tree: ast.AST, module: str) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.append((node.end_lineno - node.lineno + 1, f"{module}:{node.name}"))
    return out


def main(repo: Path) -> None:
    package = repo / "qpbench"
    modules = sorted(p for p in package.rglob("*.py") if "__pycache__" not in p.parts)
    sizes = [(len(p.read_text().splitlines()), str(p.relative_to(repo))) for p in modules]
    top = [p for p in modules if p.parent == package]
    print(f"modules: {len(modules)} in all, {len(top)} at the top level, {sum(n for n, _ in sizes)} lines")
    print(f"over 400 lines: {sum(n > 400 for n, _ in sizes)}")
    for n, name in sorted(sizes, reverse=True)[:8]:
        print(f"  {n:5d}  {name}")
    funcs = []
    for p in modules:
        tree = ast.parse(p.read_text())
        funcs += functions(tree, str(p.relative_to(repo)))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name == "QPSession":
                methods = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
                print(f"QPSession: {node.end_lineno - node.lineno + 1} lines, {len(methods)} methods ({p.relative_to(repo)})")
    print("largest functions:")
    for n, name in sorted(funcs, reverse=True)[:6]:
        print(f"  {n:5d}  {name}")
    for schema in sorted(package.rglob("*.schema.json")):
        print(f"schema {schema.relative_to(repo)}: {len(schema.read_text().splitlines())} lines")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]))
