"""Typed measurement records. Units are in the field names; ``_mb`` is MiB (2**20 bytes).

Bench tests create these and hand them to the ``qp_record`` fixture; scoring
reads them. ``to_dict``/``result_from_dict`` are for the JSON edge only. The types
live in ``timing``, ``long_run`` and ``model``; every one is importable from here.
"""

from __future__ import annotations

import math
from dataclasses import asdict, fields
from typing import Any

from qpbench.variant_info import VariantInfo
from qpbench.results.long_run import (
    ConcurrencyResult, LoadGenResult, ServerSearchResult, StressResult, latency_trend,
)
from qpbench.results.model import (
    PRECISIONS, AccuracyResult, BatchSizeResult, FidelityResult, KernelsResult, MemoryResult, WorkerFailure,
)
from qpbench.results.timing import (
    AGREES, HARNESS_FASTER, HARNESS_SLOWER, HeadToHeadResult, LatencyResult, PairedResult, ThroughputResult,
    ToolAgreementResult,
)

__all__ = [
    "AGREES", "HARNESS_FASTER", "HARNESS_SLOWER", "PRECISIONS", "RESULT_TYPES", "AccuracyResult", "BatchSizeResult",
    "ConcurrencyResult", "FidelityResult", "HeadToHeadResult", "KernelsResult", "LatencyResult", "LoadGenResult",
    "MemoryResult", "PairedResult", "Result", "ServerSearchResult", "StressResult", "ThroughputResult",
    "ToolAgreementResult", "VariantInfo", "WorkerFailure", "jsonable", "latency_trend", "result_from_dict", "to_dict",
]


RESULT_TYPES = {
    cls.kind: cls
    for cls in (LatencyResult, ThroughputResult, MemoryResult, BatchSizeResult, AccuracyResult, FidelityResult, VariantInfo,
                PairedResult, StressResult, ConcurrencyResult, LoadGenResult, ServerSearchResult, WorkerFailure,
                KernelsResult, ToolAgreementResult, HeadToHeadResult)
}


Result = (LatencyResult | ThroughputResult | MemoryResult | BatchSizeResult | AccuracyResult | FidelityResult | VariantInfo
          | PairedResult | StressResult | ConcurrencyResult | LoadGenResult | ServerSearchResult | WorkerFailure
          | KernelsResult | ToolAgreementResult | HeadToHeadResult)


def jsonable(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None, tuples as lists: JSON has no NaN,
    and None reads back as "not available". Every record part is written through this."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def to_dict(result: Result) -> dict[str, Any]:
    data = {"kind": result.kind, **asdict(result)}
    if hasattr(result, "summary"):
        data["summary"] = result.summary()
    return jsonable(data)


def result_from_dict(data: dict[str, Any]) -> Result:
    try:
        cls = RESULT_TYPES[data["kind"]]
    except KeyError:
        raise ValueError(f"unknown result kind {data.get('kind')!r}") from None
    names = {f.name for f in fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in names}
    for key in ("pearson", "spearman", "correlation", "pearson_loss_rel", "max_abs_diff", "mean_abs_diff"):
        if key in kwargs and kwargs[key] is None:
            kwargs[key] = float("nan")
    for key in ("samples_s", "measured_batch_sizes", "variant_s", "reference_s", "other_s", "reruns", "latencies_s",
                "rss_mb", "probe_s", "heap_mb", "error_messages", "invalid_reasons", "tried_qps", "tried_valid",
                "implementations", "harness_interval_ms", "tool_interval_ms"):
        if kwargs.get(key) is not None:
            kwargs[key] = tuple(kwargs[key])
    return cls(**kwargs)

