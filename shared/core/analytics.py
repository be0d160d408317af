"""Analytics over periods (1h, 24h, 7d, 30d) from pre-aggregated documents (DESIGN section 10).

The health check rolls each hour's metrics snapshots and finished jobs into one
``analytics_hourly/{start}`` document (the current hour again every minute, the hour before once
more when it closes), and each day's hourly documents into ``analytics_daily/{start}``. The
dashboard then reads at most 25 hourly and 31 daily documents, never the metrics themselves:
1h and 24h are answered from hourly documents, 7d and 30d from daily ones, at hour or day
resolution (``from`` says where the covered span starts).

Pure: documents in, documents and figures out; the time is passed in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shared.core.trends import Metric, Window, trend

HOUR = 3600.0
DAY = 86_400.0
PERIODS: Mapping[str, float] = {"1h": HOUR, "24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY}
FAILED_OUTCOMES_EXCLUDE = (None, "completed")

Doc = dict[str, Any]

_PROVIDER_FIELDS = (
    "calls",
    "successes",
    "latencySum",
    "latencyCount",
    "cost",
    "billed",
    "qualitySum",
    "qualityCount",
    "satisfactionSum",
    "satisfactionCount",
)
_JOB_FIELDS = (
    "finished",
    "completed",
    "failed",
    "firstTry",
    "metFailures",
    "recovered",
    "degraded",
)


# Upper bounds (seconds) of the latency histogram kept per provider, so percentiles of any
# period come from sums; the last bucket is everything slower.
LATENCY_BOUNDS = (5.0, 10, 20, 30, 45, 60, 90, 120, 180, 240, 300, 450, 600, 900, 1200, 1800)


def _bucket(seconds: float) -> int:
    for i, bound in enumerate(LATENCY_BOUNDS):
        if seconds <= bound:
            return i
    return len(LATENCY_BOUNDS)


def percentile(histogram: Sequence[float], q: float) -> float | None:
    """The upper bound of the bucket holding the ``q`` quantile (the last bound for the
    overflow bucket); None without samples."""
    n = sum(histogram)
    if n <= 0:
        return None
    seen = 0.0
    for i, count in enumerate(histogram):
        seen += count
        if seen >= q * n:
            return float(LATENCY_BOUNDS[min(i, len(LATENCY_BOUNDS) - 1)])
    return float(LATENCY_BOUNDS[-1])


def _hist() -> list[float]:
    return [0.0] * (len(LATENCY_BOUNDS) + 1)


def _empty_recovery() -> dict[str, Any]:
    return {
        "total": 0,
        "successful": 0,
        "timeSum": 0.0,
        "timeCount": 0,
        "byCategory": {},
        "byAction": {},
    }


def _add_recovery(acc: dict[str, Any], r: Mapping[str, Any]) -> None:
    for key in ("total", "successful", "timeSum", "timeCount"):
        acc[key] += r.get(key) or 0
    for key in ("byCategory", "byAction"):
        for name, n in (r.get(key) or {}).items():
            acc[key][name] = acc[key].get(name, 0) + n


def hour_start(t: float) -> float:
    return math.floor(t / HOUR) * HOUR


def day_start(t: float) -> float:
    return math.floor(t / DAY) * DAY


def rollup(
    metrics: Iterable[Mapping[str, Any]],
    jobs: Iterable[Mapping[str, Any]],
    *,
    start: float,
    end: float,
    now: float,
    recovery_logs: Iterable[Mapping[str, Any]] = (),
) -> Doc:
    """One span's figures from its ``provider_metrics`` documents (generations, and feedback),
    the ``enhanced_video_jobs`` documents that finished in it and its ``error_recovery_logs``."""
    providers: dict[str, dict[str, Any]] = {}
    tiers: dict[str, dict[str, float]] = {}
    for m in metrics:
        at = float(m.get("timestamp") or 0.0)
        if not start <= at < end:
            continue
        p = providers.setdefault(str(m["providerId"]), _new_provider())
        kind = m.get("operationType")
        if kind == "feedback":
            rating = m.get("userSatisfaction")
            if rating is not None:
                p["satisfactionSum"] += float(rating)
                p["satisfactionCount"] += 1
            continue
        if kind != "generation":
            continue
        p["calls"] += 1
        if m.get("success"):
            took = float(m.get("responseTime") or 0.0) / 1000.0
            p["successes"] += 1
            p["latencySum"] += took
            p["latencyCount"] += 1
            p["latencyHist"][_bucket(took)] += 1
        if m.get("videoQuality") is not None:
            p["qualitySum"] += float(m["videoQuality"])
            p["qualityCount"] += 1
        cost = m.get("cost")
        if cost is not None:
            p["cost"] += float(cost)
            p["billed"] += 1
            t = tiers.setdefault(str(m.get("tier") or "unknown"), {"cost": 0.0, "billed": 0.0})
            t["cost"] += float(cost)
            t["billed"] += 1
    counts = dict.fromkeys(_JOB_FIELDS, 0)
    for j in jobs:
        status = j.get("status")
        at = float(j.get("updatedAt") or 0.0)
        if status not in ("completed", "failed") or not start <= at < end:
            continue
        history = j.get("providerHistory") or ()
        met = any(r.get("outcome") not in FAILED_OUTCOMES_EXCLUDE for r in history)
        done = status == "completed"
        counts["finished"] += 1
        counts["completed"] += done
        counts["failed"] += not done
        counts["firstTry"] += done and len(history) == 1 and not met
        counts["metFailures"] += met
        counts["recovered"] += done and met
        counts["degraded"] += bool(j.get("degraded"))
    recovery = _empty_recovery()
    for log in recovery_logs:
        if not start <= float(log.get("timestamp") or 0.0) < end:
            continue
        recovery_s = log.get("totalRecoveryTime")
        _add_recovery(
            recovery,
            {
                "total": 1,
                "successful": 1 if log.get("success") else 0,
                "timeSum": float(recovery_s) if recovery_s is not None else 0.0,
                "timeCount": 1 if recovery_s is not None else 0,
                "byCategory": {str(log.get("errorCategory")): 1},
                "byAction": {str(log.get("recoveryAction")): 1},
            },
        )
    return {
        "start": start,
        "end": end,
        "computedAt": now,
        "final": now >= end,
        "providers": providers,
        "tiers": tiers,
        "jobs": counts,
        "recovery": recovery,
    }


def _new_provider() -> dict[str, Any]:
    p: dict[str, Any] = dict.fromkeys(_PROVIDER_FIELDS, 0.0)
    p["latencyHist"] = _hist()
    return p


def merge(docs: Iterable[Mapping[str, Any]], *, start: float, end: float, now: float) -> Doc:
    """Sum span documents into one (a day from its hours, a period from its days)."""
    providers: dict[str, dict[str, Any]] = {}
    tiers: dict[str, dict[str, float]] = {}
    counts = dict.fromkeys(_JOB_FIELDS, 0)
    recovery = _empty_recovery()
    for d in docs:
        _add_recovery(recovery, d.get("recovery") or {})
        for pid, figures in (d.get("providers") or {}).items():
            acc = providers.setdefault(pid, _new_provider())
            for k in _PROVIDER_FIELDS:
                acc[k] += float(figures.get(k) or 0.0)
            for i, n in enumerate(figures.get("latencyHist") or ()):
                if i < len(acc["latencyHist"]):
                    acc["latencyHist"][i] += float(n)
        for tier, figures in (d.get("tiers") or {}).items():
            t = tiers.setdefault(tier, {"cost": 0.0, "billed": 0.0})
            t["cost"] += float(figures.get("cost") or 0.0)
            t["billed"] += float(figures.get("billed") or 0.0)
        for k in _JOB_FIELDS:
            counts[k] += int((d.get("jobs") or {}).get(k) or 0)
    return {
        "start": start,
        "end": end,
        "computedAt": now,
        "final": now >= end,
        "providers": providers,
        "tiers": tiers,
        "jobs": counts,
        "recovery": recovery,
    }


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def figures(doc: Mapping[str, Any]) -> Doc:
    """Rates and means of a merged span: per provider, overall, per tier, and job-level."""
    providers = {}
    for pid, p in sorted((doc.get("providers") or {}).items()):
        providers[pid] = {
            "calls": int(p["calls"]),
            "successRate": _ratio(p["successes"], p["calls"]),
            "averageLatency": _ratio(p["latencySum"], p["latencyCount"]),
            "latencyP50": percentile(p.get("latencyHist") or (), 0.5),
            "latencyP95": percentile(p.get("latencyHist") or (), 0.95),
            "spend": round(p["cost"], 2),
            "costPerVideo": _ratio(p["cost"], p["billed"]),
            "quality": _ratio(p["qualitySum"], p["qualityCount"]),
            "userSatisfaction": _ratio(p["satisfactionSum"], p["satisfactionCount"]),
            "ratings": int(p["satisfactionCount"]),
        }
    every = doc.get("providers") or {}

    def total(key: str) -> float:
        return sum(float(p[key]) for p in every.values())

    j = doc.get("jobs") or {}
    hist = _hist()
    for p in every.values():
        for i, n in enumerate(p.get("latencyHist") or ()):
            if i < len(hist):
                hist[i] += float(n)
    r = doc.get("recovery") or _empty_recovery()
    return {
        "from": doc.get("start"),
        "providers": providers,
        "overall": {
            "calls": int(total("calls")),
            "systemReliability": _ratio(total("successes"), total("calls")),
            "averageLatency": _ratio(total("latencySum"), total("latencyCount")),
            "latencyP50": percentile(hist, 0.5),
            "latencyP95": percentile(hist, 0.95),
            "spend": round(total("cost"), 2),
            "quality": _ratio(total("qualitySum"), total("qualityCount")),
            "userSatisfaction": _ratio(total("satisfactionSum"), total("satisfactionCount")),
        },
        "spendByTier": {
            tier: round(float(t["cost"]), 2) for tier, t in sorted((doc.get("tiers") or {}).items())
        },
        "jobs": {
            "finished": int(j.get("finished") or 0),
            "completed": int(j.get("completed") or 0),
            "failed": int(j.get("failed") or 0),
            "completionRate": _ratio(j.get("completed") or 0, j.get("finished") or 0),
            "firstTryRate": _ratio(j.get("firstTry") or 0, j.get("finished") or 0),
            "recoveryRate": _ratio(j.get("recovered") or 0, j.get("metFailures") or 0),
            "degraded": int(j.get("degraded") or 0),
        },
        "errorRecovery": {
            "totalRecoveries": int(r["total"]),
            "successfulRecoveries": int(r["successful"]),
            "successRate": _ratio(r["successful"], r["total"]),
            "averageRecoveryTime": _ratio(r["timeSum"], r["timeCount"]),
            "byCategory": dict(sorted(r["byCategory"].items())),
            "byAction": dict(sorted(r["byAction"].items())),
        },
    }


def view(
    hourly: Sequence[Mapping[str, Any]], daily: Sequence[Mapping[str, Any]], *, now: float
) -> Doc:
    """Every period's figures, cost and quality trends, and spend per day, provider and tier."""
    periods: Doc = {}
    for name, span in PERIODS.items():
        source = hourly if span <= DAY else daily
        chosen = [d for d in source if float(d["end"]) > now - span and float(d["start"]) <= now]
        start = min((float(d["start"]) for d in chosen), default=now - span)
        merged = merge(chosen, start=start, end=now, now=now)
        period = figures(merged)
        period["trends"] = _trends(chosen, name, now=now)
        periods[name] = period
    spend_days = sorted(
        (d for d in daily if float(d["end"]) > now - PERIODS["30d"]),
        key=lambda d: float(d["start"]),
        reverse=True,
    )
    return {
        "periods": periods,
        "spendByDay": [
            {
                "day": float(d["start"]),
                "total": round(
                    sum(float(p.get("cost") or 0.0) for p in d["providers"].values()), 2
                ),
                "byProvider": {
                    pid: round(float(p.get("cost") or 0.0), 2)
                    for pid, p in sorted(d["providers"].items())
                },
                "byTier": {
                    tier: round(float(t.get("cost") or 0.0), 2)
                    for tier, t in sorted((d.get("tiers") or {}).items())
                },
            }
            for d in spend_days
        ],
    }


def _spend(doc: Mapping[str, Any]) -> float:
    return round(sum(float(p.get("cost") or 0.0) for p in doc["providers"].values()), 2)


def _trends(docs: Sequence[Mapping[str, Any]], period: str, *, now: float) -> Doc:
    """Cost per video, quality, success rate and latency over the period's spans, fitted as
    every trend is (`shared.core.trends`): direction, change and confidence."""
    series: dict[str, list[tuple[float, float]]] = {
        "cost": [],
        "quality": [],
        "success_rate": [],
        "latency": [],
    }
    for d in docs:
        f = figures(d)["overall"]
        ps = d.get("providers") or {}
        billed = sum(float(p.get("billed") or 0.0) for p in ps.values())
        mid = (float(d["start"]) + min(float(d["end"]), now)) / 2.0
        if billed:
            series["cost"].append((mid, float(f["spend"]) / billed))
        if f["quality"] is not None:
            series["quality"].append((mid, float(f["quality"])))
        if f["systemReliability"] is not None:
            series["success_rate"].append((mid, float(f["systemReliability"])))
        if f["averageLatency"] is not None:
            series["latency"].append((mid, float(f["averageLatency"])))
    metrics = {
        "cost": Metric.COST,
        "quality": Metric.QUALITY,
        "success_rate": Metric.SUCCESS_RATE,
        "latency": Metric.LATENCY,
    }
    out: Doc = {}
    for key, samples in series.items():
        t = trend(samples, metrics[key], now=now, window=Window(period))
        out[key] = {
            "direction": t.direction.value,
            "changePercent": t.change_percent,
            "confidence": t.confidence,
            "points": [{"at": at, "value": v} for at, v in samples],
        }
    return out
