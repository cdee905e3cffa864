"""After a default run: the runtimes' own tools on the run's own artifacts, beside the verdict's
batch-1 figure; and, over several runs, whether the recommendation held.

    python examples/regression_evidence/recommendation.py tools RECORD.json   # right after a run
    python examples/regression_evidence/recommendation.py summary OUT_DIR     # over recommendation.sh's runs
    python examples/regression_evidence/recommendation.py rescore OUT_DIR     # each run's results, scored by this code
    python examples/regression_evidence/recommendation.py alternate VARIANT   # harness figure and bare loop, alternating

``tools``: for each ONNX Runtime and OpenVINO variant of the record, ``benchmark_app`` (three runs
of -t 3, the variant's compile settings) or a bare ``InferenceSession.run`` loop (three windows of
a second, the variant's threads) on the artifact the run measured, in this process, which imports
neither torch nor qpbench's measurement code; prints the verdict's batch-1 median beside it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from qpbench.measure.agreement import Harness, bare_windows, versus_benchmark_app
from qpbench.record import RunRecord
from qpbench.results import ToolAgreementResult, VariantInfo
from qpbench.runtime.backends import OnnxRuntimeBackend


PLANTED = "openvino-int8-torch-between"  # planted.py: openvino-int8, torch work before every call
N_PARAMS = 13  # the vtracer parameter vector (the SSIM task's second input)


def tool_ms(info: VariantInfo, input_size: int) -> tuple[str, float]:
    """(the tool, its median ms) on the variant's artifact, run now, at batch 1."""
    import numpy as np

    meta = info.meta
    image_shape, n_params = (1, 3, input_size, input_size), N_PARAMS
    if meta["runtime"] == "openvino":
        r = versus_benchmark_app(info.variant, Harness(0.0, 0.0, 0.0), meta["artifact"], meta.get("inference_threads"),
                                 meta.get("precision") or "f32", image_shape, n_params)
        return "benchmark_app", r.tool_ms
    backend = OnnxRuntimeBackend.load(meta["artifact"], meta.get("intra_op_threads"))
    feeds = {"image": np.random.default_rng(0).random(image_shape, dtype=np.float32),
             "params": np.random.default_rng(1).random((1, n_params), dtype=np.float32)}
    samples, _ = bare_windows(lambda: backend.session.run(None, feeds))
    return "bare InferenceSession.run loop", float(np.median(samples))


def tools(record_path: Path) -> None:
    record = RunRecord.load(record_path)
    p50 = {v.variant: v.batch1_p50_ms for v in record.verdict.variants}
    in_run = {r.variant: r for r in record.results_of(ToolAgreementResult)}
    rows = []
    for info in record.results_of(VariantInfo):
        if info.meta.get("runtime") not in ("openvino", "onnxruntime") or not info.meta.get("artifact") \
                or info.meta.get("hint", "LATENCY") != "LATENCY" or p50.get(info.variant) is None:
            continue
        tool, ms = tool_ms(info, record.workload.input_size)
        check = in_run.get(info.variant)
        rows.append({"variant": info.variant, "verdict_p50_ms": p50[info.variant], "tool": tool, "tool_ms": ms,
                     "ratio": p50[info.variant] / ms,
                     "in_run": None if check is None else {"call": check.call, "ratio": check.ratio,
                                                           "remeasured": check.remeasured}})
    print(json.dumps({"record": str(record_path), "tools_after_run": rows}))


def summary(out: Path) -> None:
    runs = []
    for log in sorted((out / "logs").glob("run*.txt"), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0)):
        found = re.search(r"^results: (\S+\.json)$", log.read_text(), re.M)
        if found is None:
            print(f"{log.name}: no record (the run failed?)")
            continue
        record = RunRecord.load(found[1])
        after = out / "logs" / f"{log.stem}.tools.json"
        checks = json.loads(after.read_text())["tools_after_run"] if after.exists() else []
        runs.append((log.stem, record, checks))
    scores: dict[str, list[float]] = {}
    for name, record, checks in runs:
        v = record.verdict
        for variant in v.variants:
            scores.setdefault(variant.variant, []).append(variant.score)
        wall = (record.timing or {}).get("wall_s")
        planted = PLANTED in {x.variant for x in v.variants}
        print(f"{name}{' (planted)' if planted else ''}: recommended {v.recommended} ({v.recommended_score}), "
              f"tie {list(v.tie) or 'none'}, ready {sorted(x.variant for x in v.variants if x.ready)}, "
              f"wall {wall and round(wall)} s")
        if planted:
            p50 = {x.variant: x.batch1_p50_ms for x in v.variants}
            if p50.get(PLANTED) and p50.get("openvino-int8"):
                print(f"    {PLANTED} {p50[PLANTED]:.2f} ms against openvino-int8 {p50['openvino-int8']:.2f} ms "
                      f"({p50[PLANTED] / p50['openvino-int8']:.3f}x)")
        for c in checks:
            print(f"    {c['variant']}: verdict p50 {c['verdict_p50_ms']:.2f} ms, {c['tool']} {c['tool_ms']:.2f} ms "
                  f"after the run ({c['ratio']:.3f}x); in the run: {c['in_run']}")
        for line in v.recommendations:
            if line.startswith(("tie:", "Not enough")) or "head to head" in line:
                print(f"    {line}")
        for issue in v.critical_issues:
            if "unconfirmed" in issue or "broken comparison" in issue:
                print(f"    critical: {issue}")
    picks = {record.verdict.recommended for _, record, _ in runs}
    print(f"recommended over {len(runs)} runs: {sorted(map(str, picks))}")
    for variant, values in sorted(scores.items()):
        print(f"  {variant}: scores {values}, spread {max(values) - min(values):.2f}")


def rescore(out: Path) -> None:
    """Each run's results scored by the code in this checkout: the same records before and after a
    change to the scoring."""
    from qpbench.verdict import scoring

    for path in sorted((out / "results" / "runs").glob("*.json")):
        r = RunRecord.load(path)
        v = scoring.score(r.results, r.verdict.config, r.verdict.reference, r.errors,
                          screened_out=dict(r.verdict.screened_out))
        print(json.dumps({"record": path.name, "recommended": v.recommended, "tie": list(v.tie),
                          "scores": {x.variant: x.score for x in v.variants},
                          "ready": sorted(x.variant for x in v.variants if x.ready)}))


def alternate(variant: str, rounds: int = 3) -> None:
    """The latency test's figure and the tool check's bare loop of ``variant``, alternating in one
    worker (the build from the cache $QPBENCH_CACHE_DIR names): does the harness read slower?"""
    import tempfile

    from qpbench.config import get_profile
    from qpbench.measure.engine import Engine, EngineSettings
    from qpbench.suite.kernels import harness_of
    from qpbench.variants import REFERENCE, VariantRegistry
    from qpbench.variants.build_cache import build_cache_dir
    from qpbench.workload import WorkloadChoice, load_workload, resolve_spec

    workload = load_workload(resolve_spec(WorkloadChoice()))
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(VariantRegistry(), lambda: workload, EngineSettings(
            get_profile("default"), Path(tmp), REFERENCE, build_cache=build_cache_dir(), rebuild=False), lambda r: None)
        measured = engine.variant(variant)
        try:
            for i in range(rounds):
                (latency,) = measured.results("latency", batch_size=1, tail_targets_s=[[0.95, 0.05]])
                harness = harness_of(latency)
                (check,) = measured.results("tool_agreement", harness=harness)
                print(json.dumps({"round": i, "harness_ms": round(harness["median_ms"], 3), "bare_ms": round(check.tool_ms, 3),
                                  "ratio": round(harness["median_ms"] / check.tool_ms, 3)}))
        finally:
            engine.close()


if __name__ == "__main__":
    {"tools": lambda: tools(Path(sys.argv[2])), "summary": lambda: summary(Path(sys.argv[2])),
     "rescore": lambda: rescore(Path(sys.argv[2])), "alternate": lambda: alternate(sys.argv[2])}[sys.argv[1]]()
