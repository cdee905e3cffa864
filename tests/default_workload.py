"""The default workload (the ResNet-50 `make bench` runs) on a few shipped samples: what
tests/test_default_workload.py checks and what records its fixture.

Record the fixture again (after retraining the shipped checkpoint or changing the shipped split):

    PYTHONPATH=. .venv/bin/python -m tests.default_workload

It writes tests/fixtures/default_predictions.json: the fp32 CPU predictions of the shipped
checkpoint for the samples in SAMPLES, with the versions that made them.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "default_predictions.json"
# A handful of samples of different images (the first 50 images of the shipped split hold 200 samples)
SAMPLES = (0, 1, 37, 90, 141, 199)
N_IMAGES = 50  # the images whose 200 samples the accuracy check runs on


def load_default():
    """The default workload on the first N_IMAGES images, and its model with the shipped checkpoint."""
    from qpbench.workload import builtin_spec, load_workload

    workload = load_workload(builtin_spec("default"), max_images=N_IMAGES)
    return workload, workload.build_model()


def predict_samples(workload, model, ids) -> np.ndarray:
    """The model's whole forward pass on the given samples, float64."""
    import torch

    with torch.inference_mode():
        return model(*workload.inputs(np.asarray(ids))).double().numpy()


def record() -> dict:
    import torch
    import torchvision

    workload, model = load_default()
    return {
        "how": "PYTHONPATH=. python -m tests.default_workload (fp32, CPU, torch.inference_mode)",
        "checkpoint": Path(workload.spec.checkpoint).name,
        "samples": list(SAMPLES),
        "predictions": [round(float(p), 7) for p in predict_samples(workload, model, SAMPLES)],
        "labels": [round(float(workload.data.ssim[i]), 7) for i in SAMPLES],
        "made_with": {"torch": torch.__version__, "torchvision": torchvision.__version__,
                      "machine": platform.machine(), "threads": torch.get_num_threads()},
    }


if __name__ == "__main__":
    from qpbench.files import write_text

    write_text(json.dumps(record(), indent=2) + "\n", FIXTURE)
    print(f"wrote {FIXTURE}")
