"""Which kernels a variant's heavy operators ran with, read from each runtime's own account.

- PyTorch on oneDNN (eager convolutions, Inductor / AOTInductor, PT2E int8): oneDNN's verbose
  log of one inference (``torch.backends.mkldnn.verbose``), parsed by ``parse_onednn_verbose``:
  every executed ``convolution`` / ``inner_product`` / ``matmul`` primitive, its data types and
  its implementation with the ISA (``brg_conv_fwd:avx512_core_vnni``).
- TorchScript int8 (FX): fbgemm's quantized operators print nothing, so the frozen graph's
  operator names are the evidence (``quantized::conv2d*`` is int8, ``aten::conv2d`` fp32), and
  the ISA is what fbgemm dispatches to on this CPU's flags (``parse_torchscript_graph``).
- OpenVINO: the compiled model's runtime model, per layer ``layerType``, ``runtimePrecision``
  and ``primitiveType`` (``brgconv_avx512_I8``) (``parse_openvino_layers``).
- ONNX Runtime: a profiled session's node events, operator type and execution provider
  (``QLinearConv`` / ``ConvInteger`` are int8, ``Conv`` / ``FusedConv`` fp32) (``parse_ort_profile``).

The parsers are pure (tests feed them recorded outputs); the collectors run one inference.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qpbench import peak
from qpbench.measure.isolation import MeasurementError
from qpbench.measure.model_ops import flops_per_image
from qpbench.results import KernelsResult
from qpbench.runtime.cpu_quota import usable_cpus
from qpbench.system import cpu_info

_PRECISION = {"u8": "int8", "s8": "int8", "i8": "int8", "uint8": "int8", "int8": "int8",
              "bf16": "bf16", "bfloat16": "bf16", "f16": "fp16", "fp16": "fp16", "float16": "fp16",
              "f32": "fp32", "fp32": "fp32", "float": "fp32", "float32": "fp32"}


def precision_of(name: str) -> str | None:
    """A runtime's data type name (``u8``, ``I8``, ``bf16``, ``float``) as one of qpbench's precisions."""
    return _PRECISION.get(name.strip().lower())


@dataclass
class KernelTally:
    """Heavy operators counted by family and precision, and the implementations seen."""

    conv: Counter[str] = field(default_factory=Counter)
    matmul: Counter[str] = field(default_factory=Counter)
    implementations: Counter[str] = field(default_factory=Counter)

    def add(self, family: str, precision: str, implementation: str = "") -> None:
        getattr(self, family)[precision] += 1
        if implementation:
            self.implementations[implementation] += 1

    def isa(self) -> str:
        """The ISA part of the most used implementation name (``avx512_core_vnni``)."""
        if not self.implementations:
            return ""
        top = self.implementations.most_common(1)[0][0]
        return top.split(":", 1)[1] if ":" in top else top


# --- oneDNN -------------------------------------------------------------------------------

_ONEDNN_FAMILY = {"convolution": "conv", "deconvolution": "conv", "inner_product": "matmul", "matmul": "matmul"}
_MD = re.compile(r"(?:^|\s)(src|wei)[:_]([a-z0-9]+)")


def parse_onednn_verbose(text: str) -> KernelTally:
    """Executed heavy primitives of a oneDNN verbose log (v1 ``primitive,exec`` lines and the
    older ``dnnl_verbose,exec`` ones). The weights' type decides the precision (u8 activations
    with s8 weights are int8; f32 activations into bf16 weights are bf16)."""
    tally = KernelTally()
    for line in text.splitlines():
        if not line.startswith(("onednn_verbose", "dnnl_verbose")):
            continue
        parts = line.split(",")
        try:
            at = parts.index("exec")
        except ValueError:
            continue
        if at + 5 >= len(parts) or parts[at + 1] != "cpu":
            continue
        family = _ONEDNN_FAMILY.get(parts[at + 2])
        if family is None:
            continue
        types = dict(_MD.findall(parts[at + 5]))
        precision = precision_of(types.get("wei", types.get("src", "")))
        if precision:
            tally.add(family, precision, parts[at + 3])
    return tally


@contextlib.contextmanager
def captured_stdout_fd() -> Iterator[list[str]]:
    """Everything written to file descriptor 1 (C code's stdout too) inside the block."""
    out: list[str] = []
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    libc.fflush(None)
    fd, path = tempfile.mkstemp(prefix="qpbench-verbose-")
    saved = os.dup(1)
    os.dup2(fd, 1)
    try:
        yield out
    finally:
        libc.fflush(None)
        os.dup2(saved, 1)
        os.close(saved)
        os.close(fd)
        out.append(Path(path).read_text(errors="replace"))
        os.unlink(path)


def onednn_verbose_of(call: Callable[[], Any]) -> str:
    """oneDNN's verbose log of one ``call`` (torch's oneDNN)."""
    import torch

    with captured_stdout_fd() as out, torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
        call()
    return out[0]


# --- TorchScript (fbgemm) -----------------------------------------------------------------

_TS_OPS = {"quantized::conv": ("conv", "int8"), "quantized::linear": ("matmul", "int8"),
           "aten::conv": ("conv", "fp32"), "aten::_convolution": ("conv", "fp32"),
           "aten::mkldnn_convolution": ("conv", "fp32"), "aten::linear": ("matmul", "fp32"),
           "aten::matmul": ("matmul", "fp32"), "aten::addmm": ("matmul", "fp32"), "aten::mm": ("matmul", "fp32")}
_TS_NODE = re.compile(r"=\s*((?:quantized|aten)::[a-z0-9_]+)\(")


def parse_torchscript_graph(graph_text: str, engine: str = "") -> KernelTally:
    """Heavy operators of a (frozen, inlined) TorchScript graph's text; ``engine`` (torch's
    quantized engine, e.g. ``x86``) names who runs the quantized ones."""
    tally = KernelTally()
    for op in _TS_NODE.findall(graph_text):
        for prefix, (family, precision) in _TS_OPS.items():
            if op.startswith(prefix):
                impl = f"{op}:{engine}" if precision == "int8" and engine else op
                tally.add(family, precision, impl)
                break
    return tally


# --- OpenVINO -----------------------------------------------------------------------------

_OV_FAMILY = {"Convolution": "conv", "GroupConvolution": "conv", "Deconvolution": "conv",
              "FullyConnected": "matmul", "MatMul": "matmul", "Gemm": "matmul"}


def parse_openvino_layers(layers: Iterable[Mapping[str, str]]) -> KernelTally:
    """OpenVINO runtime-model layers (``layerType``, ``runtimePrecision``, ``primitiveType``)."""
    tally = KernelTally()
    for layer in layers:
        family = _OV_FAMILY.get(layer.get("layerType", ""))
        precision = precision_of(layer.get("runtimePrecision", ""))
        if family and precision:
            primitive = layer.get("primitiveType", "")
            # "brgconv_avx512_I8": the kernel family and ISA, less the precision already counted
            tally.add(family, precision, re.sub(r"_(I8|U8|FP32|F32|BF16|f32|bf16)$", "", primitive))
    return tally


def openvino_layers(compiled: Any) -> list[dict[str, str]]:
    """The per-layer runtime info of an ``openvino.CompiledModel``."""
    layers = []
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        layers.append({key: info[key].astype(str) for key in ("layerType", "runtimePrecision", "primitiveType")
                       if key in info})
    return layers


# --- ONNX Runtime -------------------------------------------------------------------------

_ORT_OPS = {"QLinearConv": ("conv", "int8"), "ConvInteger": ("conv", "int8"), "Conv": ("conv", None),
            "FusedConv": ("conv", None), "NhwcFusedConv": ("conv", None), "ConvTranspose": ("conv", None),
            "QGemm": ("matmul", "int8"), "QLinearMatMul": ("matmul", "int8"), "MatMulInteger": ("matmul", "int8"),
            "MatMulIntegerToFloat": ("matmul", "int8"), "DynamicQuantizeMatMul": ("matmul", "int8"),
            "Gemm": ("matmul", None), "FusedGemm": ("matmul", None), "MatMul": ("matmul", None),
            "FusedMatMul": ("matmul", None)}


def parse_ort_profile(events: Iterable[Mapping[str, Any]]) -> tuple[KernelTally, set[str]]:
    """Node events of an ONNX Runtime profile (one inference) -> the tally and the execution
    providers that ran them. A float operator's precision is its first input's element type."""
    tally = KernelTally()
    providers: set[str] = set()
    for event in events:
        args = event.get("args") or {}
        if event.get("cat") != "Node" or not str(event.get("name", "")).endswith("_kernel_time"):
            continue
        op = args.get("op_name", "")
        if op not in _ORT_OPS:
            continue
        family, precision = _ORT_OPS[op]
        if precision is None:
            first = (args.get("input_type_shape") or [{}])[0]
            precision = precision_of(next(iter(first), "float")) or "fp32"
        provider = args.get("provider", "")
        providers.add(provider)
        tally.add(family, precision, f"{op}:{provider}" if provider else op)
    return tally, providers


def ort_profile(path: Path, threads: int | None, feeds: Mapping[str, Any], runs: int = 2) -> list[dict[str, Any]]:
    """Events of the last of ``runs`` inferences of a profiled session on the ``.onnx`` at ``path``
    (the settings OnnxRuntimeBackend uses)."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="qpbench-ortprof-") as tmp:
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.inter_op_num_threads = 1
        if threads:
            so.intra_op_num_threads = int(threads)
        so.enable_profiling = True
        so.profile_file_prefix = str(Path(tmp) / "profile")
        session = ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
        for _ in range(runs):
            session.run(None, dict(feeds))
        events = json.loads(Path(session.end_profiling()).read_text())
    # Keep the last run's node events: the model_run events split the runs.
    starts = [e["ts"] for e in events if e.get("name") == "model_run"]
    last = max(starts) if starts else 0
    return [e for e in events if e.get("ts", 0) >= last]


def require_heavy(tally: KernelTally, source: str) -> KernelTally:
    if not tally.conv and not tally.matmul:
        raise MeasurementError(f"{source} shows no convolution or matrix product: no kernel evidence")
    return tally


# --- collecting ---------------------------------------------------------------------------

def expected_precision(name: str, meta: Mapping[str, Any]) -> str:
    """The precision a variant claims for its convolutions: bf16 or int8 by its name or build,
    else fp32 (dynamic int8 quantizes Linear layers only: its convolutions are fp32 by design)."""
    if meta.get("precision") == "bf16" or "bf16" in name:
        return "bf16"
    if (meta.get("quantized") or "int8" in name) and not name.startswith("dynamic"):
        return "int8"
    return "fp32"


def module_weights_tally(module: Any, capability: str) -> KernelTally:
    """Conv and Linear modules by weight dtype: PyTorch's own (non-oneDNN) kernels print nothing."""
    import torch

    tally = KernelTally()
    families = ((torch.nn.modules.conv._ConvNd, "conv"), (torch.nn.Linear, "matmul"))
    for sub in module.modules() if isinstance(module, torch.nn.Module) else ():
        for cls, family in families:
            if isinstance(sub, cls) and isinstance(getattr(sub, "weight", None), torch.Tensor):
                tally.add(family, precision_of(str(sub.weight.dtype).removeprefix("torch.")) or "fp32",
                          f"aten:{capability.lower()}")
    return tally


def torch_tally(variant: Any, call: Callable[[], Any]) -> tuple[KernelTally, str, str]:
    """oneDNN's verbose log of one call; for TorchScript the graph's operators count (fbgemm
    runs the quantized Linear layers silently), for modules oneDNN never saw their weights."""
    import torch

    verbose = parse_onednn_verbose(onednn_verbose_of(call))
    module = variant.module
    graph = getattr(module, "inlined_graph", None)
    if graph is not None:
        tally = parse_torchscript_graph(str(graph), torch.backends.quantized.engine)
        if verbose.implementations:  # the ISA oneDNN's kernels named (x86 engine convolutions)
            tally.implementations = verbose.implementations
        return tally, "torchscript_graph+onednn_verbose", f"torch {torch.__version__}"
    if verbose.conv or verbose.matmul:
        return verbose, "onednn_verbose", f"torch {torch.__version__} (oneDNN)"
    capability = torch.backends.cpu.get_cpu_capability()
    return module_weights_tally(module, capability), "module_weights", f"torch {torch.__version__} (ATen {capability})"


def artifact_of(variant: Any, runner: Any) -> Path:
    """The variant's artifact file where the run published it (``meta["artifact"]``; the runner may
    still name the staging folder it was built in)."""
    return Path(variant.meta.get("artifact") or runner.path)


def collect_tally(variant: Any, example: tuple[Any, Any]) -> tuple[KernelTally, str, str]:
    """The tally, its source and the runtime that ran it, for a built variant after warm-up."""
    runtime = variant.meta.get("runtime")
    runner = getattr(variant.module, "runner", None)
    if runtime == "openvino" and runner is not None:
        import openvino

        tally = parse_openvino_layers(openvino_layers(runner.compiled))
        return tally, "openvino_runtime_model", f"openvino {openvino.__version__} CPU"
    if runtime == "onnxruntime" and runner is not None:
        import onnxruntime

        image, params = (t.detach().cpu().numpy() for t in example)
        tally, providers = parse_ort_profile(ort_profile(artifact_of(variant, runner), runner.threads,
                                                         {"image": image, "params": params}))
        return tally, "onnxruntime_profile", f"onnxruntime {onnxruntime.__version__} {'+'.join(sorted(providers))}"
    return torch_tally(variant, lambda: variant(*example))


# Measured in the variant's worker (qpbench/measure/handlers.py) -----------------------------------

_FLOPS: dict[tuple[str, int], float | None] = {}  # per workload and input size: counted once a run


def model_flops(workload: Any) -> float | None:
    key = (workload.name, workload.spec.input_size)
    if key not in _FLOPS:
        try:
            _FLOPS[key] = flops_per_image(workload.build_model(), workload.example_batch(1))
        except (RuntimeError, TypeError, ValueError, NotImplementedError):  # the counter cannot run it: no rate
            _FLOPS[key] = None
    return _FLOPS[key]


def machine_peak(precision: str, threads: int | None) -> peak.Peak | None:
    """The peak on the cores the variant runs on (its threads, at most the CPUs this process may use:
    the affinity capped by a container's CPU quota, whose throttling no thread count gets past)."""
    hz = peak.cpu_hz()
    cpus = usable_cpus()
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
