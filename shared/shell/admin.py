"""systemDashboard and setCircuitState: load the documents the dashboard shows and hand them to
the pure view (`shared.core.dashboard`); force a circuit open, closed or back to automatic."""

from __future__ import annotations

import logging

from shared.adapters.stores import base as stores
from shared.core import breaker as br
from shared.core import dashboard, spend
from shared.core.jobs import JobStatus
from shared.core.refusals import InvalidRequest, NotFound
from shared.shell.context import Shell

log = logging.getLogger("cvplus")

DAY = 86_400.0
HOUR = 3_600.0


def known(shell: Shell, provider_id: str) -> None:
    if provider_id not in shell.ports.providers:
        raise NotFound(f"no provider {provider_id!r}")


def set_circuit(
    shell: Shell,
    provider_id: str,
    action: br.ManualAction,
    *,
    by: str,
    reason: str,
    until: float | None = None,
) -> br.Transition | None:
    """``until`` (a forced open only): the end of a maintenance window, after which the breaker
    probes its way back; jobs with nowhere else to go wait for it within their deadline."""
    known(shell, provider_id)
    now = shell.ports.clock()
    if until is not None and (action is not br.ManualAction.OPEN or until <= now):
        why = "only an open takes it, and it must be in the future"
        raise InvalidRequest("invalid circuit request", [{"field": "until", "message": why}])
    transition = shell.ports.breakers.force(
        provider_id, action, by=by, reason=reason, now=now, until=until
    )
    log.warning("circuit %s: %s by %s: %s", provider_id, action.value, by, reason)
    return transition


def reset_quality(shell: Shell, provider_id: str, *, by: str, reason: str) -> None:
    """Forget a provider's quality checks so far (it was filtered out for failed ones): its
    quality is the prior again at once, and the health check counts only later renders."""
    known(shell, provider_id)
    now = shell.ports.clock()
    stats = shell.ports.docs.get(stores.STATS, provider_id) or {"providerId": provider_id}
    reset = {"by": by, "reason": reason, "at": now}
    shell.ports.docs.put(
        stores.STATS,
        provider_id,
        {**stats, "quality": None, "qualitySamples": 0, "qualityReset": reset},
    )
    log.warning("quality of %s reset by %s: %s", provider_id, by, reason)


def load(shell: Shell, *, failed_jobs: int = 10) -> dashboard.Loaded:
    now = shell.ports.clock()
    providers = [
        dashboard.ProviderDocs(
            capabilities=provider.capabilities,
            stats=shell.ports.docs.get(stores.STATS, pid) or {},
            state=shell.ports.breakers.state(pid, now=now, fresh=True),
            window=shell.ports.breakers.window(pid, now=now),
        )
        for pid, provider in shell.ports.providers.items()
    ]
    return dashboard.Loaded(
        now=now,
        providers=providers,
        recovery_logs=shell.ports.docs.query(
            stores.RECOVERY_LOGS,
            where=[("timestamp", ">=", now - DAY)],
            order_by="timestamp",
            descending=True,
            limit=1000,
        ),
        failed_jobs=shell.ports.jobs.recent(limit=failed_jobs, status=JobStatus.FAILED.value),
        transitions=shell.ports.breakers.transitions(since=now - DAY, limit=100),
        spend_today=shell.ports.docs.get(stores.SPEND, spend.day_key(now)),
        spend_cap_usd=shell.setup.daily_spend_cap_usd,
        jobs_per_minute=shell.setup.jobs_per_minute,
        hourly=shell.ports.docs.query(
            stores.ANALYTICS_HOURLY, where=[("start", ">", now - 26 * HOUR)]
        ),
        daily=shell.ports.docs.query(
            stores.ANALYTICS_DAILY, where=[("start", ">", now - 31 * DAY)]
        ),
        alerts=[
            *shell.ports.docs.query(stores.ALERTS, where=[("active", "==", True)]),
            *shell.ports.docs.query(stores.ALERTS, where=[("clearedAt", ">", now - DAY)]),
        ],
    )


def dashboard_answer(shell: Shell, *, failed_jobs: int = 10) -> dict[str, object]:
    """What systemDashboard answers: the documents `load` reads, through the pure view."""
    return dashboard.view(load(shell, failed_jobs=failed_jobs))
