"""``--qp-long-run=contenders`` end to end with pytester and the tiny model: the measurements after
the screen go to the fastest ready variants first; a slower one waits, and is measured in full
only when the faster ones fell in their long runs. Planted: a variant 10x slower than the tiny
model, and a fast one that aborts in its stress run."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.slow  # bench runs of the tiny model

TINY = ["--qp-model-factory=tinymodel:build", "--qp-checkpoint=tiny.pt", "--qp-dataset=tiny.npz",
        "--qp-input-size=16", "--qp-profile=quick", "-p", "no:cacheprovider", "--qp-long-run=contenders",
        "-k", "accuracy or fidelity or speed or latency or stress", "-v", "-rs"]


@pytest.fixture
def suite(tiny_suite: pytest.Pytester) -> pytest.Pytester:
    pytester = tiny_suite
    pytester.makepyfile(plantedvariants="""
        import os, sys, time
        import torch
        from qpbench.variants import build_eager


        class Planted(torch.nn.Module):
            def __init__(self, inner, sleep_s=0.0, abort_in_stress=False):
                super().__init__()
                self.inner, self.sleep_s, self.abort_in_stress = inner, sleep_s, abort_in_stress

            def forward(self, image, params):
                main = getattr(sys.modules["__main__"], "__spec__", None)
                if self.abort_in_stress and getattr(main, "name", "") == "qpbench.measure.stress_worker":
                    os.abort()  # fine in the screen, dies in its long run
                time.sleep(self.sleep_s)
                return self.inner(image, params)


        def build_slowed(ctx):
            variant = build_eager(ctx)
            variant.name, variant.module = "slowed", Planted(variant.module, sleep_s=0.003)
            return variant


        def build_breaks(ctx):
            variant = build_eager(ctx)
            variant.name, variant.module = "breaks", Planted(variant.module, abort_in_stress=True)
            return variant
    """)
    pytester.makeconftest("""
        from plantedvariants import build_breaks, build_slowed
        from qpbench.variants import VariantSpec

        def pytest_qpbench_register_variants(registry):
            registry.register(VariantSpec("slowed", "eager, 3 ms slower a call", build_slowed))
            registry.register(VariantSpec("breaks", "eager, aborts in its stress run", build_breaks))
    """)
    pytester.syspathinsert()
    return pytester


def latest(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "results" / "latest.json").read_text())


def ran(stdout: str, test: str) -> list[str]:
    """The variants whose ``test`` passed, in the order they ran."""
    return re.findall(rf"::{test}\[([a-z]+)\] PASSED", stdout)


def test_the_slower_variant_waits_while_the_fastest_stands(suite):
    result = suite.runpytest(*TINY, "--qp-variants=slowed,eager")
    out = result.stdout.str()
    assert result.ret == 0, out
    assert ran(out, "test_stress") == ["eager"]
    assert re.search(r"SKIPPED .*screened out: ready at the screen, \d+\.\dx slower than eager at batch 1, which its "
                     r"long runs left ready: long runs not made \(--qp-long-run=all or =slowed measures it\)", out), out
    verdict = latest(suite)["verdict"]
    assert verdict["recommended"] == "eager"
    assert [v["variant"] for v in verdict["screened_out"]] == ["slowed"]
    assert verdict["score_basis"]  # slowed got no stress run: its scores rest on the screen's criteria
    # fastest first after the screen, though slowed was selected first
    stress_at = out.index("test_stress.py::test_stress[eager]")
    assert stress_at < out.index("test_stress.py::test_stress[slowed]")


def test_when_the_fastest_falls_in_its_long_run_the_next_by_speed_is_measured_in_full(suite):
    result = suite.runpytest(*TINY, "--qp-variants=slowed,breaks")
    out = result.stdout.str()
    assert "test_stress.py::test_stress[breaks] FAILED" in out
    assert ran(out, "test_stress") == ["slowed"]  # measured in full: nothing faster stood
    # breaks, selected after slowed, ran first after the screen: the faster one is decided first
    assert out.index("test_stress.py::test_stress[breaks]") < out.index("test_stress.py::test_stress[slowed]")
    verdict = latest(suite)["verdict"]
    assert verdict["recommended"] == "slowed"
    assert verdict.get("screened_out", []) == []
    assert any("breaks" in issue and "abort" in issue.lower() for issue in verdict["critical_issues"])
