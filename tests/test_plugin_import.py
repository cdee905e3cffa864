"""The plugin is cheap where it is not used: every pytest run in qpbench's environment loads it
(the pytest11 entry point), so importing it, and a pytest run of a project that never asks for a
variant, load neither torch nor scipy nor a runtime, nor pydantic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# pydantic too: the record types are plain dataclasses; pydantic comes in when one is read or written.
HEAVY = ("torch", "torchvision", "scipy", "onnxruntime", "openvino", "pydantic", "pydantic_core")
LOADED = f"import json, sys; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})))"


def test_importing_the_plugin_loads_nothing_heavy() -> None:
    done = subprocess.run([sys.executable, "-c", f"import qpbench.plugin, qpbench.hookspec; {LOADED}"],
                          capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


def test_an_unrelated_projects_pytest_run_loads_nothing_heavy(tmp_path: Path) -> None:
    (tmp_path / "test_other.py").write_text(
        "import sys\n\n\ndef test_other():\n"
        f"    assert not {{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
