"""providerHealthCheck: probe every provider (a half-open breaker gets its probe here), refresh
provider_stats from the metrics, re-drive jobs whose next action is overdue, and have jobs past
their deadline failed."""

from __future__ import annotations

from shared.adapters.providers.base import VideoProvider
from shared.adapters.stores import base as stores
from shared.adapters.stores.codec import stats_doc
from shared.core import alerts, analytics
from shared.core import breaker as br
from shared.core import orchestration as orch
from shared.core.errors import ProviderError
from shared.core.jobs import JobStatus
from shared.core.scoring import ProviderStats
from shared.core.tracking import MetricsSnapshot, aggregate
from shared.shell.context import Shell, alert

STATS_DAYS = 7


def health_check(shell: Shell, *, redrive_limit: int = 100) -> dict[str, object]:
    now = shell.ports.clock()
    report: dict[str, object] = {}
    stats: dict[str, ProviderStats] = {}
    for pid, provider in shell.ports.providers.items():
        report[pid] = probe(shell, pid, provider, now)
        shell.ports.breakers.refresh(pid, now=now)
        stats[pid] = refresh_stats(shell, pid, provider, now)
    recent_jobs = refresh_analytics(shell, now)
    check_alerts(shell, stats, recent_jobs, now)
    overdue = shell.ports.jobs.due(now=now - 1.0, limit=redrive_limit)
    for job in overdue:
        shell.ports.scheduler.schedule(job.job_id, at=now, reason="re-driven by the health check")
    report["redriven"] = len(overdue)
    # A job past its deadline that waits for something that will not come (a webhook that is
    # never sent, a task that was lost) is failed with deadline_exceeded by its next run.
    expired = shell.ports.jobs.past_deadline(now=now, limit=redrive_limit)
    for job in expired:
        if job not in overdue:
            shell.ports.scheduler.schedule(job.job_id, at=now, reason="past its deadline")
    report["expired"] = len(expired)
    return report


def probe(shell: Shell, pid: str, provider: VideoProvider, now: float) -> str:
    permit: float | None = None
    if (
        shell.setup.breaker_enabled
        and shell.ports.breakers.admission(pid, now=now) is br.Admission.PROBE
    ):
        grant = shell.ports.breakers.acquire(pid, now=now)
        permit = grant.permit if grant.granted else None
    started = shell.ports.clock()
    error: ProviderError | None = None
    try:
        provider.probe()
    except ProviderError as failure:
        error = failure
    took = shell.ports.clock() - started
    effects = orch.probed(pid, error, permit=permit, took=took, now=now, setup=shell.setup)
    shell.apply(effects, now=now)
    return effects.note


def refresh_analytics(shell: Shell, now: float) -> dict[str, object]:
    """Roll the current hour (and the hour before, until it is final) into its
    ``analytics_hourly`` document, and the day's hours into its ``analytics_daily`` one
    (yesterday's too, when its last hour has just closed). Returns the job counts of the two
    hours, for the job-failure alert."""
    this_hour = analytics.hour_start(now)
    hours = [this_hour]
    before = shell.ports.docs.get(stores.ANALYTICS_HOURLY, _key(this_hour - analytics.HOUR))
    if before is None or not before.get("final"):
        hours.append(this_hour - analytics.HOUR)
    latest = [before] if before is not None and len(hours) == 1 else []
    for start in hours:
        end = start + analytics.HOUR
        span = [("timestamp", ">=", start), ("timestamp", "<", end)]
        finished = [("updatedAt", ">=", start), ("updatedAt", "<", end)]
        doc = analytics.rollup(
            shell.ports.docs.query(stores.METRICS, where=span),
            shell.ports.docs.query(stores.JOBS, where=finished),
            start=start,
            end=end,
            now=now,
            recovery_logs=shell.ports.docs.query(stores.RECOVERY_LOGS, where=span),
        )
        shell.ports.docs.put(stores.ANALYTICS_HOURLY, _key(start), doc)
        latest.append(doc)
    for day in sorted({analytics.day_start(h) for h in hours}):
        end = day + analytics.DAY
        parts = shell.ports.docs.query(
            stores.ANALYTICS_HOURLY, where=[("start", ">=", day), ("start", "<", end)]
        )
        merged = analytics.merge(parts, start=day, end=end, now=now)
        shell.ports.docs.put(stores.ANALYTICS_DAILY, _key(day), merged)
    jobs: dict[str, object] = analytics.merge(latest, start=0.0, end=now, now=now)["jobs"]
    return jobs


def check_alerts(
    shell: Shell, stats: dict[str, ProviderStats], jobs: dict[str, object], now: float
) -> None:
    """Start and clear the stored alert episodes; a new latency or job-failure episode is also
    an alert log entry (the others are logged where they happen: transitions, refresh_stats)."""
    holding = alerts.conditions(
        stats,
        {pid: shell.ports.breakers.state(pid, now=now) for pid in shell.ports.providers},
        {pid: p.capabilities.typical_render_s for pid, p in shell.ports.providers.items()},
        jobs,
    )
    active = shell.ports.docs.query(stores.ALERTS, where=[("active", "==", True)])
    changes = alerts.reconcile(active, holding, now=now)
    for doc_id, doc in (*changes.started, *changes.cleared):
        shell.ports.docs.put(stores.ALERTS, doc_id, doc)
    for c in changes.new:
        if c.kind in ("high_latency", "job_failures"):
            alert(c.message, kind=c.kind, provider=c.provider_id, **c.fields)


def _key(start: float) -> str:
    return str(int(start))


def refresh_stats(shell: Shell, pid: str, provider: VideoProvider, now: float) -> ProviderStats:
    previous = shell.ports.docs.get(stores.STATS, pid) or {}
    reset = previous.get("qualityReset")  # an admin's quality reset: older checks are history
    since = float(reset["at"]) if isinstance(reset, dict) else None
    docs = shell.ports.docs.query(
        stores.METRICS,
        where=[("providerId", "==", pid), ("timestamp", ">", now - STATS_DAYS * 86_400.0)],
    )
    agg = aggregate(
        [MetricsSnapshot.from_doc(d) for d in docs],
        provider_id=pid,
        now=now,
        concurrency_limit=provider.capabilities.concurrency_limit,
        quality_since=since,
    )
    in_flight = shell.ports.docs.count(
        stores.JOBS,
        where=[("providerId", "==", pid), ("status", "==", JobStatus.PROCESSING.value)],
    )
    doc = {**stats_doc(agg, in_flight=in_flight), "qualityReset": reset}
    shell.ports.docs.put(stores.STATS, pid, doc)
    low = alerts.low_success(agg.stats)
    if low is not None:
        alert(low.message, provider=pid, **low.fields)
    return agg.stats
