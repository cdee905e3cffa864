"""Leak and slowdown detectors on planted faults, crash and hang isolation, and no false
alarms on clean tiny models. Worker processes are real; timing-free checks use fake clocks."""

from __future__ import annotations

import json
import re
import threading

import numpy as np
import pytest

from qpbench.config import ScoringConfig, Targets
from qpbench.measure.isolation import WorkerFailed
from qpbench.measure.stress import confirmed_stress_loop, measure_stress, shown_flat, stress_loop
from qpbench.results import StressResult
from qpbench.verdict.scoring import score

from .planted import planted  # noqa: F401  (fixture)

EAGER = "qpbench.variants:build_eager"
TARGETS = Targets()


def stress(workload, iterations=600, timeout_s=120.0):
    return measure_stress(workload, "eager", EAGER, {"threads": 1}, batch_size=1, iterations=iterations,
                          warmup=30, timeout_s=timeout_s)


class FakeClock:
    """Time that moves only when the fake inference says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def fake_inference(latency_at, rss_at, probe_at=None):
    """(call, clock, RSS reader, probe or None) of a fake inference whose latency and RSS, and the
    machine-speed probe's time, are functions of the call number."""
    clock, calls, rss = FakeClock(), [0], [0.0]

    def call():
        i = calls[0]
        calls[0] += 1
        clock.now += latency_at(i)
        rss[0] = rss_at(i)

    def probe():
        clock.now += probe_at(calls[0] - 1)

    return call, clock, lambda: rss[0], probe if probe_at else None


def fake_run(latency_at, rss_at, iterations=1000, warmup=0):
    """stress_loop over a fake inference."""
    call, clock, rss, _ = fake_inference(latency_at, rss_at)
    series = stress_loop(call, iterations, warmup, timer=clock, rss=rss)
    assert series.probe_s == [None] * iterations and series.heap_mb == []
    return StressResult("fake", 1, warmup, 100.0, 200.0, tuple(series.latencies_s), tuple(series.rss_mb))


# Detectors on synthetic runs (fake clock, fake RSS) -----------------------------------------


def page_noise(seed):
    rng = np.random.default_rng(seed)
    noise = rng.integers(-2, 3, 20_000) * 4096 / 2**20  # RSS wobbles by whole 4 KiB pages
    jitter = rng.lognormal(0.0, 0.3, 20_000)
    return noise, jitter


@pytest.mark.parametrize("seed", range(10))
def test_a_clean_synthetic_run_is_not_flagged(seed):
    noise, jitter = page_noise(seed)
    r = fake_run(lambda i: 0.010 * jitter[i], lambda i: 500.0 + noise[i])
    assert r.leak_mb_per_1k <= TARGETS.leak_mb_per_1k
    assert r.slowdown_pct <= TARGETS.slowdown_pct


@pytest.mark.parametrize("seed", range(10))
def test_a_synthetic_leak_of_1mb_per_1000_inferences_is_caught(seed):
    noise, jitter = page_noise(seed)
    r = fake_run(lambda i: 0.010 * jitter[i], lambda i: 500.0 + 0.001 * i + noise[i])
    assert r.leak_mb_per_1k == pytest.approx(1.0, rel=0.3)
    assert r.rss_trend.low > 0


@pytest.mark.parametrize("seed", range(10))
def test_a_synthetic_30_percent_slowdown_is_caught(seed):
    noise, jitter = page_noise(seed)
    r = fake_run(lambda i: 0.010 * (1 + 0.3 * i / 1000) * jitter[i], lambda i: 500.0 + noise[i])
    assert r.slowdown_pct == pytest.approx(30, abs=10)
    assert r.slowdown_pct > TARGETS.slowdown_pct


def test_growth_that_stops_after_warm_up_is_not_a_leak():
    # Caches filling for the first 300 inferences (2 MB), flat after: not a leak.
    r = fake_run(lambda i: 0.01, lambda i: 500.0 + 2.0 * min(i, 300) / 300)
    assert r.leak_mb_per_1k == 0.0


def confirmed_run(latency_at, rss_at, iterations=800, probe_at=None, heap_at=None, floor=None):
    """confirmed_stress_loop over a fake inference: extended once when a trend appears; with a
    ``floor``, it may end from there on by the default targets' stopping rule."""
    call, clock, rss, probe = fake_inference(latency_at, rss_at, probe_at)
    calls = iter(range(10**6))
    heap = (lambda: heap_at(next(calls))) if heap_at else None
    early = {"stop": shown_flat(TARGETS, iterations), "floor": floor} if floor else {}
    series, extended = confirmed_stress_loop(call, iterations, 0, timer=clock, rss=rss, probe=probe, heap=heap,
                                             **early)
    return StressResult("fake", 1, 0, 100.0, 200.0, tuple(series.latencies_s), tuple(series.rss_mb),
                        extended=extended, probe_s=tuple(series.probe_s), heap_mb=tuple(series.heap_mb),
                        planned=iterations)


@pytest.mark.parametrize("seed", range(10))
def test_growth_that_levels_off_late_is_warm_up_growth_not_a_leak(seed):
    """0.6 MB over the first 650 calls, flat after (a runtime arena filling): the 800-call run sees
    a trend in its second half, is extended, and the extension is flat: no leak, 0.6 MB of warm-up
    growth, said so."""
    noise, jitter = page_noise(seed)
    r = confirmed_run(lambda i: 0.010 * jitter[i], lambda i: 500.0 + 0.6 * min(i, 650) / 650 + noise[i])
    assert r.extended == 800 and r.leak_mb_per_1k == 0.0
    assert r.warmup_growth_mb == pytest.approx(0.6, abs=0.15)
    advice = " ".join(score([r], ScoringConfig(), "fake").recommendations)
    assert re.search(r"RSS grew and then stayed flat \(fake 0\.[5-7] MB in the first 800 inferences\)", advice)


@pytest.mark.parametrize("seed", range(10))
def test_a_leak_that_goes_on_is_confirmed_on_the_extension(seed):
    noise, jitter = page_noise(seed)
    r = confirmed_run(lambda i: 0.010 * jitter[i], lambda i: 500.0 + 0.0005 * i + noise[i])
    assert r.extended == 800 and r.leak_mb_per_1k == pytest.approx(0.5, rel=0.35)


@pytest.mark.parametrize("seed", range(10))
def test_a_slowdown_that_goes_on_is_confirmed_and_a_burst_that_stops_is_not(seed):
    noise, jitter = page_noise(seed)
    slowing = confirmed_run(lambda i: 0.010 * (1 + 0.3 * i / 1600) * jitter[i], lambda i: 500.0 + noise[i])
    assert slowing.extended and slowing.slowdown_pct > TARGETS.slowdown_pct
    # Slower calls in the second half of the first run only (another tenant for a while), then normal.
    burst = confirmed_run(lambda i: 0.010 * (1.5 if 500 <= i < 800 else 1.0) * jitter[i], lambda i: 500.0 + noise[i])
    assert burst.slowdown_pct == 0.0


@pytest.mark.parametrize("seed", range(10))
def test_a_clean_run_is_not_flagged_extended_or_not(seed):
    noise, jitter = page_noise(seed)
    r = confirmed_run(lambda i: 0.010 * jitter[i], lambda i: 500.0 + noise[i])
    assert r.leak_mb_per_1k == 0.0 and r.slowdown_pct == 0.0
    assert "RSS grew" not in " ".join(score([r], ScoringConfig(), "fake").recommendations)


@pytest.mark.parametrize("seed", range(10))
def test_one_step_of_memory_in_an_extension_is_not_a_leak(seed):
    """A slowing model's run is extended, and 288 KB of RSS arrive at once inside the extension, the
    heap in use flat (seen in the detector series on the AVX-512 AMD EPYC: a heap extended once):
    the slowdown is flagged, the step is no leak. Such a step every 300 calls is."""
    noise, jitter = page_noise(seed)
    slowing = lambda i: 0.010 * (1 + 0.3 * i / 1600) * jitter[i]  # noqa: E731
    at = 1000 + 37 * seed  # somewhere in the extension's first half
    one = confirmed_run(slowing, lambda i: 500.0 + (0.28 if i >= at else 0.0) + noise[i], heap_at=lambda i: 130.0)
    assert one.extended == 800 and one.slowdown_pct > TARGETS.slowdown_pct
    assert one.leak_mb_per_1k <= TARGETS.leak_mb_per_1k
    steps = confirmed_run(slowing, lambda i: 500.0 + 0.28 * (max(0, i - 800) // 300) + noise[i],
                          heap_at=lambda i: 130.0)
    assert steps.leak_mb_per_1k > TARGETS.leak_mb_per_1k


@pytest.mark.slow
def test_the_pool_probe_computes_what_the_numpy_probe_does_and_keeps_nothing():
    """A torch worker's probe (the same sum of square roots, on the model's intra-op pool) reads
    the same figure as the numpy one, and 10,000 calls leave the heap in use where it was."""
    from qpbench.measure.stress import machine_probe, pool_probe
    from qpbench.runtime.rss import heap_in_use_mb

    torch_probe, numpy_probe = pool_probe(), machine_probe()
    assert float(torch_probe()) == pytest.approx(float(numpy_probe()), rel=1e-12)
    if heap_in_use_mb() is None:
        pytest.skip("no glibc heap reader on this platform")
    for _ in range(100):
        torch_probe()
    before = heap_in_use_mb()
    for _ in range(10_000):
        torch_probe()
    assert heap_in_use_mb() - before < 0.05  # a 0.5 MB/1k leak would be 5 MB


def test_the_rules_run_on_a_thread_of_their_own():
    """The stopping rules' temporaries are allocated away from the thread that runs the model (its
    own malloc arena): the rule is never called on the measuring thread."""
    callers = []

    def stop(series):
        callers.append(threading.get_ident())
        return False

    call, clock, rss, _ = fake_inference(lambda i: 0.01 * (1 + i / 500), lambda i: 500.0)  # slowing: extended
    series, extended = confirmed_stress_loop(call, 600, 0, timer=clock, rss=rss, stop=stop, floor=400)
    assert extended and len(callers) >= 3 and threading.get_ident() not in callers


PROBE_SIGMA = 0.1  # the numpy probe's per-call spread (log MAD) on the 2-vCPU Ice Lake Xeon: 0.12


def machine_spells(seed, slower=0.4):
    """How much slower than usual the machine runs at each call: spells of 100-400 calls, each at the
    usual speed or up to ``slower`` slower (another tenant coming and going)."""
    rng = np.random.default_rng(1000 + seed)
    speed = []
    while len(speed) < 20_000:
        speed += [1.0 + rng.choice([0.0, rng.uniform(0.1, slower)])] * int(rng.integers(100, 400))
    return np.array(speed[:20_000])


def test_another_tenant_slowing_the_machine_is_not_the_models_slowdown():
    """The machine 40% slower from call 500 on (another tenant arrives), model and probe alike (the
    probe runs beside the model), over 10 seeded runs: never a slowdown with the probe; the same
    calls judged without it mostly are one."""
    with_probe, blind = [], []
    for seed in range(10):
        noise, jitter = page_noise(seed)
        probe_jitter = np.random.default_rng(seed).lognormal(0.0, PROBE_SIGMA, 20_000)
        machine = lambda i: 1.4 if i >= 500 else 1.0  # noqa: E731
        r = confirmed_run(lambda i: 0.010 * machine(i) * jitter[i], lambda i: 500.0 + noise[i], iterations=1000,
                          probe_at=lambda i: 0.0003 * machine(i) * probe_jitter[i])
        with_probe.append(r.slowdown_pct)
        blind.append(StressResult("fake", 1, 0, 100.0, 200.0, r.latencies_s, r.rss_mb, extended=r.extended).slowdown_pct)
    assert with_probe == [0.0] * 10
    assert sum(pct > TARGETS.slowdown_pct for pct in blind) >= 8


def test_a_15_percent_slowdown_of_the_model_is_caught_while_the_machine_wanders():
    """Machine spells up to 40% slower move model and probe together; the model itself ends 1000
    calls 15% slower and goes on. Over 10 seeded runs: caught in at least 8 (the real model's counts
    are in docs/evidence/detectors.md), and a clean model on the same machine flagged in none."""
    caught, false_alarms = 0, 0
    for seed in range(10):
        noise, jitter = page_noise(seed)
        machine = machine_spells(seed)
        probe_jitter = np.random.default_rng(seed).lognormal(0.0, PROBE_SIGMA, 20_000)
        probe = lambda i: 0.0003 * machine[i] * probe_jitter[i]  # noqa: E731
        slowing = confirmed_run(lambda i: 0.010 * (1 + 0.15 * i / 1000) * machine[i] * jitter[i],
                                lambda i: 500.0 + noise[i], iterations=1000, probe_at=probe)
        caught += slowing.slowdown_pct > TARGETS.slowdown_pct
        clean = confirmed_run(lambda i: 0.010 * machine[i] * jitter[i], lambda i: 500.0 + noise[i], iterations=1000,
                              probe_at=probe)
        false_alarms += clean.slowdown_pct > 0
    assert caught >= 8 and false_alarms == 0


def test_the_probe_is_timed_after_every_fifth_call_and_the_trend_fits_it():
    call, clock, rss, probe = fake_inference(lambda i: 0.01, lambda i: 0.0, lambda i: 0.004)
    series = stress_loop(call, 100, 0, timer=clock, rss=rss, probe=probe)
    assert series.latencies_s == pytest.approx([0.01] * 100)
    assert [i for i, v in enumerate(series.probe_s) if v is not None] == list(range(0, 100, 5))
    assert series.probe_s[0] == pytest.approx(0.004)
    with pytest.raises(ValueError, match="probe slots"):
        StressResult("fake", 1, 0, 100.0, 200.0, tuple(series.latencies_s), (0.0,) * 100, probe_s=(0.004,))


def test_the_probe_is_timed_after_every_call_when_it_costs_little_beside_one():
    """A 50 ms call takes the 0.3 ms probe after every call (0.6% of the run); a 5 ms call after
    every 3rd (2% at most); a 1 ms call after every 5th, the least."""
    for call_s, every in ((0.05, 1), (0.005, 3), (0.001, 5)):
        call, clock, rss, probe = fake_inference(lambda i: call_s, lambda i: 0.0, lambda i: 0.0003)
        series = stress_loop(call, 100, 0, timer=clock, rss=rss, probe=probe)
        assert [i for i, v in enumerate(series.probe_s) if v is not None] == list(range(0, 100, every)), call_s


@pytest.mark.parametrize("seed", range(10))
def test_a_leak_that_rss_hides_is_caught_in_the_heap_in_use(seed):
    """A leak of 0.5 MB/1k that first fills heap holes (RSS flat for 1500 calls, then growing): the
    malloc'd memory in use grows from the first call, so the run is extended and the leak caught.
    The same run with a flat heap (a clean model) is not flagged."""
    noise, jitter = page_noise(seed)
    heap_noise = np.random.default_rng(seed).normal(0.0, 0.002, 20_000)
    rss = lambda i: 500.0 + 0.0005 * max(0, i - 1500) + noise[i]  # noqa: E731
    leaky = confirmed_run(lambda i: 0.010 * jitter[i], rss, iterations=1000,
                          heap_at=lambda i: 40.0 + 0.0005 * i + heap_noise[i])
    assert leaky.extended == 1000 and leaky.leak_mb_per_1k == pytest.approx(0.5, rel=0.2)
    assert leaky.rss_trend.slope * 1000 < 0.4  # RSS alone would have said less, or nothing
    clean = confirmed_run(lambda i: 0.010 * jitter[i], lambda i: 500.0 + noise[i], iterations=1000,
                          heap_at=lambda i: 40.0 + heap_noise[i])
    assert clean.leak_mb_per_1k <= TARGETS.leak_mb_per_1k


def test_the_heap_in_use_grows_with_what_is_kept():
    from qpbench.runtime.rss import heap_in_use_mb

    before = heap_in_use_mb()
    if before is None:
        pytest.skip("no glibc mallinfo2 here: the leak is judged on RSS alone")
    kept = [bytearray(1000) for _ in range(2000)]  # about 2 MB through malloc
    assert heap_in_use_mb() - before == pytest.approx(2000 * 1000 / 2**20, rel=0.25)
    del kept


def steady_jitter(seed):
    """Per-call spread of a quantized ResNet-50 on the 2-vCPU Ice Lake Xeon (log sd 0.12)."""
    return np.random.default_rng(seed).lognormal(0.0, 0.12, 20_000)


def test_a_flat_run_ends_once_it_has_shown_no_trend_of_the_targets_size():
    """The stopping rule, over 10 seeded clean runs with a ResNet's spread: most stop between the
    floor and the ceiling (at a look, every 100 calls) and are not extended; a run where a trend
    appears by chance goes on and is extended, its extension ending by the same rule from the same
    floor on; none is flagged, and each keeps what it planned."""
    runs = []
    for seed in range(10):
        noise, _ = page_noise(seed)
        steady = steady_jitter(seed)
        runs.append(confirmed_run(lambda i: 0.02 * steady[i], lambda i: 500.0 + noise[i], iterations=1000,
                                  heap_at=lambda i: 40.0, floor=400))
    early = [r for r in runs if r.iterations < 1000]
    assert len(early) >= 7
    assert all(r.iterations >= 400 and r.iterations % 100 == 0 and not r.extended for r in early)
    late = [r for r in runs if r not in early]
    assert all(r.iterations == 1000 + r.extended and r.extended in (0, *range(400, 1001, 100)) for r in late)
    assert all(r.planned == 1000 and r.leak_mb_per_1k == 0.0 and r.slowdown_pct == 0.0 for r in runs)


@pytest.mark.parametrize("seed", range(10))
def test_growth_below_the_target_does_not_extend_a_run(seed):
    """Growth whose 99% upper bound lies below the leak target cannot become a flag, so it is not
    worth an extension however significant: the heap in use read to the byte (300 bytes more per
    1000 calls), RSS a few pages up per 1000 calls as in real runs (0.03 MB/1k), the heap at 0.1
    MB/1k. It is reported as the figure it is, under the target. Growth of the target's size (0.3
    MB/1k) is extended."""
    noise, _ = page_noise(seed)
    tiny = confirmed_run(lambda i: 0.01, lambda i: 500.0, iterations=1000, heap_at=lambda i: 40.0 + 3e-7 * i)
    assert tiny.heap_trend.significant_increase and not tiny.extended and tiny.leak_mb_per_1k < 0.001
    pages = confirmed_run(lambda i: 0.01, lambda i: 500.0 + 3e-5 * i + noise[i] / 4, iterations=1000)
    assert not pages.extended and 0 < pages.leak_mb_per_1k < TARGETS.leak_mb_per_1k  # significant, under the target
    small = confirmed_run(lambda i: 0.01, lambda i: 500.0, iterations=1000, heap_at=lambda i: 40.0 + 1e-4 * i)
    assert not small.extended and small.leak_mb_per_1k == pytest.approx(0.1)
    target_size = confirmed_run(lambda i: 0.01, lambda i: 500.0, iterations=1000, heap_at=lambda i: 40.0 + 3e-4 * i)
    assert target_size.extended == 1000 and target_size.leak_mb_per_1k > TARGETS.leak_mb_per_1k


def test_an_extension_that_dismisses_its_trend_ends_at_its_floor_or_soon_after():
    """What extends a run by chance ends the extension from the floor on, at a look, once it has
    dismissed the trend, over 10 seeded runs each. An arena that fills for 650 calls (0.6 MB) and
    then stays flat ends its extension early, unflagged, its growth still told as warm-up growth.
    Calls 50% slower over the last 300 of 600 (another tenant for a while) leave the whole run's
    latency trend in doubt, which keeps the extension going (the latency is judged over the whole
    run): it costs time, and is not flagged either. A leak or a slowdown that goes on runs its
    whole extension (the next test)."""
    ended = []
    for seed in range(10):
        noise, _ = page_noise(seed)
        steady = steady_jitter(seed)
        arena = confirmed_run(lambda i: 0.02 * steady[i], lambda i: 500.0 + 0.6 * min(i, 650) / 650 + noise[i],
                              floor=400)
        burst = confirmed_run(lambda i: 0.02 * (1.5 if 300 <= i < 600 else 1.0) * steady[i],
                              lambda i: 500.0 + noise[i], iterations=600, floor=400)
        assert arena.extended and burst.extended
        assert arena.leak_mb_per_1k == 0.0 and arena.warmup_growth_mb == pytest.approx(0.6, abs=0.15)
        assert burst.slowdown_pct == 0.0 and burst.leak_mb_per_1k < TARGETS.leak_mb_per_1k
        assert all(r.extended % 100 == 0 and r.iterations == r.planned + r.extended for r in (arena, burst))
        ended.append(arena.extended)
    assert sum(n < 800 for n in ended) >= 8, ended


def test_leaks_and_slowdowns_of_the_targets_size_never_end_a_run_early():
    """Over 10 seeded runs each, a 0.5 MB/1k leak (in RSS, or only in the heap) and a 15% slowdown
    over the run go to their ceiling and on through the extension, and are flagged as they are
    without the rule."""
    for seed in range(10):
        noise, _ = page_noise(seed)
        steady = steady_jitter(seed)
        leaky = confirmed_run(lambda i: 0.02 * steady[i], lambda i: 500.0 + 0.0005 * i + noise[i], iterations=1000,
                              floor=400)
        hidden = confirmed_run(lambda i: 0.02 * steady[i], lambda i: 500.0 + noise[i], iterations=1000,
                               heap_at=lambda i: 40.0 + 0.0005 * i, floor=400)
        slowing = confirmed_run(lambda i: 0.02 * (1 + 0.15 * i / 1000) * steady[i], lambda i: 500.0 + noise[i],
                                iterations=1000, floor=400)
        # The host speeding up by 40% over the first 500 calls, then steady: the slowdown is hidden
        # early on, so the run must not end there.
        host = lambda i: 1.0 - 0.4 * min(i, 500) / 500  # noqa: E731
        masked = confirmed_run(lambda i: 0.02 * (1 + 0.15 * i / 1000) * host(i) * steady[i],
                               lambda i: 500.0 + noise[i], iterations=1000, floor=400)
        assert [r.iterations for r in (leaky, hidden, slowing)] == [2000] * 3 and masked.iterations >= 1000
        assert leaky.leak_mb_per_1k > TARGETS.leak_mb_per_1k and hidden.leak_mb_per_1k > TARGETS.leak_mb_per_1k
        assert slowing.slowdown_pct > TARGETS.slowdown_pct


def test_a_faster_run_is_not_a_slowdown():
    r = fake_run(lambda i: 0.02 - 0.01 * i / 1000, lambda i: 500.0)
    assert r.slowdown_pct == 0.0 and r.latency_trend.high < 0


def test_stress_loop_warms_up_before_sampling():
    calls = []
    latencies, rss, _, _ = stress_loop(lambda: calls.append(1), 30, 5, timer=lambda: 0.0,
                                       rss=lambda: float(len(calls)))
    assert len(calls) == 35 and len(latencies) == 30 and rss[0] == 6.0


# Planted faults in real worker processes ----------------------------------------------------


@pytest.mark.slow
def test_a_model_that_keeps_references_to_its_outputs_is_caught(planted):
    r = stress(planted("plantedmodels:leaky"))
    assert r.leak_mb_per_1k > TARGETS.leak_mb_per_1k, r.summary()


@pytest.mark.slow
def test_a_model_that_slows_down_is_caught_and_judged_slower_than_the_clean_one(planted):
    """Relative figures only: the planted degradation (each call sleeps 2 us longer than the last)
    is flagged, and judged a larger slowdown than the clean model's, measured right after it on the
    same machine. Whether a clean real run stays under the 10% target depends on the machine's load;
    that no-false-alarm property is checked on synthetic runs above (fake clock)."""
    slowing = stress(planted("plantedmodels:slowing"))
    clean = stress(planted(), iterations=600)
    assert slowing.slowdown_pct > TARGETS.slowdown_pct, slowing.summary()
    assert slowing.slowdown_pct > clean.slowdown_pct, (slowing.summary(), clean.summary())


@pytest.mark.slow
def test_clean_tiny_model_is_not_flagged_for_a_leak_over_repeated_runs(planted):
    workload = planted()
    runs = [stress(workload, iterations=400) for _ in range(4)]
    assert all(r.leak_mb_per_1k <= TARGETS.leak_mb_per_1k for r in runs), [r.summary() for r in runs]
    assert all(0 < r.baseline_rss_mb <= r.peak_rss_mb for r in runs)


@pytest.mark.slow
def test_a_model_that_aborts_the_process_is_isolated(planted):
    with pytest.raises(WorkerFailed) as caught:
        stress(planted("plantedmodels:aborting"))
    failure = caught.value.failure
    assert (failure.failure, failure.measurement, failure.variant) == ("signal", "stress", "eager")
    assert "SIGABRT" in failure.reason and failure.returncode < 0
    again = stress(planted(), iterations=100)  # this process and the next worker are fine
    assert again.iterations == 100 + again.extended


@pytest.mark.slow
def test_a_model_that_hangs_is_killed_at_the_timeout(planted):
    with pytest.raises(WorkerFailed, match="did not finish within 8 s and was killed") as caught:
        stress(planted("plantedmodels:hanging"), timeout_s=8)
    assert caught.value.failure.failure == "timeout"


def test_the_replay_example_finds_where_a_recorded_extension_would_have_ended():
    """examples/stress_replay.py asks ``dismissed`` at every look of a recorded extension: an
    arena's extension, run in full without a floor, would have ended at 400 or 500 of its 800."""
    import importlib.util
    from pathlib import Path

    from qpbench.schema.codec import dump

    path = Path(__file__).resolve().parents[1] / "examples" / "stress_replay.py"
    spec = importlib.util.spec_from_file_location("stress_replay", path)
    replay = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(replay)
    noise, _ = page_noise(0)
    steady = steady_jitter(0)
    arena = confirmed_run(lambda i: 0.02 * steady[i], lambda i: 500.0 + 0.6 * min(i, 650) / 650 + noise[i],
                          heap_at=lambda i: 40.0)
    record = json.loads(json.dumps(dump(arena)))
    assert record["extended"] == 800
    assert replay.replay(record, 400, TARGETS) in (400, 500)
    leaky = confirmed_run(lambda i: 0.02 * steady[i], lambda i: 500.0 + 0.0005 * i + noise[i])
    assert replay.replay(json.loads(json.dumps(dump(leaky))), 400, TARGETS) is None
