"""The systemDashboard answer as a pure view over loaded documents: provider stats, breaker
states and windows, the last day's recovery logs and transitions, and recent failed jobs.
(The page that shows it is `dashboard_page`.)"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.core import alerts as alerting
from shared.core import analytics, spend
from shared.core import breaker as br
from shared.core.jobs import Job
from shared.core.model import Capabilities


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderDocs:
    capabilities: Capabilities
    stats: Mapping[str, Any]  # its provider_stats document ({} before the first refresh)
    state: br.BreakerState
    window: br.WindowCounts | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Loaded:
    now: float
    providers: Sequence[ProviderDocs]
    recovery_logs: Sequence[Mapping[str, Any]]  # the last day's, newest first
    failed_jobs: Sequence[Job]
    transitions: Sequence[br.Transition]
    spend_today: Mapping[str, Any] | None = None  # today's daily_spend document
    spend_cap_usd: float | None = None
    jobs_per_minute: int | None = None  # the service-wide brake on new jobs (None: none)
    hourly: Sequence[Mapping[str, Any]] = ()  # analytics_hourly documents of the last day
    daily: Sequence[Mapping[str, Any]] = ()  # analytics_daily documents of the last 30 days
    alerts: Sequence[Mapping[str, Any]] = ()  # active alert episodes and the last day's cleared


def view(loaded: Loaded) -> dict[str, object]:
    """The seed's getSystemDashboard shape, every figure computed from stored data."""
    providers = [_provider(p) for p in loaded.providers]
    states = [p.state.state for p in loaded.providers]
    logs = loaded.recovery_logs
    calls = sum(int(p.get("calls24h") or 0) for p in providers)
    successes = sum(int(p.get("successes24h") or 0) for p in providers)
    latencies = [float(p["latencyP50"]) for p in providers if p.get("latencyP50") is not None]
    healthy = states.count(br.CircuitState.CLOSED)
    recovered = [e for e in logs if e.get("success")]
    times = [float(e["totalRecoveryTime"]) for e in logs if e.get("totalRecoveryTime") is not None]
    return {
        "timestamp": loaded.now,
        "overallHealth": {
            "systemReliability": successes / calls if calls else None,
            "averageResponseTime": sum(latencies) / len(latencies) if latencies else None,
            "totalProviders": len(providers),
            "healthyProviders": healthy,
        },
        "performance": {"providers": providers},
        "circuitBreaker": {
            "totalProviders": len(states),
            "openCircuits": states.count(br.CircuitState.OPEN),
            "halfOpenCircuits": states.count(br.CircuitState.HALF_OPEN),
            "closedCircuits": healthy,
            "transitions": [
                {
                    "providerId": t.provider_id,
                    "from": t.from_state.value,
                    "to": t.to_state.value,
                    "reason": t.reason,
                    "at": t.at,
                    "by": t.by,
                }
                for t in loaded.transitions
            ],
        },
        "errorRecovery": {
            "totalRecoveries": len(logs),
            "successfulRecoveries": len(recovered),
            "successRate": len(recovered) / len(logs) if logs else None,
            "averageRecoveryTime": sum(times) / len(times) if times else None,
            "byCategory": dict(Counter(str(e["errorCategory"]) for e in logs)),
            "byAction": dict(Counter(str(e["recoveryAction"]) for e in logs)),
        },
        "spend": {
            "todayUsd": spend.spent(loaded.spend_today),
            "renders": int((loaded.spend_today or {}).get("renders") or 0),
            # What unfinished jobs reserved; billed + reserved is what the cap is held to.
            "reservedUsd": spend.reserved(loaded.spend_today),
            "committedUsd": spend.committed(loaded.spend_today),
            "capUsd": loaded.spend_cap_usd,
            "capReached": loaded.spend_cap_usd is not None
            and spend.committed(loaded.spend_today) >= loaded.spend_cap_usd,
            "jobsPerMinute": loaded.jobs_per_minute,
            "jobsThisMinute": spend.jobs_this_minute(loaded.spend_today, now=loaded.now),
        },
        # Every period (1h, 24h, 7d, 30d) from the pre-aggregated documents: per provider and
        # overall, job-level reliability, spend per tier, cost and quality trends; spend per day.
        "analytics": analytics.view(loaded.hourly, loaded.daily, now=loaded.now),
        "alerts": alerting.view(loaded.alerts, now=loaded.now),
        "failedJobs": [
            {
                "jobId": j.job_id,
                "userId": j.user_id,
                "error": {"code": j.error.code, "message": j.error.message} if j.error else None,
                "providers": [r.provider_id for r in j.history],
                "attempts": j.attempt,
                "updatedAt": j.updated_at,
            }
            for j in loaded.failed_jobs
        ],
    }


def _provider(p: ProviderDocs) -> dict[str, Any]:
    state, window, caps = p.state, p.window, p.capabilities
    override = state.override
    return {
        "providerId": caps.provider_id,
        "circuitState": state.state.value,
        "override": (
            {
                "mode": override.mode.value,
                "by": override.by,
                "reason": override.reason,
                "at": override.at,
            }
            if override
            else None
        ),
        "nextAttemptTime": state.next_attempt_at,
        "lastReason": state.last_reason,
        "window": (
            {"calls": window.calls, "failures": window.failures, "slow": window.slow}
            if window is not None
            else None
        ),
        "capabilities": {
            "pricePerVideo": caps.price_per_video,
            "concurrencyLimit": caps.concurrency_limit,
            "maxDurationS": caps.max_duration_s,
            "features": sorted(f.value for f in caps.features),
        },
        **{k: v for k, v in p.stats.items() if k != "providerId"},
    }
