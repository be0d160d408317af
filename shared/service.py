"""The imperative shell around the pure core: what each function does, with its I/O passed in
(stores, provider adapters, a task scheduler, the clock). Handlers in ``functions/`` parse the
request, call one method here, and answer.

    processVideoJob / videoJobTask  -> Service.process(job_id)
    providerWebhook                 -> Service.on_webhook(provider_id, request)
    providerHealthCheck             -> Service.health_check()

Every provider call records its outcome with the breaker and a metrics snapshot written in the
same transaction as the job update; every wait is a scheduled task, never a sleep.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from shared import breaker as br
from shared import jobs
from shared.errors import ErrorCategory, ProviderError
from shared.failover import fail_over, selection_for
from shared.jobs import Job, JobError, JobStatus, VideoResult
from shared.model import Tier, VideoOptions
from shared.providers.base import (
    RenderState,
    SubmitRequest,
    VideoProvider,
    WebhookError,
    WebhookRequest,
    failure_of,
)
from shared.recovery import STRATEGIES
from shared.scoring import BusinessRules, Candidate, ProviderStats, Scored, rank
from shared.stores import base as stores
from shared.stores.base import BreakerStore, DocumentStore, JobStore, SideWrite
from shared.tracking import Aggregate, MetricsSnapshot, Operation, aggregate, recovery_log

log = logging.getLogger("cvplus")

LEASE_S = 120.0
POLL_INTERVAL_S = 10.0  # status polls for providers without webhooks (RunwayML)
WEBHOOK_GRACE = 3.0  # a webhook provider gets this many typical render times before we poll
JOB_TIMEOUT_S = 30 * 60.0
POLL_RETRY_S = 20.0  # after a failed status check (the render itself may be fine)
RENDER_PATIENCE_S = 10 * 60.0  # past this, a render we cannot see is given up for another
RENDER_FAILURES = frozenset(
    {ErrorCategory.PROCESSING_ERROR, ErrorCategory.QUALITY_FAILURE}
)  # a job not finished by then fails, whatever is left of its budget
STATS_TTL_S = 30.0
SUCCESS_TARGET = 0.95  # a provider's hourly success rate under this raises an alert
MIN_ALERT_SAMPLES = 20


class LimitExceededError(Exception):
    """The user asked for more videos this hour than the limit allows."""


class TaskScheduler(Protocol):
    """Delayed work for a job (Cloud Tasks in production)."""

    def schedule(self, job_id: str, *, at: float, reason: str) -> None: ...


@dataclass
class RecordingScheduler:
    """A scheduler that only remembers what was asked (tests, and the inline runner)."""

    tasks: list[tuple[str, float, str]] = field(default_factory=list)

    def schedule(self, job_id: str, *, at: float, reason: str) -> None:
        self.tasks.append((job_id, at, reason))


def alert(message: str, **fields: object) -> None:
    """An ERROR-severity structured entry marked as an alert, for a Cloud Logging alert policy."""
    log.error(message, extra={"json_fields": {"alert": True, **fields}})


@dataclass
class Service:
    jobs: JobStore
    breakers: BreakerStore
    docs: DocumentStore
    providers: Mapping[str, VideoProvider]
    scheduler: TaskScheduler
    rules: BusinessRules = field(default_factory=BusinessRules)
    webhook_base_url: str | None = None
    token_key: bytes = b""
    breaker_enabled: bool = True
    tracking_enabled: bool = True
    max_attempts: int = 4
    user_jobs_per_hour: int = 10
    webhook_wait_s: float | None = None
    clock: Callable[[], float] = time.time
    rand: Callable[[], float] = random.random
    instance_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    _stats: dict[str, ProviderStats] = field(default_factory=dict)
    _stats_at: float = -1e18
    _in_flight: dict[str, int] = field(default_factory=dict)

    # Jobs

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
        """A new queued job, or the existing one for the same user and ``requestId`` (then
        True: deduplicated). Raises LimitExceededError past the per-user hourly limit, and
        jobs.RequestReusedError when the requestId's job asked for something else."""
        now = self.clock()
        job_id = jobs.job_id_for(user_id, request_id) if request_id else f"vj_{uuid.uuid4().hex}"
        fingerprint = jobs.request_fingerprint(script, options, cv_job_id)
        recent = self.jobs.count_created_since(user_id, now - 3600.0)
        if recent >= self.user_jobs_per_hour:
            # A repeated request is answered even at the limit; below it, create() finds it.
            existing = self.jobs.get(job_id) if request_id else None
            if existing is not None:
                return jobs.same_request(existing, fingerprint), True
            raise LimitExceededError(
                f"{recent} videos asked for in the last hour; the limit is "
                f"{self.user_jobs_per_hour}"
            )
        job = Job(
            job_id=job_id,
            created_at=now,
            updated_at=now,
            deadline_at=now + JOB_TIMEOUT_S,
            next_action_at=now,
            user_id=user_id,
            request_id=request_id,
            request_fingerprint=fingerprint,
            cv_job_id=cv_job_id,
            script=script,
            tier=tier,
            options=options,
            max_attempts=self.max_attempts,
        )
        stored, created = self.jobs.create(job)
        log.info("job %s created for %s (%s)", job_id, user_id, "new" if created else "existing")
        return jobs.same_request(stored, fingerprint), not created

    def process(self, job_id: str, *, seen: stores.SeenJob | None = None) -> Job | None:
        """Claim the job if it is due and advance it as far as it goes without waiting.
        ``seen``: the job as a trigger event delivered it (saves the store a read)."""
        now = self.clock()
        job = self.jobs.claim(job_id, owner=self.instance_id, now=now, lease_s=LEASE_S, seen=seen)
        if job is None:
            return None
        for _ in range(job.max_attempts * 3 + 3):  # bounded: each turn spends an attempt or waits
            now = self.clock()
            if job.terminal or (job.next_action_at is not None and job.next_action_at > now):
                break
            if now > job.deadline_at:
                job = self._fail(job, "deadline_exceeded", "the job ran out of time", now)
                break
            if job.provider_job_id:
                job = self._follow_up(job, now)
            elif _open_attempt(job):
                # An instance died between checkpoint and answer: the submit may have arrived.
                lost = ProviderError(
                    ErrorCategory.TIMEOUT,
                    "the instance submitting this attempt stopped before the answer",
                    provider_id=job.provider_id or "",
                )
                job = self._failed(job, lost, permit=None, took=0.0, now=now)
            else:
                job = self._submit(job, now)
        if not _settled(job, self.clock()):
            self._release(job)  # the last save kept the lease (the loop's bound was reached)
        return job

    def _submit(self, job: Job, now: float) -> Job:
        ranking = rank(self._candidates(now), selection_for(job), now=now, rules=self.rules)
        for choice in ranking.ranked:
            permit: float | None = None
            if choice.probe and self.breaker_enabled:
                grant = self.breakers.acquire(choice.provider_id, now=now)
                if not grant.granted:
                    continue
                permit = grant.permit
            return self._call(job, choice, permit, now)
        reason = "; ".join(f"{r.provider_id}: {r.reason}" for r in ranking.rejected)
        until = ranking.next_chance()
        if until is None:
            return self._fail(job, "no_capable_provider", f"no provider can make it: {reason}", now)
        waiting = jobs.wait_for_provider(job, until=until, reason=reason, now=now)
        return self._save(waiting, now)

    def _call(self, job: Job, choice: Scored, permit: float | None, now: float) -> Job:
        provider = self.providers[choice.provider_id]
        job = jobs.begin_attempt(
            job,
            provider_id=choice.provider_id,
            options=choice.options,
            degradations=choice.degradations,
            reasoning=choice.reasons,
            now=now,
        )
        self.jobs.save(job, owner=self.instance_id, now=now, release=False)  # checkpoint
        request = SubmitRequest(
            job_id=job.job_id,
            attempt=job.key_seq,
            script=job.script,
            options=job.options,
            callback_url=self._callback_url(choice.provider_id),
            callback_token=self.webhook_token(job.job_id),
        )
        started = self.clock()
        try:
            submission = provider.submit(request)
        except ProviderError as error:
            return self._failed(job, error, permit=permit, took=self.clock() - started, now=now)
        took = self.clock() - started
        self._breaker(
            choice.provider_id,
            br.Outcome(success=True, duration_s=took, permit=permit, probe=permit is not None),
        )
        follow_up = now + self._wait_for(choice.provider_id)
        job = jobs.submitted(
            job, provider_job_id=submission.provider_job_id, follow_up_at=follow_up, now=now
        )
        # The generation's snapshot is written when it ends (completed or failed), once.
        return self._save(job, now, reason="render follow-up")

    def _follow_up(self, job: Job, now: float) -> Job:
        """The render's follow-up is due: a status poll (or the deadline of a lost webhook)."""
        pid = job.provider_id or ""
        provider = self.providers[pid]
        started = self.clock()
        try:
            status = provider.status(
                job.provider_job_id or "", expected_duration_s=job.options.duration.seconds
            )
        except ProviderError as error:
            took = self.clock() - started
            if self._render_lost(job, error, now=now):
                return self._failed(job, error, permit=None, took=took, now=now)
            return self._poll_failed(job, error, took=took, now=now)
        took = self.clock() - started
        if status.state is not RenderState.COMPLETED:
            later = jobs.submitted(
                job,
                provider_job_id=job.provider_job_id or "",
                follow_up_at=now + POLL_INTERVAL_S,
                now=now,
            )
            metric = self._metric(job, Operation.STATUS_CHECK, success=True, took=took, now=now)
            return self._save(later, now, side=metric, reason="status poll")
        result = VideoResult(
            video_url=status.video_url or "",
            thumbnail_url=status.thumbnail_url,
            duration_s=status.duration_s,
        )
        return self._complete(job, result, now)

    def _render_lost(self, job: Job, error: ProviderError, *, now: float) -> bool:
        """Whether a failed status check means the render is lost: it failed or fell below the
        quality bar, its provider's circuit is open (down: better pay another than keep the user
        waiting), or it has been out of sight for too long."""
        if error.category in RENDER_FAILURES or now - _started(job) > RENDER_PATIENCE_S:
            return True
        if not self.breaker_enabled:
            return False
        return self.breakers.admission(error.provider_id, now=now) is br.Admission.REJECT

    def _poll_failed(self, job: Job, error: ProviderError, *, took: float, now: float) -> Job:
        """Only the look at the render failed, not the render: it is paid for and may well be
        fine, so look again later rather than pay another provider for the same video."""
        counts = STRATEGIES[error.category].counts_against_breaker
        self._breaker(
            error.provider_id,
            br.Outcome(success=False, duration_s=took, category=error.category, counts=counts),
        )
        log.warning(
            "job %s: status check on %s failed (%s); polling again",
            job.job_id,
            error.provider_id,
            error.category.value,
        )
        later = jobs.submitted(
            job,
            provider_job_id=job.provider_job_id or "",
            follow_up_at=now + POLL_RETRY_S,
            now=now,
        )
        metric = self._metric(
            job, Operation.STATUS_CHECK, success=False, took=took, now=now, error=error
        )
        return self._save(later, now, side=metric, reason="status check failed")

    def _complete(self, job: Job, result: VideoResult, now: float) -> Job:
        done = jobs.complete(job, result=result, now=now)
        side = self._metric(
            done,
            Operation.GENERATION,
            success=True,
            took=now - _started(job),
            now=now,
            quality=10.0,
        )
        return self._save(done, now, side=side)

    def _failed(
        self, job: Job, error: ProviderError, *, permit: float | None, took: float, now: float
    ) -> Job:
        counts = STRATEGIES[error.category].counts_against_breaker
        self._breaker(
            error.provider_id,
            br.Outcome(
                success=False,
                duration_s=took,
                category=error.category,
                counts=counts,
                probe=permit is not None,
                permit=permit,
            ),
        )
        if error.category in (ErrorCategory.AUTHENTICATION, ErrorCategory.QUOTA_EXCEEDED):
            alert(
                f"{error.provider_id}: {error.category.value}",
                provider=error.provider_id,
                category=error.category.value,
            )
        fo = fail_over(
            job, error, self._candidates(now), now=now, rand=self.rand(), rules=self.rules
        )
        log.warning(
            "job %s: %s on %s -> %s (%s)",
            job.job_id,
            error.category.value,
            error.provider_id,
            fo.decision.action.value,
            fo.decision.reason,
        )
        metric = self._metric(
            job, Operation.GENERATION, success=False, took=now - _started(job), now=now, error=error
        )
        return self._save(fo.job, now, side=metric, reason=fo.decision.action.value)

    def _fail(self, job: Job, code: str, message: str, now: float) -> Job:
        failed = jobs.fail(job, error=JobError(code=code, message=message, retryable=True), now=now)
        return self._save(failed, now)

    def _save(
        self, job: Job, now: float, *, side: Sequence[SideWrite] = (), reason: str = "retry"
    ) -> Job:
        """Write the job (keeping the lease: `_release` lets go at the end) with its side
        documents; a terminal job also gets its recovery log. Schedule its next action."""
        extra = list(side)
        if job.terminal:
            entry = recovery_log(job)
            if entry is not None:
                extra.append(SideWrite(stores.RECOVERY_LOGS, entry, doc_id=job.job_id))
        try:
            # A job that is finished or waiting leaves this call: let go of the lease in the
            # same write.
            self.jobs.save(
                job, owner=self.instance_id, now=now, side=extra, release=_settled(job, now)
            )
        except (stores.TerminalJobError, stores.LeaseLostError) as exc:
            # A webhook finished the job meanwhile, or a slow call outlived our lease: the stored
            # job is the truth; our side documents are dropped with our version.
            log.warning("job %s: not saved (%s); keeping the stored job", job.job_id, exc)
            stored = self.jobs.get(job.job_id)
            return stored if stored is not None else job
        if not job.terminal and job.next_action_at is not None and job.next_action_at > now:
            self.scheduler.schedule(job.job_id, at=job.next_action_at, reason=reason)
        return job

    def _release(self, job: Job) -> None:
        try:
            self.jobs.save(job, owner=self.instance_id, now=self.clock())
        except stores.StoreError as exc:  # the lease ran out and another worker took over
            log.warning("job %s: could not release the lease: %s", job.job_id, exc)

    # Webhooks

    def on_webhook(self, provider_id: str, request: WebhookRequest) -> str:
        """Verify and apply one provider callback. Returns what happened (for the log and the
        answer); raises WebhookError with the status to answer for a request we refuse."""
        provider = self.providers.get(provider_id)
        if provider is None:
            raise WebhookError(404, f"unknown provider {provider_id!r}")
        job_id = request.query.get("job")
        token = self.webhook_token(job_id) if job_id else None
        event = provider.parse_webhook(request, expected_token=token)
        job_id = event.job_id or job_id
        if not job_id:
            raise WebhookError(400, "the callback names no job")
        now = self.clock()
        failure = failure_of(event)
        outcome: list[str] = ["ignored: unknown job"]
        decided: list[Job] = []
        candidates = self._candidates(now) if failure is not None else []
        rand = self.rand()

        def change(job: Job) -> tuple[Job, Sequence[SideWrite]] | None:
            decided.clear()
            if job.terminal or not _current_render(job, provider_id, event.provider_job_id):
                outcome[0] = "ignored: stale or duplicate event"
                return None
            job = jobs.submitted(
                job,
                provider_job_id=event.provider_job_id,
                follow_up_at=job.next_action_at or now,
                now=now,
            )
            if failure is None:
                done = jobs.complete(
                    job, result=VideoResult(video_url=event.video_url or ""), now=now
                )
                outcome[0] = "completed"
                decided.append(done)
                side = self._metric(
                    done,
                    Operation.GENERATION,
                    success=True,
                    took=now - _started(job),
                    now=now,
                    quality=10.0,
                )
                return done, [*side, *self._log_entry(done)]
            fo = fail_over(job, failure, candidates, now=now, rand=rand, rules=self.rules)
            outcome[0] = f"render failed: {fo.decision.action.value}"
            decided.append(fo.job)
            side = self._metric(
                job,
                Operation.GENERATION,
                success=False,
                took=now - _started(job),
                now=now,
                error=failure,
            )
            return fo.job, [*side, *self._log_entry(fo.job)]

        self.jobs.transact(job_id, change, now=now)
        if decided:
            after = decided[0]
            if failure is not None:  # the accepted submit already counted as a success
                self._breaker(
                    provider_id,
                    br.Outcome(
                        success=False,
                        category=failure.category,
                        counts=STRATEGIES[failure.category].counts_against_breaker,
                    ),
                )
            if not after.terminal and after.next_action_at is not None:
                self.scheduler.schedule(job_id, at=after.next_action_at, reason="after webhook")
        return outcome[0]

    def _log_entry(self, job: Job) -> list[SideWrite]:
        entry = recovery_log(job)
        return [SideWrite(stores.RECOVERY_LOGS, entry, doc_id=job.job_id)] if entry else []

    def webhook_token(self, job_id: str) -> str | None:
        """The per-job secret in callback URLs of providers that do not sign (D-ID): derived,
        not stored, so the job document users can read never holds it."""
        if not self.token_key:
            return None
        return hmac.new(self.token_key, job_id.encode(), hashlib.sha256).hexdigest()[:32]

    def _callback_url(self, provider_id: str) -> str | None:
        if not self.webhook_base_url or provider_id == "runwayml":
            return None
        return f"{self.webhook_base_url.rstrip('/')}/providerWebhook/{provider_id}"

    def _wait_for(self, provider_id: str) -> float:
        if self._callback_url(provider_id) is None:
            return POLL_INTERVAL_S
        if self.webhook_wait_s is not None:
            return self.webhook_wait_s
        return WEBHOOK_GRACE * self.providers[provider_id].capabilities.typical_render_s

    # Health

    def health_check(self, *, redrive_limit: int = 100) -> dict[str, object]:
        """Probe every provider (feeding half-open probes to the breaker), refresh
        provider_stats, and re-drive jobs whose next action is overdue."""
        now = self.clock()
        report: dict[str, object] = {}
        for pid, provider in self.providers.items():
            report[pid] = self._probe(pid, provider, now)
            self._refresh_stats(pid, provider, now)
        overdue = self.jobs.due(now=now - 1.0, limit=redrive_limit)
        for job in overdue:
            self.scheduler.schedule(job.job_id, at=now, reason="re-driven by the health check")
        report["redriven"] = len(overdue)
        return report

    def _probe(self, pid: str, provider: VideoProvider, now: float) -> str:
        permit: float | None = None
        if self.breaker_enabled and self.breakers.admission(pid, now=now) is br.Admission.PROBE:
            grant = self.breakers.acquire(pid, now=now)
            permit = grant.permit if grant.granted else None
        started = self.clock()
        try:
            provider.probe()
        except ProviderError as error:
            took = self.clock() - started
            self._breaker(
                pid,
                br.Outcome(
                    success=False,
                    duration_s=took,
                    category=error.category,
                    counts=STRATEGIES[error.category].counts_against_breaker,
                    probe=permit is not None,
                    permit=permit,
                ),
            )
            self._add_metric(pid, Operation.HEALTH_CHECK, False, took, now, error.category.value)
            return f"down: {error.category.value}"
        took = self.clock() - started
        if permit is not None:
            self._breaker(pid, br.Outcome(success=True, duration_s=took, probe=True, permit=permit))
        self._add_metric(pid, Operation.HEALTH_CHECK, True, took, now, None)
        return "up"

    def _refresh_stats(self, pid: str, provider: VideoProvider, now: float) -> None:
        docs = self.docs.query(
            stores.METRICS,
            where=[("providerId", "==", pid), ("timestamp", ">", now - 7 * 86_400.0)],
        )
        snapshots = [MetricsSnapshot.from_doc(d) for d in docs]
        agg = aggregate(
            snapshots,
            provider_id=pid,
            now=now,
            concurrency_limit=provider.capabilities.concurrency_limit,
        )
        in_flight = self.docs.count(
            stores.JOBS,
            where=[("providerId", "==", pid), ("status", "==", JobStatus.PROCESSING.value)],
        )
        self.docs.put(stores.STATS, pid, stats_doc(agg, in_flight=in_flight))
        s = agg.stats
        if s.calls_1h >= MIN_ALERT_SAMPLES and s.successes_1h < SUCCESS_TARGET * s.calls_1h:
            alert(
                f"{pid}: success rate {s.successes_1h / s.calls_1h:.1%} in the last hour, "
                f"under the {SUCCESS_TARGET:.1%} target",
                provider=pid,
                successRate1h=s.successes_1h / s.calls_1h,
            )

    # Admin

    def set_circuit(
        self, provider_id: str, action: br.ManualAction, *, by: str, reason: str
    ) -> br.Transition | None:
        if provider_id not in self.providers:
            raise KeyError(provider_id)
        transition = self.breakers.force(
            provider_id, action, by=by, reason=reason, now=self.clock()
        )
        log.warning("circuit %s: %s by %s: %s", provider_id, action.value, by, reason)
        return transition

    def dashboard(self, *, failed_jobs: int = 10) -> dict[str, object]:
        """The seed's getSystemDashboard shape, every figure computed from stored data."""
        now = self.clock()
        providers = []
        states = {}
        for pid, provider in self.providers.items():
            stats = self.docs.get(stores.STATS, pid) or {}
            state = self.breakers.state(pid, now=now, fresh=True)
            states[pid] = state
            window = (
                self.breakers.window(pid, now=now) if hasattr(self.breakers, "window") else None
            )
            providers.append(
                {
                    "providerId": pid,
                    "circuitState": state.state.value,
                    "override": (
                        {
                            "mode": state.override.mode.value,
                            "by": state.override.by,
                            "reason": state.override.reason,
                            "at": state.override.at,
                        }
                        if state.override
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
                        "pricePerVideo": provider.capabilities.price_per_video,
                        "concurrencyLimit": provider.capabilities.concurrency_limit,
                        "maxDurationS": provider.capabilities.max_duration_s,
                        "features": sorted(f.value for f in provider.capabilities.features),
                    },
                    **{k: v for k, v in stats.items() if k != "providerId"},
                }
            )
        logs = self.docs.query(
            stores.RECOVERY_LOGS,
            where=[("timestamp", ">=", now - 86_400.0)],
            order_by="timestamp",
            descending=True,
            limit=1000,
        )
        calls = sum(int(p.get("calls24h") or 0) for p in providers)
        successes = sum(int(p.get("successes24h") or 0) for p in providers)
        latencies = [float(p["latencyP50"]) for p in providers if p.get("latencyP50") is not None]
        healthy = sum(1 for s in states.values() if s.state is br.CircuitState.CLOSED)
        by_category: dict[str, int] = {}
        by_action: dict[str, int] = {}
        for entry in logs:
            by_category[str(entry["errorCategory"])] = (
                by_category.get(str(entry["errorCategory"]), 0) + 1
            )
            by_action[str(entry["recoveryAction"])] = (
                by_action.get(str(entry["recoveryAction"]), 0) + 1
            )
        recovered = [e for e in logs if e.get("success")]
        times = [
            float(e["totalRecoveryTime"]) for e in logs if e.get("totalRecoveryTime") is not None
        ]
        failed = self.jobs.recent(limit=failed_jobs, status=JobStatus.FAILED.value)
        return {
            "timestamp": now,
            "overallHealth": {
                "systemReliability": successes / calls if calls else None,
                "averageResponseTime": sum(latencies) / len(latencies) if latencies else None,
                "totalProviders": len(self.providers),
                "healthyProviders": healthy,
            },
            "performance": {"providers": providers},
            "circuitBreaker": {
                "totalProviders": len(states),
                "openCircuits": sum(s.state is br.CircuitState.OPEN for s in states.values()),
                "halfOpenCircuits": sum(
                    s.state is br.CircuitState.HALF_OPEN for s in states.values()
                ),
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
                    for t in self.breakers.transitions(since=now - 86_400.0, limit=100)
                ],
            },
            "errorRecovery": {
                "totalRecoveries": len(logs),
                "successfulRecoveries": len(recovered),
                "successRate": len(recovered) / len(logs) if logs else None,
                "averageRecoveryTime": sum(times) / len(times) if times else None,
                "byCategory": by_category,
                "byAction": by_action,
            },
            "failedJobs": [
                {
                    "jobId": j.job_id,
                    "userId": j.user_id,
                    "error": {"code": j.error.code, "message": j.error.message}
                    if j.error
                    else None,
                    "providers": [r.provider_id for r in j.history],
                    "attempts": j.attempt,
                    "updatedAt": j.updated_at,
                }
                for j in failed
            ],
        }

    # Shared plumbing

    def _candidates(self, now: float) -> list[Candidate]:
        if now - self._stats_at > STATS_TTL_S:
            self._load_stats(now)
        out = []
        for pid, provider in self.providers.items():
            state = (
                self.breakers.state(pid, now=now)
                if self.breaker_enabled
                else br.BreakerState(provider_id=pid)
            )
            out.append(
                Candidate(
                    capabilities=provider.capabilities,
                    stats=self._stats.get(pid) or ProviderStats(provider_id=pid),
                    breaker=state,
                    breaker_policy=self.breakers.policy(pid),
                    in_flight=self._in_flight.get(pid, 0),
                )
            )
        return out

    def _load_stats(self, now: float) -> None:
        for pid in self.providers:
            doc = self.docs.get(stores.STATS, pid)
            if doc is not None:
                self._stats[pid] = stats_from_doc(pid, doc)
                self._in_flight[pid] = int(doc.get("inFlight") or 0)
        self._stats_at = now

    def _breaker(self, provider_id: str, outcome: br.Outcome) -> None:
        if not self.breaker_enabled:
            return
        transition = self.breakers.record(provider_id, outcome, now=self.clock())
        if transition is not None and transition.to_state is br.CircuitState.OPEN:
            alert(
                f"circuit opened for {provider_id}: {transition.reason}",
                provider=provider_id,
                transition=transition.to_state.value,
            )
        elif transition is not None:
            log.warning(
                "circuit %s: %s -> %s (%s)",
                provider_id,
                transition.from_state.value,
                transition.to_state.value,
                transition.reason,
            )

    def _metric(
        self,
        job: Job,
        operation: Operation,
        *,
        success: bool,
        took: float,
        now: float,
        error: ProviderError | None = None,
        quality: float | None = None,
    ) -> list[SideWrite]:
        if not self.tracking_enabled or not job.provider_id:
            return []
        provider = self.providers.get(job.provider_id)
        billed = (
            provider.capabilities.price_per_video
            if provider
            and (success or (error is not None and error.charged))
            and operation is Operation.GENERATION
            else None
        )
        if error is not None and error.category is ErrorCategory.QUALITY_FAILURE:
            quality = 0.0  # quality is the share of delivered renders that pass, on 0..10
        snap = MetricsSnapshot(
            provider_id=job.provider_id,
            at=now,
            operation=operation,
            success=success,
            response_time_s=took,
            job_id=job.job_id,
            quality=quality,
            cost=billed,
            error_type=error.category.value if error else None,
            duration_s=job.options.duration.seconds,
            resolution=job.options.resolution.value,
            features=tuple(sorted(f.value for f in job.options.features)),
        )
        return [SideWrite(stores.METRICS, snap.to_doc())]

    def _add_metric(
        self,
        pid: str,
        operation: Operation,
        success: bool,
        took: float,
        now: float,
        error_type: str | None,
    ) -> None:
        if not self.tracking_enabled:
            return
        snap = MetricsSnapshot(
            provider_id=pid,
            at=now,
            operation=operation,
            success=success,
            response_time_s=took,
            error_type=error_type,
        )
        self.docs.add(stores.METRICS, snap.to_doc())


def _settled(job: Job, now: float) -> bool:
    """Nothing more to do for the job in this call: finished, or waiting for a later time."""
    return job.terminal or (job.next_action_at is not None and job.next_action_at > now)


def _current_render(job: Job, provider_id: str, provider_job_id: str) -> bool:
    """Whether a provider's notice is about the job's current render — also when it arrives
    before the submitting worker stored the render's id (a fast render races the save)."""
    if job.provider_job_id is not None:
        return job.provider_job_id == provider_job_id
    return job.provider_id == provider_id and _open_attempt(job)


def _open_attempt(job: Job) -> bool:
    """The last attempt was checkpointed but never answered (no render id, no outcome)."""
    if not job.history or job.provider_job_id:
        return False
    last = job.history[-1]
    return last.outcome is None and last.provider_job_id is None


def _started(job: Job) -> float:
    return job.history[-1].started_at if job.history else job.created_at


def stats_doc(agg: Aggregate, *, in_flight: int) -> dict[str, object]:
    s = agg.stats
    return {
        "providerId": s.provider_id,
        "calls1h": s.calls_1h,
        "successes1h": s.successes_1h,
        "calls24h": s.calls_24h,
        "successes24h": s.successes_24h,
        "successRate1h": s.successes_1h / s.calls_1h if s.calls_1h else None,
        "successRate24h": s.successes_24h / s.calls_24h if s.calls_24h else None,
        "successRate7d": agg.success_rate_7d,
        "samples7d": agg.samples_7d,
        "latencyP50": s.latency_p50_s,
        "latencyP95": s.latency_p95_s,
        "quality": s.quality,
        "qualitySamples": s.quality_samples,
        "costPerVideo": s.cost_per_video,
        "consecutiveFailures": s.consecutive_failures,
        "inFlight": in_flight,
        "trends": [
            {
                "metric": t.metric.value,
                "window": t.window.value,
                "direction": t.direction.value,
                "slopePerHour": t.slope_per_hour,
                "changePercent": t.change_percent,
                "confidence": t.confidence,
                "samples": t.samples,
            }
            for t in agg.trends
        ],
        "hourly": [
            {
                "start": h.start,
                "calls": h.calls,
                "successRate": h.success_rate,
                "latency": h.latency_s,
            }
            for h in agg.hourly
        ],
        "prediction": {
            "failureRateNextHour": s.predicted_failure_rate,
            "responseTimeNextHour": agg.predicted_response_time_s,
            "recommendedConcurrency": agg.recommended_concurrency,
        },
        "computedAt": agg.computed_at,
    }


def stats_from_doc(pid: str, d: Mapping[str, object]) -> ProviderStats:
    def num(key: str) -> float | None:
        v = d.get(key)
        return float(v) if isinstance(v, (int, float)) else None

    def count(key: str) -> int:
        v = d.get(key)
        return int(v) if isinstance(v, (int, float)) else 0

    prediction = d.get("prediction")
    predicted = prediction.get("failureRateNextHour") if isinstance(prediction, dict) else None
    return ProviderStats(
        provider_id=pid,
        calls_1h=count("calls1h"),
        successes_1h=count("successes1h"),
        calls_24h=count("calls24h"),
        successes_24h=count("successes24h"),
        latency_p50_s=num("latencyP50"),
        latency_p95_s=num("latencyP95"),
        quality=num("quality"),
        quality_samples=count("qualitySamples"),
        cost_per_video=num("costPerVideo"),
        consecutive_failures=count("consecutiveFailures"),
        predicted_failure_rate=float(predicted) if isinstance(predicted, (int, float)) else None,
    )
