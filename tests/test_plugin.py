"""The pytest plugin end to end, with pytester and a tiny model (see conftest.py)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from qpbench.verdict import decision
from qpbench.config import DEFAULT_VARIANTS
from tests.sane_results import problems

pytestmark = pytest.mark.slow  # every test starts a pytest session over bench/ on the tiny model

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
# The fresh-process and long-run measurements have their own tests (below, and test_long_run_plugin.py).
LONG_RUN = "test_stress or test_concurrency or test_loadgen"
FAST = f"not test_peak_memory and not ({LONG_RUN})"
# What the gate and the budget read: the kernels, the tool agreement and the head-to-head (measured
# by the first test below) decide nothing there, and take most of such a run's time.
GATE = f"{FAST} and not test_kernels and not test_head_to_head"
UNTIMED = ["--qp-target=latency_p95_ms=100000", "--qp-target=throughput_ips=0.001", "--qp-target=server_p99_ms=100000"]


@pytest.fixture
def suite(tiny_suite: pytest.Pytester) -> pytest.Pytester:
    return tiny_suite


TINY = ["--qp-model-factory=tinymodel:build", "--qp-checkpoint=tiny.pt", "--qp-dataset=tiny.npz",
        "--qp-input-size=16", "--qp-profile=quick", "--qp-variants=eager,optimized", "-p", "no:cacheprovider",
        # every variant that can still be recommended gets the measurements after the screen, whatever
        # the tiny variants' speeds: these tests are about the plugin (the contenders: test_contenders_plugin.py)
        "--qp-long-run=ready"]


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*TINY, *args)


def latest(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "results" / "latest.json").read_text())


def test_user_model_via_options_measures_every_variant_and_writes_json(suite, monkeypatch):
    # a latency target no busy machine misses: this test is about the plumbing, never about speed;
    # and every ready variant is in the race, so the head-to-head runs whatever their speeds
    monkeypatch.setattr(decision, "HEAD_TO_HEAD_WITHIN", 1e9)
    result = run(suite, "-k", f"not ({LONG_RUN})", "--qp-target", "latency_p95_ms=100000")
    # skipped: the fidelity of the reference with itself, and the two variants' whole-set accuracy
    # (their 24 samples are one look: judged on the whole set at the screen)
    result.assert_outcomes(passed=18, skipped=3)
    result.stdout.fnmatch_lines([
        "*qpbench deployment readiness*",
        "variant*p95 b1 ms/img*img/s*peak RSS MiB*Pearson*fidelity loss*score*ready*",
        "eager*1.000 ok*yes*",
        "optimized*1.000 ok*yes*",
        "recommended variant: *",
        "results: *.json",
    ])
    record = latest(suite)
    assert record["workload"]["model_factory"] == "tinymodel:build"
    assert record["verdict"]["recommended"] in ("eager", "optimized")
    assert set(record["fingerprint"]) >= {"cpu", "cores_physical", "cores_logical", "memory_total_mb", "torch",
                                          "torchvision", "num_threads", "thread_env", "build"}
    assert set(record["fingerprint"]["cpu"]["isa"]) >= {"avx2", "avx512f", "fma"}
    lat = [r for r in record["results"] if r["kind"] == "latency"]
    assert {(r["variant"], r["batch_size"]) for r in lat} == {(v, b) for v in ("eager", "optimized") for b in (1, 4)}
    assert all(len(r["samples_s"]) >= 5 and "p95" in r["summary"]["per_image_ms"] for r in lat)
    kinds = {r["kind"] for r in record["results"]}
    assert kinds == {"variant", "latency", "throughput", "memory", "batch_size", "accuracy", "fidelity", "paired",
                     "kernels", "tool_agreement", "head_to_head"}  # eager and optimized raced head to head
    assert isinstance(record["verdict"]["tie"], list)
    paired = {r["variant"]: r for r in record["results"] if r["kind"] == "paired"}
    assert paired["optimized"]["reference"] == "eager" and paired["eager"]["reference"] == "probe-v1"
    assert all(len(r["variant_s"]) == len(r["reference_s"]) >= 5 for r in paired.values())
    optimized = next(r for r in record["results"] if r["kind"] == "variant" and r["variant"] == "optimized")
    assert optimized["meta"]["conv_bn_folded"] == 1 and optimized["artifact_bytes"] > 0
    assert len(list((suite.path / "results" / "runs").glob("*.json"))) == 1


def test_peak_memory_runs_in_a_fresh_process(suite):
    result = run(suite, "-k", "test_peak_memory", "--qp-variants=optimized")
    result.assert_outcomes(passed=1)
    mem = next(r for r in latest(suite)["results"] if r["kind"] == "memory")
    assert 0 < mem["baseline_rss_mb"] <= mem["peak_rss_mb"]
    assert "build" in mem["torch_build"]


def test_gate_passes_and_fails_on_the_recommended_score(suite):
    # timing targets no loaded machine misses: the score must not depend on how busy the machine is
    ok = run(suite, "-k", GATE, "--qp-fail-under=50", *UNTIMED)
    assert ok.ret == 0
    ok.stdout.fnmatch_lines(["PASS qpbench gate: recommended variant * scores 100.0 >= 50"])
    # A latency target no variant can meet, not a hard gate: a recommendation exists but scores lower.
    low = run(suite, "-k", GATE, "--qp-fail-under=99", "--qp-hard-gates=pearson", "--qp-target=latency_p95_ms=0.000001")
    assert low.ret == 1
    low.stdout.fnmatch_lines(["FAIL qpbench gate: recommended variant * scores * < 99"])
    assert latest(suite)["gate"]["failed"] is True


def test_gate_fails_when_no_variant_is_ready(suite):
    result = run(suite, "-k", GATE, "--qp-fail-under=10", "--qp-target=latency_p95_ms=0.000001")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["recommended variant: none*", "*no variant is ready*",
                                 "FAIL qpbench gate: no variant is ready*"])


def test_gate_and_targets_from_ini_keys(suite):
    suite.makeini("""
        [pytest]
        qp_model_factory = tinymodel:build
        qp_checkpoint = tiny.pt
        qp_dataset = tiny.npz
        qp_input_size = 16
        qp_profile = quick
        qp_variants = eager
        qp_fail_under = 99
        qp_hard_gates = pearson
        qp_targets =
            latency_p95_ms=0.000001
    """)
    result = suite.runpytest("-k", GATE, "-p", "no:cacheprovider")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["FAIL qpbench gate: recommended variant eager scores * < 99"])
    assert latest(suite)["selected_variants"] == ["eager"]


def test_variant_selection(suite):
    result = run(suite, "-k", FAST, "--qp-variants=optimized", "--collect-only", "-q")
    ids = [line for line in result.outlines if "::" in line and "test_head_to_head" not in line]  # the whole run's
    assert ids and all("[optimized" in line for line in ids)


def test_user_model_via_conftest_fixture_override(suite):
    suite.makeconftest("""
        import pytest
        from qpbench.workload import WorkloadSpec, load_workload

        @pytest.fixture(scope="session")
        def qp_workload():
            return load_workload(WorkloadSpec(name="my-model", model_factory="tinymodel:build",
                                              checkpoint="tiny.pt", dataset="tiny.npz", input_size=16))
    """)
    result = suite.runpytest("-k", "accuracy", "--qp-profile=quick", "--qp-variants=eager,optimized",
                             "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, skipped=1)
    record = latest(suite)
    assert record["workload"]["name"] == "my-model"
    assert all(r["pearson"] == pytest.approx(1.0) for r in record["results"] if r["kind"] == "accuracy")


def test_variants_added_through_the_hook(suite):
    suite.makeconftest("""
        from qpbench.variants import VariantSpec, build_eager

        def build_one_thread(ctx):
            variant = build_eager(ctx)
            variant.threads = 1
            return variant

        def pytest_qpbench_register_variants(registry):
            registry.register(VariantSpec("one-thread", "eager on one thread", build_one_thread))
    """)
    result = run(suite, "-k", "accuracy or latency", "--qp-variants=eager,one-thread")
    result.assert_outcomes(passed=7, skipped=1)
    verdict = latest(suite)["verdict"]
    assert {v["variant"] for v in verdict["variants"]} == {"eager", "one-thread"}


def test_a_failing_measurement_is_a_critical_issue(suite):
    suite.makepyfile(test_extra="""
        def test_broken_probe(qp_variant):
            raise RuntimeError("probe crashed")
    """)
    result = run(suite, "-k", "accuracy or broken", "--qp-variants=eager")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*critical issues:*", "*eager: test_broken_probe*RuntimeError: probe crashed*"])
    assert latest(suite)["verdict"]["recommended"] is None


# `make test` runs this same `pytest bench/` first, as the project's self-gate (Makefile: the compact
# workload, the quick profile, --qp-long-run=all, gated), and names its output here: then the smoke test
# reads that run rather than making it a second time. Without it (`pytest tests/`), it makes its own.
SHARED_RUN = "QPBENCH_SMOKE_RUN"


def shared_bench_run(log: Path) -> tuple[pytest.LineMatcher, Path]:
    """The output and the record of the `pytest bench/` run whose output ``log`` holds, checked to be
    a whole run that passed."""
    if not log.is_file():
        pytest.fail(f"{SHARED_RUN}={log}: no such file (the output of `pytest bench/ -q`, as `make test` keeps it)")
    lines = log.read_text().splitlines()
    ended = [line for line in lines if re.search(r"\d+ passed.* in [\d.]+s", line)]
    assert ended and not re.search(r"\d+ (failed|errors?)\b", ended[-1]), f"{log}: not a whole run that passed"
    paths = [line.removeprefix("results: ") for line in lines if line.startswith("results: ")]
    assert len(paths) == 1, f"{log}: names {len(paths)} run records, not one"
    return pytest.LineMatcher(lines), Path(paths[0])


def test_smoke_real_bench_suite_on_the_compact_workload(pytester, tmp_path):
    """`pytest bench/` itself, every test of it, long runs included (stress, concurrency, LoadGen),
    in a fresh interpreter, on the shipped compact workload: every selected variant has every
    result, and each is sane (tests/sane_results.py), accuracy of the int8 variants included."""
    if os.environ.get(SHARED_RUN):
        stdout, record_path = shared_bench_run(Path(os.environ[SHARED_RUN]))
    else:
        result = pytester.runpytest_subprocess(
            str(BENCH), "--qp-workload=compact", "--qp-profile=quick", "--qp-long-run=all", f"--qp-results-dir={tmp_path}",
            "-p", "no:cacheprovider", f"--rootdir={REPO}", "-c", str(REPO / "pyproject.toml"), timeout=2400,
        )
        assert result.ret == 0, result.stdout.str()
        stdout, record_path = result.stdout, tmp_path / "latest.json"
    stdout.fnmatch_lines(["*qpbench deployment readiness*", "eager *", "optimized *", "fx-int8 *", "pt2e-int8 *",
                          "onnx-fp32 *", "onnx-int8 *", "openvino-fp32 *", "openvino-int8 *", "recommended variant: *", "best quantization method: *"])
    record = json.loads(record_path.read_text())
    assert record["workload"]["name"] == "compact" and record["profile"]["name"] == "quick"
    assert tuple(record["selected_variants"]) == DEFAULT_VARIANTS
    # the shipped compact checkpoint measures 0.97 on the whole shipped split, fp32 and int8 alike
    assert problems(record, DEFAULT_VARIANTS, pearson_floor=0.85) == []


def test_xdist_workers_send_records_and_the_controller_alone_writes(suite):
    """Under pytest-xdist, one verdict from every worker's records, one JSON file."""
    result = run(suite, "-n", "2", "-k", "accuracy or throughput")
    result.assert_outcomes(passed=5, skipped=1)
    record = latest(suite)
    kinds = sorted((r["kind"], r["variant"]) for r in record["results"] if r["kind"] != "variant")
    assert kinds == [("accuracy", "eager"), ("accuracy", "optimized"), ("fidelity", "optimized"),
                     ("throughput", "eager"), ("throughput", "optimized")]
    assert len(list((suite.path / "results" / "runs").glob("*.json"))) == 1
    result.stdout.fnmatch_lines(["*qpbench deployment readiness*"])


def test_a_variant_that_does_not_apply_is_skipped_with_its_reason(suite):
    suite.makeconftest("""
        from qpbench.errors import VariantUnavailable
        from qpbench.variants import VariantSpec

        def build_needs_gpu(ctx):
            raise VariantUnavailable("needs a package this machine lacks")

        def pytest_qpbench_register_variants(registry):
            registry.register(VariantSpec("gpu-only", "not here", build_needs_gpu))
    """)
    result = run(suite, "-k", "accuracy", "--qp-variants=eager,gpu-only")
    assert result.ret == 0
    result.assert_outcomes(passed=1, skipped=3)
    result.stdout.fnmatch_lines(["skipped variant gpu-only: needs a package this machine lacks"])
    verdict = latest(suite)["verdict"]
    assert verdict["skipped"] == [{"variant": "gpu-only", "reason": "needs a package this machine lacks"}]
    assert [v["variant"] for v in verdict["variants"]] == ["eager"]
    assert not any("gpu-only" in msg for msg in verdict["critical_issues"])


def test_a_variant_whose_build_crashes_is_a_critical_issue_and_the_run_goes_on(suite):
    suite.makeconftest("""
        from qpbench.variants import VariantSpec

        def build_broken(ctx):
            raise RuntimeError("kernel missing")

        def pytest_qpbench_register_variants(registry):
            registry.register(VariantSpec("broken", "crashes", build_broken))
    """)
    result = run(suite, "-k", "accuracy", "--qp-variants=eager,broken")
    assert result.ret == 1
    result.assert_outcomes(passed=1, skipped=1, errors=2)
    verdict = latest(suite)["verdict"]
    assert any(msg.startswith("broken: build failed: RuntimeError: kernel missing") for msg in verdict["critical_issues"])
    assert any(v["variant"] == "eager" for v in verdict["variants"])


def test_runtime_variants_run_in_the_suite_and_a_missing_runtime_is_a_skip_with_the_install_hint(suite):
    # As if qpbench[openvino] were not installed: a package that fails to import comes first on the
    # path of the variants' worker processes (they build and run the variants).
    (suite.path / "openvino").mkdir()
    (suite.path / "openvino" / "__init__.py").write_text("raise ImportError('No module named openvino')\n")
    result = run(suite, "-k", "accuracy", "--qp-variants=eager,onnx-fp32,openvino-fp32")
    assert result.ret == 0, result.stdout.str()
    result.stdout.re_match_lines([r"skipped variant openvino-fp32: openvino is not available .*pip install 'qpbench\[openvino\]'"])
    record = latest(suite)
    acc = {r["variant"]: r for r in record["results"] if r["kind"] == "accuracy"}
    assert acc["onnx-fp32"]["pearson"] == pytest.approx(acc["eager"]["pearson"], abs=1e-6)
    info = {r["variant"]: r for r in record["results"] if r["kind"] == "variant"}
    assert info["onnx-fp32"]["meta"]["runtime"] == "onnxruntime" and info["onnx-fp32"]["artifact_bytes"] > 0
    assert record["fingerprint"]["runtimes"]["onnxruntime"]


def test_the_scoring_a_hook_makes_is_the_one_the_screen_the_tests_and_the_verdict_use(suite):
    """``pytest_qpbench_make_scoring`` is resolved once, before the first test: the screen, the
    latency test's p95 target and the verdict all judge by the scoring it returns, never by the
    one the options made (here a p95 target no variant can meet, which would screen both out)."""
    suite.makeconftest("""
        from dataclasses import replace

        from qpbench.plugin import qp_session_of


        def pytest_qpbench_make_scoring(config, scoring):
            return replace(scoring, targets=replace(scoring.targets, latency_p95_ms=100000.0))


        def pytest_runtest_call(item):
            with open("targets-seen.txt", "a") as seen:
                seen.write(f"{qp_session_of(item.config).settings.scoring.targets.latency_p95_ms}\\n")
    """)
    result = run(suite, "-k", "accuracy or fidelity or latency or throughput", "--qp-target=latency_p95_ms=0.001",
                 "--qp-target=throughput_ips=0.001")
    assert result.ret == 0, result.stdout.str()
    assert "screened out" not in result.stdout.str()
    verdict = latest(suite)["verdict"]
    assert verdict["targets"]["latency_p95_ms"] == 100000.0 and verdict["screened_out"] == []
    assert {(r["variant"], r["kind"]) for r in latest(suite)["results"]} >= {("eager", "throughput"),
                                                                             ("optimized", "throughput")}
    assert set((suite.path / "targets-seen.txt").read_text().split()) == {"100000.0"}


def test_a_variant_that_cannot_be_recommended_is_measured_in_the_screen_only(suite):
    """A variant whose predictions are constant misses the accuracy gates in the screen: its
    measurements after the screen are skipped with why, the others' are made, and the verdict
    lists it as screened out; --qp-long-run=NAME measures it in full."""
    suite.makepyfile(constmodel="""
        import torch

        from qpbench.variants import Variant


        class Constant(torch.nn.Module):
            def forward(self, image, params):
                return torch.full((image.shape[0],), 0.5)


        def build(ctx):
            return Variant("constant", Constant(), "always 0.5")
    """)
    suite.makeconftest("""
        from qpbench.variants import VariantSpec

        def pytest_qpbench_register_variants(registry):
            registry.register(VariantSpec("constant", "always 0.5", "constmodel:build"))
    """)
    picked = ["-k", "accuracy or fidelity or latency or throughput", *UNTIMED, "--qp-hard-gates=fidelity_loss",
              "--qp-variants=eager,constant"]
    result = run(suite, *picked)
    result.assert_outcomes(passed=7, skipped=3)  # eager's fidelity, constant's batch-4 latency and throughput
    result.stdout.fnmatch_lines(["*screened out constant (measured in the screen only): fidelity_loss*"])
    verdict = latest(suite)["verdict"]
    assert [s["variant"] for s in verdict["screened_out"]] == ["constant"]
    measured = {(r["variant"], r["kind"], r.get("batch_size")) for r in latest(suite)["results"]}
    assert ("constant", "latency", 1) in measured and ("constant", "throughput", 4) not in measured
    assert ("eager", "latency", 4) in measured and ("eager", "throughput", 4) in measured
    result = run(suite, *picked, "--qp-long-run=constant")
    result.assert_outcomes(passed=9, skipped=1)
    assert latest(suite)["verdict"]["screened_out"] == []


def test_long_run_names_must_be_selected_variants(suite):
    result = run(suite, "--qp-long-run=nosuch")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--qp-long-run names ['nosuch'], which are not selected" in result.stderr.str()


def test_the_run_prints_its_plan_keeps_its_timing_and_fits_a_budget(suite):
    """The first run has no estimate and records where its time went; the second plans from it,
    and with a budget scales its time ceilings and skips what would end past it."""
    picked = ["-k", GATE, *UNTIMED]
    result = run(suite, *picked)
    result.stdout.fnmatch_lines(["qpbench plan: 2 variants x * measurements (* tests), profile quick; no estimate yet*"])
    timing = latest(suite)["timing"]
    assert timing["budget_s"] is None and timing["scale"] == 1.0
    assert {"builds", "accuracy", "latency/throughput"} <= set(timing["stages_s"])
    assert sum(timing["stages_s"].values()) <= timing["wall_s"] + 0.05 * (len(timing["stages_s"]) + 1)  # each rounded to 0.1 s
    budget_min = 0.8 * timing["wall_s"] / 60
    result = run(suite, *picked, f"--qp-budget={budget_min:.4f}")
    result.stdout.fnmatch_lines(["qpbench plan: *; expected * from the last run here (builds *)",
                                 "qpbench budget: *time ceilings at *% of the profile's*"])
    # This run's builds came from the build cache: their times are kept apart, for the next warm run's plan.
    (history,) = (Path(os.environ["QPBENCH_BUILD_CACHE_DIR"]) / "history").glob("*.json")
    seconds = json.loads(history.read_text())["seconds"]
    assert {"build:eager", "build:eager@cached", "eager::test_accuracy[eager]@cached"} <= set(seconds)
    timing = latest(suite)["timing"]
    assert timing["budget_s"] == pytest.approx(60 * budget_min, rel=1e-3) and timing["scale"] < 1.0
    # Judged on the record's own clock. The screen always runs, so a screen slower than last time
    # may end past the budget; after it, a test starts only if it should end within the budget by
    # the last run's times, which a test on a shared machine can overrun (a CI run at 99d4200: 8.9 s
    # against a 6.96 s budget, the screen ending at 6.5 s), so the bound allows half the budget more.
    assert timing["screen_s"] is not None and timing["screen_s"] <= timing["wall_s"]
    assert timing["wall_s"] <= 1.5 * max(timing["budget_s"], timing["screen_s"]), timing
    # A budget the screen alone exceeds: the screen runs, every measurement after it is skipped with why.
    result = run(suite, *picked, "--qp-budget=0.001", "-rs")
    # The screen: accuracy, speed and batch-1 latency of both, fidelity of optimized (eager's own is
    # skipped); after it, batch-4 latency, throughput and the whole-set accuracy of both are skipped.
    result.assert_outcomes(passed=7, skipped=7)
    over = re.findall(r"SKIPPED \[(\d+)\].*over the --qp-budget of 0\.001 min", result.stdout.str())
    assert sum(int(n) for n in over) == 6
