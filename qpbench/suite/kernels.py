"""Which kernels each variant's heavy operators ran with, and how the harness agrees with the
runtime's own tool on the same artifact (see qpbench/measure/kernels.py, agreement.py)."""

from __future__ import annotations

import os
from typing import Any

import pytest
import torch

from qpbench import peak
from qpbench.measure.agreement import (benchmark_app_path, versus_bare_module, versus_bare_session,
                                       versus_benchmark_app)
from qpbench.measure.isolation import MeasurementError
from qpbench.measure.kernels import collect_tally, expected_precision, require_heavy
from qpbench.measure.model_ops import flops_per_image
from qpbench.results import KernelsResult
from qpbench.system import cpu_info


_FLOPS: dict[tuple[str, int], float | None] = {}  # per workload and input size: counted once a run


def _flops(workload: Any) -> float | None:
    key = (workload.name, workload.spec.input_size)
    if key not in _FLOPS:
        try:
            _FLOPS[key] = flops_per_image(workload.build_model(), workload.example_batch(1))
        except (RuntimeError, TypeError, ValueError, NotImplementedError):  # the counter cannot run it: no rate
            _FLOPS[key] = None
    return _FLOPS[key]


def machine_peak(precision: str, threads: int | None) -> peak.Peak | None:
    """The peak on the cores the variant runs on (its threads, at most the CPUs this process may use)."""
    hz = peak.cpu_hz()
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if hz is None:
        return None
    return peak.peak_for(precision, cpu_info()["isa"], min(threads or cpus, cpus), hz)


def kernels_result(variant: Any, example: tuple[Any, Any], flops: float | None) -> KernelsResult:
    with variant.runtime():
        variant(*example)  # warm: first calls pick and cache kernels
        tally, source, provider = collect_tally(variant, example)
    require_heavy(tally, source)
    expected = expected_precision(variant.name, variant.meta)
    top = peak.peak_for(expected, cpu_info()["isa"], 1, 1.0).unit
    isa = tally.isa()
    if source == "onnxruntime_profile":  # MLAS names no kernel: say what the CPU offers it
        isa = f"MLAS, CPU has {top}"
    machine = machine_peak(expected, variant.threads)
    return KernelsResult(
        variant=variant.name, source=source, expected=expected, conv=dict(tally.conv), matmul=dict(tally.matmul),
        implementations=tuple(f"{name} x{n}" for name, n in tally.implementations.most_common()), isa=isa,
        provider=provider, flops_per_image=flops, peak_ops_per_s=machine.ops_per_s if machine else None,
        note=f"peak from {machine.unit}: {machine.cores} cores x {machine.hz / 1e9:.2f} GHz x "
             f"{machine.ops_per_cycle} ops/cycle" if machine else "peak unknown: no CPU frequency")


def test_kernels(qp_variant, qp_workload, qp_record):
    try:
        result = kernels_result(qp_variant, qp_workload.example_batch(1), _flops(qp_workload))
    except MeasurementError as exc:
        pytest.skip(str(exc))
    qp_record(result)
    assert result.fallback_convs == 0, (
        f"silent fallback: {result.fallback_convs} of {result.conv_total} convolutions in fp32 "
        f"in a variant that claims {result.expected}")


def test_tool_agreement(qp_variant, qp_workload, qp_record):
    """OpenVINO variants beside benchmark_app, ONNX Runtime ones beside a bare session loop,
    PyTorch ones beside their module called bare: the harness must add nothing to a call."""
    runtime = qp_variant.meta.get("runtime")
    runner = getattr(qp_variant.module, "runner", None)
    image, params = qp_workload.example_batch(1)
    call = lambda: qp_variant(image, params)  # what test_latency times
    with qp_variant.runtime():
        if runtime == "openvino" and runner is not None:
            if getattr(runner, "hint", "LATENCY") != "LATENCY":
                pytest.skip("benchmark_app is compared at batch 1 with the latency hint only")
            if benchmark_app_path() is None:
                pytest.skip("benchmark_app is not installed (pip install openvino)")
            result = versus_benchmark_app(qp_variant.name, call, str(runner.path), runner.threads, runner.precision,
                                          tuple(image.shape), int(params.shape[1]))
        elif runtime == "onnxruntime" and runner is not None:
            feeds = {"image": image.numpy(), "params": params.numpy()}
            result = versus_bare_session(qp_variant.name, call, runner.session, feeds)
        else:
            if qp_variant.channels_last:
                image = image.contiguous(memory_format=torch.channels_last)
            result = versus_bare_module(qp_variant.name, call, qp_variant.module, (image, params))
    qp_record(result)
