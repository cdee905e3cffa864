"""What "every selected variant's results are present and sane" means for a run record: used by
the `pytest bench/` smoke test (tests/test_plugin.py) and tested on planted faults
(tests/test_sane_results.py)."""

from __future__ import annotations

import math
from collections.abc import Iterable

from qpbench.variant_info import REFERENCE

SHORT_KINDS = ("variant", "latency", "throughput", "memory", "accuracy")
LONG_KINDS = ("stress", "concurrency", "loadgen", "server_search")
SCENARIOS = {"SingleStream", "Offline", "Server"}


def positive(values: Iterable[float]) -> bool:
    values = list(values)
    return bool(values) and all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in values)


def problems(record: dict, variants: Iterable[str], pearson_floor: float, fidelity_floor: float = 0.9,
             long_run: bool = True) -> list[str]:
    """Every way the record's results for ``variants`` are missing or not sane; empty when all are."""
    found: list[str] = []
    by_variant: dict[str, list[dict]] = {}
    for r in record["results"]:
        by_variant.setdefault(r["variant"], []).append(r)
        if r["kind"] == "worker_failure":
            found.append(f"{r['variant']}: a {r.get('measurement')} worker failed: {r.get('failure')}")
    for v in variants:
        results = by_variant.get(v, [])
        kinds = {r["kind"] for r in results}
        wanted = SHORT_KINDS + (LONG_KINDS if long_run else ()) + (("fidelity",) if v != REFERENCE else ())
        found += [f"{v}: no {kind} result" for kind in wanted if kind not in kinds]
        for r in results:
            found += [f"{v}: {r['kind']}: {p}" for p in result_problems(r, pearson_floor, fidelity_floor)]
        if long_run and "loadgen" in kinds:
            scenarios = {r["scenario"] for r in results if r["kind"] == "loadgen"}
            if scenarios != SCENARIOS:
                found.append(f"{v}: loadgen scenarios {sorted(scenarios)}, not {sorted(SCENARIOS)}")
    return found


def result_problems(r: dict, pearson_floor: float, fidelity_floor: float) -> list[str]:
    kind = r["kind"]
    checks: list[tuple[bool, str]] = []
    if kind == "latency":
        checks.append((positive(r["samples_s"]), f"latencies not all positive and finite: {r['samples_s'][:5]}"))
    elif kind == "throughput":
        checks.append((positive([r["images"], r["duration_s"]]), f"{r['images']} images in {r['duration_s']} s"))
    elif kind == "memory":
        ok = positive([r["baseline_rss_mb"], r["peak_rss_mb"]]) and r["baseline_rss_mb"] <= r["peak_rss_mb"]
        checks.append((ok, f"RSS baseline {r['baseline_rss_mb']} MiB, peak {r['peak_rss_mb']} MiB"))
    elif kind == "accuracy":
        pearson = r["pearson"]
        ok = r["n_samples"] > 0 and pearson is not None and math.isfinite(pearson) and pearson >= pearson_floor
        checks.append((ok, f"Pearson {pearson} on {r['n_samples']} samples, below {pearson_floor}"))
    elif kind == "fidelity":
        corr = r["correlation"]
        checks.append((corr is not None and math.isfinite(corr) and corr >= fidelity_floor,
                       f"correlation with {r['reference']} {corr}, below {fidelity_floor}"))
    elif kind == "stress":
        checks.append((positive(r["latencies_s"]) and positive(r["rss_mb"]), "latencies or RSS not positive and finite"))
    elif kind == "concurrency":
        checks.append((positive(r["latencies_s"]) and r["errors"] == 0,
                       f"{r['errors']} errors, {len(r['latencies_s'])} latencies: {list(r['error_messages'])[:2]}"))
    elif kind == "loadgen":  # SingleStream's metric is its latency: no samples per second
        rates = [r["samples_per_s"]] if r["scenario"] != "SingleStream" else []
        checks.append((positive([*rates, *r["latency_ms"].values()]) and r["queries"] > 0,
                       f"{r['scenario']}: {r['samples_per_s']} samples/s, latencies {r['latency_ms']}"))
    elif kind == "server_search":
        qps = r["max_valid_qps"]
        checks.append((math.isfinite(qps) and qps >= 0 and bool(r["tried_qps"]), f"max QPS {qps}, tried {r['tried_qps']}"))
    return [message for ok, message in checks if not ok]
