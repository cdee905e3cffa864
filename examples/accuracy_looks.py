"""Accuracy until decided, counted on a real run's predictions (docs/evidence/accuracy-looks.md).

    python examples/accuracy_looks.py RESULTS_DIR [--orders 20]

RESULTS_DIR holds a run in which every variant's predictions reached the whole set, e.g.
``pytest bench/ -k "accuracy or fidelity" --qp-long-run=all --qp-results-dir=DIR``: they are
read back from the build cache (the same code must be checked out). Then, for each variant and
each of ``--orders`` seeded sample orders (seed 0 is the run's own), the looks are replayed
(measure/accuracy.py: ``decide``) and the call they make, on the samples they stopped at, is
set against the whole set's:

- clean: every variant as built; a look that calls a limit differently from the whole set is
  a false decision;
- planted: the fastest quantized variant's predictions with a fault added (noise, a bias, a
  scaled error) that the whole set rejects or accepts; each order's call is counted as a
  detection, a miss or a false alarm.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np

from qpbench.config import ScoringConfig
from qpbench.data.dataset import LabelledSet, load_labelled
from qpbench.deploy.record import eval_images
from qpbench.measure.accuracy import Limits, decide, losses, planned_looks
from qpbench.measure.predictions import predicted_samples, sample_order
from qpbench.run.predictions import limits_for
from qpbench.stats import CONFIDENCE
from qpbench.variants.build_cache import build_cache_dir
from qpbench.variants.cache_facts import load_predictions


def cached_whole_set(root: Path, key: str, data: LabelledSet, images: int | None, looks: tuple[int, ...]) -> np.ndarray | None:
    """A variant's predictions of the whole set in the run's order, joined from the stretches
    the run stored (each from one look's end to a later one's)."""
    parts, start = [], 0
    while start < looks[-1]:
        for stop in sorted((n for n in looks if n > start), reverse=True):
            values = load_predictions(root, key, predicted_samples(data, images, start, stop))
            if values is not None:
                parts.append(values)
                start = stop
                break
        else:
            return None
    return np.concatenate(parts)


def calls(pred: np.ndarray, ref: np.ndarray | None, labels: np.ndarray, limits: Limits) -> tuple[bool, ...]:
    """Whether each limit is met on these samples, by the figures the verdict and the rules read."""
    out = []
    if limits.pearson is not None:
        out.append(bool(np.corrcoef(pred, labels)[0, 1] >= limits.pearson))
    if ref is not None:
        loss, increase = losses(pred, ref, labels)
        out += [bool(loss <= x) for x in limits.fidelity_loss] + [bool(increase <= x) for x in limits.mae_increase]
    return tuple(out)


def replay(pred: np.ndarray, ref: np.ndarray | None, labels: np.ndarray, limits: Limits, orders: int) -> dict:
    """The looks over ``orders`` seeded orders: samples used, and calls that differ from the whole set's."""
    whole = calls(pred, ref, labels, limits)
    used, wrong = Counter(), 0
    looks = planned_looks(labels.size)
    for seed in range(orders):
        order = np.arange(labels.size) if seed == 0 else np.random.default_rng(seed).permutation(labels.size)
        p, r, y = pred[order], None if ref is None else ref[order], labels[order]
        decided = decide(lambda n: (p[:n], None if r is None else r[:n]), y, limits, CONFIDENCE, looks)
        used[decided.n_samples] += 1
        n = decided.n_samples
        if calls(p[:n], None if r is None else r[:n], y[:n], limits) != whole:
            wrong += 1
    return {"whole_set_calls": whole, "samples_used": dict(sorted(used.items())), "wrong_calls": wrong}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results_dir", type=Path)
    parser.add_argument("--orders", type=int, default=20)
    args = parser.parse_args()
    record = json.loads((args.results_dir / "latest.json").read_text())
    images = eval_images(record["eval_set"])
    full = load_labelled(record["workload"]["dataset"])
    data = full.first_images(images)
    order = sample_order(data.n_samples)
    labels = data.ssim.astype(np.float64)[order]  # the run's order: replay() permutes it further
    looks = planned_looks(data.n_samples)
    root = build_cache_dir(None)
    infos = {r["variant"]: r for r in record["results"] if r["kind"] == "variant" and not r.get("error")}
    preds = {}
    for name, info in infos.items():
        key = ((info.get("meta") or {}).get("build_cache") or {}).get("key")
        values = cached_whole_set(root, key, full, images, looks) if key else None
        if values is not None:
            preds[name] = values
    reference = "eager"
    scoring = ScoringConfig()
    print(f"{data.source}: {data.n_samples} samples, looks {looks}, {args.orders} orders each")
    print("clean:")
    for name, pred in preds.items():
        is_ref = name == reference
        limits = limits_for(scoring, infos[name].get("meta") or {}, is_ref)
        out = replay(pred, None if is_ref else preds[reference], labels, limits, args.orders)
        print(f"  {name:16s} samples used {out['samples_used']}  calls differing from the whole set: "
              f"{out['wrong_calls']}/{args.orders}")
    quantized = [n for n in preds if (infos[n].get("meta") or {}).get("quantized")]
    if not quantized:
        return
    base = quantized[0]
    limits = limits_for(scoring, infos[base].get("meta") or {}, False)
    ref, pred = preds[reference], preds[base]
    rng = np.random.default_rng(7)
    plants = {f"noise sd {s}": np.clip(pred + rng.normal(0, s, pred.size), 0, 1) for s in (0.01, 0.02, 0.04)}
    plants |= {f"bias +{b}": np.clip(pred + b, 0, 1) for b in (0.01,)}
    plants |= {f"error x{k}": np.clip(labels + (pred - labels) * k, 0, 1) for k in (1.05, 1.5)}
    print(f"planted on {base} (limits: fidelity loss {limits.fidelity_loss}, MAE increase {limits.mae_increase}):")
    for what, planted in plants.items():
        loss, increase = losses(planted, ref, labels)
        out = replay(planted, ref, labels, limits, args.orders)
        verdict = "rejected" if not all(out["whole_set_calls"]) else "accepted"
        print(f"  {what:14s} whole set: loss {loss:+.4f}, MAE {increase:+.1%} ({verdict}); samples used "
              f"{out['samples_used']}; calls differing from the whole set: {out['wrong_calls']}/{args.orders}")


if __name__ == "__main__":
    main()
