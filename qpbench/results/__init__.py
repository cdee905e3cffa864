"""Typed measurement records. Units are in the field names; ``_mb`` is MiB (2**20 bytes).

Bench tests create these and hand them to the ``qp_record`` fixture; scoring
reads them; ``qpbench.schema.codec`` writes and reads them as JSON. The types
live in ``timing``, ``long_run`` and ``model``; every one is importable from here.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from qpbench.schema.shape import KindUnion
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
    "ToolAgreementResult", "VariantInfo", "WorkerFailure", "jsonable", "latency_trend",
]


RESULT_TYPES = {
    cls.kind: cls
    for cls in (LatencyResult, ThroughputResult, MemoryResult, BatchSizeResult, AccuracyResult, FidelityResult, VariantInfo,
                PairedResult, StressResult, ConcurrencyResult, LoadGenResult, ServerSearchResult, WorkerFailure,
                KernelsResult, ToolAgreementResult, HeadToHeadResult)
}


# Any one result, told apart by its kind when read (qpbench.schema.codec.load(Result, data)).
Result = Annotated[LatencyResult | ThroughputResult | MemoryResult | BatchSizeResult | AccuracyResult | FidelityResult
                   | VariantInfo | PairedResult | StressResult | ConcurrencyResult | LoadGenResult | ServerSearchResult
                   | WorkerFailure | KernelsResult | ToolAgreementResult | HeadToHeadResult, KindUnion()]


def jsonable(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None, tuples as lists: JSON has no NaN,
    and None reads back as "not available". The journal writes its entries through this (record
    types are written by qpbench.schema.codec)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value
