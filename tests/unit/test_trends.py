"""Trends and predictions: the fit, the bucketing, which way is better, and the clamps on what we
predict. Pure functions, so every test passes its own `now`."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.core.trends import (
    HOUR,
    Bucket,
    Direction,
    Metric,
    Sample,
    Window,
    fit,
    hourly_buckets,
    predict,
    trend,
)

NOW = 1_790_000_000.0  # an arbitrary epoch second; nothing here reads the clock


def hourly(values: list[float], *, now: float = NOW) -> list[Sample]:
    """One sample in the middle of each of the last len(values) hours, oldest first."""
    n = len(values)
    return [Sample(at=now - (n - i - 0.5) * HOUR, value=v) for i, v in enumerate(values)]


def line(a: float, b: float, hours: int = 24) -> list[Sample]:
    return hourly([a * (i + 0.5) + b for i in range(hours)])


def buckets_of(values: list[float], count: int = 10) -> tuple[Bucket, ...]:
    return hourly_buckets(
        [s for s in hourly(values) for _ in range(count)], now=NOW, hours=len(values)
    )


# --- fit ----------------------------------------------------------------------------------------


def test_a_perfect_line_has_r_squared_one_and_the_exact_slope() -> None:
    """y = 2x + 1 is recovered exactly, with full confidence."""
    f = fit([(x, 2 * x + 1) for x in range(10)])
    assert (f.slope, f.intercept, f.r_squared, f.n) == (2.0, 1.0, 1.0, 10)
    assert f.at(20) == 41.0


@pytest.mark.parametrize(
    "points",
    [[], [(0.0, 1.0)], [(0.0, 1.0), (1.0, 3.0)]],
    ids=["none", "one", "two"],
)
def test_fewer_than_three_points_give_no_confidence(points: list[tuple[float, float]]) -> None:
    """Two points always lie on a line; that is not evidence, so R² is 0."""
    assert fit(points).r_squared == 0.0


@pytest.mark.parametrize("value", [0.0, 0.1, 0.3, 7.77, 1e6])
def test_constant_data_has_zero_r_squared_despite_rounding(value: float) -> None:
    """SS_tot is 0 for constant data, even when the mean of the values rounds off."""
    f = fit([(float(x), value) for x in range(30)])
    assert f.r_squared == 0.0
    assert f.slope == pytest.approx(0.0, abs=1e-12)


def test_vertical_points_have_zero_slope() -> None:
    """All x equal leaves the slope undefined; the fit reports 0 rather than dividing by 0."""
    f = fit([(5.0, 1.0), (5.0, 2.0), (5.0, 3.0)])
    assert (f.slope, f.intercept, f.r_squared) == (0.0, 2.0, 0.0)


def test_fit_is_stable_for_epoch_sized_x() -> None:
    """x in epoch seconds does not lose the slope to cancellation."""
    f = fit([(NOW + 60 * i, 0.5 + 1e-4 * i) for i in range(100)])
    assert f.slope == pytest.approx(1e-4 / 60, rel=1e-6)
    assert f.r_squared == pytest.approx(1.0)


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(st.lists(st.tuples(finite, finite), max_size=50))
def test_r_squared_is_always_within_zero_and_one(points: list[tuple[float, float]]) -> None:
    """Whatever the points, confidence stays a fraction."""
    assert 0.0 <= fit(points).r_squared <= 1.0


@given(
    a=st.floats(min_value=-1e3, max_value=1e3),
    b=st.floats(min_value=-1e3, max_value=1e3),
    n=st.integers(min_value=2, max_value=200),
)
def test_fit_recovers_slope_and_intercept_of_any_line(a: float, b: float, n: int) -> None:
    """Points on y = a·x + b give back a and b."""
    f = fit([(x / 7, a * (x / 7) + b) for x in range(n)])
    assert f.slope == pytest.approx(a, rel=1e-9, abs=1e-9)
    assert f.intercept == pytest.approx(b, rel=1e-9, abs=1e-9)


# --- bucketing ----------------------------------------------------------------------------------


def test_hourly_buckets_put_samples_in_the_right_hour() -> None:
    """Each sample lands in the hour it belongs to, oldest bucket first, with the hour's mean."""
    samples = [
        (NOW - 10, 1.0),
        (NOW - 20, 3.0),  # both in the last hour: mean 2
        (NOW - HOUR - 1, 10.0),  # one hour earlier
        (NOW - 2 * HOUR - 1, 0.5),
        (NOW - 2 * HOUR - 2, 0.0),
    ]
    bs = hourly_buckets(samples, now=NOW, hours=3)
    assert [(b.start, b.end, b.mean, b.count) for b in bs] == [
        (NOW - 3 * HOUR, NOW - 2 * HOUR, 0.25, 2),
        (NOW - 2 * HOUR, NOW - HOUR, 10.0, 1),
        (NOW - HOUR, NOW, 2.0, 2),
    ]


@pytest.mark.parametrize(
    ("at", "kept"),
    [
        (NOW, True),  # buckets are (start, end]: a sample at now counts
        (NOW - HOUR, True),  # the end of the previous hour
        (NOW - 3 * HOUR + 1, True),
        (NOW - 3 * HOUR, False),  # exactly the window's length ago: outside
        (NOW - 5 * HOUR, False),
        (NOW + 1, False),  # from the future (clock skew): ignored
    ],
)
def test_hourly_buckets_ignore_samples_outside_the_window(at: float, kept: bool) -> None:
    """Only samples in (now - hours, now] are counted."""
    bs = hourly_buckets([(at, 1.0)], now=NOW, hours=3)
    assert sum(b.count for b in bs) == int(kept)


def test_hourly_buckets_omit_empty_hours_and_non_finite_values() -> None:
    """A quiet hour is no bucket at all (not a zero), and NaN or inf values are dropped."""
    samples = [(NOW - 10, 1.0), (NOW - 11, math.nan), (NOW - 3.5 * HOUR, math.inf)]
    bs = hourly_buckets(samples, now=NOW, hours=5)
    assert [(b.mean, b.count) for b in bs] == [(1.0, 1)]


# --- trends -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "higher_is_better"),
    [
        (Metric.SUCCESS_RATE, True),
        (Metric.QUALITY, True),
        (Metric.FAILURE_RATE, False),
        (Metric.LATENCY, False),
        (Metric.COST, False),
    ],
)
def test_each_metric_knows_which_way_is_better(metric: Metric, higher_is_better: bool) -> None:
    """Lower latency, cost and failure rate are improvements; higher success and quality are."""
    assert metric.higher_is_better is higher_is_better


@pytest.mark.parametrize(
    ("metric", "a", "b", "direction"),
    [
        (Metric.LATENCY, 2.0, 30.0, Direction.DEGRADING),  # rising latency: worse
        (Metric.LATENCY, -0.5, 40.0, Direction.IMPROVING),
        (Metric.SUCCESS_RATE, 0.01, 0.6, Direction.IMPROVING),  # rising success rate: better
        (Metric.SUCCESS_RATE, -0.01, 0.9, Direction.DEGRADING),
        (Metric.FAILURE_RATE, 0.01, 0.05, Direction.DEGRADING),
        (Metric.FAILURE_RATE, -0.01, 0.3, Direction.IMPROVING),
        (Metric.COST, -0.02, 1.0, Direction.IMPROVING),  # falling cost: better
        (Metric.COST, 0.02, 0.5, Direction.DEGRADING),
        (Metric.QUALITY, -0.01, 0.9, Direction.DEGRADING),
    ],
)
def test_direction_follows_the_better_way_for_the_metric(
    metric: Metric, a: float, b: float, direction: Direction
) -> None:
    """A rising number is an improvement only for metrics where higher is better."""
    t = trend(line(a, b), metric, now=NOW, window=Window.DAY)
    assert t.direction is direction
    assert t.slope_per_hour == pytest.approx(a)
    assert t.confidence == pytest.approx(1.0)
    assert (t.samples, t.buckets) == (24, 24)


@pytest.mark.parametrize("metric", list(Metric))
def test_constant_data_is_stable_with_zero_confidence(metric: Metric) -> None:
    """A flat series is stable, whatever the metric, and the fit claims no confidence."""
    t = trend(hourly([0.3] * 24), metric, now=NOW, window=Window.DAY)
    assert (t.direction, t.confidence) == (Direction.STABLE, 0.0)
    assert t.change_percent == pytest.approx(0.0, abs=1e-9)


def test_change_percent_is_relative_to_the_fitted_start() -> None:
    """Latency going from 10 s to 34 s over the day is a 240 % change."""
    t = trend(line(1.0, 10.0), Metric.LATENCY, now=NOW, window=Window.DAY)
    assert t.change_percent == pytest.approx(240.0)


def test_change_percent_stays_finite_when_the_start_is_zero() -> None:
    """A failure rate rising from exactly 0 is measured against a floor, not divided by 0."""
    t = trend(line(0.01, 0.0), Metric.FAILURE_RATE, now=NOW, window=Window.DAY)
    assert math.isfinite(t.change_percent)
    assert t.change_percent > 0
    assert t.direction is Direction.DEGRADING


def test_all_zero_data_is_stable_with_zero_change() -> None:
    """No failures at all is a 0 % change, not a division by zero."""
    t = trend(hourly([0.0] * 24), Metric.FAILURE_RATE, now=NOW, window=Window.DAY)
    assert (t.direction, t.change_percent) == (Direction.STABLE, 0.0)


def test_a_small_change_is_stable() -> None:
    """A 2.4 % drift over the day is below the 5 % threshold, however clean the line."""
    t = trend(line(0.001, 1.0), Metric.COST, now=NOW, window=Window.DAY)
    assert t.confidence == pytest.approx(1.0)
    assert t.change_percent == pytest.approx(2.4)
    assert t.direction is Direction.STABLE


def test_too_few_buckets_are_stable() -> None:
    """Two hours of data say nothing about a trend, however steep."""
    t = trend(hourly([10.0, 50.0]), Metric.LATENCY, now=NOW, window=Window.DAY)
    assert (t.direction, t.buckets) == (Direction.STABLE, 2)


def test_noise_lowers_confidence() -> None:
    """The same slope with noise on top is reported with less confidence than the clean line."""
    rng = random.Random(7)
    clean = line(0.5, 20.0)
    noisy = [Sample(s.at, s.value + rng.gauss(0, 3.0)) for s in clean]
    noisier = [Sample(s.at, s.value + rng.gauss(0, 10.0)) for s in clean]
    confidences = [
        trend(samples, Metric.LATENCY, now=NOW, window=Window.DAY).confidence
        for samples in (clean, noisy, noisier)
    ]
    assert confidences[0] == pytest.approx(1.0)
    assert confidences[0] > confidences[1] > confidences[2]


def test_pure_noise_is_stable() -> None:
    """Random scatter with no slope to speak of is not called a trend."""
    rng = random.Random(3)
    samples = hourly([0.5 + rng.uniform(-0.3, 0.3) for _ in range(24)])
    t = trend(samples, Metric.SUCCESS_RATE, now=NOW, window=Window.DAY)
    assert t.confidence < 0.1
    assert t.direction is Direction.STABLE


def test_samples_outside_the_window_do_not_count() -> None:
    """A trend over 24 hours ignores the day before."""
    old = [Sample(NOW - 30 * HOUR, 1000.0)]
    t = trend(old + line(1.0, 10.0), Metric.LATENCY, now=NOW, window=Window.DAY)
    assert t.samples == 24
    assert t.slope_per_hour == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("window", "seconds", "bucket_seconds"),
    [
        (Window.HOUR, 3600, 300),
        (Window.DAY, 86_400, 3600),
        (Window.WEEK, 7 * 86_400, 3600),
        (Window.MONTH, 30 * 86_400, 3600),
    ],
)
def test_windows_know_their_length_and_bucket_width(
    window: Window, seconds: int, bucket_seconds: int
) -> None:
    """1h, 24h, 7d and 30d windows; the 1h window is cut in 5-minute buckets."""
    assert (window.seconds, window.bucket_seconds) == (seconds, bucket_seconds)


def test_the_one_hour_window_trends_over_five_minute_buckets() -> None:
    """Within one hour there are twelve points to fit, and the slope is still per hour."""
    samples = [(NOW - 60 * m, 5.0 - 0.05 * m) for m in range(60)]  # +3 s/hour
    t = trend(samples, Metric.LATENCY, now=NOW, window=Window.HOUR)
    assert t.buckets == 12
    assert t.slope_per_hour == pytest.approx(3.0)
    assert t.direction is Direction.DEGRADING


# --- predictions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rates", "expected"),
    [
        ([0.0, 0.3, 0.6, 0.9], 1.0),  # extrapolates to 1.2: clamped
        ([0.9, 0.6, 0.3, 0.0], 0.0),  # extrapolates to -0.3: clamped
        ([0.1, 0.2, 0.3, 0.4], 0.5),  # a clean line is followed
    ],
)
def test_predicted_failure_rate_is_clamped_into_zero_one(
    rates: list[float], expected: float
) -> None:
    """The next hour's failure rate is a fraction, whatever the line says."""
    p = predict(buckets_of(rates), (), now=NOW, throughput_per_s=0.0, concurrency_limit=5)
    assert p.failure_rate_next_hour == pytest.approx(expected)
    assert p.failure_rate_confidence == pytest.approx(1.0)


def test_predicted_response_time_is_never_negative() -> None:
    """Falling latency is extrapolated down to 0 seconds, not below."""
    latency = buckets_of([30.0, 20.0, 10.0, 0.0])  # extrapolates to -10 s
    p = predict((), latency, now=NOW, throughput_per_s=0.0, concurrency_limit=5)
    assert p.response_time_next_hour == 0.0


def test_low_confidence_falls_back_to_the_recent_mean() -> None:
    """With no linear signal (R² = 0) the estimate is the count-weighted mean of recent buckets."""
    fr = hourly_buckets(
        [(NOW - 10, 0.2), (NOW - 20, 0.2), (NOW - 30, 0.5), (NOW - HOUR - 1, 0.5)],
        now=NOW,
        hours=2,
    )
    p = predict(fr, (), now=NOW, throughput_per_s=0.0, concurrency_limit=5)
    assert p.failure_rate_confidence == 0.0  # two buckets: no confidence
    assert p.failure_rate_next_hour == pytest.approx((0.3 * 3 + 0.5) / 4)


def test_recommended_concurrency_follows_littles_law_with_headroom() -> None:
    """0.1 jobs/s held 40 s each is 4 in flight; with 25 % headroom, 5."""
    p = predict(
        buckets_of([0.0] * 6),
        buckets_of([30.0] * 6),
        now=NOW,
        throughput_per_s=0.1,
        concurrency_limit=20,
        latency_p95_s=40.0,
    )
    assert p.recommended_concurrency == 5


def test_a_high_predicted_failure_rate_sheds_concurrency() -> None:
    """A 55 % predicted failure rate halves what Little's law would allow (5 -> ⌈2.5⌉ = 3)."""
    p = predict(
        buckets_of([0.55] * 6),
        (),
        now=NOW,
        throughput_per_s=0.1,
        concurrency_limit=20,
        latency_p95_s=40.0,
    )
    assert p.failure_rate_next_hour == pytest.approx(0.55)
    assert p.recommended_concurrency == 3


def test_rising_latency_raises_the_concurrency_needed() -> None:
    """When the predicted mean exceeds the p95 given, Little's law sizes for the prediction."""
    latency = buckets_of([10.0, 20.0, 30.0, 40.0])
    p = predict(
        (), latency, now=NOW, throughput_per_s=0.1, concurrency_limit=20, latency_p95_s=20.0
    )
    assert p.response_time_next_hour == pytest.approx(50.0)
    assert p.recommended_concurrency == 7  # ⌈0.1 · 50 · 1.25⌉


@pytest.mark.parametrize(
    ("throughput", "failures", "limit", "expected"),
    [
        (0.0, 0.0, 10, 1),  # no traffic still allows a probe
        (100.0, 0.0, 10, 10),  # demand far above the provider's limit
        (0.1, 1.0, 10, 1),  # everything failing: down to one
        (0.1, 0.0, 1, 1),
    ],
)
def test_recommended_concurrency_stays_between_one_and_the_limit(
    throughput: float, failures: float, limit: int, expected: int
) -> None:
    """The recommendation never drops to 0 nor exceeds the provider's concurrency limit."""
    p = predict(
        buckets_of([failures] * 4),
        buckets_of([60.0] * 4),
        now=NOW,
        throughput_per_s=throughput,
        concurrency_limit=limit,
    )
    assert p.recommended_concurrency == expected


def test_no_data_predicts_nothing_and_allows_one() -> None:
    """Without buckets there is no estimate, and the recommendation is the minimum."""
    p = predict((), (), now=NOW, throughput_per_s=0.0, concurrency_limit=4)
    assert (p.failure_rate_next_hour, p.response_time_next_hour) == (None, None)
    assert (p.failure_rate_confidence, p.response_time_confidence) == (0.0, 0.0)
    assert p.recommended_concurrency == 1


def test_a_concurrency_limit_below_one_is_rejected() -> None:
    """A provider that can run nothing is a configuration error, not a recommendation of 0."""
    with pytest.raises(ValueError, match="at least 1"):
        predict((), (), now=NOW, throughput_per_s=1.0, concurrency_limit=0)


@given(
    rates=st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=24),
    latencies=st.lists(st.floats(min_value=0, max_value=600), min_size=1, max_size=24),
    throughput=st.floats(min_value=0, max_value=100),
    limit=st.integers(min_value=1, max_value=50),
)
def test_predictions_always_stay_in_range(
    rates: list[float], latencies: list[float], throughput: float, limit: int
) -> None:
    """Any history gives a fraction, a non-negative time and a concurrency in [1, limit]."""
    p = predict(
        buckets_of(rates, count=1),
        buckets_of(latencies, count=1),
        now=NOW,
        throughput_per_s=throughput,
        concurrency_limit=limit,
    )
    assert p.failure_rate_next_hour is not None
    assert 0.0 <= p.failure_rate_next_hour <= 1.0
    assert p.response_time_next_hour is not None
    assert p.response_time_next_hour >= 0.0
    assert 1 <= p.recommended_concurrency <= limit
