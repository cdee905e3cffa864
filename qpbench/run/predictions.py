"""Each variant's predictions on the evaluation samples, made once per run in its worker (or
reused from the build cache for the same build and samples), for the accuracy and fidelity tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


class Predictions:
    def __init__(self, engine: Callable[[], Any], workload: Callable[[], Any],
                 eval_images: Callable[[], int | None]) -> None:
        self._engine = engine
        self._workload = workload
        self.eval_images = eval_images  # how many images' samples (None: all), read when asked
        self._made: dict[str, np.ndarray] = {}
        self._cached: set[str] = set()

    def of(self, name: str) -> np.ndarray:
        """The variant's predictions, computed in its worker the first time they are asked for."""
        if name not in self._made:
            answer = self._engine().variant(name).request("predict", "accuracy", eval_images=self.eval_images())
            self._made[name] = np.asarray(answer["values"], dtype=np.float64)
            if answer.get("cached"):
                self._cached.add(name)
        return self._made[name]

    def cached(self, name: str) -> bool:
        """Whether the variant's predictions came from the build cache."""
        return name in self._cached

    def eval_data(self) -> Any:
        """The labelled samples the predictions are judged on."""
        return self._workload().data.first_images(self.eval_images())

    def eval_set(self) -> dict[str, Any]:
        """What the record and the journal say of the evaluation samples."""
        data = self.eval_data()
        return {"source": data.source, "n_samples": data.n_samples}
