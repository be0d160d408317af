"""providerHealthCheck: probe every provider (a half-open breaker gets its probe here), refresh
provider_stats from the metrics, re-drive jobs whose next action is overdue, and have jobs past
their deadline failed."""

from __future__ import annotations

from shared import breaker as br
from shared import orchestration as orch
from shared.errors import ProviderError
from shared.jobs import JobStatus
from shared.providers.base import VideoProvider
from shared.shell.context import Shell, alert
from shared.stores import base as stores
from shared.stores.codec import stats_doc
from shared.tracking import MetricsSnapshot, aggregate

STATS_DAYS = 7


def health_check(shell: Shell, *, redrive_limit: int = 100) -> dict[str, object]:
    now = shell.clock()
    report: dict[str, object] = {}
    for pid, provider in shell.providers.items():
        report[pid] = probe(shell, pid, provider, now)
        shell.breakers.refresh(pid, now=now)
        refresh_stats(shell, pid, provider, now)
    overdue = shell.jobs.due(now=now - 1.0, limit=redrive_limit)
    for job in overdue:
        shell.scheduler.schedule(job.job_id, at=now, reason="re-driven by the health check")
    report["redriven"] = len(overdue)
    # A job past its deadline that waits for something that will not come (a webhook that is
    # never sent, a task that was lost) is failed with deadline_exceeded by its next run.
    expired = shell.jobs.past_deadline(now=now, limit=redrive_limit)
    for job in expired:
        if job not in overdue:
            shell.scheduler.schedule(job.job_id, at=now, reason="past its deadline")
    report["expired"] = len(expired)
    return report


def probe(shell: Shell, pid: str, provider: VideoProvider, now: float) -> str:
    permit: float | None = None
    if shell.breaker_enabled and shell.breakers.admission(pid, now=now) is br.Admission.PROBE:
        grant = shell.breakers.acquire(pid, now=now)
        permit = grant.permit if grant.granted else None
    started = shell.clock()
    error: ProviderError | None = None
    try:
        provider.probe()
    except ProviderError as failure:
        error = failure
    took = shell.clock() - started
    effects = orch.probed(pid, error, permit=permit, took=took, now=now, setup=shell.setup)
    shell.apply(effects, now=now)
    return effects.note


def refresh_stats(shell: Shell, pid: str, provider: VideoProvider, now: float) -> None:
    previous = shell.docs.get(stores.STATS, pid) or {}
    reset = previous.get("qualityReset")  # an admin's quality reset: older checks are history
    since = float(reset["at"]) if isinstance(reset, dict) else None
    docs = shell.docs.query(
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
    in_flight = shell.docs.count(
        stores.JOBS,
        where=[("providerId", "==", pid), ("status", "==", JobStatus.PROCESSING.value)],
    )
    doc = {**stats_doc(agg, in_flight=in_flight), "qualityReset": reset}
    shell.docs.put(stores.STATS, pid, doc)
    low = orch.success_alert(agg.stats)
    if low is not None:
        alert(low.message, **low.fields)
