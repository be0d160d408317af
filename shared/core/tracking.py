"""Performance tracking, pure: the metrics snapshot of one operation (``provider_metrics``), the
recovery log of one job (``error_recovery_logs``), and the rolling aggregates the scorer reads
(``provider_stats``). Rates are fractions 0..1; times in seconds unless a field says ``Ms``."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from shared.core.jobs import Job, JobStatus
from shared.core.scoring import ProviderStats
from shared.core.trends import HOUR, Metric, Trend, Window, hourly_buckets, predict, trend

METRICS_TTL_S = 35 * 24 * 3600.0


class Operation(StrEnum):
    GENERATION = "generation"
    STATUS_CHECK = "status_check"
    HEALTH_CHECK = "health_check"
    FEEDBACK = "feedback"  # an owner's rating of a finished video (userSatisfaction, 1..5)


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsSnapshot:
    """One provider operation, as the seed's ``MetricsSnapshot``."""

    provider_id: str
    at: float
    operation: Operation
    success: bool
    response_time_s: float
    job_id: str | None = None
    quality: float | None = None  # 0..10, for finished renders
    cost: float | None = None  # USD billed, when known
    error_type: str | None = None  # an ErrorCategory value
    duration_s: int | None = None
    resolution: str | None = None
    features: tuple[str, ...] = ()
    tier: str | None = None  # the job's tier, for spend per tier
    user_satisfaction: float | None = None  # 1..5, feedback only

    def to_doc(self) -> dict[str, object]:
        return {
            "providerId": self.provider_id,
            "timestamp": self.at,
            "operationType": self.operation.value,
            "success": self.success,
            "responseTime": round(self.response_time_s * 1000.0, 1),  # ms, as in the seed
            "jobId": self.job_id,
            "videoQuality": self.quality,
            "cost": self.cost,
            "errorType": self.error_type,
            "tier": self.tier,
            "userSatisfaction": self.user_satisfaction,
            # Firestore's TTL policy (firestore.indexes.json) deletes snapshots past the 30-day
            # analysis window.
            "expireAt": datetime.fromtimestamp(self.at + METRICS_TTL_S, UTC),
            "metadata": {
                "duration": self.duration_s,
                "resolution": self.resolution,
                "format": "mp4",
                "features": list(self.features),
            },
        }

    @classmethod
    def from_doc(cls, doc: dict[str, object]) -> MetricsSnapshot:
        meta = doc.get("metadata") or {}
        assert isinstance(meta, dict)
        return cls(
            provider_id=str(doc["providerId"]),
            at=_float(doc["timestamp"]),
            operation=Operation(str(doc["operationType"])),
            success=bool(doc["success"]),
            response_time_s=_float(doc["responseTime"]) / 1000.0,
            job_id=_opt_str(doc.get("jobId")),
            quality=_opt_float(doc.get("videoQuality")),
            cost=_opt_float(doc.get("cost")),
            error_type=_opt_str(doc.get("errorType")),
            duration_s=int(meta["duration"]) if meta.get("duration") is not None else None,
            resolution=_opt_str(meta.get("resolution")),
            features=tuple(str(f) for f in meta.get("features") or ()),
            tier=_opt_str(doc.get("tier")),
            user_satisfaction=_opt_float(doc.get("userSatisfaction")),
        )


def recovery_log(job: Job) -> dict[str, object] | None:
    """The ``error_recovery_logs`` document of a finished job that met at least one failure
    (one per recovery episode, success or not); None for a job that never failed."""
    if not job.terminal:
        return None
    failures = [r for r in job.history if r.outcome not in (None, "completed")]
    if not failures:
        return None
    first = failures[0]
    end = job.updated_at if job.updated_at is not None else first.started_at
    last = job.history[-1]
    action = (
        "graceful_degradation"
        if job.degraded
        else (
            "switch_provider"
            if len({r.provider_id for r in job.history}) > 1
            else "retry_same_provider"
        )
    )
    return {
        "jobId": job.job_id,
        "originalProvider": job.history[0].provider_id,
        "finalProvider": last.provider_id,
        "errorCategory": first.outcome,
        "recoveryAction": action if job.status is JobStatus.COMPLETED else "fail",
        "success": job.status is JobStatus.COMPLETED,
        "attemptsUsed": job.attempt,
        "totalRecoveryTime": round(max(0.0, end - (first.ended_at or first.started_at)), 3),
        "errorHistory": [
            {
                "timestamp": r.ended_at or r.started_at,
                "providerId": r.provider_id,
                "category": r.outcome,
                "errorType": r.outcome,
                "message": r.message,
            }
            for r in failures
        ],
        "degradations": [d.value for d in job.degradations],
        "timestamp": end,
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class HourPoint:
    """One hour of the last 24 (start time): for the dashboard's trend charts."""

    start: float
    calls: int
    success_rate: float | None
    latency_s: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Aggregate:
    """``provider_stats/{providerId}``: what the scorer reads, plus trends and a prediction."""

    stats: ProviderStats
    success_rate_7d: float | None
    samples_7d: int
    trends: tuple[Trend, ...]
    hourly: tuple[HourPoint, ...]
    recommended_concurrency: int
    predicted_response_time_s: float | None
    computed_at: float


def aggregate(
    snapshots: Iterable[MetricsSnapshot],
    *,
    provider_id: str,
    now: float,
    concurrency_limit: int,
    quality_since: float | None = None,
) -> Aggregate:
    """Roll generation snapshots of the last 7 days into the provider's stats. Quality counts
    only renders after ``quality_since`` (an admin's quality reset) when given."""
    snapshots_list = list(snapshots)
    gens = sorted(
        (s for s in snapshots_list if s.provider_id == provider_id and s.operation is _GEN),
        key=lambda s: s.at,
    )
    week = [s for s in gens if s.at > now - 7 * 24 * HOUR]
    hour_of_day = int((now % 86_400.0) // HOUR)
    same_hour = [s for s in week if int((s.at % 86_400.0) // HOUR) == hour_of_day]
    ratings = [
        s.user_satisfaction
        for s in snapshots_list
        if s.provider_id == provider_id
        and s.operation is Operation.FEEDBACK
        and s.user_satisfaction is not None
        and s.at > now - 7 * 24 * HOUR
    ]
    day = [s for s in week if s.at > now - 24 * HOUR]
    hour = [s for s in day if s.at > now - HOUR]
    latencies = sorted(s.response_time_s for s in day if s.success)
    qualities = [
        s.quality
        for s in day
        if s.quality is not None and (quality_since is None or s.at > quality_since)
    ]
    costs = [s.cost for s in day if s.cost is not None]
    trailing = 0
    for s in reversed(gens):
        if s.success:
            break
        trailing += 1
    fail_samples = [(s.at, 0.0 if s.success else 1.0) for s in day]
    ok_samples = [(s.at, 1.0 if s.success else 0.0) for s in day]
    lat_samples = [(s.at, s.response_time_s) for s in day if s.success]
    prediction = predict(
        hourly_buckets(fail_samples, now=now, hours=24),
        hourly_buckets(lat_samples, now=now, hours=24),
        now=now,
        throughput_per_s=len(hour) / HOUR,
        concurrency_limit=concurrency_limit,
        latency_p95_s=_quantile(latencies, 0.95),
    )
    trends = (
        trend(ok_samples, Metric.SUCCESS_RATE, now=now, window=Window.DAY),
        trend(lat_samples, Metric.LATENCY, now=now, window=Window.DAY),
    )
    stats = ProviderStats(
        provider_id=provider_id,
        calls_1h=len(hour),
        successes_1h=sum(s.success for s in hour),
        calls_24h=len(day),
        successes_24h=sum(s.success for s in day),
        latency_p50_s=_quantile(latencies, 0.5),
        latency_p95_s=_quantile(latencies, 0.95),
        quality=sum(qualities) / len(qualities) if qualities else None,
        quality_samples=len(qualities),
        cost_per_video=sum(costs) / len(costs) if costs else None,
        consecutive_failures=trailing,
        predicted_failure_rate=prediction.failure_rate_next_hour,
        user_satisfaction=sum(ratings) / len(ratings) if ratings else None,
        satisfaction_samples=len(ratings),
        same_hour_calls=len(same_hour),
        same_hour_success_rate=(
            sum(s.success for s in same_hour) / len(same_hour) if same_hour else None
        ),
        recommended_concurrency=prediction.recommended_concurrency if gens else None,
    )
    ok_hours = {b.start: b for b in hourly_buckets(ok_samples, now=now, hours=24)}
    lat_hours = {b.start: b for b in hourly_buckets(lat_samples, now=now, hours=24)}
    hourly = tuple(
        HourPoint(
            start=start,
            calls=ok_hours[start].count if start in ok_hours else 0,
            success_rate=ok_hours[start].mean if start in ok_hours else None,
            latency_s=lat_hours[start].mean if start in lat_hours else None,
        )
        for start in (now - (24 - k) * HOUR for k in range(24))
    )
    return Aggregate(
        stats=stats,
        hourly=hourly,
        success_rate_7d=sum(s.success for s in week) / len(week) if week else None,
        samples_7d=len(week),
        trends=trends,
        recommended_concurrency=prediction.recommended_concurrency,
        predicted_response_time_s=prediction.response_time_next_hour,
        computed_at=now,
    )


_GEN = Operation.GENERATION


def _quantile(ordered: Sequence[float], q: float) -> float | None:
    """Nearest-rank quantile of an already sorted sequence."""
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _float(value: object) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    raise TypeError(f"expected a number, got {value!r}")


def _opt_float(value: object) -> float | None:
    return None if value is None else _float(value)


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)
