"""A workload: everything about the model being judged.

How to build it (an importable factory), its checkpoint, the input size its
preprocessing produces and the labelled data it is judged on. A workload can be
rebuilt in a fresh process from its ``WorkloadSpec`` (plain strings), which is
how memory is measured in isolation.

Model contract: ``model(image, params) -> (N,)`` or ``(N, 1)`` predicted SSIM,
``image`` float (N, 3, S, S) ImageNet-normalised, ``params`` float (N, K).
"""

from __future__ import annotations

import importlib
import pickle
import warnings
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from qpbench.data.dataset import LabelledSet, load_labelled, shipped_eval_path
from qpbench.errors import WorkloadError
from qpbench.system import torch_version_problem


CUSTOM_INPUT_SIZE = 224  # a custom model's input side unless told (a built-in workload has its own)


@dataclass(frozen=True)
class WorkloadChoice:
    """Which workload to run: a built-in name, or a user's factory with its files."""

    name: str = "default"
    model_factory: str | None = None
    checkpoint: str | None = None
    dataset: str | None = None
    input_size: int | None = None

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def weights_path(name: str) -> Path:
    return Path(str(resources.files("qpbench.models") / "weights" / name))


@dataclass(frozen=True)
class WorkloadSpec:
    """Plain-data description of a workload; enough to rebuild it in another process."""

    name: str
    model_factory: str  # "package.module:callable"
    checkpoint: str | None
    dataset: str
    input_size: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "WorkloadSpec":
        return cls(**data)


BUILTIN_WORKLOADS: dict[str, Callable[[], WorkloadSpec]] = {
    # The deployment plan's model and its trained weights (weights/PROVENANCE.md).
    "default": lambda: WorkloadSpec(
        name="default",
        model_factory="qpbench.models.quality:build",
        checkpoint=str(weights_path("qp_resnet50_fp16.pt")),
        dataset=str(shipped_eval_path()),
        input_size=224,
    ),
    # The compact CNN: same task, about 1 ms a forward pass.
    "compact": lambda: WorkloadSpec(
        name="compact",
        model_factory="qpbench.models.compact:build",
        checkpoint=str(weights_path("qp_compact.pt")),
        dataset=str(shipped_eval_path()),
        input_size=64,
    ),
}


def builtin_spec(name: str) -> WorkloadSpec:
    try:
        return BUILTIN_WORKLOADS[name]()
    except KeyError:
        raise WorkloadError(
            f"unknown workload {name!r}: choose one of {sorted(BUILTIN_WORKLOADS)}, "
            "or give --qp-model-factory for your own model"
        ) from None


def import_object(path: str, what: str = "model factory") -> Any:
    """Import ``package.module:attr.attr``; raise WorkloadError naming the failing part."""
    module_name, sep, attr_path = path.partition(":")
    if not sep or not module_name or not attr_path:
        raise WorkloadError(f"{what} {path!r} must look like 'package.module:callable'")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:  # any import-time failure of user code
        raise WorkloadError(f"{what} {path!r}: cannot import module {module_name!r} ({exc!r})") from exc
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise WorkloadError(f"{what} {path!r}: module {module_name!r} has no attribute {attr_path!r}") from None
    if not callable(obj):
        raise WorkloadError(f"{what} {path!r} is not callable")
    return obj


def load_checkpoint(model: Any, path: str | Path) -> None:
    """Load a state_dict with ``weights_only=True`` into ``model``, casting to its dtype."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise WorkloadError(f"checkpoint {path} does not exist")
    problem = torch_version_problem(torch.__version__)
    if problem:
        warnings.warn(problem, RuntimeWarning, stacklevel=2)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise WorkloadError(
            f"checkpoint {path} cannot be loaded with weights_only=True ({str(exc).splitlines()[0]}); "
            "save a plain state_dict: torch.save(model.state_dict(), path)"
        ) from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise WorkloadError(f"checkpoint {path} is truncated or not a torch file ({exc})") from exc
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WorkloadError(
            f"checkpoint {path} is not a state_dict (got {type(state).__name__}); "
            "save model.state_dict(), not the model or a training checkpoint"
        )
    not_finite = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if not_finite:
        raise WorkloadError(f"checkpoint {path} holds NaN or inf in {len(not_finite)} tensor(s), first "
                            f"{not_finite[0]!r}: a diverged training run?")
    reference = model.state_dict()
    cast = {
        k: (v.to(reference[k].dtype) if k in reference and v.is_floating_point() else v)
        for k, v in state.items()
    }
    try:
        model.load_state_dict(cast, strict=True)
    except RuntimeError as exc:
        missing = sorted(set(reference) - set(state))[:5]
        unexpected = sorted(set(state) - set(reference))[:5]
        detail = f"missing keys {missing}, unexpected keys {unexpected}" if (missing or unexpected) else str(exc).splitlines()[1:3]
        raise WorkloadError(
            f"checkpoint {path} does not match the model's architecture: {detail}"
        ) from exc


@dataclass
class Workload:
    spec: WorkloadSpec
    factory: Callable[[], Any]
    data: LabelledSet
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    def build_model(self) -> Any:
        """A fresh fp32 model in eval mode with the checkpoint loaded."""
        import torch

        try:
            model = self.factory()
        except Exception as exc:
            raise WorkloadError(f"model factory {self.spec.model_factory!r} raised {exc!r}") from exc
        if not isinstance(model, torch.nn.Module):
            raise WorkloadError(
                f"model factory {self.spec.model_factory!r} returned {type(model).__name__}, not a torch.nn.Module"
            )
        if self.spec.checkpoint:
            load_checkpoint(model, self.spec.checkpoint)
        return model.float().eval()

    def preprocess(self, images: np.ndarray) -> Any:
        return preprocess(images, self.spec.input_size)

    def inputs(self, sample_ids: np.ndarray) -> tuple[Any, Any]:
        """(image, params) tensors for the given sample indices.

        Images are preprocessed per call: holding the whole set at 224x224 in
        float32 would cost 600 kB an image.
        """
        import torch

        ids = np.asarray(sample_ids)
        images = self.preprocess(self.data.images[self.data.img_idx[ids]])
        params = torch.from_numpy(np.ascontiguousarray(self.data.params[ids]))
        return images, params

    def example_batch(self, batch_size: int) -> tuple[Any, Any]:
        """A deterministic batch of real samples (wrapping around a small dataset)."""
        ids = np.arange(batch_size) % self.data.n_samples
        return self.inputs(ids)

    def calibration_batches(self, n_batches: int, batch_size: int) -> list[tuple[Any, Any]]:
        """Real samples for calibration, taken from the END of the dataset.

        Accuracy is judged on the first images, so calibration does not see
        them unless the profile evaluates the whole set (recorded by callers).
        """
        n = min(self.data.n_samples, n_batches * batch_size)
        ids = np.arange(self.data.n_samples - n, self.data.n_samples)
        return [self.inputs(ids[i : i + batch_size]) for i in range(0, n, batch_size)]

    def check_model(self) -> None:
        """Build the model once and run a batch of 2: fails early with a clear message."""
        import torch

        model = self.build_model()
        image, params = self.example_batch(2)
        try:
            with torch.inference_mode():
                out = model(image, params)
        except Exception as exc:
            raise WorkloadError(
                f"model from {self.spec.model_factory!r} failed on inputs image {tuple(image.shape)}, "
                f"params {tuple(params.shape)}: {exc!r}"
            ) from exc
        if out.numel() != 2:
            raise WorkloadError(
                f"model from {self.spec.model_factory!r} returned shape {tuple(out.shape)} for a batch of 2; "
                "it must return one predicted SSIM per sample"
            )


def preprocess(images: np.ndarray, size: int) -> Any:
    """uint8 NHWC RGB -> float /255 -> NCHW -> bilinear resize -> ImageNet normalisation.

    The same steps the shipped checkpoints were trained with (DATA.md).
    """
    import torch
    import torch.nn.functional as F

    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be uint8 (N, H, W, 3), got {images.dtype} {tuple(images.shape)}")
    out = []
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    for start in range(0, images.shape[0], 256):  # chunks keep the float copy small
        x = torch.from_numpy(images[start : start + 256]).permute(0, 3, 1, 2).float() / 255.0
        if x.shape[-1] != size or x.shape[-2] != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        out.append((x - mean) / std)
    return torch.cat(out).contiguous()


def load_workload(spec: WorkloadSpec, max_images: int | None = None) -> Workload:
    """Import the factory and load the dataset; the checkpoint loads in build_model()."""
    if spec.input_size <= 0:
        raise WorkloadError(f"input size must be a positive number of pixels, got {spec.input_size}")
    factory = import_object(spec.model_factory)
    data = load_labelled(spec.dataset).first_images(max_images)
    return Workload(spec=spec, factory=factory, data=data)


def resolve_spec(choice: WorkloadChoice) -> WorkloadSpec:
    """Options over the built-in workload's defaults; a model factory replaces the built-in model."""
    if choice.model_factory:
        return WorkloadSpec(
            name=choice.model_factory,
            model_factory=choice.model_factory,
            checkpoint=choice.checkpoint,
            dataset=choice.dataset or str(shipped_eval_path()),
            input_size=choice.input_size or CUSTOM_INPUT_SIZE,
        )
    spec = builtin_spec(choice.name)
    return WorkloadSpec(
        name=spec.name,
        model_factory=spec.model_factory,
        checkpoint=choice.checkpoint or spec.checkpoint,
        dataset=choice.dataset or spec.dataset,
        input_size=choice.input_size or spec.input_size,
    )
