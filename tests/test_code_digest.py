"""The build cache's key holds the code a build can reach, and only that code."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from qpbench.variants.code_digest import code_digest, module_closure
from qpbench.variants.registry import BUILTIN_VARIANTS

FILES = {
    "__init__.py": "",
    "build.py": (
        "from cachepkg import helper\n"
        "from . import sub\n"
        "import json\n"
        "NAMED = 'cachepkg.named:thing'\n"
        "def build(ctx):\n"
        "    from .lazy import value\n"
        "    return helper.twice(value)\n"
    ),
    "helper.py": "def twice(x):\n    return 2 * x\n",
    "lazy.py": "value = 1\n",
    "named.py": "thing = 3\n",
    "sub/__init__.py": "from .deep import deep\n",
    "sub/deep.py": "def deep():\n    return 0\n",
    "report.py": "from cachepkg import build\n",  # imports the builder; the builder never reaches it
    "broken.py": "def (:\n",
}
REACHED = {"cachepkg", "cachepkg.build", "cachepkg.helper", "cachepkg.lazy", "cachepkg.named", "cachepkg.sub",
           "cachepkg.sub.deep"}


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cachepkg"
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    return root


def test_the_closure_follows_imports_lazy_imports_packages_and_named_modules(package):
    assert set(module_closure("cachepkg.build")) == REACHED


@pytest.mark.parametrize("changed", sorted(f for f in FILES if f not in ("report.py", "broken.py")))
def test_a_change_to_any_module_the_builder_reaches_changes_the_digest(package, changed):
    before = code_digest("cachepkg.build:build")
    (package / changed).write_text(FILES[changed] + "\n# changed\n")
    assert code_digest("cachepkg.build:build") != before


def test_a_change_to_a_module_the_builder_does_not_reach_leaves_the_digest(package):
    before = code_digest("cachepkg.build:build")
    (package / "report.py").write_text(FILES["report.py"] + "\n# changed\n")
    (package / "new.py").write_text("x = 1\n")
    assert code_digest("cachepkg.build:build") == before


def test_a_module_that_does_not_parse_is_keyed_by_its_bytes_and_a_missing_one_has_no_digest(package):
    before = code_digest("cachepkg.broken:x")
    assert before is not None and set(module_closure("cachepkg.broken")) == {"cachepkg", "cachepkg.broken"}
    (package / "broken.py").write_text(FILES["broken.py"] + "# changed\n")
    assert code_digest("cachepkg.broken:x") != before
    assert code_digest("cachepkg.absent:x") is None and code_digest("no_such_package_here.mod:x") is None


def test_qpbench_builds_are_keyed_by_the_builders_models_and_optimizations_not_by_the_harness():
    for spec in BUILTIN_VARIANTS:
        module = str(spec.builder_path).partition(":")[0]  # no import path: "None", which reaches nothing
        reached = set(module_closure(module))
        assert {module, "qpbench.variants.base", "qpbench.workload", "qpbench.optimize",
                "qpbench.data.dataset"} <= reached, spec.name
        assert not reached & {"qpbench.plugin", "qpbench.session", "qpbench.compare.runs", "qpbench.compare.regression",
                              "qpbench.run.clock", "qpbench.variants.build_cache", "qpbench.results",
                              "qpbench.criteria", "qpbench.verdict.scoring", "qpbench.config",
                              "qpbench.options.argparse_help", "qpbench.verdict.decision"}, spec.name
        assert "qpbench.variant_info" in reached, spec.name  # the one record a builder makes
        assert not any(m.startswith(("qpbench.render", "qpbench.suite", "qpbench.measure")) for m in reached), spec.name
