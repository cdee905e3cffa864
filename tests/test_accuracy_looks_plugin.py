"""Accuracy until decided, end to end with pytester and the tiny model on 400 samples (looks at
200 and 400): a clean variant is judged at the first look in the screen and on the whole set
when it is measured in full; a planted one that adds noise to its outputs is caught at the
first look and is not ready."""

from __future__ import annotations

import json

import pytest

from conftest import write_tiny_files

pytestmark = [pytest.mark.slow, pytest.mark.builds_only]  # bench runs of the tiny model, no figure read


@pytest.fixture
def suite(tiny_suite: pytest.Pytester) -> pytest.Pytester:
    write_tiny_files(tiny_suite.path, n_images=100)  # 400 samples in place of 24
    tiny_suite.makepyfile(noisyvariant="""
        import torch
        from qpbench.variants import build_eager


        class Noisy(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, image, params):
                out = self.inner(image, params)
                noise = torch.randn(out.shape, generator=torch.Generator().manual_seed(int(params.sum() * 1e4)))
                return (out + 0.3 * noise).clamp(0, 1)


        def build_noisy(ctx):
            variant = build_eager(ctx)
            variant.name, variant.module = "noisy", Noisy(variant.module)
            return variant
    """)
    tiny_suite.makeconftest("""
        from noisyvariant import build_noisy
        from qpbench.variants import VariantSpec

        def pytest_qpbench_register_variants(registry):
            registry.register(VariantSpec("noisy", "eager with noise on its outputs", build_noisy))
    """)
    return tiny_suite


def test_accuracy_is_judged_as_far_as_it_takes_and_on_the_whole_set_when_measured_in_full(suite):
    out = suite.path / "out"
    result = suite.runpytest_subprocess(
        "--qp-model-factory=tinymodel:build", "--qp-checkpoint=tiny.pt", "--qp-dataset=tiny.npz",
        "--qp-input-size=16", "--qp-profile=quick", "--qp-eval-images=100", "-p", "no:cacheprovider",
        "--qp-variants=eager,optimized,noisy", "--qp-long-run=all", f"--qp-results-dir={out}",
        "-k", "accuracy or fidelity or whole_set", "-v", "-rs")
    record = json.loads((out / "latest.json").read_text())
    acc = [(r["variant"], r["n_samples"], r.get("eval_samples"), r.get("decided"))
           for r in record["results"] if r["kind"] == "accuracy"]
    assert ("optimized", 200, 400, "look 1 of 2, 200 of 400 samples: decided") in acc
    assert ("optimized", 400, 400, "look 2 of 2, 400 of 400 samples: the whole set") in acc
    assert ("noisy", 200, 400, "look 1 of 2, 200 of 400 samples: decided") in acc
    fid = {(r["variant"], r["n_samples"]) for r in record["results"] if r["kind"] == "fidelity"}
    assert {("optimized", 200), ("optimized", 400), ("noisy", 200), ("noisy", 400)} <= fid
    calls = {(v["variant"], c["name"]): c for v in record["verdict"]["variants"] for c in v["criteria"]}
    # the verdict reads the whole set's figures for optimized, the first look's for noisy
    assert calls["optimized", "pearson"]["passed"] and calls["optimized", "fidelity_loss"]["passed"]
    assert calls["noisy", "pearson"]["passed"] is False and calls["noisy", "fidelity_loss"]["passed"] is False
    assert calls["optimized", "fidelity_loss"]["interval"] is not None  # the paired bootstrap's
    # eager is the reference: judged on Pearson alone, its predictions extended for the others
    assert ("eager", 200, 400, "look 1 of 2, 200 of 400 samples: decided") in acc
    result.stdout.fnmatch_lines(["*test_whole_set*optimized* PASSED*"])
