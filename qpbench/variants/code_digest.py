"""The digest of the code behind a builder or a model factory, for the build cache's key.

The code a build runs is its module and every module of the same top-level package that
module imports, directly or through others: found by reading the sources with ``ast``
(nothing is imported), following ``import`` and ``from ... import`` statements anywhere in a
module (a lazy import inside a function runs too), the packages above each module (their
``__init__`` runs on import) and any string that names a module of the package, as
``'qpbench.variants.onnx:build_onnx_fp32'`` does in the variant registry (a builder loaded
by name). A change to a report, the plugin or a measurement leaves the builds' key alone; a
change to anything a build can reach changes it. Modules of other packages (torch, the
runtimes) are keyed by their versions instead.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import re
from pathlib import Path

MODULE_NAME = re.compile(r"^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?::[\w.]+)?$")  # 'a.b' or 'a.b:attr'


def _top_level(top: str) -> tuple[list[Path], Path | None]:
    """Where the top-level module ``top`` lives: (a package's folders, or [] ; a plain
    module's file, or None). Only ``top`` is looked up, so nothing but its finder runs."""
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return [], None
    if spec is None:
        return [], None
    if spec.submodule_search_locations:
        return [Path(p) for p in spec.submodule_search_locations], None
    return [], Path(spec.origin) if spec.origin and Path(spec.origin).is_file() else None


def module_file(name: str, roots: list[Path]) -> Path | None:
    """The source file of module ``name`` (dotted) of the package whose folders are ``roots``."""
    rest = name.split(".")[1:]
    for root in roots:
        base = root.joinpath(*rest)
        for path in (base / "__init__.py", base.with_suffix(".py")) if rest else (root / "__init__.py",):
            if path.is_file():
                return path
    return None


def _named_modules(path: Path, name: str) -> set[str]:
    """The modules the source of module ``name`` (at ``path``) imports or names."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError):
        return set()  # its bytes are in the digest; it cannot be imported anyway
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)  # a name may be a submodule
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found = MODULE_NAME.match(node.value)
            if found and "." in found[1]:
                out.add(found[1])
    return out


def module_closure(module: str) -> dict[str, Path]:
    """Module name -> source file for ``module`` and every module of its top-level package it
    reaches ({} when ``module`` has no source file)."""
    top = module.split(".")[0]
    roots, plain = _top_level(top)
    if plain is not None:  # a module outside any package: its own file
        return {module: plain} if module == top else {}
    found: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        if name in found or name.split(".")[0] != top:
            continue
        path = module_file(name, roots)
        if path is None:
            continue  # an attribute, not a module: `from a import function`
        found[name] = path
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        todo.extend(_named_modules(path, name))
    return found if module in found else {}


def code_digest(import_path: str) -> str | None:
    """sha256 over the sources of the code behind 'module:attr' (``module_closure``), each file
    named by its module; None when the module has no source file."""
    files = module_closure(import_path.partition(":")[0])
    if not files:
        return None
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].read_bytes() + b"\0")
    return digest.hexdigest()
