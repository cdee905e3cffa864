"""Report figures drawn with matplotlib's Agg canvas, embedded as base64 PNG.

Every figure is drawn from the run record (``RunRecord``) alone. A variant with no data
for a figure (not measured, or it failed) is named on the figure as "no data"
rather than dropped, and a figure with no data at all is not drawn: the report
says why. matplotlib is imported only when a report is drawn; pyplot is never
used, so no global backend state changes.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from qpbench.record import RunRecord
from qpbench.results import AccuracyResult, LatencyResult, MemoryResult

COLORS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C", "#CCB974", "#64B5CD")
TARGET_STYLE = {"color": "#C0392B", "linestyle": "--", "linewidth": 1.2}
SIZE_IN = (7.6, 3.6)
DPI = 110


@dataclass(frozen=True)
class Plot:
    key: str
    title: str
    caption: str
    png_base64: str | None  # None: nothing to draw
    note: str = ""  # why it was not drawn, or what is missing from it

    @property
    def data_uri(self) -> str | None:
        return f"data:image/png;base64,{self.png_base64}" if self.png_base64 else None


# -- reading the record --------------------------------------------------------


def color_of(record: RunRecord) -> dict[str, str]:
    return {name: COLORS[i % len(COLORS)] for i, name in enumerate(record.variants)}


def target(record: RunRecord, name: str) -> float | None:
    return record.verdict.config.targets.get(name)


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


# -- drawing helpers -------------------------------------------------------------


def _figure(ncols: int = 1) -> tuple[Any, list[Any]]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=SIZE_IN, dpi=DPI, layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    for ax in axes:
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    return fig, list(axes)


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _wide_range(values: list[float]) -> bool:
    """Log scale when the values (and target) span more than ~30x: a 50 ms target beside 1 ms bars."""
    pos = [v for v in values if _finite(v) and v > 0]
    return len(pos) >= 2 and max(pos) / min(pos) > 30


def _no_data(ax: Any, x: float, label: str = "no data") -> None:
    ax.annotate(label, (x, 0), xycoords=("data", "axes fraction"), xytext=(0, 6), textcoords="offset points",
                ha="center", va="bottom", fontsize=8, color="#888888", rotation=90)


def _target_line(ax: Any, value: float | None, label: str, vertical: bool = False) -> None:
    if not _finite(value):
        return
    (ax.axvline if vertical else ax.axhline)(value, label=label, **TARGET_STYLE)


def _variant_axis(ax: Any, names: list[str]) -> None:
    ax.set_xticks(range(len(names)), names, rotation=20 if len(names) > 4 else 0, ha="right" if len(names) > 4 else "center")
    ax.set_xlim(-0.6, len(names) - 0.4)


# -- the figures -------------------------------------------------------------------


def latency_by_variant(record: RunRecord) -> Plot:
    title = "Latency per image by variant and batch size"
    caption = ("Bars: median (p50) per image; whiskers up to p95. Dashed line: the batch-1 p95 target. "
               "Larger batches share one call's time among their images.")
    lat = record.results_of(LatencyResult)
    if not lat:
        return Plot("latency", title, caption, None, "no latency was measured in this run")
    names = record.variants
    sizes = sorted({r.batch_size for r in lat})
    by = {(r.variant, r.batch_size): r.per_image_ms for r in lat}
    fig, (ax,) = _figure()
    width = 0.8 / len(sizes)
    shades = [0.95, 0.65, 0.45, 0.3, 0.2]
    values: list[float] = []
    for j, size in enumerate(sizes):
        xs, p50s, errs = [], [], []
        for i, name in enumerate(names):
            pct = by.get((name, size))
            if pct and _finite(pct.get("p50")):
                xs.append(i - 0.4 + width * (j + 0.5))
                p50s.append(pct["p50"])
                errs.append(max(0.0, pct.get("p95", pct["p50"]) - pct["p50"]))
                values += [pct["p50"], pct.get("p95", pct["p50"])]
        ax.bar(xs, p50s, width * 0.92, yerr=[[0] * len(errs), errs], capsize=2, label=f"batch {size}",
               color="#4C72B0", alpha=shades[min(j, len(shades) - 1)], edgecolor="#2b4a7a", linewidth=0.6)
    for i, name in enumerate(names):
        if not any((name, s) in by for s in sizes):
            _no_data(ax, i)
    goal = target(record, "latency_p95_ms")
    _target_line(ax, goal, f"target p95 {goal:g} ms" if _finite(goal) else "")
    if _wide_range(values + ([goal] if _finite(goal) else [])):
        ax.set_yscale("log")
    _variant_axis(ax, names)
    ax.set_ylabel("ms per image")
    ax.legend(fontsize=8, loc="best")
    return Plot("latency", title, caption, _png(fig))


def latency_distribution(record: RunRecord) -> Plot:
    title = "Latency distribution at batch 1"
    caption = "Every timed call at batch 1 (box: quartiles, whiskers: 1.5 IQR, dots: outliers). Dashed line: the p95 target."
    lat = {r.variant: r for r in record.results_of(LatencyResult) if r.batch_size == 1}
    if not lat:
        return Plot("latency_distribution", title, caption, None, "no batch-1 latency was measured in this run")
    names = record.variants
    colors = color_of(record)
    fig, (ax,) = _figure()
    values: list[float] = []
    for i, name in enumerate(names):
        r = lat.get(name)
        samples = [s * 1e3 for s in (r.samples_s if r else []) if _finite(s)]
        if not samples:
            _no_data(ax, i)
            continue
        values += samples
        box = ax.boxplot([samples], positions=[i], widths=0.5, patch_artist=True, showfliers=True,
                         flierprops={"markersize": 2, "alpha": 0.5}, medianprops={"color": "black"})
        for patch in box["boxes"]:
            patch.set_facecolor(colors[name])
            patch.set_alpha(0.7)
    goal = target(record, "latency_p95_ms")
    _target_line(ax, goal, f"target p95 {goal:g} ms" if _finite(goal) else "")
    if _wide_range(values + ([goal] if _finite(goal) else [])):
        ax.set_yscale("log")
    _variant_axis(ax, names)
    ax.set_ylabel("ms per call (batch 1)")
    if _finite(goal):
        ax.legend(fontsize=8, loc="best")
    return Plot("latency_distribution", title, caption, _png(fig))


def peak_memory(record: RunRecord) -> Plot:
    title = "Peak memory of a fresh serving process (batch 1)"
    caption = ("Lower part: the process after importing torch and qpbench; upper part: what building and running "
               "the variant added. Dashed line: the peak RSS target.")
    mem = {r.variant: r for r in record.results_of(MemoryResult) if r.batch_size == 1}
    if not mem:
        return Plot("memory", title, caption, None, "peak memory was not measured in this run")
    names = record.variants
    fig, (ax,) = _figure()
    base = [mem[n].baseline_rss_mb if n in mem else 0.0 for n in names]
    inc = [max(0.0, mem[n].peak_rss_mb - mem[n].baseline_rss_mb) if n in mem else 0.0 for n in names]
    ax.bar(range(len(names)), base, 0.6, color="#B0B7C3", label="after imports")
    ax.bar(range(len(names)), inc, 0.6, bottom=base, color="#4C72B0", label="model and inference")
    for i, name in enumerate(names):
        if name in mem:
            ax.annotate(f"{mem[name].peak_rss_mb:.0f}", (i, mem[name].peak_rss_mb), xytext=(0, 2),
                        textcoords="offset points", ha="center", va="bottom", fontsize=8)
        else:
            _no_data(ax, i)
    goal = target(record, "peak_rss_mb")
    _target_line(ax, goal, f"target {goal:g} MB" if _finite(goal) else "")
    _variant_axis(ax, names)
    ax.set_ylabel("peak RSS, MB")
    ax.margins(y=0.12)
    ax.legend(fontsize=8, loc="lower right")
    missing = [n for n in names if n not in mem]
    return Plot("memory", title, caption, _png(fig), f"not measured: {', '.join(missing)}" if missing else "")


def accuracy(record: RunRecord) -> Plot:
    title = "Accuracy against the labels"
    caption = "Left: Pearson correlation of predictions with the labels (dashed: the target). Right: mean absolute error."
    acc = {r.variant: r for r in record.results_of(AccuracyResult)}
    if not acc:
        return Plot("accuracy", title, caption, None, "accuracy was not measured in this run")
    names = record.variants
    colors = color_of(record)
    fig, (left, right) = _figure(2)
    for ax, key, label in ((left, "pearson", "Pearson"), (right, "mae", "MAE")):
        vals = [getattr(acc[n], key) if n in acc and _finite(getattr(acc[n], key)) else None for n in names]
        ax.bar([i for i, v in enumerate(vals) if v is not None], [v for v in vals if v is not None], 0.6,
               color=[colors[n] for n, v in zip(names, vals) if v is not None])
        for i, v in enumerate(vals):
            if v is None:
                _no_data(ax, i)
            else:
                ax.annotate(f"{v:.3f}", (i, v), xytext=(0, 2), textcoords="offset points", ha="center",
                            va="bottom", fontsize=8)
        _variant_axis(ax, names)
        ax.set_ylabel(label)
        ax.margins(y=0.15)
    goal = target(record, "pearson")
    _target_line(left, goal, f"target {goal:g}" if _finite(goal) else "")
    shown = [acc[n].pearson for n in names if n in acc and _finite(acc[n].pearson)]
    if shown:  # zoom on the region that tells variants apart, keeping the target in view
        low = min(shown + ([goal] if _finite(goal) else []))
        span = max(0.02, max(shown) - low)
        left.set_ylim(max(-1.0, low - 0.3 * span), min(1.0, max(shown) + 0.3 * span))
        left.legend(fontsize=8, loc="lower right")
    return Plot("accuracy", title, caption, _png(fig))


def latency_vs_accuracy(record: RunRecord) -> Plot:
    title = "Latency against accuracy"
    caption = ("Each variant's batch-1 p95 per image against its Pearson with the labels. Filled: ready; hollow: "
               "not ready. The shaded corner meets both targets.")
    lat = {r.variant: r.per_image_ms.get("p95") for r in record.results_of(LatencyResult) if r.batch_size == 1}
    acc = {r.variant: r.pearson for r in record.results_of(AccuracyResult)}
    ready = {v.variant: v.ready for v in record.verdict.variants}
    names = [n for n in record.variants if _finite(lat.get(n)) and _finite(acc.get(n))]
    if not names:
        return Plot("latency_vs_accuracy", title, caption, None,
                    "no variant has both batch-1 latency and accuracy in this run")
    colors = color_of(record)
    fig, (ax,) = _figure()
    for name in names:
        filled = ready.get(name, False)
        ax.scatter([lat[name]], [acc[name]], s=60, color=colors[name] if filled else "white",
                   edgecolors=colors[name], linewidths=1.5, zorder=3, label=name + ("" if filled else " (not ready)"))
    lat_goal, acc_goal = target(record, "latency_p95_ms"), target(record, "pearson")
    xs = [lat[n] for n in names] + ([lat_goal] if _finite(lat_goal) else [])
    ys = [acc[n] for n in names] + ([acc_goal] if _finite(acc_goal) else [])
    log = _wide_range(xs)
    if log:
        ax.set_xscale("log")
    xlo, xhi = min(xs), max(xs)
    pad = (xhi / xlo) ** 0.1 if log and xlo > 0 else None
    ax.set_xlim(*((xlo / pad, xhi * pad) if pad else (xlo - 0.1 * (xhi - xlo or 1), xhi + 0.1 * (xhi - xlo or 1))))
    ylo, yhi = min(ys), max(ys)
    span = (yhi - ylo) or 0.05
    ax.set_ylim(ylo - 0.15 * span, min(1.0, yhi + 0.15 * span) if yhi < 1.0 else yhi + 0.02)
    _target_line(ax, lat_goal, "targets", vertical=True)
    _target_line(ax, acc_goal, "_nolegend_" if _finite(lat_goal) else "targets")
    if _finite(lat_goal) and _finite(acc_goal):
        (x0, _), (_, y1) = ax.get_xlim(), ax.get_ylim()
        ax.fill_between([x0, lat_goal], acc_goal, y1, color="#55A868", alpha=0.10, label="meets both targets")
    ax.set_xlabel("batch-1 p95, ms per image")
    ax.set_ylabel("Pearson")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    skipped = [n for n in record.variants if n not in names]
    return Plot("latency_vs_accuracy", title, caption, _png(fig),
                f"not shown (missing latency or accuracy): {', '.join(skipped)}" if skipped else "")


PLOTS: tuple[Callable[[RunRecord], Plot], ...] = (
    latency_by_variant, latency_distribution, peak_memory, accuracy, latency_vs_accuracy,
)


def all_plots(record: RunRecord | Mapping[str, Any]) -> list[Plot]:
    record = RunRecord.of(record)
    return [draw(record) for draw in PLOTS]
