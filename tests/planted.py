"""Models with planted faults for the detector tests: each is the tiny model (conftest.py)
plus one fault. Written next to tinymodel.py so fresh worker processes can import them."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

PLANTED_SRC = textwrap.dedent(
    '''
    import os
    import time

    from tinymodel import TinyModel


    class KeepsOutputs(TinyModel):
        """Keeps a reference to every output and to the feature map behind it: a leak."""

        def __init__(self):
            super().__init__()
            self.kept = []

        def forward(self, image, params):
            out = super().forward(image, params)
            self.kept.append((out, self.conv(image)))
            return out


    class SlowsDown(TinyModel):
        """Each call sleeps 2 microseconds longer than the last: a degradation."""

        def __init__(self):
            super().__init__()
            self.calls = 0

        def forward(self, image, params):
            self.calls += 1
            time.sleep(2e-6 * self.calls)
            return super().forward(image, params)


    class Aborts(TinyModel):
        def forward(self, image, params):
            os.abort()


    class Hangs(TinyModel):
        def forward(self, image, params):
            time.sleep(3600)


    class SharedScratch(TinyModel):
        """Not thread-safe: the input goes through an attribute shared by all callers."""

        def forward(self, image, params):
            self.scratch = params
            time.sleep(0.0005)
            return super().forward(image, self.scratch)


    class FailsAt(TinyModel):
        """Calls ``fault`` on its Nth forward in a process (the calls before it are fine); with
        ``single``, counting batch-1 calls only: every batch-1 latency measurement makes at least
        10 (3 to estimate, a warm-up, 5 rounds, a check), accuracy and throughput make none."""

        def __init__(self, n, fault, single=False):
            super().__init__()
            self.calls, self.n, self.fault, self.single = 0, n, fault, single

        def forward(self, image, params):
            if not self.single or image.shape[0] == 1:
                self.calls += 1
                if self.calls == self.n:
                    self.fault()
            return super().forward(image, params)


    def _segfault():
        import ctypes

        ctypes.string_at(0)


    def _cpp_raise():
        import torch

        torch.ones(2, 3) @ torch.ones(2, 3)  # a shape error raised by ATen's C++


    def aborts_at_50():
        return FailsAt(50, os.abort)


    def segfaults_in_latency():
        return FailsAt(10, _segfault, single=True)


    def hangs_in_latency():
        return FailsAt(10, lambda: time.sleep(3600), single=True)


    def cpp_raises_in_latency():
        return FailsAt(10, _cpp_raise, single=True)


    def build_aborting(ctx):
        """A variant builder that kills its process."""
        os.abort()


    def leaky():
        return KeepsOutputs()


    def slowing():
        return SlowsDown()


    def aborting():
        return Aborts()


    def hanging():
        return Hangs()


    def racy():
        return SharedScratch()
    '''
)


@pytest.fixture
def planted(tiny_files, tmp_path, monkeypatch):
    """A factory of tiny workloads whose model is 'tinymodel:build' or a planted 'plantedmodels:<name>'."""
    from qpbench.workload import WorkloadSpec, load_workload

    (tmp_path / "plantedmodels.py").write_text(PLANTED_SRC)
    monkeypatch.syspath_prepend(str(tiny_files["module"].parent))
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("tinymodel", "plantedmodels"):
        sys.modules.pop(name, None)

    def make(factory: str = "tinymodel:build"):
        return load_workload(WorkloadSpec("tiny", factory, str(tiny_files["checkpoint"]), str(tiny_files["dataset"]), 16))

    return make


def write_planted(folder: Path) -> Path:
    path = folder / "plantedmodels.py"
    path.write_text(PLANTED_SRC)
    return path
