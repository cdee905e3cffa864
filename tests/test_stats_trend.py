"""Trend with a confidence interval (stats.block_trend) and the t quantile behind it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qpbench.stats import block_trend, t_quantile, without_largest_rise


@pytest.mark.parametrize("p, df, expected", [
    (0.975, 1, 12.706), (0.975, 2, 4.303), (0.975, 3, 3.182), (0.975, 8, 2.306), (0.975, 30, 2.042),
    (0.95, 8, 1.860), (0.995, 10, 3.169), (0.025, 8, -2.306),
])
def test_t_quantile_matches_the_tables(p, df, expected):
    assert t_quantile(p, df) == pytest.approx(expected, abs=0.005)


@given(intercept=st.floats(-1e3, 1e3), slope=st.floats(-10, 10), n=st.integers(30, 3000))
@settings(max_examples=60, deadline=None)
def test_an_exact_line_gives_its_slope_with_no_width(intercept, slope, n):
    x = np.arange(n, dtype=float)
    t = block_trend(x, intercept + slope * x)
    assert t.slope == pytest.approx(slope, abs=1e-9 * (1 + abs(intercept)))
    assert t.high - t.low == pytest.approx(0, abs=1e-6 * (1 + abs(intercept)))


@given(shift=st.floats(-1e4, 1e4), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_a_constant_shift_changes_nothing(shift, seed):
    rng = np.random.default_rng(seed)
    x = np.arange(500, dtype=float)
    y = 0.01 * x + rng.normal(0, 1, 500)
    a, b = block_trend(x, y), block_trend(x, y + shift)
    assert b.slope == pytest.approx(a.slope, abs=1e-6 * (1 + abs(shift)))


@given(seed=st.integers(0, 2**32 - 1), slope=st.floats(0.005, 0.05))
@settings(max_examples=40, deadline=None)
def test_a_clear_trend_in_noise_is_significant_and_inside_its_interval(seed, slope):
    rng = np.random.default_rng(seed)
    x = np.arange(1000, dtype=float)
    t = block_trend(x, slope * x + rng.normal(0, 1, 1000))
    assert t.significant_increase
    assert t.low - 0.005 <= slope <= t.high + 0.005


def test_pure_noise_is_rarely_significant():
    # With a 95% interval, about 2.5% of flat series look like an increase; allow 10%.
    flagged = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        flagged += block_trend(np.arange(600.0), rng.normal(0, 1, 600)).significant_increase
    assert flagged <= 20


def test_the_interval_covers_the_true_slope_about_95_percent_of_the_time():
    covered = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        t = block_trend(np.arange(600.0), 0.003 * np.arange(600.0) + rng.normal(0, 1, 600))
        covered += t.low <= 0.003 <= t.high
    assert covered >= 180


@given(before=st.floats(-1e3, 1e3), step=st.floats(0.01, 1e3), at=st.integers(1, 999))
@settings(max_examples=40, deadline=None)
def test_one_step_taken_out_leaves_a_flat_series(before, step, at):
    y = np.full(1000, before)
    y[at:] += step
    assert np.allclose(without_largest_rise(y), before)
    assert block_trend(np.arange(1000.0), without_largest_rise(y)).slope == pytest.approx(0, abs=1e-9 * (1 + abs(before)))


@given(seed=st.integers(0, 2**32 - 1), rate=st.floats(0.0002, 0.002))
@settings(max_examples=40, deadline=None)
def test_growth_that_goes_on_keeps_its_whole_slope(seed, rate):
    """A leak that grows page by page (4 KiB at random calls, ``rate`` MiB per call on average) has
    no rise that stands out: its series is left as it is, and its trend is significant."""
    rng = np.random.default_rng(seed)
    pages = rng.random(1000) < rate * 256  # 256 pages per MiB
    y = 500.0 + np.cumsum(pages) / 256
    assert np.array_equal(without_largest_rise(y), y)
    assert block_trend(np.arange(1000.0), without_largest_rise(y)).significant_increase


@given(seed=st.integers(0, 2**32 - 1), sd=st.floats(0.001, 10.0))
@settings(max_examples=40, deadline=None)
def test_noise_and_chunks_alike_have_no_step_to_take_out(seed, sd):
    """White noise (its largest rise is not twice the next) and a leak in two chunks of one size
    are left as they are; one chunk among page moves is a step."""
    y = np.random.default_rng(seed).normal(100.0, sd, 1000)
    assert np.array_equal(without_largest_rise(y), y)
    chunks = np.where(np.arange(1000) >= 300, 1.0, 0.0) + np.where(np.arange(1000) >= 700, 1.0, 0.0)
    assert np.array_equal(without_largest_rise(chunks), chunks)
    one = np.where(np.arange(1000) >= 300, 1.0, 0.0) + (np.arange(1000) % 7 == 0) / 256
    assert without_largest_rise(one).max() < 0.01


def test_without_largest_rise_leaves_falls_short_series_and_its_input_alone():
    y = [5.0, 4.0, 3.0]
    assert list(without_largest_rise(y)) == y  # nothing rose
    assert list(without_largest_rise([7.0])) == [7.0]
    z = np.array([1.0, 2.0, 2.0])
    without_largest_rise(z)
    assert list(z) == [1.0, 2.0, 2.0]


def test_median_blocks_ignore_outliers():
    y = np.full(1000, 10.0)
    y[::50] = 1000.0  # a spike every 50 calls, more of them late in the run would not matter
    y[900::7] = 1000.0
    assert block_trend(np.arange(1000.0), y, center="median").slope == 0.0


@pytest.mark.parametrize("x, y, kwargs, match", [
    ([1, 2, 3], [1, 2], {}, "same length"),
    (range(5), range(5), {}, "cannot make 10 blocks"),
    (range(50), range(50), {"n_blocks": 2}, "at least 3 blocks"),
    ([1.0] * 50, range(50), {}, "x does not vary"),
    (range(50), range(50), {"confidence": 1.0}, "confidence"),
])
def test_bad_input_is_named(x, y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        block_trend(list(x), list(y), **kwargs)
