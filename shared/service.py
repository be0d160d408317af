"""The functions' one object: a thin facade over the shell's trigger families (``shared/shell``),
which run the pure decisions of ``shared/orchestration``. Handlers in ``functions/`` parse the
request, call one method here, and answer.

    generateVideo                   -> Service.create_job(...)        shell.processing
    processVideoJob / videoJobTask  -> Service.process(job_id)        shell.processing
    providerWebhook                 -> Service.on_webhook(pid, req)   shell.webhooks
    providerHealthCheck             -> Service.health_check()         shell.health
    systemDashboard                 -> Service.dashboard()            shell.admin + dashboard
    setCircuitState                 -> Service.set_circuit(...)       shell.admin
    cancelVideoJob / retryVideoJob  -> Service.cancel / retry         shell.users
    getVideoQuota                   -> Service.quota(...)             shell.processing
    generateVideoIntroduction,      -> Service.introduce(...)         shell.users
      regenerateVideoIntroduction
    getVideoStatus                  -> Service.video_status(...)      shell.users
    rateVideo                       -> Service.rate_video(...)        shell.feedback
"""

from __future__ import annotations

from shared.adapters.providers.base import WebhookRequest
from shared.adapters.stores.base import SeenJob
from shared.core import breaker as br
from shared.core import dashboard as dashboard_view
from shared.core import tiers
from shared.core.cv import ParsedCV
from shared.core.jobs import AppCall, Job
from shared.core.model import Tier, VideoOptions
from shared.core.tokens import webhook_token
from shared.shell import admin, feedback, health, processing, users, webhooks
from shared.shell.context import RecordingScheduler, Shell, TaskScheduler
from shared.shell.processing import LimitExceededError, TierRefusedError

__all__ = [
    "LimitExceededError",
    "RecordingScheduler",
    "Service",
    "TaskScheduler",
    "TierRefusedError",
]


class Service(Shell):
    """`Shell`'s wiring (stores, adapters, scheduler, clock) with one method per function."""

    def create_job(
        self,
        *,
        user_id: str,
        script: str,
        options: VideoOptions,
        tier: Tier = Tier.FREE,
        request_id: str | None = None,
        cv_job_id: str | None = None,
    ) -> tuple[Job, bool]:
        return processing.create_job(
            self,
            user_id=user_id,
            script=script,
            options=options,
            tier=tier,
            request_id=request_id,
            cv_job_id=cv_job_id,
        )

    def cancel(self, *, job_id: str, user_id: str) -> tuple[Job, bool]:
        return users.cancel(self, job_id=job_id, user_id=user_id)

    def retry(self, *, job_id: str, user_id: str) -> tuple[Job, bool]:
        return users.retry(self, job_id=job_id, user_id=user_id)

    def get_job(self, *, job_id: str, user_id: str) -> Job:
        return users.owned_job(self, job_id, user_id)

    def quota(self, *, user_id: str, tier: Tier) -> tiers.Quota:
        return processing.usage(self, user_id, tier)

    def cv_job(self, *, cv_job_id: str, user_id: str) -> dict[str, object]:
        return users.cv_job(self, cv_job_id, user_id)

    def introduce(
        self,
        *,
        cv_job_id: str,
        user_id: str,
        cv: ParsedCV | None,
        script: str | None,
        options: VideoOptions,
        tier: Tier,
        call: AppCall,
    ) -> tuple[Job, bool]:
        return users.introduce(
            self,
            cv_job_id=cv_job_id,
            user_id=user_id,
            cv=cv,
            script=script,
            options=options,
            tier=tier,
            call=call,
        )

    def video_status(self, *, cv_job_id: str, user_id: str) -> dict[str, object]:
        return users.video_status(self, cv_job_id=cv_job_id, user_id=user_id)

    def process(self, job_id: str, *, seen: SeenJob | None = None) -> Job | None:
        return processing.process(self, job_id, seen=seen)

    def on_webhook(self, provider_id: str, request: WebhookRequest) -> str:
        return webhooks.on_webhook(self, provider_id, request)

    def webhook_token(self, job_id: str, attempt: int, expires_at: int) -> str | None:
        return webhook_token(self.token_key, job_id, attempt, expires_at)

    def health_check(self, *, redrive_limit: int = 100) -> dict[str, object]:
        return health.health_check(self, redrive_limit=redrive_limit)

    def set_circuit(
        self,
        provider_id: str,
        action: br.ManualAction,
        *,
        by: str,
        reason: str,
        until: float | None = None,
    ) -> br.Transition | None:
        return admin.set_circuit(self, provider_id, action, by=by, reason=reason, until=until)

    def rate_video(self, *, user_id: str, job_id: str, rating: int) -> float:
        return feedback.rate(self, user_id=user_id, job_id=job_id, rating=rating)

    def reset_quality(self, provider_id: str, *, by: str, reason: str) -> None:
        admin.reset_quality(self, provider_id, by=by, reason=reason)

    def dashboard(self, *, failed_jobs: int = 10) -> dict[str, object]:
        return dashboard_view.view(admin.load(self, failed_jobs=failed_jobs))
