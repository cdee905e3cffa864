"""Two variants timed against each other at batch 1, calls alternating (ABBA) in one process,
until the median ratio is precise: what tells a tie from a difference (scoring.py).

Where one side runs on torch and the other on a runtime with its own thread pool (ONNX Runtime,
OpenVINO), the runtime's call waits ``MEASURE.torch_settle_s`` after each torch call, outside
the timed window, so torch's spinning threads are idle when it starts (paired.settled).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any

from qpbench.config import MEASURE, get_profile
from qpbench.measure.load_watch import measured_quietly
from qpbench.measure.paired import paired_until, settled
from qpbench.measure.stopping import rule_for
from qpbench.results import HeadToHeadResult, PairedResult
from qpbench.timing import time_calls

Runtime = Callable[[], AbstractContextManager]


def settle_torch(runtime: Runtime, torch_side: bool, other_torch_free: bool) -> Runtime:
    """A torch side followed by a torch-free one waits for torch's threads to go idle."""
    return settled(runtime, MEASURE.torch_settle_s) if torch_side and other_torch_free else runtime


def alternate(name: str, call: Callable[[], Any], runtime: Runtime, other_name: str, other_call: Callable[[], Any],
              other_runtime: Runtime, profile: str | dict[str, Any], torch_free: tuple[bool, bool] = (True, True),
              ) -> PairedResult:
    """ABBA pairs of ``call`` and ``other_call`` until the profile's paired rule stops them, with
    torch's threads idle before a torch-free call (``torch_free``: of each side)."""
    p = get_profile(profile)
    runtime = settle_torch(runtime, not torch_free[0], torch_free[1])
    other_runtime = settle_torch(other_runtime, not torch_free[1], torch_free[0])
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
                 torch_free: tuple[bool, bool] = (True, True)) -> HeadToHeadResult:
    r = alternate(name, call, runtime, other_name, other_call, other_runtime, profile, torch_free)
    return HeadToHeadResult(name, other_name, r.variant_s, r.reference_s, load=r.load, precision=r.precision)
