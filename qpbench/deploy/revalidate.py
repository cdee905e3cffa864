"""Re-measure a deployment package in a fresh process and compare with the run's figures.

The worker (``revalidate_worker.py``) runs as ``python -I -B``: qpbench is not
on its path, so it can only use the package's own copied wrapper. It gets the
run's evaluation samples in a temporary .npz (never inside the package), with
the images both raw (the wrapper preprocesses them in numpy) and preprocessed
by the run's torch code.

"Must match the run's" means, by default (``Tolerances``):
- the same number of evaluation samples;
- |Pearson - run's Pearson| <= 0.005 and |MAE - run's MAE| <= 0.005 (the
  package's predictions come through the numpy preprocessing; the run's through
  torch's, equal within 1e-4 in normalised units);
- predictions from raw images and from the run's preprocessed tensors differ by
  at most 0.02 (an int8 model can move by a quantization step on a 1e-5 change);
- batch-1 p50 latency of the artifact, called as the run called it (a
  preprocessed batch of 1), within [0.5, 2.0] x the run's: a shared machine's
  timing noise must not fail a package, a different runtime or thread setting
  must. The wrapper's own p50/p95 (its input checks and output handling on top,
  about 0.1 ms) and its p50 with the numpy preprocessing of a raw image are
  measured in the same process and reported beside it.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qpbench.config import WORKER_TIMEOUT_S
from qpbench.data.dataset import load_labelled
from qpbench.deploy.record import PackageError, eval_images
from qpbench.measure import isolation

WORKER = Path(__file__).with_name("revalidate_worker.py")


@dataclass(frozen=True)
class Tolerances:
    """How close a package's fresh-process re-measurement must come to the run's figures."""

    pearson_abs: float = 0.005
    mae_abs: float = 0.005
    preprocessing_max_abs_diff: float = 0.02
    latency_ratio_low: float = 0.5
    latency_ratio_high: float = 2.0
    # Below this difference two latencies agree whatever their ratio: on a sub-millisecond model the
    # run's tensor conversions and the machine's jitter alone move the ratio outside the band.
    latency_abs_ms: float = 0.5


@dataclass(frozen=True)
class PackageDefaults:
    """``qpbench package``."""

    run: str = "results/latest.json"  # the run record a package is built from
    variant: str = "recommended"
    latency_calls: int = 200  # batch-1 calls timed in the fresh process
    timeout_s: float = WORKER_TIMEOUT_S  # for the fresh process


PACKAGE = PackageDefaults()


class RevalidationError(RuntimeError):
    """The fresh process could not re-measure the package; the message says why."""


@dataclass(frozen=True)
class Check:
    name: str
    run: float | None
    revalidated: float | None
    tolerance: str
    passed: bool


@dataclass
class Revalidation:
    measured: dict[str, Any]
    checks: list[Check] = field(default_factory=list)
    tolerances: Tolerances = Tolerances()

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "measured": self.measured, "checks": [asdict(c) for c in self.checks],
                "tolerances": asdict(self.tolerances)}


def eval_samples(workload: dict[str, Any], eval_set: dict[str, Any] | None) -> Any:
    """A run's evaluation samples: the first N images of its dataset, N from its ``eval_set``."""
    data = load_labelled(workload["dataset"]).first_images(eval_images(eval_set))
    expected = (eval_set or {}).get("n_samples")
    if expected is not None and data.n_samples != expected:
        raise PackageError(f"the run evaluated {expected} samples, {data.source} gives {data.n_samples}: "
                           "the dataset changed since the run")
    return data


def judged_samples(data: Any, run: dict[str, Any]) -> Any:
    """The samples the run judged the variant's accuracy on: where its looks decided before the
    whole set, the first ones in the run's seeded order (measure/accuracy.py)."""
    judged = (run.get("accuracy") or {}).get("n_samples")
    if not judged or judged >= data.n_samples:
        return data
    from qpbench.measure.predictions import sample_order

    return data.samples(sample_order(data.n_samples)[:judged], f"{judged} of {data.n_samples} samples in a seeded order")


def write_samples(data: Any, input_size: int, path: Path) -> Path:
    """The samples as the worker reads them, with the run's torch preprocessing of every image."""
    from qpbench.workload import preprocess

    np.savez(path, images=data.images, preprocessed=preprocess(data.images, input_size).numpy(),
             img_idx=data.img_idx, params_vec=data.params, ssim=data.ssim)
    return path


def run_worker(package: Path, samples: Path, latency_calls: int, timeout_s: float, batch_size: int = 16) -> dict[str, Any]:
    """The package re-measured by its own wrapper in an isolated worker (isolation.py's launcher:
    its own process group, faulthandler, a time limit, dying with this process)."""
    request = {"package": str(package), "samples": str(samples), "latency_calls": latency_calls,
               "batch_size": batch_size}
    with tempfile.TemporaryDirectory(prefix="qpbench-reval-") as tmp:
        try:
            # the byte-code cache goes to tmp: caches are outside the manifest, so never read the package's
            return isolation.run_worker(str(WORKER), request, "re-validation", package.name, timeout_s,
                                        isolated_in=tmp)
        except isolation.WorkerFailed as exc:
            raise RevalidationError(f"the re-validation process {exc.failure.reason}") from None


def compare(run: dict[str, Any], measured: dict[str, Any], tol: Tolerances) -> list[Check]:
    """Checks of the re-measured figures against the run's ``accuracy`` and batch-1 ``latency``."""
    checks: list[Check] = []
    accuracy = run.get("accuracy")
    if accuracy is None:
        checks.append(Check("accuracy measured in the run", None, measured.get("pearson"),
                            "the run must have an accuracy result for the variant", False))
    else:
        checks.append(Check("n_samples", accuracy["n_samples"], measured["n_samples"], "equal",
                            accuracy["n_samples"] == measured["n_samples"]))
        for key, limit in (("pearson", tol.pearson_abs), ("mae", tol.mae_abs)):
            a, b = accuracy.get(key), measured.get(key)
            ok = a is not None and b is not None and abs(a - b) <= limit
            checks.append(Check(key, a, b, f"abs diff <= {limit:g}", ok))
    diff = measured["max_abs_diff_numpy_vs_torch_preprocessing"]
    checks.append(Check("predictions: numpy vs torch preprocessing, max abs diff", None, diff,
                        f"<= {tol.preprocessing_max_abs_diff:g}", diff <= tol.preprocessing_max_abs_diff))
    latency = (run.get("latency") or {}).get("1")
    if latency is None:
        checks.append(Check("batch-1 latency measured in the run", None, measured["batch1_artifact_p50_ms"],
                            "the run must have a batch-1 latency result for the variant", False))
    else:
        a, b = latency["per_batch_ms"]["p50"], measured["batch1_artifact_p50_ms"]
        ratio = b / a if a > 0 else float("inf")
        checks.append(Check("batch-1 p50 latency of the artifact (ms)", a, b,
                            f"ratio in [{tol.latency_ratio_low:g}, {tol.latency_ratio_high:g}] (got {ratio:.2f}) "
                            f"or abs diff <= {tol.latency_abs_ms:g} ms",
                            tol.latency_ratio_low <= ratio <= tol.latency_ratio_high
                            or abs(b - a) <= tol.latency_abs_ms))
    return checks


def revalidate(package: Path, run: dict[str, Any], workload: dict[str, Any], eval_set: dict[str, Any] | None,
               tolerances: Tolerances = Tolerances(), *, latency_calls: int = PACKAGE.latency_calls,
               timeout_s: float = PACKAGE.timeout_s) -> Revalidation:
    """Measure ``package`` in a fresh process on the run's evaluation samples and compare with
    ``run``, the run's figures for the variant (``record.run_figures``)."""
    data = judged_samples(eval_samples(workload, eval_set), run)
    with tempfile.TemporaryDirectory(prefix="qpbench-reval-samples-") as tmp:
        samples = write_samples(data, int(workload["input_size"]), Path(tmp) / "samples.npz")
        measured = run_worker(Path(package), samples, latency_calls, timeout_s)
    return Revalidation(measured, compare(run, measured, tolerances), tolerances)
