"""The smoke test's check of a run record: a clean record passes, each planted fault is named."""

from __future__ import annotations

import copy

import pytest

from tests.sane_results import problems

VARIANTS = ("eager", "fx-int8")


def results_of(v: str) -> list[dict]:
    out = [
        {"kind": "variant", "variant": v},
        {"kind": "latency", "variant": v, "batch_size": 1, "samples_s": [0.001, 0.0012]},
        {"kind": "throughput", "variant": v, "images": 400, "duration_s": 0.5},
        {"kind": "memory", "variant": v, "baseline_rss_mb": 300.0, "peak_rss_mb": 350.0},
        {"kind": "accuracy", "variant": v, "n_samples": 200, "pearson": 0.95},
        {"kind": "stress", "variant": v, "latencies_s": [0.001] * 5, "rss_mb": [350.0] * 5},
        {"kind": "concurrency", "variant": v, "latencies_s": [0.002], "errors": 0, "error_messages": []},
        *({"kind": "loadgen", "variant": v, "scenario": s, "samples_per_s": 900.0, "queries": 64,
           "latency_ms": {"p50": 1.0, "p99": 2.0}} for s in ("SingleStream", "Offline", "Server")),
        {"kind": "server_search", "variant": v, "max_valid_qps": 400.0, "tried_qps": [200.0, 400.0]},
    ]
    if v != "eager":
        out.append({"kind": "fidelity", "variant": v, "reference": "eager", "correlation": 0.99})
    return out


@pytest.fixture
def record() -> dict:
    return {"results": [r for v in VARIANTS for r in results_of(v)]}


def test_a_clean_record_has_no_problems(record):
    assert problems(record, VARIANTS, pearson_floor=0.85) == []


def drop(kind: str, variant: str = "fx-int8", scenario: str | None = None):
    def plant(record):
        record["results"] = [r for r in record["results"] if not (
            r["kind"] == kind and r["variant"] == variant and (scenario is None or r.get("scenario") == scenario))]
    return plant


def change(kind: str, key: str, value, variant: str = "fx-int8"):
    def plant(record):
        for r in record["results"]:
            if r["kind"] == kind and r["variant"] == variant:
                r[key] = value
    return plant


@pytest.mark.parametrize(("plant", "expect"), [
    (drop("accuracy"), "fx-int8: no accuracy result"),
    (drop("stress", "eager"), "eager: no stress result"),
    (drop("loadgen", scenario="Server"), "fx-int8: loadgen scenarios ['Offline', 'SingleStream']"),
    (change("accuracy", "pearson", 0.4), "fx-int8: accuracy: Pearson 0.4 on 200 samples, below 0.85"),
    (change("accuracy", "pearson", float("nan")), "fx-int8: accuracy: Pearson nan"),
    (change("latency", "samples_s", [0.001, float("inf")]), "fx-int8: latency: latencies not all positive"),
    (change("memory", "peak_rss_mb", 100.0), "fx-int8: memory: RSS baseline 300.0 MiB, peak 100.0 MiB"),
    (change("fidelity", "correlation", 0.2), "fx-int8: fidelity: correlation with eager 0.2"),
    (change("concurrency", "errors", 3), "fx-int8: concurrency: 3 errors"),
    (change("loadgen", "samples_per_s", 0.0), "fx-int8: loadgen: Offline: 0.0 samples/s"),
    (change("loadgen", "latency_ms", {"p50": 1.0, "p99": float("nan")}), "fx-int8: loadgen: SingleStream: "),
    (lambda r: r["results"].append({"kind": "worker_failure", "variant": "eager", "measurement": "stress",
                                    "failure": "signal"}), "eager: a stress worker failed: signal"),
])
def test_each_planted_fault_is_named(record, plant, expect):
    faulty = copy.deepcopy(record)
    plant(faulty)
    found = problems(faulty, VARIANTS, pearson_floor=0.85)
    assert any(p.startswith(expect) for p in found), found


def test_single_stream_has_no_rate_to_check(record):
    for r in record["results"]:
        if r["kind"] == "loadgen" and r["scenario"] == "SingleStream":
            r["samples_per_s"] = 0.0  # what LoadGen's SingleStream summary gives
    assert problems(record, VARIANTS, pearson_floor=0.85) == []


def test_without_long_runs_only_the_short_kinds_are_required(record):
    record["results"] = [r for r in record["results"] if r["kind"] not in ("stress", "concurrency", "loadgen",
                                                                           "server_search")]
    assert problems(record, VARIANTS, pearson_floor=0.85, long_run=False) == []
    assert "eager: no stress result" in problems(record, VARIANTS, pearson_floor=0.85)
