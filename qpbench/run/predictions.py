"""Each variant's predictions on the evaluation samples, made in its worker as far as its
accuracy needs them (measure/accuracy.py: ``decide``) and kept for the run; the build cache
keeps each stretch of them for the same build, samples and code."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from qpbench.config import ScoringConfig
from qpbench.measure.accuracy import Decision, Limits, decide, planned_looks
from qpbench.measure.predictions import sample_order
from qpbench.stats import CONFIDENCE


def limits_for(scoring: ScoringConfig, meta: Mapping[str, Any], is_reference: bool) -> Limits:
    """What a variant's accuracy is judged against in this run: the Pearson target; against the
    reference, the fidelity target, and the quantization rule (a quantized variant) or the bf16
    rule (a bf16 one)."""
    if is_reference:
        return Limits(pearson=scoring.targets.pearson)
    loss = [scoring.targets.fidelity_loss] if scoring.targets.fidelity_loss is not None else []
    increase = []
    if meta.get("quantized"):
        loss.append(scoring.quant.max_corr_loss)
        increase.append(scoring.quant.max_mae_increase)
    if meta.get("precision") == "bf16":
        loss.append(scoring.quant.max_bf16_fidelity_loss)
    return Limits(scoring.targets.pearson, tuple(sorted(set(loss))), tuple(increase))


class Predictions:
    def __init__(self, engine: Callable[[], Any], workload: Callable[[], Any],
                 eval_images: Callable[[], int | None], scoring: Callable[[], ScoringConfig],
                 reference: str) -> None:
        self._engine = engine
        self._workload = workload
        self.eval_images = eval_images  # how many images' samples (None: all), read when asked
        self._scoring = scoring
        self.reference = reference
        self._made: dict[str, np.ndarray] = {}  # each variant's predictions so far, in the sample order
        self._fresh: set[str] = set()  # variants whose predictions were made (not all from the cache)
        self._decided: dict[str, Decision] = {}

    def first(self, name: str, n: int) -> np.ndarray:
        """The variant's predictions of the first ``n`` samples in the order, the missing ones
        made in its worker now."""
        have = self._made.get(name, np.empty(0))
        if have.size < n:
            answer = self._engine().variant(name).request(
                "predict", "accuracy", eval_images=self.eval_images(), start=int(have.size), stop=int(n))
            have = np.concatenate([have, np.asarray(answer["values"], dtype=np.float64)])
            self._made[name] = have
            if not answer.get("cached"):
                self._fresh.add(name)
        return have[:n]

    def cached(self, name: str) -> bool:
        """Whether all of the variant's predictions came from the build cache."""
        return name in self._made and name not in self._fresh

    def decide(self, name: str) -> Decision:
        """How many samples the variant's accuracy takes: looks in turn until one decides
        (measure/accuracy.py); made once per run."""
        if name not in self._decided:
            is_ref = name == self.reference
            meta = ((self._engine().variant(name).built or {}).get("info") or {}).get("meta") or {}
            limits = limits_for(self._scoring(), meta, is_ref)

            def predict(n: int) -> tuple[np.ndarray, np.ndarray | None]:
                return self.first(name, n), None if is_ref else self.first(self.reference, n)

            self._decided[name] = decide(predict, self.labels(), limits, CONFIDENCE, self.looks())
        return self._decided[name]

    def whole_set(self, name: str) -> Decision:
        """The variant judged on the whole set (the recommended one is): its decision, extended."""
        decided = self.decide(name)
        n = self.looks()[-1]
        if decided.n_samples == n:
            return decided
        self.first(name, n)
        return Decision(n, n, len(self.looks()), len(self.looks()))

    def looks(self) -> tuple[int, ...]:
        return planned_looks(self._eval_set().n_samples)

    def labels(self) -> np.ndarray:
        """The labels in the sample order."""
        data = self._eval_set()
        return data.ssim.astype(np.float64)[sample_order(data.n_samples)]

    def eval_data(self, n: int | None = None) -> Any:
        """The labelled samples the predictions are judged on: the first ``n`` in the order (all
        when None)."""
        data = self._eval_set()
        n = data.n_samples if n is None else n
        note = f"{n} of {data.n_samples} samples in a seeded order" if n < data.n_samples else None
        return data.samples(sample_order(data.n_samples)[:n], note)

    def _eval_set(self) -> Any:
        return self._workload().data.first_images(self.eval_images())

    def eval_set(self) -> dict[str, Any]:
        """What the record and the journal say of the evaluation samples."""
        data = self._eval_set()
        return {"source": data.source, "n_samples": data.n_samples, "looks": list(self.looks())}
