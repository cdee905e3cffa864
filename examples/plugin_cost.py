"""What qpbench costs a pytest run that does not use it: a three-test file of an unrelated
project, run in this interpreter's environment with and without ``-p no:qpbench``, alternated
N times; prints the medians and their difference.

    python examples/plugin_cost.py [N]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = """
def test_a():
    assert 1 + 1 == 2

def test_b():
    assert "x".upper() == "X"

def test_c():
    assert sorted([3, 1, 2]) == [1, 2, 3]
"""


def timed(project: Path, *extra: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra], cwd=project,
                   check=True, capture_output=True)
    return time.perf_counter() - start


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "test_unrelated.py").write_text(TESTS)
        with_, without = [], []
        for _ in range(n):
            with_.append(timed(project))
            without.append(timed(project, "-p", "no:qpbench"))
    w, o = statistics.median(with_), statistics.median(without)
    print(f"with qpbench    median {w:.2f} s  {[round(x, 2) for x in with_]}")
    print(f"without         median {o:.2f} s  {[round(x, 2) for x in without]}")
    print(f"cost            {w - o:+.2f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
