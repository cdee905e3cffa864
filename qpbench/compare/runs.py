"""Compare a run with a baseline: per variant and metric, the change, a confidence
interval where raw samples exist, and a verdict.

Pure: two run records (``RunRecord``) in, a ``Comparison`` out.

Noise on a shared machine is handled three ways:

- speed is judged first on ratios measured in the same run (each variant
  against the eager reference, and the reference against the machine-speed
  probe, interleaved A/B: ``PairedResult``), so drift of the machine between
  runs cancels and a whole-model slowdown still shows;
- absolute times are compared only when the machines' fingerprints match
  (or when asked), and the reasons are given when they do not;
- a metric with raw samples is judged by a bootstrap interval of the change
  and a minimum effect size: it regressed only when the whole interval lies
  beyond the threshold (significantly worse by at least that much).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qpbench.config import DEFAULT_GATE_ON, DEFAULT_THRESHOLDS
from qpbench.compare.comparison import IMPROVED, NOT_COMPARABLE, REGRESSED, UNCHANGED, Comparison, MetricChange
from qpbench.errors import ConfigError
from qpbench.compare.gate import could_not_judge
from qpbench.measure.load_watch import under_load
from qpbench.record import RunRecord
from qpbench.results import (
    AccuracyResult,
    FidelityResult,
    LatencyResult,
    MemoryResult,
    PairedResult,
)
from qpbench.system import cpu_model_label
from qpbench.variant_info import REFERENCE
from qpbench import stats


ALL_VARIANTS = "*"


@dataclass(frozen=True)
class ComparisonStats:
    """How a change is judged."""

    confidence: float = 0.95  # of the bootstrap interval of a change
    # Absolute times are compared on a low quantile: other processes on a shared machine only
    # ever add time to a call, so bursts of interference move the median and the tail, while
    # the fast part of the distribution still tracks the code's own speed (a slower code path
    # moves it too). Ratios measured in pairs need no such guard and use the median.
    latency_quantile: float = 0.10
    # Below this many samples a p10 is the minimum and its bootstrap interval means little:
    # such a latency is reported, not judged.
    min_latency_samples: int = 20
    bootstrap_resamples: int = 2000
    # The machine's speed, read from the probe's own p10, may differ this much (relative) between a
    # run and the baseline's usual before the reference/probe ratio is no longer compared: in the
    # host's slow spells (probe 30-40% slower) a 1-ms model slowed twice as much as the probe.
    probe_speed_tolerance: float = 0.15


COMPARISON = ComparisonStats()


@dataclass(frozen=True)
class Thresholds:
    """Per-family thresholds, with per-variant overrides (from the marker)."""

    default: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    per_variant: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # variant -> family -> value

    def __post_init__(self) -> None:
        for where, values in [("", self.default), *((f" for {v}", o) for v, o in self.per_variant.items())]:
            for name, value in values.items():
                check_threshold(name, value, where)

    def get(self, family: str, variant: str) -> float:
        """The variant's own override, else one for every variant ("*"), else the default."""
        for key in (variant, ALL_VARIANTS):
            if family in self.per_variant.get(key, {}):
                return float(self.per_variant[key][family])
        return float(self.default[family])


def check_threshold(name: str, value: Any, where: str = "") -> float:
    if name not in DEFAULT_THRESHOLDS:
        raise ConfigError(f"unknown regression threshold {name!r}{where}: choose from {list(DEFAULT_THRESHOLDS)}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"regression threshold {name}{where} must be a number >= 0, got {value!r}")
    return float(value)


def make_thresholds(overrides: Mapping[str, float], per_variant: Mapping[str, Mapping[str, float]] | None = None) -> Thresholds:
    for name, value in overrides.items():
        check_threshold(name, value)
    return Thresholds({**DEFAULT_THRESHOLDS, **overrides}, dict(per_variant or {}))


# Statistics ------------------------------------------------------------------


def bootstrap_probe_change(baseline: PairedResult, current: PairedResult,
                           quantile: float = COMPARISON.latency_quantile) -> tuple[float, float, float]:
    """How the reference's time against the probe changed: the ratio of the two sides' low
    quantiles (p10) in each run, current over baseline, minus 1, with its bootstrap interval."""
    return stats.bootstrap_ratio_change((baseline.variant_s, baseline.reference_s),
                                        (current.variant_s, current.reference_s), quantile,
                                        COMPARISON.bootstrap_resamples, COMPARISON.confidence)


def probe_ratio(r: PairedResult, quantile: float = COMPARISON.latency_quantile) -> float:
    """The reference's low-quantile time over the probe's."""
    return float(np.quantile(r.variant_s, quantile)) / probe_speed(r, quantile)


def judge_relative(change: float, low: float | None, high: float | None, threshold: float,
                   higher_is_worse: bool = True) -> tuple[str, str]:
    """Verdict for a relative change: a regression only when the whole confidence interval lies
    beyond the threshold (the change is significant *and* at least the minimum effect).

    Without samples (a single value per run) the threshold alone decides.
    """
    sign = 1.0 if higher_is_worse else -1.0
    if low is None or high is None:
        worst_case_worse = best_case_worse = sign * change
        basis = "single value, no samples"
    else:
        # The interval of "how much worse", whichever direction is worse.
        best_case_worse, worst_case_worse = sorted((sign * low, sign * high))
        basis = f"{COMPARISON.confidence:.0%} interval [{low:+.1%}, {high:+.1%}]"
    if best_case_worse > threshold:
        return REGRESSED, f"{change:+.1%}, interval beyond the {threshold:.0%} threshold: {basis}"
    if worst_case_worse < -threshold:
        return IMPROVED, f"{change:+.1%}, interval beyond the {threshold:.0%} threshold: {basis}"
    if abs(change) > threshold:
        return UNCHANGED, f"{change:+.1%}, but the interval reaches within the {threshold:.0%} threshold: {basis}"
    return UNCHANGED, f"{change:+.1%} within the {threshold:.0%} threshold: {basis}"


# What is compared -----------------------------------------------------------


def finite_or_none(value: float | None) -> float | None:
    """A figure a record read back as None (JSON has no NaN) and one still NaN in memory: both unknown."""
    return value if value is not None and math.isfinite(value) else None


def speed_samples(record: RunRecord) -> dict[tuple[str, str], PairedResult]:
    """(variant, metric) -> the interleaved A/B result: ``speed_ratio_b1`` of a variant against the
    reference, ``time_vs_probe_b1`` of the reference against the machine-speed probe (measure/probe.py).
    Its ``ratios`` are the per-pair time ratios compared."""
    return {(r.variant, speed_metric(r)): r for r in record.results_of(PairedResult)}


def speed_metric(r: PairedResult) -> str:
    return f"time_vs_probe_b{r.batch_size}" if r.reference.startswith("probe") else f"speed_ratio_b{r.batch_size}"


def process_statistic(r: PairedResult) -> float:
    """The figure the speed comparison judges, from one process's pairs: the median per-pair
    ratio, or the reference's p10 time over the probe's."""
    return probe_ratio(r) if r.reference.startswith("probe") else float(np.median(r.ratios))


def run_statistic(r: PairedResult) -> float:
    """The run's figure: its process's, or the median over it and its reruns in fresh processes."""
    return float(np.median([process_statistic(r), *r.reruns])) if r.reruns else process_statistic(r)


def run_statistics(record: RunRecord) -> dict[str, float]:
    """'VARIANT METRIC' -> the statistic the speed comparison judges, for one run (``run_statistic``);
    and 'probe-vN p10_s', the machine's speed in that run (the probe's own p10)."""
    out = {}
    for (variant, metric), r in speed_samples(record).items():
        if len(r.variant_s) < 2:
            continue
        out[f"{variant} {metric}"] = run_statistic(r)
        if metric.startswith("time_vs_probe"):
            out[f"{r.reference} p10_s"] = probe_speed(r)
    return out


def probe_speed(r: PairedResult, quantile: float = COMPARISON.latency_quantile) -> float:
    """The probe's own p10 in seconds: how fast the machine ran while the pair was timed."""
    return float(np.quantile(r.reference_s, quantile))


def at_usual_speed(speed: float, usual: float, tolerance: float = COMPARISON.probe_speed_tolerance) -> bool:
    return abs(math.log(speed / usual)) <= math.log1p(tolerance)


def machine_speed_apart(speeds: Sequence[float], current: float) -> str | None:
    """Why the reference/probe ratio is not compared: the machine ran at another speed than it
    usually did in the baseline's runs (the median of their probe p10s), beyond the tolerance."""
    if not speeds:
        return None
    usual = float(np.median(speeds))
    if at_usual_speed(current, usual):
        return None
    return (f"the machine ran {abs(current / usual - 1):.0%} {'slower' if current > usual else 'faster'} than in the "
            f"baseline (probe p10 {current * 1e3:.2f} vs {usual * 1e3:.2f} ms): in such spells the model and the "
            "probe do not change speed alike, so their ratio is not compared; rerun")


def usual_runs(runs: Sequence[float], speeds: Sequence[float | None]) -> list[float]:
    """The baseline runs taken at the machine's usual speed (those without a speed are kept)."""
    known = [s for s in speeds if s]
    if not known:
        return list(runs)
    usual = float(np.median(known))
    return [r for r, s in zip(runs, speeds) if not s or at_usual_speed(s, usual)]


def baseline_runs(record: RunRecord) -> list[dict[str, float]]:
    """The statistics of every run a baseline holds: its own, then the runs added to it
    (--qp-add-to-baseline)."""
    return [run_statistics(record), *({k: float(v) for k, v in run["statistics"].items()}
                                      for run in (record.baseline or {}).get("runs", []))]


@dataclass(frozen=True)
class SpeedChange:
    """A speed figure's change from the baseline, with the interval the verdict compares."""

    base: float
    cur: float
    change: float
    low: float
    high: float
    basis: str  # what the interval holds, for the verdict's reason


def speed_change(variant: str, metric: str, ra: PairedResult, rb: PairedResult,
                 runs: Sequence[Mapping[str, float]]) -> SpeedChange | str:
    """How a speed figure changed from the baseline's (``ra``, with the statistics of the
    baseline's ``runs``), or why it is not compared.

    The interval holds the variation within the run (a bootstrap over the pairs) and, when the
    baseline holds two runs or more, the variation between runs (``over_runs``). A run whose figure
    was measured again in fresh processes (``reruns``) is judged on the median over its processes:
    the interval of its pairs is moved to that median, and the spread is that of its processes
    against the baseline's runs (a two-sample t interval on the logs, ``scipy.stats.ttest_ind``),
    so processes that disagree widen it."""
    against_probe = metric.startswith("time_vs_probe")
    name = f"{variant} {metric}"
    values = [run[name] for run in runs if name in run]
    if against_probe:  # the ratio holds only while the machine runs at its usual speed
        speeds = [run.get(f"{ra.reference} p10_s") for run in runs if name in run]
        why = machine_speed_apart([s for s in speeds if s], probe_speed(rb))
        if why:
            return why
        values = usual_runs(values, speeds)
    if len(ra.ratios) < 2 or len(rb.ratios) < 2:
        return "fewer than two paired samples"
    base, cur = run_statistic(ra), run_statistic(rb)
    change, low, high = (bootstrap_probe_change(ra, rb) if against_probe
                         else stats.bootstrap_median_ratio(ra.ratios, rb.ratios, COMPARISON.bootstrap_resamples,
                                                           COMPARISON.confidence))
    shift = (cur / process_statistic(rb)) / (base / process_statistic(ra))
    change, low, high = ((1 + x) * shift - 1 for x in (change, low, high))
    basis = ""
    if len(values) >= 2:  # the baseline's runs give the rerun-to-rerun spread: the interval holds both
        change, spread_low, spread_high = stats.over_runs(values, cur, COMPARISON.confidence)
        base = float(np.exp(np.mean(np.log(values))))  # what the change is from
        if rb.reruns:  # this run's processes against the baseline's runs: Student's t on the logs
            spread_low, spread_high = stats.log_ratio_interval([process_statistic(rb), *rb.reruns], values,
                                                               COMPARISON.confidence)
        low, high = min(low, spread_low), max(high, spread_high)
        basis = f" (over {len(values)} baseline runs and this run's own)"
    if rb.reruns:
        basis += (f"; this run's figure is the median of {1 + len(rb.reruns)} processes (out of line with the "
                  f"baseline in the first: {process_statistic(rb):.4g}, then "
                  + ", ".join(f"{x:.4g}" for x in rb.reruns) + " in fresh processes)")
    return SpeedChange(base, cur, change, low, high, basis)


def latency_samples(record: RunRecord) -> dict[tuple[str, int], LatencyResult]:
    return {(r.variant, r.batch_size): r for r in record.results_of(LatencyResult)}


def taken_under_load(baseline: Any, current: Any) -> str | None:
    """Why a timing is not judged: the noise guard found other processes (or the hypervisor) taking
    the CPU while it was measured, in the baseline or in this run (measure/load_watch.py)."""
    loaded = [f"{side} (others {r.load['others_cpu']:.2f} CPU, steal {r.load['steal_pct']:.0f}%)"
              for side, r in (("the baseline", baseline), ("this run", current)) if r is not None and under_load(r.load)]
    if not loaded:
        return None
    return "taken under load in " + " and ".join(loaded) + ": not judged; rerun on a quiet machine"


# The differences that make another processor (fingerprint_differences' keys): speed figures from
# it are no baseline. Family and model count where both fingerprints have them; a record from
# before they were probed is judged by brand and ISA, as it was.
CPU_DIFFERENCES = ("CPU:", "CPU model:", "ISA:", "a fingerprint")


def cpu_differences(differences: Sequence[str]) -> list[str]:
    """Those of ``differences`` (fingerprint_differences') that make another processor."""
    return [d for d in differences if d.startswith(CPU_DIFFERENCES)]


def fingerprint_differences(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> list[str]:
    """What differs between two fingerprints in what changes a timing; [] when they match."""
    if not a or not b:
        return ["a fingerprint is missing"]
    known = all(cpu_model_label(fp.get("cpu") or {}) for fp in (a, b))

    def parts(fp: Mapping[str, Any]) -> dict[str, Any]:
        cpu = fp.get("cpu") or {}
        return {
            "CPU": cpu.get("brand"),
            "CPU model": cpu_model_label(cpu) if known else None,
            "ISA": tuple(sorted(k for k, v in (cpu.get("isa") or {}).items() if v)),
            "logical cores": fp.get("cores_logical"),
            "CPU affinity": len(fp["cpu_affinity"]) if fp.get("cpu_affinity") else None,
            "torch": fp.get("torch"),
            "torch build": fp.get("build"),
            "intra-op threads": fp.get("num_threads"),
            "thread environment": tuple(sorted((k, v) for k, v in (fp.get("thread_env") or {}).items() if v)),
        }

    pa, pb = parts(a), parts(b)
    return [f"{k}: {pa[k]!r} vs {pb[k]!r}" for k in pa if pa[k] != pb[k]]


def workload_differences(a: RunRecord, b: RunRecord) -> list[str]:
    out = []
    for key in ("name", "model_factory", "input_size"):
        if getattr(a.workload, key) != getattr(b.workload, key):
            out.append(f"workload {key}: {getattr(a.workload, key)!r} vs {getattr(b.workload, key)!r}")
    return out


def gated_peak_mb(r: MemoryResult, split: bool) -> float:
    """A memory result's figure for the gate: its peak, less its file-backed pages when ``split``."""
    return r.peak_rss_mb - (r.rss_file_mb or 0.0) if split else r.peak_rss_mb


def eval_set_differences(a: RunRecord, b: RunRecord) -> list[str]:
    """How two runs' evaluation sets differ: the dataset file's name and which samples, and how
    many. The folder it was read from is left out: a baseline made in one clone of a project is
    compared with runs in another (CI's), and the shipped file is the same file there."""
    ea, eb = a.eval_set, b.eval_set
    if not ea or not eb:  # under pytest-xdist the controller does not load the data, so it is not recorded
        return []
    out = []
    if eval_source(ea.get("source")) != eval_source(eb.get("source")):
        out.append(f"evaluation set source: {ea.get('source')!r} vs {eb.get('source')!r}")
    if ea.get("n_samples") != eb.get("n_samples"):
        out.append(f"evaluation set n_samples: {ea.get('n_samples')!r} vs {eb.get('n_samples')!r}")
    return out


def eval_source(source: object) -> str:
    """An evaluation set's source without the folders of its path: 'x.npz (first 25 images)'."""
    text = str(source)
    path, sep, rest = text.partition(" (")
    return Path(path).name + sep + rest


def compare_runs(
    baseline: RunRecord,
    current: RunRecord,
    thresholds: Thresholds | None = None,
    any_machine: bool = False,
    baseline_label: str = "baseline",
    current_label: str = "current",
    reference: str = REFERENCE,
) -> Comparison:
    """Every metric both runs can speak to, with a verdict; the rest 'not comparable' with why."""
    runs = _Pair(baseline, current, thresholds or Thresholds(), any_machine)
    runs.speed_ratios()
    runs.latencies()
    runs.peak_memory()
    runs.accuracy()
    # A record may hold the reference timed against itself (a ratio of 1 by construction).
    changes = [c for c in runs.changes if not (c.metric.startswith("speed_ratio") and c.variant == reference)]
    return Comparison(baseline_label, current_label, runs.same_machine, tuple(runs.machine),
                      any_machine and not runs.same_machine, tuple(changes), tuple(runs.notes))


class _Pair:
    """A baseline and a current run being compared: what may be compared, and the changes found so far."""

    def __init__(self, baseline: RunRecord, current: RunRecord, thresholds: Thresholds, any_machine: bool) -> None:
        self.baseline, self.current, self.th = baseline, current, thresholds
        self.machine = fingerprint_differences(baseline.fingerprint, current.fingerprint)
        self.same_machine = not self.machine
        self.absolute_ok = self.same_machine or any_machine
        self.absolute_why = "different machines (" + "; ".join(self.machine) + "): absolute figures are not " \
            "compared; pass --qp-compare-any-machine to compare them anyway"
        # Speed on another processor is no baseline: the same variant's speed-up over eager was
        # 2.7x, 4.3x and 7.0x on three CPUs this project has run on. Ratios and times are then
        # not comparable, even when absolute figures are compared across machines on request.
        self.cpu = cpu_differences(self.machine)
        self.cpu_why = ("another CPU (" + "; ".join(self.cpu) + "): speed figures from another processor are "
                        "no baseline; save a baseline on this CPU") if self.cpu else None
        self.workload = workload_differences(baseline, current)
        self.runs = baseline_runs(baseline)
        self.changes: list[MetricChange] = []
        self.notes: list[str] = []
        if self.workload:
            self.notes.append("not comparable: " + "; ".join(self.workload))
        if not self.same_machine:
            self.notes.append(("compared across different machines (asked for): " if any_machine else
                               "absolute figures not compared, different machines: ") + "; ".join(self.machine))

    def add(self, variant: str, metric: str, family: str, base: float | None, cur: float | None, relative: bool,
            verdict_reason: tuple[str, str], change: float | None = None,
            ci: tuple[float | None, float | None] = (None, None)) -> None:
        self.changes.append(MetricChange(variant, metric, family, base, cur, change, relative, ci[0], ci[1],
                                         self.th.get(family, variant), *verdict_reason))

    def not_comparable(self, variant: str, metric: str, family: str, base: float | None, cur: float | None,
                       relative: bool, why: str) -> None:
        self.add(variant, metric, family, base, cur, relative, (NOT_COMPARABLE, why))

    def why_not(self, in_base: bool, in_cur: bool, absolute: bool = False, extra: list[str] | None = None,
                speed: bool = False) -> str | None:
        """Why a metric cannot be compared (missing, another workload, another CPU for a speed figure,
        another machine for an absolute one), or None."""
        if not (in_base and in_cur):
            return "not measured in " + " or ".join(
                n for n, ok in (("the baseline", in_base), ("this run", in_cur)) if not ok)
        differences = self.workload + (extra or [])
        if differences:
            return "; ".join(differences)
        if speed and self.cpu_why:
            return self.cpu_why
        return self.absolute_why if absolute and not self.absolute_ok else None

    def speed_ratios(self) -> None:
        """Ratios from the interleaved A/B tests: comparable across machines with the same CPU and
        ISA. The reference's time against the probe sees a whole-model slowdown, which moves the
        reference and every variant together, and not a machine slower as a whole."""
        sb, sc = speed_samples(self.baseline), speed_samples(self.current)
        for key in sorted(set(sb) | set(sc)):
            variant, metric = key
            ra, rb = sb.get(key), sc.get(key)
            against = ([f"timed against {ra.reference} in the baseline, {rb.reference} now"]
                       if ra and rb and ra.reference != rb.reference else [])
            why = self.why_not(bool(ra), bool(rb), extra=against, speed=True) or taken_under_load(ra, rb)
            base, cur = (run_statistic(r) if r and r.ratios else None for r in (ra, rb))
            if why is None:
                assert ra and rb
                judged = speed_change(variant, metric, ra, rb, self.runs)
                why = judged if isinstance(judged, str) else None
            if why:
                self.not_comparable(variant, metric, "speed_ratio", base, cur, True, why)
                continue
            assert isinstance(judged, SpeedChange)
            verdict, reason = judge_relative(judged.change, judged.low, judged.high, self.th.get("speed_ratio", variant))
            self.add(variant, metric, "speed_ratio", judged.base, judged.cur, True, (verdict, reason + judged.basis),
                     judged.change, (judged.low, judged.high))

    def latencies(self) -> None:
        """Absolute latency: same machine only."""
        q = COMPARISON.latency_quantile
        lb, lc = latency_samples(self.baseline), latency_samples(self.current)
        for key in sorted(set(lb) | set(lc)):
            variant, batch = key
            metric = f"latency_b{batch}_p{q * 100:.0f}_ms"
            ra, rb = lb.get(key), lc.get(key)
            a, b = (list(r.samples_s) if r else [] for r in (ra, rb))
            base = float(np.quantile(a, q)) * 1e3 if a else None
            cur = float(np.quantile(b, q)) * 1e3 if b else None
            why = self.why_not(bool(a), bool(b), absolute=True, speed=True) or taken_under_load(ra, rb)
            if why is None and min(len(a), len(b)) < COMPARISON.min_latency_samples:
                why = (f"too few samples ({len(a)} vs {len(b)}; {COMPARISON.min_latency_samples} needed to judge "
                       "a p10): a longer profile gives more")
            if why:
                self.not_comparable(variant, metric, "latency", base, cur, True, why)
                continue
            change, low, high = stats.bootstrap_median_ratio(a, b, COMPARISON.bootstrap_resamples, COMPARISON.confidence,
                                                              quantile=q)
            self.add(variant, metric, "latency", base, cur, True,
                     judge_relative(change, low, high, self.th.get("latency", variant)), change, (low, high))

    def peak_memory(self) -> None:
        """Peak memory of a fresh process at batch 1: one value per run, same machine only. Where
        both runs split RSS by kind, the peak less the file-backed pages resident at the end
        (``peak_rss_anon_mb``): those are shared libraries, and how many of their pages are
        resident depends on the page cache, not on the model. ``import torch`` alone read 505 MB
        in a venv made days before and 703 MB in a fresh clone's venv of the same packages on the
        same machine, and CI's first self-gate saw every variant's peak 15-39% above a baseline
        made in the older venv, with anonymous memory within 0.7 MB."""
        mb = {r.variant: r for r in self.baseline.results_of(MemoryResult) if r.batch_size == 1}
        mc = {r.variant: r for r in self.current.results_of(MemoryResult) if r.batch_size == 1}
        for variant in sorted(set(mb) | set(mc)):
            split = variant in mb and variant in mc and None not in (mb[variant].rss_file_mb, mc[variant].rss_file_mb)
            metric = "peak_rss_anon_mb" if split else "peak_rss_mb"
            base = gated_peak_mb(mb[variant], split) if variant in mb else None
            cur = gated_peak_mb(mc[variant], split) if variant in mc else None
            why = self.why_not(variant in mb, variant in mc, absolute=True)
            if why is None and mb[variant].torch_build != mc[variant].torch_build:
                why = f"torch builds differ: {mb[variant].torch_build!r} vs {mc[variant].torch_build!r}"
            if why:
                self.not_comparable(variant, metric, "peak_rss", base, cur, True, why)
                continue
            change = cur / base - 1.0
            self.add(variant, metric, "peak_rss", base, cur, True,
                     judge_relative(change, None, None, self.th.get("peak_rss", variant)), change)

    def accuracy(self) -> None:
        """Accuracy: deterministic on the same evaluation set, so a plain difference."""
        eval_diff = eval_set_differences(self.baseline, self.current)
        for kind, field_name, family, higher_is_better in ((AccuracyResult, "pearson", "pearson", True),
                                                           (FidelityResult, "pearson_loss_rel", "fidelity_loss", False)):
            rb = {r.variant: finite_or_none(getattr(r, field_name)) for r in self.baseline.results_of(kind)}
            rc = {r.variant: finite_or_none(getattr(r, field_name)) for r in self.current.results_of(kind)}
            for variant in sorted(set(rb) | set(rc)):
                base, cur = rb.get(variant), rc.get(variant)
                why = self.why_not(base is not None, cur is not None, extra=eval_diff)
                if why:
                    self.not_comparable(variant, family, family, base, cur, False, why)
                    continue
                change = cur - base
                self.add(variant, family, family, base, cur, False,
                         judge_absolute(change, higher_is_better, self.th.get(family, variant)), change)


def judge_absolute(change: float, higher_is_better: bool, limit: float) -> tuple[str, str]:
    """(verdict, reason) of a deterministic difference against an absolute threshold."""
    worse = -change if higher_is_better else change
    if worse > limit:
        return REGRESSED, f"{change:+.4f} beyond the {limit:g} threshold (deterministic on the same data)"
    if -worse > limit:
        return IMPROVED, f"{change:+.4f} beyond the {limit:g} threshold (deterministic on the same data)"
    return UNCHANGED, f"{change:+.4f} within the {limit:g} threshold"


def check_families(names: Sequence[str]) -> tuple[str, ...]:
    if "all" in names:
        return tuple(DEFAULT_THRESHOLDS)
    unknown = [n for n in names if n not in DEFAULT_THRESHOLDS]
    if unknown:
        raise ConfigError(f"unknown metric families {unknown} for the regression gate: choose from {list(DEFAULT_THRESHOLDS)} or all")
    return tuple(names)


def regression_gate(comparison: Comparison, gate_on: Sequence[str] | None = None) -> tuple[bool, list[str]]:
    """(failed, lines): fails on any significant regression of a family in ``gate_on`` (default:
    DEFAULT_GATE_ON), or when nothing could be compared; the line says INCONCLUSIVE when that was
    load or a slow spell (could_not_judge). Other regressions are listed, not gated."""
    families = set(check_families(gate_on) if gate_on else DEFAULT_GATE_ON)
    regressions = [c for c in comparison.regressions if c.family in families]
    reported = [c for c in comparison.regressions if c.family not in families]
    extra = [f"  - not gated ({c.family} is not in the gate's metrics): {c.variant} {c.metric}: {c.reason}"
             for c in reported]
    if regressions:
        lines = [f"FAIL qpbench regression gate: {len(regressions)} significant regression(s) "
                 f"against {comparison.baseline_label}"]
        lines += [f"  - {c.variant} {c.metric}: {c.reason}" for c in regressions]
        return True, lines + extra
    if could_not_judge(comparison, families):
        return True, [f"INCONCLUSIVE qpbench regression gate: nothing could be compared with "
                      f"{comparison.baseline_label}: every gated figure was taken under load or in a slow spell of "
                      "the machine; retry on a quiet machine (no regression found, none ruled out)"]
    if not comparison.comparable:
        return True, [f"FAIL qpbench regression gate: nothing could be compared with {comparison.baseline_label}"
                      + (f" ({comparison.notes[0]})" if comparison.notes else "")]
    n = len([c for c in comparison.comparable if c.family in families])
    loaded = [c for c in comparison.changes if c.family in families and c.reason.startswith("taken under load")]
    unjudged = f"; {len(loaded)} gated metric(s) taken under load, not judged (listed above)" if loaded else ""
    return False, [f"PASS qpbench regression gate: no significant regression in {n} gated metric(s) "
                   f"against {comparison.baseline_label}{unjudged}", *extra]
