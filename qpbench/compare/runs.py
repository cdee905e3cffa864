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
from collections.abc import Sequence
from typing import Any

import numpy as np

from qpbench import stats
from qpbench.compare.comparison import NOT_COMPARABLE, Comparison, MetricChange
from qpbench.compare.differences import cpu_differences, eval_set_differences, fingerprint_differences, workload_differences
from qpbench.compare.gate import could_not_judge
from qpbench.compare.judge import COMPARISON, judge_absolute, judge_relative
from qpbench.compare.speed import SpeedChange, baseline_runs, run_statistic, speed_change, speed_samples
from qpbench.compare.thresholds import Thresholds, check_families
from qpbench.config import DEFAULT_GATE_ON
from qpbench.measure.load_watch import under_load
from qpbench.record import RunRecord
from qpbench.results import AccuracyResult, FidelityResult, LatencyResult, MemoryResult
from qpbench.variant_info import REFERENCE


def finite_or_none(value: float | None) -> float | None:
    """A figure a record read back as None (JSON has no NaN) and one still NaN in memory: both unknown."""
    return value if value is not None and math.isfinite(value) else None


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


def gated_peak_mb(r: MemoryResult, split: bool) -> float:
    """A memory result's figure for the gate: its peak, less its file-backed pages when ``split``."""
    return r.peak_rss_mb - (r.rss_file_mb or 0.0) if split else r.peak_rss_mb


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
        """Accuracy: deterministic on the same samples, so a plain difference; a variant judged on
        more or fewer of them in one run (accuracy until decided) is not compared."""
        eval_diff = eval_set_differences(self.baseline, self.current)
        for kind, field_name, family, higher_is_better in ((AccuracyResult, "pearson", "pearson", True),
                                                           (FidelityResult, "pearson_loss_rel", "fidelity_loss", False)):
            lb = {r.variant: r for r in self.baseline.results_of(kind)}  # the last: the whole set's, where made
            lc = {r.variant: r for r in self.current.results_of(kind)}
            rb = {v: finite_or_none(getattr(r, field_name)) for v, r in lb.items()}
            rc = {v: finite_or_none(getattr(r, field_name)) for v, r in lc.items()}
            for variant in sorted(set(rb) | set(rc)):
                base, cur = rb.get(variant), rc.get(variant)
                samples = ([f"judged on {lb[variant].n_samples} vs {lc[variant].n_samples} samples"]
                           if variant in lb and variant in lc and lb[variant].n_samples != lc[variant].n_samples else [])
                why = self.why_not(base is not None, cur is not None, extra=eval_diff + samples)
                if why:
                    self.not_comparable(variant, family, family, base, cur, False, why)
                    continue
                change = cur - base
                self.add(variant, family, family, base, cur, False,
                         judge_absolute(change, higher_is_better, self.th.get(family, variant)), change)


GATE = "qpbench regression gate"


def regression_gate(comparison: Comparison, gate_on: Sequence[str] | None = None,
                    heading: str | None = None) -> tuple[bool, list[str]]:
    """(failed, lines): fails on any significant regression of a family in ``gate_on`` (default:
    DEFAULT_GATE_ON), or when nothing could be compared; the line says INCONCLUSIVE when that was
    load or a slow spell (could_not_judge). Other regressions are listed, not gated. The first
    line opens with the outcome and "qpbench regression gate", or with ``heading`` where the
    comparison gates nothing (a check that does not fail the run)."""
    def head(outcome: str) -> str:
        return heading if heading is not None else f"{outcome} {GATE}"

    families = set(check_families(gate_on) if gate_on else DEFAULT_GATE_ON)
    regressions = [c for c in comparison.regressions if c.family in families]
    reported = [c for c in comparison.regressions if c.family not in families]
    extra = [f"  - not gated ({c.family} is not in the gate's metrics): {c.variant} {c.metric}: {c.reason}"
             for c in reported]
    if regressions:
        lines = [f"{head('FAIL')}: {len(regressions)} significant regression(s) "
                 f"against {comparison.baseline_label}"]
        lines += [f"  - {c.variant} {c.metric}: {c.reason}" for c in regressions]
        return True, lines + extra
    if could_not_judge(comparison, families):
        return True, [f"{head('INCONCLUSIVE')}: nothing could be compared with "
                      f"{comparison.baseline_label}: every gated figure was taken under load or in a slow spell of "
                      "the machine; retry on a quiet machine (no regression found, none ruled out)"]
    if not comparison.comparable:
        return True, [f"{head('FAIL')}: nothing could be compared with {comparison.baseline_label}"
                      + (f" ({comparison.notes[0]})" if comparison.notes else "")]
    n = len([c for c in comparison.comparable if c.family in families])
    loaded = [c for c in comparison.changes if c.family in families and c.reason.startswith("taken under load")]
    unjudged = f"; {len(loaded)} gated metric(s) taken under load, not judged (listed above)" if loaded else ""
    return False, [f"{head('PASS')}: no significant regression in {n} gated metric(s) "
                   f"against {comparison.baseline_label}{unjudged}", *extra]
