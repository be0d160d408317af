"""Figures for 1h / 24h / 7d / 30d from pre-aggregated hourly and
daily documents; spend per provider, day and tier; job-level reliability per period."""

from __future__ import annotations

from typing import Any

from shared.core import analytics as an

DAY0 = 1_700_006_400.0  # a midnight (UTC)
NOW = DAY0 + 10 * an.HOUR + 1_800  # 10:30 on that day


def gen(
    pid: str,
    at: float,
    *,
    ok: bool = True,
    cost: float | None = 1.0,
    tier: str = "free",
    quality: float | None = 10.0,
) -> dict[str, Any]:
    return {
        "providerId": pid,
        "timestamp": at,
        "operationType": "generation",
        "success": ok,
        "responseTime": 60_000.0,
        "videoQuality": quality if ok else None,
        "cost": cost if ok else None,
        "tier": tier,
    }


def job(status: str, at: float, *outcomes: str | None, degraded: bool = False) -> dict[str, Any]:
    return {
        "status": status,
        "updatedAt": at,
        "degraded": degraded,
        "providerHistory": [{"outcome": o} for o in outcomes],
    }


def test_an_hour_rolls_up_providers_tiers_and_jobs() -> None:
    start = an.hour_start(NOW)
    doc = an.rollup(
        [
            gen("heygen", start + 10, tier="premium"),
            gen("heygen", start + 20, ok=False),
            gen("did", start + 30, cost=0.5),
            {"providerId": "did", "timestamp": start + 40, "operationType": "status_check"},
            gen("did", start - 5),  # the hour before: not this one's
        ],
        [
            job("completed", start + 50, "completed"),
            job("completed", start + 60, "transient", "completed"),
            job("failed", start + 70, "auth", "transient", "timeout"),
            job("processing", start + 80, None),
        ],
        start=start,
        end=start + an.HOUR,
        now=NOW,
    )
    assert doc["final"] is False
    assert doc["providers"]["heygen"]["calls"] == 2
    assert doc["providers"]["heygen"]["successes"] == 1
    assert doc["providers"]["did"]["cost"] == 0.5
    assert doc["tiers"] == {
        "premium": {"cost": 1.0, "billed": 1},
        "free": {"cost": 0.5, "billed": 1},
    }
    assert doc["jobs"] == {
        "finished": 3,
        "completed": 2,
        "failed": 1,
        "firstTry": 1,
        "metFailures": 2,
        "recovered": 1,
        "degraded": 0,
    }
    f = an.figures(doc)
    assert f["jobs"]["completionRate"] == 2 / 3
    assert f["jobs"]["firstTryRate"] == 1 / 3
    assert f["jobs"]["recoveryRate"] == 1 / 2
    assert f["overall"]["systemReliability"] == 2 / 3
    assert f["spendByTier"] == {"free": 0.5, "premium": 1.0}


def _hour(start: float, calls: int, cost: float, jobs_done: int) -> dict[str, Any]:
    metrics = [gen("heygen", start + i, cost=cost) for i in range(calls)]
    done = [job("completed", start + i, "completed") for i in range(jobs_done)]
    return an.rollup(metrics, done, start=start, end=start + an.HOUR, now=NOW)


def test_every_period_reads_the_pre_aggregated_documents() -> None:
    this_hour = an.hour_start(NOW)
    hourly = [_hour(this_hour - k * an.HOUR, calls=2, cost=1.0, jobs_done=1) for k in range(25)]
    today = an.merge(
        [h for h in hourly if h["start"] >= DAY0], start=DAY0, end=DAY0 + an.DAY, now=NOW
    )
    older = [
        an.merge(
            [_hour(DAY0 - k * an.DAY, calls=10, cost=2.0, jobs_done=4)],
            start=DAY0 - k * an.DAY,
            end=DAY0 - (k - 1) * an.DAY,
            now=NOW,
        )
        for k in range(1, 40)
    ]
    view = an.view(hourly, [today, *older], now=NOW)
    periods = view["periods"]
    assert set(periods) == {"1h", "24h", "7d", "30d"}
    assert periods["1h"]["overall"]["calls"] == 4  # this hour and the one that overlaps
    assert periods["24h"]["overall"]["calls"] == 2 * 25  # an hour overlapping its start counts
    assert periods["7d"]["overall"]["calls"] == 22 + 7 * 10  # a day overlapping its start too
    assert periods["30d"]["overall"]["calls"] == 22 + 30 * 10
    assert periods["30d"]["jobs"]["finished"] == 11 + 30 * 4
    assert periods["30d"]["overall"]["spend"] == 22.0 + 30 * 20.0
    assert periods["30d"]["from"] == DAY0 - 30 * an.DAY
    assert periods["30d"]["trends"]["cost"]["direction"] in ("improving", "degrading", "stable")
    assert {"cost", "quality", "success_rate", "latency"} <= set(periods["24h"]["trends"])
    days = view["spendByDay"]
    assert days[0]["day"] == DAY0
    assert days[0]["byProvider"] == {"heygen": 22.0}
    assert days[1]["byTier"] == {"free": 20.0}
    assert len(days) == 31


def test_feedback_ratings_are_averaged_per_provider() -> None:
    start = an.hour_start(NOW)
    ratings = [
        {
            "providerId": "did",
            "timestamp": start + i,
            "operationType": "feedback",
            "userSatisfaction": r,
        }
        for i, r in enumerate((5, 4, 3))
    ]
    f = an.figures(an.rollup(ratings, [], start=start, end=start + an.HOUR, now=NOW))
    assert f["providers"]["did"]["userSatisfaction"] == 4.0
    assert f["providers"]["did"]["ratings"] == 3
    assert f["providers"]["did"]["calls"] == 0


def test_latency_percentiles_and_recoveries_add_up_over_any_period() -> None:
    """Every figure the dashboard shows has its period: p50 / p95 from a latency histogram
    kept in sums, and the recovery statistics from the hour's error_recovery_logs."""
    start = an.hour_start(NOW)
    metrics = [
        gen("did", start + i) | {"responseTime": 1000.0 * s}
        for i, s in enumerate([8, 8, 8, 8, 8, 8, 8, 8, 8, 400])
    ]
    logs = [
        {
            "timestamp": start + 1,
            "success": True,
            "totalRecoveryTime": 30.0,
            "errorCategory": "transient",
            "recoveryAction": "retry_same_provider",
        },
        {
            "timestamp": start + 2,
            "success": False,
            "totalRecoveryTime": None,
            "errorCategory": "authentication",
            "recoveryAction": "switch_provider",
        },
    ]
    hour = an.rollup(metrics, [], start=start, end=start + an.HOUR, now=NOW, recovery_logs=logs)
    day = an.merge([hour, hour], start=an.day_start(NOW), end=an.day_start(NOW) + an.DAY, now=NOW)
    f = an.figures(day)
    assert (f["providers"]["did"]["latencyP50"], f["providers"]["did"]["latencyP95"]) == (
        10.0,
        450.0,
    )
    assert f["overall"]["latencyP50"] == 10.0
    rec = f["errorRecovery"]
    assert (rec["totalRecoveries"], rec["successfulRecoveries"]) == (4, 2)
    assert rec["averageRecoveryTime"] == 30.0
    assert rec["byCategory"] == {"authentication": 2, "transient": 2}
    assert an.percentile([], 0.5) is None
