"""generateVideo's intake, and the process loop of processVideoJob and videoJobTask: claim the
job, then ask `orchestration.next_step` what to do until the job is finished or waits."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from shared.adapters.providers.base import RenderState, RenderStatus, SubmitRequest
from shared.adapters.storage import DeliveryError, VideoBucket
from shared.adapters.stores import base as stores
from shared.adapters.stores.base import JOBS as JOBS  # the trigger's collection
from shared.adapters.stores.base import QUOTAS, SPEND, Counter
from shared.adapters.stores.firestore import seen_job as seen_job  # a trigger event's job
from shared.adapters.tasks import MAX_TASK_BODY as MAX_TASK_BODY
from shared.adapters.tasks import InvalidTaskError as InvalidTaskError
from shared.adapters.tasks import parse_task as parse_task
from shared.adapters.tasks import valid_task_token as valid_task_token
from shared.core import jobs, quota, spend, tiers
from shared.core import orchestration as orch
from shared.core.cv import check_length
from shared.core.errors import ProviderError, Signal
from shared.core.jobs import Job, VideoResult
from shared.core.model import Feature, Tier, VideoOptions
from shared.core.records import derived
from shared.core.scoring import Scored
from shared.core.tokens import expiry, webhook_token, with_attempt
from shared.shell import delivery
from shared.shell.context import Shell

log = logging.getLogger("cvplus")


def limits(shell: Shell, tier: Tier) -> list[quota.Limit]:
    """The tier's hourly (capped by USER_JOBS_PER_HOUR) and daily limits."""
    own = tiers.limits_for(tier)
    return [
        quota.per_hour(min(own.jobs_per_hour, shell.setup.user_jobs_per_hour)),
        quota.per_day(own.jobs_per_day),
    ]


def counter(shell: Shell, user_id: str, tier: Tier, now: float) -> Counter:
    """The user's counter, bumped in the atomic write that creates a job (past a limit,
    QuotaExceededError names it and nothing is written)."""
    applied = limits(shell, tier)
    return Counter(
        QUOTAS,
        user_id,
        lambda doc: {"userId": user_id, **quota.admit(doc, now=now, limits=applied)},
    )


def reservation(shell: Shell, job: Job, now: float) -> tuple[Job, tuple[Counter, ...]]:
    """``job`` holding its reservation of today's spend cap, and the conditional write of the
    day's spend document that takes it (and counts the job against the per-minute brake) in
    the write that creates the job: past the cap SpendCapReachedError, past the brake
    JobsPerMinuteError, and nothing is written."""
    setup = shell.setup
    if setup.daily_spend_cap_usd is None and setup.jobs_per_minute is None:
        return job, ()
    estimate = orch.reservation_usd(job, setup)
    held = replace(job, reserved_usd=estimate)

    def bump(doc: Mapping[str, Any] | None) -> Mapping[str, Any]:
        return spend.reserve(
            doc,
            estimate_usd=estimate,
            cap_usd=setup.daily_spend_cap_usd,
            jobs_per_minute=setup.jobs_per_minute,
            now=now,
        )

    return held, (Counter(SPEND, spend.day_key(job.created_at), bump),)


def usage(shell: Shell, user_id: str, tier: Tier) -> tiers.Quota:
    """What ``user_id`` has used of their tier's hourly and daily limits."""
    now = shell.ports.clock()
    hour, day = limits(shell, tier)
    doc = shell.ports.docs.get(QUOTAS, user_id)
    return tiers.Quota(
        tier=tier,
        per_hour=hour.max_jobs,
        per_day=day.max_jobs,
        used_hour=quota.used(doc, hour, now=now),
        used_day=quota.used(doc, day, now=now),
    )


def create_job(
    shell: Shell,
    *,
    user_id: str,
    script: str,
    options: VideoOptions,
    tier: Tier = Tier.FREE,
    request_id: str | None = None,
    cv_job_id: str | None = None,
    app_call: jobs.AppCall | None = None,
) -> tuple[Job, bool]:
    """A new queued job, or the existing one for the same user and ``requestId`` (then True:
    deduplicated). Past the daily spend cap, SpendCapReachedError. The user's counter in
    ``user_quotas`` is bumped in the same atomic write as the job's creation, so no burst gets
    past the limit: past it, QuotaExceededError names the limit (a repeated request is still
    answered with its job). jobs.RequestReusedError when the requestId's job asked for
    something else. TierRefusedError for options the tier does not allow, ScriptTooLongError
    for a script longer than its duration's word budget (every entry point comes here)."""
    now = shell.ports.clock()
    tiers.check(tiers.limits_for(tier), options)
    if Feature.VOICE in options.features:  # what is spoken sets the length, and the bill
        check_length(script, options.duration)
    job_id = jobs.job_id_for(user_id, request_id) if request_id else f"vj_{uuid.uuid4().hex}"
    fingerprint = jobs.request_fingerprint(script, options, cv_job_id)
    job = Job(
        job_id=job_id,
        created_at=now,
        updated_at=now,
        deadline_at=now + orch.JOB_TIMEOUT_S,
        next_action_at=now,
        user_id=user_id,
        request_id=request_id,
        request_fingerprint=fingerprint,
        cv_job_id=cv_job_id,
        script=script,
        tier=tier,
        options=options,
        max_attempts=shell.setup.max_attempts,
        app_call=app_call,
    )
    job, spending = reservation(shell, job, now)
    try:
        stored, created = shell.ports.jobs.create(
            job,
            counter=counter(shell, user_id, tier, now),
            side=derived(None, job),
            counters=spending,
        )
    except (quota.QuotaExceededError, spend.SpendCapReachedError, spend.JobsPerMinuteError):
        existing = shell.ports.jobs.get(job_id) if request_id else None
        if existing is None:
            raise
        stored, created = existing, False
    log.info("job %s created for %s (%s)", job_id, user_id, "new" if created else "existing")
    return jobs.same_request(stored, fingerprint), not created


def process(shell: Shell, job_id: str, *, seen: stores.SeenJob | None = None) -> Job | None:
    """Claim the job if it is due and advance it as far as it goes without waiting. ``seen``:
    the job as a trigger event delivered it (saves the store a read)."""
    now = shell.ports.clock()
    job = shell.ports.jobs.claim(
        job_id, owner=shell.instance_id, now=now, lease_s=orch.LEASE_S, seen=seen
    )
    if job is None:
        return None
    for _ in range(orch.max_rounds(job)):
        now = shell.ports.clock()
        step = orch.next_step(job, now)
        if step is orch.Next.STOP:
            break
        if step is orch.Next.EXPIRE:
            job = _write(shell, orch.expire(job, now), now)
            break
        if step is orch.Next.POLL:
            job = _follow_up(shell, job, now)
        elif step is orch.Next.ORPHANED:
            job = _failed(shell, job, orch.orphaned_error(job), now=now)
        else:
            job = _submit(shell, job, now)
    if not orch.settled(job, shell.ports.clock()):
        shell.release(job)  # the last save kept the lease (the loop's bound was reached)
    return job


def _submit(shell: Shell, job: Job, now: float) -> Job:
    setup = shell.setup
    cap = setup.daily_spend_cap_usd
    if cap is not None and not spend.may_submit(
        shell.ports.docs.get(SPEND, spend.day_key(now)), cap_usd=cap
    ):
        # Read fresh (not a cached figure): no render is paid for past the cap.
        message = f"the daily spend cap of ${cap:,.2f} is reached; no render was paid for"
        return _write(shell, orch.fail(job, "daily_spend_cap", message, now), now)
    ranking = orch.choose(job, shell.candidates(now), now=now, setup=setup)
    for choice in ranking.ranked:
        permit: float | None = None
        if orch.needs_permit(choice, setup):
            grant = shell.ports.breakers.acquire(choice.provider_id, now=now)
            if not grant.granted:
                continue
            permit = grant.permit
        return _call(shell, job, choice, permit, now)
    return _write(shell, orch.no_provider(job, ranking, now), now)


def _call(shell: Shell, job: Job, choice: Scored, permit: float | None, now: float) -> Job:
    setup = shell.setup
    before, job = job, orch.begin(job, choice, now, setup)
    try:  # the checkpoint
        shell.ports.jobs.save(
            job, owner=shell.instance_id, now=now, side=derived(before, job), release=False
        )
    except (stores.TerminalJobError, stores.LeaseLostError) as exc:
        # Cancelled by its owner, or taken over, since the claim: nothing is submitted.
        log.warning("job %s: not submitted (%s)", job.job_id, exc)
        stored = shell.ports.jobs.get(job.job_id)
        return stored if stored is not None else job
    expires_at = expiry(now)
    request = SubmitRequest(
        job_id=job.job_id,
        attempt=job.key_seq,
        script=job.script,
        options=job.options,
        callback_url=with_attempt(
            orch.callback_url(choice.provider_id, setup), job.attempt, expires_at
        ),
        callback_token=webhook_token(shell.setup.token_key, job.job_id, job.attempt, expires_at),
    )
    provider = shell.ports.providers[choice.provider_id]
    started = shell.ports.clock()
    try:
        found = provider.find(request) if orch.looks_up_first(before, job, setup) else None
    except ProviderError as error:
        log.warning("job %s: looking up its first render failed: %s", job.job_id, error)
        return _write(shell, orch.lookup_failed(job, error, now=now, setup=setup), now)
    if found is not None:
        log.info("job %s: adopting its first render %s", job.job_id, found.provider_job_id)
        effects = orch.accepted(
            job, found.provider_job_id, permit=permit, took=0.0, now=now, setup=setup
        )
        return _write(shell, effects, now)
    try:
        submission = provider.submit(request)
    except ProviderError as error:
        took = shell.ports.clock() - started
        return _failed(shell, job, error, now=now, permit=permit, took=took)
    took = shell.ports.clock() - started
    effects = orch.accepted(
        job, submission.provider_job_id, permit=permit, took=took, now=now, setup=setup
    )
    return _write(shell, effects, now)


def _follow_up(shell: Shell, job: Job, now: float) -> Job:
    """The render's follow-up is due: a status poll (or the deadline of a lost webhook)."""
    setup = shell.setup
    started = shell.ports.clock()
    try:
        status = shell.ports.providers[job.provider_id or ""].status(
            job.provider_job_id or "", expected_duration_s=orch.spoken_length_s(job)
        )
    except ProviderError as error:
        took = shell.ports.clock() - started
        if orch.render_lost(job, error, now=now, setup=setup):
            return _failed(shell, job, error, now=now, took=took)
        log.warning(
            "job %s: status check on %s failed (%s); polling again",
            job.job_id,
            error.provider_id,
            error.category.value,
        )
        return _write(shell, orch.poll_again(job, error, took=took, now=now, setup=setup), now)
    took = shell.ports.clock() - started
    if status.state is not RenderState.COMPLETED:
        effects = orch.still_rendering(
            job, took=took, now=now, setup=setup, progress=status.progress
        )
        return _write(shell, effects, now)
    if shell.ports.videos is None:
        result = VideoResult(
            video_url=status.video_url or "",
            thumbnail_url=status.thumbnail_url,
            duration_s=status.duration_s,
        )
        return _write(shell, orch.completion(job, result, now=now, setup=setup), now)
    try:
        return _deliver(shell, shell.ports.videos, job, status, now)
    except delivery.BadVideoError as bad:
        # The file itself is not the video asked for: a quality failure of the render (billed,
        # as the provider delivered), with the reason kept in the job's history.
        log.warning("job %s: the delivered file was refused: %s", job.job_id, bad.reason)
        refused = ProviderError.from_signal(
            Signal(below_quality=True),
            f"{job.provider_id} render {job.provider_job_id}: {bad.reason}",
            provider_id=job.provider_id or "",
            charged=True,
        )
        return _failed(shell, job, refused, now=now, took=shell.ports.clock() - started)


def _deliver(shell: Shell, videos: VideoBucket, job: Job, status: RenderStatus, now: float) -> Job:
    """Copy the finished video (and its thumbnail) into our bucket, then complete the job. A
    provider URL that expired gets one more status poll for a fresh URL; what still cannot be
    copied is `orchestration.undelivered`'s to decide. Never a provider URL as the result."""
    setup = shell.setup
    try:
        result = _keep(videos, job, status)
    except DeliveryError as error:
        log.warning("job %s: copying the video failed: %s", job.job_id, error)
        if not error.expired:
            return _undelivered(shell, job, str(error), expired=False, now=now)
        try:
            fresh = shell.ports.providers[job.provider_id or ""].status(
                job.provider_job_id or "", expected_duration_s=orch.spoken_length_s(job)
            )
        except ProviderError as looked:  # inconclusive: the next look asks again
            why = f"{error}; asking for a fresh URL failed: {looked}"
            return _undelivered(shell, job, why, expired=False, now=now)
        if fresh.state is not RenderState.COMPLETED or fresh.video_url in (None, status.video_url):
            return _undelivered(shell, job, f"{error}; no fresh URL", expired=True, now=now)
        try:
            result = _keep(videos, job, fresh)
        except DeliveryError as again:
            log.warning("job %s: copying from a fresh URL failed: %s", job.job_id, again)
            return _undelivered(shell, job, str(again), expired=again.expired, now=now)
    return _write(shell, orch.completion(job, result, now=shell.ports.clock(), setup=setup), now)


def _keep(videos: VideoBucket, job: Job, status: RenderStatus) -> VideoResult:
    return delivery.keep(
        videos,
        job,
        status.video_url,
        thumbnail_url=status.thumbnail_url,
        duration_s=status.duration_s,
    )


def _undelivered(shell: Shell, job: Job, why: str, *, expired: bool, now: float) -> Job:
    effects = orch.undelivered(job, why, expired=expired, now=now, setup=shell.setup)
    return _write(shell, effects, now)


def _failed(
    shell: Shell,
    job: Job,
    error: ProviderError,
    *,
    now: float,
    permit: float | None = None,
    took: float = 0.0,
) -> Job:
    effects = orch.failed(
        job,
        error,
        shell.candidates(now),
        now=now,
        rand=shell.ports.rand(),
        setup=shell.setup,
        permit=permit,
        took=took,
    )
    log.warning(
        "job %s: %s on %s -> %s (%s)",
        job.job_id,
        error.category.value,
        error.provider_id,
        effects.note,
        effects.why,
    )
    return _write(shell, effects, now)


def _write(shell: Shell, effects: orch.Effects, now: float) -> Job:
    written = shell.apply(effects, now=now)
    if written is None:  # every effect of the process loop carries the job
        raise ValueError("a job decision without a job")
    return written
