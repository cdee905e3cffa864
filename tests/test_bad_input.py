"""Bad input is a pytest usage error that names the problem, and no results are written."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.test_plugin import BENCH, TINY


@pytest.fixture
def suite(pytester: pytest.Pytester, tiny_files: dict[str, Path]) -> pytest.Pytester:
    shutil.copy(BENCH / "test_accuracy.py", pytester.path)
    for path in tiny_files.values():
        shutil.copy(path, pytester.path / path.name)
    pytester.syspathinsert()
    return pytester


def glob_literal(text: str) -> str:
    """fnmatch reads '[' as a character class; match it literally ('*' stays a wildcard)."""
    return text.replace("[", "[[]")


def usage_error(pytester: pytest.Pytester, *overrides: str, expect: str) -> None:
    args = [a for a in TINY if not any(a.startswith(o.split("=")[0] + "=") for o in overrides)]
    result = pytester.runpytest(*args, *overrides)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    result.stderr.fnmatch_lines([f"*{glob_literal(expect)}*"])
    assert not (pytester.path / "results").exists(), "a results file was written for a run that never started"


def test_unknown_variant(suite):
    usage_error(suite, "--qp-variants=eager,turbo", expect="unknown variant 'turbo': choose from ['eager', 'optimized', 'torchscript', ")


def test_unknown_workload(suite):
    result = suite.runpytest("--qp-workload=huge", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown workload 'huge'*--qp-model-factory*"])


def test_factory_module_does_not_import(suite):
    usage_error(suite, "--qp-model-factory=nosuchpkg.models:build", expect="cannot import module 'nosuchpkg.models'")


def test_factory_attribute_missing_or_malformed(suite):
    usage_error(suite, "--qp-model-factory=tinymodel:nothing", expect="module 'tinymodel' has no attribute 'nothing'")


def test_factory_path_malformed(suite):
    usage_error(suite, "--qp-model-factory=tinymodel.build", expect="must look like 'package.module:callable'")


def test_factory_raises(suite):
    usage_error(suite, "--qp-model-factory=tinymodel:broken", expect="raised RuntimeError('factory exploded')")


def test_checkpoint_missing(suite):
    usage_error(suite, "--qp-checkpoint=nope.pt", expect="checkpoint nope.pt does not exist")


def test_checkpoint_truncated(suite):
    data = (suite.path / "tiny.pt").read_bytes()
    (suite.path / "cut.pt").write_bytes(data[: len(data) // 2])
    usage_error(suite, "--qp-checkpoint=cut.pt", expect="checkpoint cut.pt is truncated or not a torch file")


def test_checkpoint_not_a_state_dict(suite):
    torch.save({"epoch": 3, "weights": [1, 2]}, suite.path / "train_state.pt")
    usage_error(suite, "--qp-checkpoint=train_state.pt", expect="checkpoint train_state.pt is not a state_dict")


def test_checkpoint_needs_unsafe_pickle(suite):
    torch.save(torch.nn.Linear(2, 2), suite.path / "whole_model.pt")  # a pickled module, not weights
    usage_error(suite, "--qp-checkpoint=whole_model.pt", expect="cannot be loaded with weights_only=True*")


def test_checkpoint_mismatched_with_architecture(suite):
    state = torch.load(suite.path / "tiny.pt", weights_only=True)
    del state["param_head.weight"]
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, suite.path / "other.pt")
    usage_error(suite, "--qp-checkpoint=other.pt", expect="does not match the model's architecture: missing keys ['param_head.weight'], unexpected keys ['extra.weight']")


def rewrite_dataset(path: Path, **changes) -> None:
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays.update(changes)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)


def test_dataset_missing(suite):
    usage_error(suite, "--qp-dataset=none.npz", expect="dataset none.npz does not exist")


def test_dataset_not_an_npz(suite):
    (suite.path / "junk.npz").write_text("not a zip")
    usage_error(suite, "--qp-dataset=junk.npz", expect="dataset junk.npz is not a readable .npz file*")


def test_dataset_wrong_image_shape(suite):
    rewrite_dataset(suite.path / "tiny.npz", images=np.zeros((6, 16, 16), np.uint8))
    usage_error(suite, expect="'images' must be uint8 (n, H, W, 3) RGB, got uint8 (6, 16, 16)")


def test_dataset_missing_labels(suite):
    rewrite_dataset(suite.path / "tiny.npz", ssim=None)
    usage_error(suite, expect="lacks the arrays ['ssim']")


def test_dataset_nan_params(suite):
    with np.load(suite.path / "tiny.npz") as npz:
        params = npz["params_vec"].copy()
    params[5, 2] = np.nan
    rewrite_dataset(suite.path / "tiny.npz", params_vec=params)
    usage_error(suite, expect="'params_vec' holds NaN or inf (first at sample 5)")


def test_dataset_labels_out_of_range(suite):
    with np.load(suite.path / "tiny.npz") as npz:
        ssim = npz["ssim"].copy()
    ssim[0] = 87.0  # a percentage, not an SSIM
    rewrite_dataset(suite.path / "tiny.npz", ssim=ssim)
    usage_error(suite, expect="labels 'ssim' must lie in SSIM's range [-1, 1], found*")


ABORTING_MODEL = """import os
from tinymodel import TinyModel


class Aborts(TinyModel):
    def forward(self, image, params):
        os.abort()


def build():
    return Aborts()
"""


def test_a_model_that_aborts_on_its_first_call_is_named_and_pytest_lives(suite):
    """The model's check runs in a worker: an abort() there is a usage error that says so."""
    (suite.path / "abortmodel.py").write_text(ABORTING_MODEL)
    usage_error(suite, "--qp-model-factory=abortmodel:build",
                expect="model from 'abortmodel:build': its check (build it, run a batch of 2) was killed by SIGABRT")


def test_dataset_params_not_matching_the_model(suite):
    with np.load(suite.path / "tiny.npz") as npz:
        params = npz["params_vec"][:, :5].copy()
    rewrite_dataset(suite.path / "tiny.npz", params_vec=params)
    usage_error(suite, expect="failed on inputs image (2, 3, 16, 16), params (2, 5)*")


@pytest.mark.parametrize(
    "option, expect",
    [
        ("--qp-target=pearson=1.5", "target pearson must be in (0, 1]"),
        ("--qp-target=latency_p95_ms=0", "target latency_p95_ms must be > 0"),
        ("--qp-target=speed=1", "unknown targets ['speed']"),
        ("--qp-weight=pearson=-2", "weights must be >= 0"),
        ("--qp-hard-gates=pearsn", "unknown criteria ['pearsn']"),
    ],
)
def test_nonsensical_targets(suite, option, expect):
    usage_error(suite, option, expect=expect)


@pytest.mark.parametrize(
    "option, expect",
    [
        ("--qp-fail-under=lots", "fail-under must be a number between 0 and 100, got 'lots'"),
        ("--qp-fail-under=120", "fail-under must be a number between 0 and 100, got 120"),
        ("--qp-input-size=-3", "--qp-input-size must be a positive integer, got -3"),
        ("--qp-profile=forever", "invalid choice: 'forever'"),
    ],
)
def test_option_values_are_validated(suite, option, expect):
    result = suite.runpytest(option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{expect}*"])


def test_ini_value_is_validated(suite):
    suite.makeini("[pytest]\nqp_fail_under = high\n")
    result = suite.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*qpbench: fail-under must be a number between 0 and 100, got 'high'*"])
