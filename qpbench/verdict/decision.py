"""Which ready variant is recommended: its speed confirmed by the runtime's own tool, a close
race called a tie, and a tie broken by a stated rule (a pure function of the results).

- **Confirmed speed.** A variant whose batch-1 figure still read slower than its runtime's own
  tool after being measured again (``ToolAgreementResult.call``, suite/kernels.py) is reported
  unconfirmed and is not recommended on speed; one whose harness reads faster than its tool is
  a broken comparison. Both are critical issues.
- **Ties.** Among the ready, confirmed variants, the fastest by batch-1 median is timed head to
  head against those within ``HEAD_TO_HEAD_WITHIN`` of it (suite/head_to_head.py). A
  variant whose head-to-head ratio's 95% interval reaches into [1 - TIE_BAND, 1 + TIE_BAND] is
  tied with it; one whose interval lies below that band is faster and takes its place.
- **The figure read.** A variant's batch-1 figure is its last batch-1 latency not taken under
  load (the noise guard's mark, measure/load_watch.py), else its last (``batch1_figures``): a
  figure measured again while another process took the CPU never replaces a clean one.
- **The rule that breaks a tie** (``TIE_RULE``): no torch needed at deployment, then the smaller
  artifact on disk, then the family order ``FAMILY_ORDER``, then the name. A measured time never
  breaks a tie: the head-to-head already said it cannot.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from qpbench.measure.load_watch import under_load
from qpbench.results import (
    HARNESS_FASTER,
    HARNESS_SLOWER,
    HeadToHeadResult,
    LatencyResult,
    Result,
    ToolAgreementResult,
    VariantInfo,
)

TORCH_FREE_RUNTIMES = ("openvino", "onnxruntime")  # runtime.backends.TORCH_FREE's keys
FAMILY_ORDER = ("openvino", "onnxruntime", "aoti", "torch")  # by meta["runtime"]; torch: none named
TIE_RULE = "no torch at deployment, then the smaller artifact, then the family order " + ", ".join(FAMILY_ORDER)
# The fastest ready variants are timed head to head (suite/head_to_head.py): those whose batch-1
# median is within this factor of the fastest one's, at most HEAD_TO_HEAD_MAX of them.
HEAD_TO_HEAD_WITHIN = 1.25
HEAD_TO_HEAD_MAX = 3
# Two variants are tied when the 95% interval of their head-to-head ratio reaches into
# [1 - TIE_BAND, 1 + TIE_BAND].
TIE_BAND = 0.03


@dataclass(frozen=True)
class Decision:
    recommended: str | None
    tied: tuple[str, ...] = ()  # the variants the head-to-head could not tell apart, the pick first
    lines: tuple[str, ...] = ()  # what the verdict says of the race (recommendations)


def batch1_figures(results: Iterable[Result]) -> dict[str, LatencyResult]:
    """Per variant, the batch-1 latency the verdict reads: the last one not taken under load, else
    the last. On the shared 2-vCPU EPYC a tool check measured onnx-int8 again while another process
    used 0.86 CPUs: 42.5 ms against 14.6 ms in the clean first timing, and the verdict had read it."""
    chosen: dict[str, LatencyResult] = {}
    for r in results:
        if isinstance(r, LatencyResult) and r.batch_size == 1:
            held = chosen.get(r.variant)
            if held is None or not under_load(r.load) or under_load(held.load):
                chosen[r.variant] = r
    return chosen


def figures_read(results: Iterable[Result]) -> list[Result]:
    """``results`` without the batch-1 latencies the verdict does not read (``batch1_figures``)."""
    results = list(results)
    read = {id(r) for r in batch1_figures(results).values()}
    return [r for r in results if not (isinstance(r, LatencyResult) and r.batch_size == 1 and id(r) not in read)]


def agreement_problems(results: Iterable[Result]) -> dict[str, str]:
    """Per variant, the critical issue its last tool-agreement check raised (none: absent)."""
    last = {r.variant: r for r in results if isinstance(r, ToolAgreementResult)}
    out = {}
    for name, r in last.items():
        low, high = r.ratio_interval
        figures = (f"{r.harness_ms:.2f} ms against {r.tool} {r.tool_ms:.2f} ms "
                   f"({r.ratio:.2f}x, 95% interval [{low:.2f}, {high:.2f}])")
        if r.call == HARNESS_SLOWER:
            again = " after measuring it again" if r.remeasured else ""
            out[name] = f"batch-1 speed unconfirmed: the harness read {figures}{again}; not recommended on speed"
        elif r.call == HARNESS_FASTER:
            out[name] = f"broken comparison with its tool: the harness read {figures}, faster than the tool itself"
    return out


def unconfirmed(problems: Mapping[str, str]) -> set[str]:
    return {name for name, issue in problems.items() if issue.startswith("batch-1 speed unconfirmed")}


def ratio_between(results: Iterable[Result], a: str, b: str) -> tuple[float, float, float] | None:
    """(median, low, high) of the head-to-head ratio a/b, from a result either way round."""
    found = None
    for r in results:
        if isinstance(r, HeadToHeadResult) and {r.variant, r.other} == {a, b}:
            found = r  # the last one measured
    if found is None:
        return None
    low, high = found.ratio_interval
    if found.variant == a:
        return found.ratio, low, high
    inv = (lambda x: 1.0 / x if x > 0 else math.inf)  # noqa: E731
    return inv(found.ratio), inv(high), inv(low)


def contenders(p50: Mapping[str, float | None], within: float | None = None, most: int | None = None) -> list[str]:
    """The fastest of the candidates (their batch-1 medians) first, then those within ``within``
    (``HEAD_TO_HEAD_WITHIN``) of it, fastest first, at most ``most``
    (``HEAD_TO_HEAD_MAX``) of them: the ones a head-to-head may find tied."""
    within = HEAD_TO_HEAD_WITHIN if within is None else within
    most = HEAD_TO_HEAD_MAX if most is None else most
    timed = sorted((v, n) for n, v in p50.items() if v is not None and math.isfinite(v))
    if not timed:
        return []
    fastest = timed[0][0]
    return [n for v, n in timed if v <= fastest * within][: most + 1]


def tie_key(name: str, infos: Mapping[str, VariantInfo]) -> tuple[bool, float, int, str]:
    info = infos.get(name)
    meta = info.meta if info is not None else {}
    runtime = meta.get("runtime") or "torch"
    family = FAMILY_ORDER.index(runtime) if runtime in FAMILY_ORDER else len(FAMILY_ORDER)
    size = info.artifact_bytes if info is not None and info.artifact_bytes else math.inf
    return runtime not in TORCH_FREE_RUNTIMES, size, family, name


def decide(ready_p50: Mapping[str, float | None], results: Sequence[Result], infos: Mapping[str, VariantInfo],
           band: float = TIE_BAND) -> Decision:
    """The recommended variant among the ready, confirmed ones (``ready_p50``: their batch-1
    medians), with the tie the head-to-head results call and how it was broken."""
    order = contenders(ready_p50, within=math.inf, most=len(ready_p50))
    if not order:
        return Decision(None)
    fastest, lines = order[0], []
    ratios = {n: ratio_between(results, n, fastest) for n in order[1:]}
    faster = sorted((r[0], n) for n, r in ratios.items() if r is not None and r[2] < 1.0 - band)
    if faster:  # the head-to-head saw a variant clearly faster than the one the medians put first
        lines.append(f"{faster[0][1]} is faster than {fastest} head to head ({faster[0][0]:.3f}x): "
                     "the separate batch-1 medians had them the other way round")
        fastest = faster[0][1]
        ratios = {n: ratio_between(results, n, fastest) for n in order if n != fastest}
    tied = [n for n, r in ratios.items() if r is not None and r[1] <= 1.0 + band and r[2] >= 1.0 - band]
    if not tied:
        return Decision(fastest, (), tuple(lines))
    group = sorted([fastest, *tied], key=lambda n: tie_key(n, infos))
    pick = group[0]
    shown = ", ".join(f"{n} {ratios[n][0]:.3f}x [{ratios[n][1]:.3f}, {ratios[n][2]:.3f}]" for n in tied)
    lines.append(f"tie: {', '.join(group)} cannot be told apart head to head (ratio to {fastest}: {shown}; "
                 f"a tie is an interval reaching into [{1 - band:.2f}, {1 + band:.2f}]); "
                 f"{pick} picked by the stated rule: {TIE_RULE}")
    return Decision(pick, tuple(group), tuple(lines))
