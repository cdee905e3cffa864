"""Point qpbench's suite at your model by overriding the ``qp_workload`` fixture."""

from pathlib import Path

import pytest

from qpbench.data.dataset import shipped_eval_path
from qpbench.workload import WorkloadSpec, load_workload, weights_path

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def qp_workload():
    return load_workload(
        WorkloadSpec(
            name="my-model",
            model_factory="my_model:build",  # importable: this folder is on sys.path
            checkpoint=str(weights_path("qp_compact.pt")),  # your state_dict here
            dataset=str(shipped_eval_path()),  # or your own labelled .npz
            input_size=64,
        )
    )
