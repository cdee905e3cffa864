"""Train the compact workload's model on CPU (``qpbench train-compact``).

Split by image, never by sample: the first 85% of images train, the rest are
held out (the shipped evaluation split is exactly that rest of the seed
dataset). One CNN pass per image is shared by its parameter sets; flips and
90-degree rotations augment the images.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qpbench.progress import enabled as progress_enabled


@dataclass(frozen=True)
class TrainDefaults:
    """``qpbench train-compact``."""

    out: str = "qp_compact.pt"
    epochs: int = 30
    seed: int = 0
    train_fraction: float = 0.85  # the first images train, the rest are held out


TRAIN = TrainDefaults()


def split_point(n_images: int) -> int:
    return int(n_images * TRAIN.train_fraction)


def train_compact(
    data_path: str | Path,
    out: str | Path,
    epochs: int = TRAIN.epochs,
    seed: int = TRAIN.seed,
    threads: int | None = None,
    progress: bool = True,
) -> dict[str, float]:
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm

    from qpbench import stats
    from qpbench.data.dataset import load_labelled
    from qpbench.models.compact import CompactQualityModel
    from qpbench.optimize.threads import thread_settings
    from qpbench.workload import preprocess

    data = load_labelled(data_path)
    cut = split_point(data.n_images)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    images = preprocess(data.images, 64)
    # Per image, the rows of its samples (padded by repeating: every image has 4 here).
    train_imgs = np.arange(cut)
    rows_of = [np.flatnonzero(data.img_idx == i) for i in range(data.n_images)]
    params = torch.from_numpy(data.params)
    labels = torch.from_numpy(data.ssim)

    model = CompactQualityModel()
    batch_images = 64
    steps = epochs * math.ceil(len(train_imgs) / batch_images)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    started = time.perf_counter()
    with thread_settings(threads), tqdm(total=steps, desc="train compact", disable=not progress) as bar:
        for _ in range(epochs):
            model.train()
            order = rng.permutation(train_imgs)  # a fresh shuffle each epoch
            for start in range(0, len(order), batch_images):
                chunk = order[start : start + batch_images]
                x = images[torch.from_numpy(chunk)]
                if rng.random() < 0.5:
                    x = torch.flip(x, dims=[3])
                x = torch.rot90(x, k=int(rng.integers(4)), dims=[2, 3])
                rows = np.concatenate([rows_of[i] for i in chunk])
                owner = np.concatenate([np.full(len(rows_of[i]), j) for j, i in enumerate(chunk)])
                feats = model.image_features(x)[torch.from_numpy(owner)]
                pred = model.predict_from_features(feats, params[rows])
                loss = F.mse_loss(pred, labels[rows])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.4f}")
        model.eval()
        held = np.flatnonzero(data.img_idx >= cut)
        with torch.inference_mode():
            pred = torch.cat([
                model(images[torch.from_numpy(data.img_idx[held[s : s + 512]])], params[held[s : s + 512]])
                for s in range(0, len(held), 512)
            ]).numpy()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    torch.save(model.state_dict(), tmp)
    tmp.replace(out)
    y = data.ssim[held]
    return {
        "train_images": float(cut),
        "heldout_samples": float(len(held)),
        "pearson": stats.pearson(pred, y),
        "mae": float(np.mean(np.abs(pred - y))),
        "minutes": (time.perf_counter() - started) / 60,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="labelled .npz (e.g. from `qpbench make-data`); the first "
                        f"{TRAIN.train_fraction * 100:.0f}%% of images train")
    parser.add_argument("--out", default=TRAIN.out, help=f"where the state_dict goes (default: {TRAIN.out})")
    parser.add_argument("--epochs", type=int, default=TRAIN.epochs, help=f"training epochs (default: {TRAIN.epochs})")
    parser.add_argument("--seed", type=int, default=TRAIN.seed, help=f"training seed (default: {TRAIN.seed})")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (default: torch's)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    report = train_compact(args.data, args.out, args.epochs, args.seed, args.threads,
                           not args.no_progress and progress_enabled())  # none under CI or in a log
    print(f"saved {args.out}")
    print("held-out: " + ", ".join(f"{k} {v:.4g}" for k, v in report.items()))
    return 0
