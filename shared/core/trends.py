"""Trends and next-hour predictions over provider metrics: time buckets, a least-squares fit with
R² as confidence, and a direction that knows which way is better. Pure: no I/O, no clock.

Units, everywhere: rates are fractions in [0, 1] (never percent), latency is seconds, cost is USD,
quality is whatever score the caller records (higher is better; the arithmetic is scale-free).
Times are epoch seconds passed in by the caller; slopes are per hour.

    samples ──buckets──> Bucket(mean per hour) ──fit──> Fit(slope, R²) ──> Trend / Prediction
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

HOUR = 3600.0
_START_FLOOR = 0.1  # change_percent denominator never below 10 % of the window's mean


class Metric(StrEnum):
    SUCCESS_RATE = "success_rate"  # fraction 0..1
    FAILURE_RATE = "failure_rate"  # fraction 0..1
    LATENCY = "latency"  # response time, seconds
    COST = "cost"  # USD
    QUALITY = "quality"  # score, higher is better

    @property
    def higher_is_better(self) -> bool:
        """False for latency, cost and failure rate: a falling number is an improvement there."""
        return self in (Metric.SUCCESS_RATE, Metric.QUALITY)


class Window(StrEnum):
    HOUR = "1h"
    DAY = "24h"
    WEEK = "7d"
    MONTH = "30d"

    @property
    def seconds(self) -> int:
        return {"1h": 3600, "24h": 86_400, "7d": 604_800, "30d": 2_592_000}[self.value]

    @property
    def bucket_seconds(self) -> int:
        """Hourly buckets, except the 1h window, which would have one point: 5-minute buckets."""
        return 300 if self is Window.HOUR else 3600


class Direction(StrEnum):
    IMPROVING = "improving"
    DEGRADING = "degrading"
    STABLE = "stable"


class Sample(NamedTuple):
    """One observation; a plain ``(at, value)`` tuple is accepted wherever a Sample is."""

    at: float
    value: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Bucket:
    """The mean of the ``count`` samples with ``start < at <= end``."""

    start: float
    end: float
    mean: float
    count: int

    @property
    def mid(self) -> float:
        return (self.start + self.end) / 2


@dataclass(frozen=True, slots=True, kw_only=True)
class Fit:
    """``y ≈ slope·x + intercept`` over ``n`` points; ``r_squared`` in [0, 1]."""

    slope: float
    intercept: float
    r_squared: float
    n: int

    def at(self, x: float) -> float:
        return self.slope * x + self.intercept


@dataclass(frozen=True, slots=True, kw_only=True)
class Trend:
    metric: Metric
    window: Window
    direction: Direction
    slope_per_hour: float  # metric units per hour
    change_percent: float  # fitted change over the covered span, percent of the fitted start
    confidence: float  # R² of the fit, in [0, 1]
    samples: int  # raw samples inside the window
    buckets: int  # non-empty buckets the fit used


@dataclass(frozen=True, slots=True, kw_only=True)
class Prediction:
    """Next-hour estimates; the two values are None when there was no data to base them on."""

    failure_rate_next_hour: float | None  # fraction 0..1
    response_time_next_hour: float | None  # seconds
    recommended_concurrency: int
    failure_rate_confidence: float  # R² of the fit behind the estimate
    response_time_confidence: float


def buckets(
    samples: Iterable[tuple[float, float]], *, now: float, count: int, width_s: float
) -> tuple[Bucket, ...]:
    """Average ``samples`` into ``count`` buckets of ``width_s`` seconds ending at ``now``, oldest
    first. Buckets are ``(start, end]``, so a sample at ``now`` counts and one exactly
    ``count·width_s`` old does not. Samples outside the window, and non-finite values, are ignored.
    Empty buckets are omitted (not zero-filled): a quiet hour is no evidence of a value of 0."""
    sums = [0.0] * count
    counts = [0] * count
    span = count * width_s
    for at, value in samples:
        age = now - at
        if not 0 <= age < span or not math.isfinite(value):
            continue
        k = count - 1 - int(age // width_s)
        sums[k] += value
        counts[k] += 1
    return tuple(
        Bucket(
            start=now - (count - k) * width_s,
            end=now - (count - k - 1) * width_s,
            mean=sums[k] / counts[k],
            count=counts[k],
        )
        for k in range(count)
        if counts[k]
    )


def hourly_buckets(
    samples: Iterable[tuple[float, float]], *, now: float, hours: int
) -> tuple[Bucket, ...]:
    """``buckets`` with one-hour width: the last ``hours`` hours ending at ``now``."""
    return buckets(samples, now=now, count=hours, width_s=HOUR)


def fit(points: Iterable[tuple[float, float]]) -> Fit:
    """Ordinary least squares, computed about the means (stable for epoch-sized ``x``)::

        slope = Σ(x-x̄)(y-ȳ) / Σ(x-x̄)²        intercept = ȳ - slope·x̄
        R² = 1 - SS_res / SS_tot,  SS_res = Σ(y - ŷ)²,  SS_tot = Σ(y-ȳ)²

    R² is 0 with fewer than 3 points or when ``y`` is constant (SS_tot is 0 up to rounding, i.e.
    below (1e-9·max|y|)²·n), and is clamped to [0, 1]. A vertical set of points has slope 0."""
    pts = list(points)
    n = len(pts)
    if n == 0:
        return Fit(slope=0.0, intercept=0.0, r_squared=0.0, n=0)
    mx = math.fsum(x for x, _ in pts) / n
    my = math.fsum(y for _, y in pts) / n
    sxx = math.fsum((x - mx) ** 2 for x, _ in pts)
    sxy = math.fsum((x - mx) * (y - my) for x, y in pts)
    ss_tot = math.fsum((y - my) ** 2 for _, y in pts)
    slope = sxy / sxx if sxx > 0 else 0.0
    intercept = my - slope * mx
    r_squared = 0.0
    if n >= 3 and ss_tot > n * (1e-9 * max(abs(y) for _, y in pts)) ** 2:
        ss_res = math.fsum((y - (slope * x + intercept)) ** 2 for x, y in pts)
        r_squared = 1.0 - ss_res / ss_tot
        r_squared = min(1.0, max(0.0, r_squared)) if math.isfinite(r_squared) else 0.0
    return Fit(slope=slope, intercept=intercept, r_squared=r_squared, n=n)


def trend(
    samples: Iterable[tuple[float, float]],
    metric: Metric,
    *,
    now: float,
    window: Window,
    stable_below: float = 0.05,
    min_points: int = 3,
    min_confidence: float = 0.1,
) -> Trend:
    """Fit the bucket means of ``window`` (x in hours) and say which way ``metric`` is going.

    ``change_percent = 100 · slope · span_h / max(|ŷ(first bucket start)|, 0.1 · |bucket mean|)``,
    where ``span_h`` runs from the first bucket's start to the last one's end (the whole window
    when data fills it). The floor keeps a fitted start near 0 (a failure rate rising from nothing)
    from exploding the percentage; a zero denominator gives 0 %.

    The direction is STABLE with fewer than ``min_points`` buckets, R² below ``min_confidence``,
    or ``|change| < stable_below`` (a fraction: 0.05 = 5 %); otherwise IMPROVING when the change
    goes the metric's better way (down for latency, cost and failure rate), else DEGRADING."""
    width = window.bucket_seconds
    bs = buckets(samples, now=now, count=window.seconds // width, width_s=width)
    origin = now - window.seconds
    f = fit(((b.mid - origin) / HOUR, b.mean) for b in bs)
    change_percent = 0.0
    if bs:
        start_h = (bs[0].start - origin) / HOUR
        span_h = (bs[-1].end - bs[0].start) / HOUR
        mean = math.fsum(b.mean for b in bs) / len(bs)
        scale = max(abs(f.at(start_h)), _START_FLOOR * abs(mean))
        change_percent = 100.0 * f.slope * span_h / scale if scale > 0 else 0.0
    if (
        len(bs) < min_points
        or f.r_squared < min_confidence
        or abs(change_percent) < 100.0 * stable_below
    ):
        direction = Direction.STABLE
    elif (change_percent > 0) == metric.higher_is_better:
        direction = Direction.IMPROVING
    else:
        direction = Direction.DEGRADING
    return Trend(
        metric=metric,
        window=window,
        direction=direction,
        slope_per_hour=f.slope,
        change_percent=change_percent,
        confidence=f.r_squared,
        samples=sum(b.count for b in bs),
        buckets=len(bs),
    )


def _next_hour(bs: Sequence[Bucket], *, now: float, recent: int) -> tuple[float | None, float]:
    """``R²·ŷ(now + 30 min) + (1 - R²)·recent_mean`` and R²; the recent mean is count-weighted
    over the last ``recent`` buckets. (None, 0) without buckets."""
    if not bs:
        return None, 0.0
    ordered = sorted(bs, key=lambda b: b.start)
    f = fit(((b.mid - now) / HOUR, b.mean) for b in ordered)
    tail = ordered[-recent:]
    weights = [max(b.count, 1) for b in tail]
    recent_mean = math.fsum(b.mean * w for b, w in zip(tail, weights, strict=True)) / sum(weights)
    return f.r_squared * f.at(0.5) + (1.0 - f.r_squared) * recent_mean, f.r_squared


def predict(
    failure_rate: Sequence[Bucket],
    latency: Sequence[Bucket],
    *,
    now: float,
    throughput_per_s: float,
    concurrency_limit: int,
    latency_p95_s: float | None = None,
    recent: int = 3,
    headroom: float = 1.25,
    shed_above: float = 0.1,
) -> Prediction:
    """Next-hour failure rate and response time, and a concurrency to allow the provider.

    ``failure_rate`` and ``latency`` are buckets (e.g. ``hourly_buckets`` of 0/1 failure flags and
    of response seconds). Each estimate is the fit extrapolated to the middle of the next hour,
    blended toward the recent mean by confidence: ``R²·ŷ(now + 0.5 h) + (1 - R²)·recent_mean``;
    the failure rate is clamped to [0, 1], the response time to ≥ 0.

    Concurrency is Little's law with headroom, shed when failures are predicted::

        W = max(latency_p95_s, predicted response time)          (p95-ish seconds)
        s = 1 - max(0, p - shed_above) / (1 - shed_above)        (p = predicted failure rate)
        recommended = clamp(⌈throughput_per_s · W · headroom · s⌉, 1, concurrency_limit)
    """
    if concurrency_limit < 1:
        raise ValueError(f"concurrency_limit must be at least 1, got {concurrency_limit}")
    p, p_conf = _next_hour(failure_rate, now=now, recent=recent)
    rt, rt_conf = _next_hour(latency, now=now, recent=recent)
    p = None if p is None else min(1.0, max(0.0, p))
    rt = None if rt is None else max(0.0, rt)
    w = max(latency_p95_s or 0.0, rt or 0.0)
    p_fail = p or 0.0
    shed = 1.0 if p_fail <= shed_above else 1.0 - (p_fail - shed_above) / (1.0 - shed_above)
    needed = max(0.0, throughput_per_s) * w * headroom * shed
    wanted = math.ceil(needed) if math.isfinite(needed) else concurrency_limit
    return Prediction(
        failure_rate_next_hour=p,
        response_time_next_hour=rt,
        recommended_concurrency=min(concurrency_limit, max(1, wanted)),
        failure_rate_confidence=p_conf,
        response_time_confidence=rt_conf,
    )
