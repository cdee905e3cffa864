"""Latency: pytest-benchmark fed with samples timed in a worker (how long a latency runs: stopping.py)."""

from __future__ import annotations

from collections.abc import Iterable


class ReplayClock:
    """A clock for pytest-benchmark that replays samples timed elsewhere: ``advance`` (the
    "benchmarked" call) moves it by the next sample, so each round's duration is that sample."""

    __name__ = "perf_counter in the variant worker"

    def __init__(self, samples: Iterable[float]) -> None:
        self.now = 0.0
        self._next = iter(samples)

    def __call__(self) -> float:
        return self.now

    def advance(self) -> None:
        self.now += next(self._next)


def replay(benchmark: object, samples: tuple[float, ...]) -> None:
    """Hand pytest-benchmark the worker's raw samples: its table, --benchmark-save/compare/json
    then describe exactly the samples qpbench judges. pytest-benchmark has no public way to take
    samples timed elsewhere; its timer attribute has kept this name and role since 3.x."""
    clock = ReplayClock(samples)
    benchmark._timer = clock  # type: ignore[attr-defined]
    benchmark.pedantic(clock.advance, rounds=len(samples), iterations=1, warmup_rounds=0)  # type: ignore[attr-defined]
