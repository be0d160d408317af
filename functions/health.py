"""providerHealthCheck: every minute, probe providers, refresh stats, re-drive late jobs."""

from __future__ import annotations

import logging

from firebase_functions import scheduler_fn

from functions import deploy, runtime, secrets
from shared.shell import health

log = logging.getLogger("cvplus")


@scheduler_fn.on_schedule(schedule="every 1 minutes", secrets=secrets.WORKER, **deploy.HEALTH)
def providerHealthCheck(event: scheduler_fn.ScheduledEvent) -> None:
    report = health.health_check(runtime.shell(secrets.WORKER))
    log.info("health check: %s", report)
