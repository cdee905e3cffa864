"""Two variants timed against each other at batch 1, calls alternating (ABBA) in one process,
until the median ratio is precise: what tells a tie from a difference (verdict/scoring.py).

Each side runs on a thread pool: torch's OpenMP pool, ONNX Runtime's or OpenVINO's. A pool's
threads go on spinning after a call, and a call of the other pool started in that time shares
the cores with them. Where the two sides' pools differ, each call is followed, outside the
timed window, by a wait as long as its pool spins (``SETTLE_S``, paired.settled).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any

from qpbench.config import get_profile
from qpbench.measure.load_watch import measured_quietly
from qpbench.measure.paired import paired_until, settled
from qpbench.measure.stopping import rule_for
from qpbench.results import HeadToHeadResult, PairedResult
from qpbench.timing import time_calls

Runtime = Callable[[], AbstractContextManager]

# How long a pool's threads spin after a call, with a margin: the CPU time the process used
# during a sleep right after one call, on the 2-vCPU EPYC (family 25 model 17): torch's OpenMP
# pool 7.7-9.8 ms after a 2-thread 256x256 matmul, ONNX Runtime's 42 ms after a ResNet-50 int8
# call (its intra-op threads spin by default), OpenVINO's 1 ms. Without the wait, a head-to-head
# of onnx-int8 and openvino-int8 read openvino-int8 at 1.63x onnx-int8's time, where each alone
# read 10.6 and 12.6 ms.
SETTLE_S = {"torch": 0.02, "onnxruntime": 0.06, "openvino": 0.005}
SAME = "same"  # both sides on one pool: nothing to wait for


def settle_after(runtime: Runtime, pool: str, other_pool: str) -> Runtime:
    """``runtime`` followed by its pool's spin time when the other side runs on another pool."""
    return settled(runtime, SETTLE_S.get(pool, max(SETTLE_S.values()))) if pool != other_pool else runtime


def alternate(name: str, call: Callable[[], Any], runtime: Runtime, other_name: str, other_call: Callable[[], Any],
              other_runtime: Runtime, profile: str | dict[str, Any], pools: tuple[str, str] = (SAME, SAME),
              ) -> PairedResult:
    """ABBA pairs of ``call`` and ``other_call`` until the profile's paired rule stops them; where
    ``pools`` (each side's: "torch", "onnxruntime", "openvino") differ, each call waits for its
    pool to go idle before the other side's."""
    p = get_profile(profile)
    runtime = settle_after(runtime, pools[0], pools[1])
    other_runtime = settle_after(other_runtime, pools[1], pools[0])
    # The fastest of three calls estimates the cost of a pair: interference only ever adds time.
    with runtime():
        estimate = min(time_calls(call, 3))
    with other_runtime():
        estimate += min(time_calls(other_call, 3))
    result, load = measured_quietly(lambda: paired_until(
        name, call, runtime, other_name, other_call, other_runtime,
        batch_size=1, rule=rule_for("paired", p), pair_s=estimate, warmup=p.warmup_rounds))
    return replace(result, load=load)


def head_to_head(name: str, call: Callable[[], Any], runtime: Runtime, other_name: str,
                 other_call: Callable[[], Any], other_runtime: Runtime, profile: str | dict[str, Any],
                 pools: tuple[str, str] = (SAME, SAME)) -> HeadToHeadResult:
    r = alternate(name, call, runtime, other_name, other_call, other_runtime, profile, pools)
    return HeadToHeadResult(name, other_name, r.variant_s, r.reference_s, load=r.load, precision=r.precision)
