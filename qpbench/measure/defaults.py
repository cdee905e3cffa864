"""Fixed sizes and rules of the measurements (``MEASURE``): not user settings, so they live
beside the measuring code rather than in ``qpbench.config`` (a profile sets how long a
measurement runs; this, how it is taken).

Three of them are read by the verdict too (``verdict/scoring.py``, ``run/screening.py``): the screen's
margin, the LoadGen/latency agreement and the warm-up growth worth naming.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MeasureDefaults:
    """Fixed sizes of the measurements (the profile sets how long they run)."""

    # Fewer pairs give a bootstrap interval too wide to call anything: pairs are cheap
    # (two calls), so at least this many are timed whatever the profile's budget.
    min_pairs: int = 30
    # SSIM predictions in [0, 1]: a concurrent output further than this from the serial
    # one (anything above float32 rounding) is a wrong answer.
    concurrency_max_abs_diff: float = 1e-5
    # A speed figure out of line with the baseline is measured again in up to this many fresh
    # processes, and the run's figure is the median over its processes (suite/speed.py): one
    # process's thread placement or allocator state is not the model's speed.
    speed_reruns: int = 2
    concurrency_inputs: int = 8  # distinct inputs the concurrent requests cycle through
    memory_larger_batch: int = 8  # peak RSS is measured at batch 1 and at this batch
    loadgen_max_samples: int = 64  # LoadGen's performance sample set: inputs held in memory
    # Variant workers alive at once: each holds torch and a model (about 1 GB with the CUDA
    # build); tests run grouped by variant, so two cover the reference beside the variant.
    live_variant_workers: int = 2
    # Seconds a variant worker is given to exit when asked (measure/isolation.ServingWorker.close)
    # before it is killed: exiting, it frees what it made (an AOTInductor package's unpacked copy).
    worker_exit_grace_s: float = 10.0
    # The noise guard (measure/load_watch.py): a timing taken while other processes used more
    # than this many CPUs on average, or with more than this % of CPU time stolen by the
    # hypervisor, is measured again, at most load_repeats times, then kept and marked.
    load_others_cpu: float = 0.25
    load_steal_pct: float = 5.0
    load_repeats: int = 1
    # LoadGen's SingleStream p50 and the latency test's batch-1 p50 time the same call in the
    # same worker; further apart than this, the verdict says so.
    latency_story_tolerance: float = 0.10
    # RSS growth that stopped during a stress run is named in the verdict from this size up.
    warmup_growth_note_mb: float = 0.5
    # The screen (screening.py): with no variant left in the running, those scoring within this many
    # points of the best screen score are measured in full; a screened-out variant that ends within
    # this many points of the recommended one is named in the verdict.
    screen_margin_points: float = 10.0
    # Variant workers alive at once are also bounded by memory: each is counted at this many MiB
    # (torch's CUDA build and a ResNet-50), and at most half the available memory is used by them.
    variant_worker_mb: float = 1500.0
    # A batch-1 median's interval spans the medians of this many windows of its timing, so one
    # of the machine's levels (calls at 12, then 15 ms) cannot make it look precise.
    latency_windows: int = 3


MEASURE = MeasureDefaults()
