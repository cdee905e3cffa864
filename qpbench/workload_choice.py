"""The workload the options choose: a built-in one, or the user's model factory, as a WorkloadSpec."""

from __future__ import annotations

from qpbench.config import WorkloadChoice
from qpbench.workload import WorkloadSpec, builtin_spec


def resolve_spec(choice: WorkloadChoice) -> WorkloadSpec:
    """Options over the built-in workload's defaults; a model factory replaces the built-in model."""
    if choice.model_factory:
        from qpbench.data.dataset import shipped_eval_path

        return WorkloadSpec(
            name=choice.model_factory,
            model_factory=choice.model_factory,
            checkpoint=choice.checkpoint,
            dataset=choice.dataset or str(shipped_eval_path()),
            input_size=choice.input_size or 224,
        )
    spec = builtin_spec(choice.name)
    return WorkloadSpec(
        name=spec.name,
        model_factory=spec.model_factory,
        checkpoint=choice.checkpoint or spec.checkpoint,
        dataset=choice.dataset or spec.dataset,
        input_size=choice.input_size or spec.input_size,
    )
