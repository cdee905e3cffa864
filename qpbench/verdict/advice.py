"""What the verdict says beyond its figures: the critical issues, and the recommendations (the
targets missed and by how much, the calls too close to make, the figures taken under load, the
long runs' findings), each a plain sentence from the variants' verdicts and the results."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from qpbench.config import ScoringConfig, Targets
from qpbench.measure.defaults import MEASURE
from qpbench.criteria import CRITERIA
from qpbench.measure.load_watch import under_load
from qpbench.results import LatencyResult, LoadGenResult, MemoryResult, Result, StressResult
from qpbench.stats import samples_to_bound
from qpbench.verdict import VariantVerdict


def fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def critical_issues(verdicts: list[VariantVerdict], errors: Mapping[str, list[str]]) -> list[str]:
    issues = [f"{name}: {msg}" for name, msgs in errors.items() for msg in msgs]
    if not verdicts:
        return ["no variant was measured"]
    if not any(v.ready for v in verdicts):
        issues.insert(0, "no variant is ready for deployment: every variant fails a hard gate")
    by_reason: dict[str, list[str]] = defaultdict(list)
    for v in verdicts:
        for c in v.criteria:
            if c.hard_gate and c.passed is False:
                by_reason[c.name].append(f"{v.variant} {fmt(c.value)}")
    for name, where in by_reason.items():
        crit = CRITERIA[name]
        sign = ">=" if crit.higher_is_better else "<="
        target = next(c.target for c in verdicts[0].criteria if c.name == name)
        issues.append(f"{crit.description} misses the target {sign} {fmt(target)} {crit.unit}".rstrip() + f": {', '.join(where)}")
    return issues


def recommendations(verdicts: list[VariantVerdict], results: list[Result], config: ScoringConfig,
                    screened_out: Mapping[str, str] | None = None, recommended: str | None = None,
                    basis: tuple[str, ...] = ()) -> list[str]:
    out: list[str] = []
    best = {name: min((v.criterion(name).value for v in verdicts if v.criterion(name).value is not None),
                      default=None) for name in ("latency_p95_ms", "peak_rss_mb")}
    t = config.targets
    if best["latency_p95_ms"] is not None and best["latency_p95_ms"] > t.latency_p95_ms:
        factor = best["latency_p95_ms"] / t.latency_p95_ms
        out.append(
            f"The fastest variant's batch-1 p95 is {factor:.1f}x the {t.latency_p95_ms:g} ms target: "
            "this model needs fewer operations per image (int8 quantization, a smaller backbone or input) "
            "or more cores than this machine has."
        )
    memory = [r for r in results if isinstance(r, MemoryResult) and r.batch_size == 1]
    if best["peak_rss_mb"] is not None and best["peak_rss_mb"] > t.peak_rss_mb and memory:
        lowest = min(memory, key=lambda r: r.peak_rss_mb)
        out.append(
            f"Peak RSS {lowest.peak_rss_mb:.0f} MB exceeds {t.peak_rss_mb:g} MB, of which {lowest.baseline_rss_mb:.0f} MB "
            f"is the process after imports (torch {lowest.torch_build}) and {lowest.increment_mb:.0f} MB the model: "
            "serve with a CPU-only torch build, or from a runtime that does not load torch."
        )
    for v in verdicts:
        sp = v.speedup_vs_reference
        if sp is not None and sp < 1.0 and v.ready is False and v.criterion("latency_p95_ms").value is not None:
            out.append(f"{v.variant} is not faster than the reference at batch 1 ({sp:.2f}x in this run): "
                       "its optimizations do not pay off on this model and machine.")
    out += long_run_advice(verdicts, config)
    out += screen_advice(verdicts, screened_out or {}, recommended, basis)
    out += under_load_advice(results)
    out += too_close_to_call(verdicts)
    out += not_bounded(verdicts)
    out += latency_story(results)
    out += warmup_growth_advice(results, config.targets)
    if not out and any(v.ready for v in verdicts):
        out.append("All hard gates pass; save this run as a baseline and gate CI on its score.")
    return out


def screen_advice(verdicts: list[VariantVerdict], screened_out: Mapping[str, str],
                  recommended: str | None, basis: tuple[str, ...] = ()) -> list[str]:
    """A variant the screen left out that ends within the margin of the recommended one's score:
    it was not measured in full, so say so and how to measure it. Not where the scores rest on a
    basis (``basis``, verdict/scoring.py): there a screened variant's score is what its long runs
    would leave it, and the screened-out list already says how to measure it."""
    rec = next((v for v in verdicts if v.variant == recommended), None)
    if rec is None or not screened_out or basis:
        return []
    return [f"{v.variant} was measured only in the screen ({screened_out[v.variant]}) yet scores {v.score:.0f}, "
            f"within {MEASURE.screen_margin_points:g} points of the recommended {rec.variant}'s {rec.score:.0f}: "
            f"--qp-long-run={v.variant} measures it in full."
            for v in verdicts if v.variant in screened_out and v.score >= rec.score - MEASURE.screen_margin_points]


def too_close_to_call(verdicts: list[VariantVerdict]) -> list[str]:
    """Hard gates whose 95% interval contains the target: called on the point estimate, which
    another run could put on the other side."""
    close = [f"{v.variant} {c.name} {fmt(c.value)} [{fmt(c.interval[0])}, {fmt(c.interval[1])}] against "
             f"{fmt(c.target)}{c.unit and ' ' + c.unit} ({'met' if c.passed else 'missed'} on the estimate)"
             for v in verdicts for c in v.criteria if c.hard_gate and c.inconclusive and c.interval is not None]
    if not close:
        return []
    return [f"Too close to call (the 95% interval contains the target): {'; '.join(close)}. The verdict uses the "
            "estimate; --qp-profile=full measures longer and may decide it."]


def not_bounded(verdicts: list[VariantVerdict]) -> list[str]:
    """Hard gates passing on the estimate whose samples are too few to bound the interval's far end."""
    few = [f"{v.variant} {c.name} {fmt(c.value)}" for v in verdicts for c in v.criteria if c.hard_gate and c.unbounded]
    if not few:
        return []
    return [f"Not enough samples to bound it: {'; '.join(few)} (a p95 needs at least "
            f"{samples_to_bound(0.95)} calls for a 95% interval); the verdict uses the estimate."]


def under_load_advice(results: list[Result]) -> list[str]:
    """The noise guard's marks: figures that stayed under load after being measured again."""
    marked = []
    for r in results:
        load = getattr(r, "load", None)
        if under_load(load):
            what = f"{r.variant} {r.kind}" + (f" b{r.batch_size}" if r.kind == "latency" else "")
            marked.append(f"{what} (others {load['others_cpu']:.2f} CPU, steal {load['steal_pct']:.0f}%)")
    if not marked:
        return []
    return [f"Taken under load, after a second try: {', '.join(marked)}. Other processes shared the CPU while "
            "these figures were timed; rerun on a quiet machine before trusting them."]


def warmup_growth_advice(results: list[Result], targets: Targets) -> list[str]:
    """RSS that grew early in the stress run and then stopped: its size, said as what it is."""
    grew = [f"{r.variant} {r.warmup_growth_mb:.1f} MB in the first {r.settled_from} inferences"
            for r in results if isinstance(r, StressResult) and r.leak_mb_per_1k <= targets.leak_mb_per_1k
            and r.warmup_growth_mb >= MEASURE.warmup_growth_note_mb]
    if not grew:
        return []
    return [f"RSS grew and then stayed flat ({', '.join(grew)}): warm-up growth of allocator and runtime "
            "arenas, not a leak; count it in the memory budget."]


def latency_story(results: list[Result]) -> list[str]:
    """LoadGen's SingleStream p50 and the latency test's batch-1 p50 time the same call in the same
    worker: where they differ by more than ``MEASURE``'s tolerance, say so rather than let two tables
    disagree silently."""
    single = {r.variant: r.latency_ms.get("p50") for r in results
              if isinstance(r, LoadGenResult) and r.scenario == "SingleStream"}
    direct = {r.variant: r.per_batch_ms["p50"] for r in results if isinstance(r, LatencyResult) and r.batch_size == 1}
    apart = [f"{v} {single[v]:.2f} vs {direct[v]:.2f} ms" for v in single
             if single[v] and direct.get(v) and abs(single[v] / direct[v] - 1) > MEASURE.latency_story_tolerance]
    if not apart:
        return []
    return [f"LoadGen SingleStream p50 and the latency test's batch-1 p50 differ by more than "
            f"{MEASURE.latency_story_tolerance:.0%} ({', '.join(apart)}): LoadGen adds its own issue and completion "
            "path per query; trust the latency test for the model's time and LoadGen for a served request's."]


def long_run_advice(verdicts: list[VariantVerdict], config: ScoringConfig) -> list[str]:
    """What a flagged leak, slowdown, concurrency fault or low Server QPS means for a deployment."""
    t = config.targets
    flagged: dict[str, list[str]] = defaultdict(list)
    in_doubt: dict[str, list[str]] = defaultdict(list)  # a leak or slowdown whose interval holds the target
    for v in verdicts:
        for name in ("leak_mb_per_1k", "slowdown_pct", "concurrency_faults", "server_qps"):
            c = v.criterion(name)
            if c.passed is False and name in ("leak_mb_per_1k", "slowdown_pct") and c.inconclusive \
                    and c.interval is not None:
                in_doubt[name].append(f"{v.variant} {fmt(c.value)} [{fmt(c.interval[0])}, {fmt(c.interval[1])}]")
            elif c.passed is False:
                flagged[name].append(f"{v.variant} {fmt(c.value)}")
    out = []
    if flagged["leak_mb_per_1k"]:
        out.append(f"RSS grows significantly, above {t.leak_mb_per_1k:g} MB per 1000 inferences "
                   f"({', '.join(flagged['leak_mb_per_1k'])}): something keeps references to inputs or outputs; "
                   "a long-running server will run out of memory.")
    if in_doubt["leak_mb_per_1k"]:
        out.append(f"RSS still grew at the end of the stress run, by an estimate above {t.leak_mb_per_1k:g} MB per "
                   f"1000 inferences whose 95% interval holds the target ({', '.join(in_doubt['leak_mb_per_1k'])}): "
                   "too close to call between a leak and a runtime's arena still warming up; --qp-profile=full runs "
                   "longer and may decide it.")
    if flagged["slowdown_pct"]:
        out.append(f"Latency rises significantly over the extended run, by more than {t.slowdown_pct:g}% "
                   f"({', '.join(flagged['slowdown_pct'])}): look for growing state or caches, or a noisy machine.")
    if in_doubt["slowdown_pct"]:
        out.append(f"Latency still rose over the extended run, by an estimate above {t.slowdown_pct:g}% whose 95% "
                   f"interval holds the target ({', '.join(in_doubt['slowdown_pct'])}): too close to call between "
                   "the model slowing down and the machine's speed wandering; --qp-profile=full runs longer and may "
                   "decide it.")
    if flagged["concurrency_faults"]:
        out.append(f"Requests fail or disagree with serial outputs under concurrency ({', '.join(flagged['concurrency_faults'])}): "
                   "serve these variants from one thread per process.")
    if flagged["server_qps"]:
        out.append(f"In the Server scenario no variant keeps p99 within {t.server_p99_ms:g} ms at {t.server_qps:g} QPS "
                   f"({', '.join(flagged['server_qps'])}): add replicas or cores, or relax the latency bound."
                   if len(flagged["server_qps"]) == len(verdicts) else
                   f"Below {t.server_qps:g} QPS at p99 <= {t.server_p99_ms:g} ms in the Server scenario: "
                   f"{', '.join(flagged['server_qps'])}.")
    return out
