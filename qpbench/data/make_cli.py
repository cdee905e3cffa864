"""``qpbench make-data``: generate a labelled dataset with the project's own pipeline.

Mounted as a sub-command by the main CLI (``add_arguments`` + ``run``), and
runnable on its own: ``python -m qpbench.data.make_cli --images 8``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from qpbench.options.argparse_help import positive_int_arg
from qpbench.data.pipeline import MAKE_DATA
from qpbench.progress import enabled as progress_enabled

__all__ = ["add_arguments", "run", "main", "summarize"]

_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the make-data command."""
    d = MAKE_DATA
    parser.add_argument("--images", type=positive_int_arg("--images"), default=d.images, metavar="N",
                        help=f"number of logo images (default: {d.images})")
    parser.add_argument("--params-per-image", type=positive_int_arg("--params-per-image"), default=d.params_per_image,
                        metavar="K", help=f"vtracer parameter sets per image (default: {d.params_per_image})")
    parser.add_argument("--seed", type=int, default=d.seed, help=f"dataset seed; same seed, same data (default: {d.seed})")
    parser.add_argument("--size", type=int, default=d.size,
                        help=f"image side in pixels, as the shipped model's data (default: {d.size})")
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=None,
        help="output/cache directory (default $QPBENCH_CACHE_DIR or ~/.cache/qpbench/data)",
    )
    parser.add_argument("--workers", type=positive_int_arg("--workers"), default=d.workers,
                        help=f"worker processes; results do not depend on it (default: {d.workers})")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def summarize(path: Path) -> str:
    """One-paragraph summary of a dataset file: sizes and SSIM quantiles."""
    with np.load(path, allow_pickle=False) as data:
        ssim = data["ssim"].astype(np.float64)
        n_images = int(data["images"].shape[0])
        binary_share = float(np.mean(data["p_colormode"] == "binary"))
    quantiles = np.quantile(ssim, _QUANTILES)
    q_text = ", ".join(f"{int(q * 100)}% {v:.2f}" for q, v in zip(_QUANTILES, quantiles))
    return (
        f"samples: {ssim.size} ({n_images} images), binary colormode {binary_share:.0%}\n"
        f"SSIM quantiles: {q_text}"
    )


def run(args: argparse.Namespace) -> int:
    """Make (or reuse) the dataset, print its path and summary; exit code 0."""
    # Lazy: pulls in the data extra only when the command runs.
    from qpbench.data.pipeline import dataset_filename, default_cache_dir, make_dataset

    out_dir = args.out_dir if args.out_dir is not None else default_cache_dir()
    was_cached = (Path(out_dir) / dataset_filename(args.images, args.params_per_image, args.seed, args.size)).exists()
    start = time.perf_counter()
    path = make_dataset(
        n_images=args.images,
        params_per_image=args.params_per_image,
        seed=args.seed,
        size=args.size,
        cache_dir=out_dir,
        progress=not args.no_progress and progress_enabled(),  # none under CI or in a log
        workers=args.workers,
    )
    elapsed = time.perf_counter() - start
    print(path)
    print(summarize(path))
    source = "reused the cached file" if was_cached else f"generated with {args.workers} worker(s)"
    print(f"{source} in {elapsed:.1f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qpbench make-data", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
