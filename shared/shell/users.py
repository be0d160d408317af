"""What a signed-in user may do with their own video jobs after asking for one: cancel, retry,
ask what their tier still allows, and the web app's own call shapes, which start from a CV job
(``jobs/{cvJobId}``, the app's collection) rather than from a script."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from shared.adapters.stores.base import CV_JOBS
from shared.api.webapi import (
    GenerationStatusResponse,
    IntroductionResponse,
    MediaStatusResponse,
    VideoStatusResponse,
)
from shared.core import jobs, tiers, userview
from shared.core import orchestration as orch
from shared.core.cv import ParsedCV, check_length, script_from_cv, unsaid
from shared.core.jobs import AppCall, Job, JobStatus
from shared.core.model import Feature, Tier, VideoOptions
from shared.core.records import Record, derived
from shared.core.refusals import LimitReached, NotFound, PermissionDenied, StillWorking, WrongState
from shared.shell import processing
from shared.shell.context import Shell

log = logging.getLogger("cvplus")


def owned_job(shell: Shell, job_id: str, user_id: str) -> Job:
    """The caller's job. Another user's is not found, as a missing one is: whether it exists
    is not theirs to learn."""
    job = shell.ports.jobs.get(job_id)
    if job is None or job.user_id != user_id:
        raise NotFound(f"no video job {job_id}")
    return job


def cancel(shell: Shell, *, job_id: str, user_id: str) -> tuple[Job, bool]:
    """Cancel the caller's job: it is ``cancelled`` at once, and a render already submitted is
    cancelled at its provider where the provider can (RunwayML), else billed now, as it will
    be; a later webhook or poll changes nothing (a terminal job never changes). Returns the
    job and whether the provider stopped the render. Idempotent: a cancelled job is answered
    as it is."""
    job = owned_job(shell, job_id, user_id)
    if job.status is JobStatus.CANCELLED:
        return job, False
    if job.terminal:
        raise WrongState(f"video job {job_id} is already {job.status.value}")
    now = shell.ports.clock()

    def change(stored: Job) -> tuple[None, Job | None, tuple[Record, ...]]:
        if stored.terminal:
            return None, None, ()
        cancelled = jobs.cancel(stored, now=now)
        return None, cancelled, (*orch.recovery_side(cancelled), *derived(stored, cancelled))

    _, stored = shell.ports.jobs.transact(job_id, change, now=now)
    if stored is None:
        raise NotFound(f"no video job {job_id}")
    if stored.status is not JobStatus.CANCELLED:
        raise WrongState(f"video job {job_id} is already {stored.status.value}")
    return stored, shell.abandon_render(stored)


def retry(shell: Shell, *, job_id: str, user_id: str, tier: Tier | None = None) -> tuple[Job, bool]:
    """Run the caller's failed or cancelled job again, as a new job that keeps its history
    (``retryOf`` names the old one) and counts against the limits of the caller's tier now
    (``tier``; None: the job's), whose options and script length are checked again. It gets
    what is left of the job's render budget (`jobs.again`); with none left, LimitReached.
    Idempotent: a second call for the same job answers the same retry (True: already
    there)."""
    job = owned_job(shell, job_id, user_id)
    if job.status not in jobs.RETRYABLE:
        raise WrongState(
            f"video job {job_id} is {job.status.value}; only a failed or cancelled job is retried"
        )
    new_id = jobs.retry_id(job)
    existing = shell.ports.jobs.get(new_id)
    if existing is not None:
        return existing, True
    now = shell.ports.clock()
    tier = job.tier if tier is None else tier
    asked = jobs.asked_options(job)
    tiers.check(tiers.limits_for(tier), asked)  # a downgraded user keeps no premium options
    if Feature.VOICE in asked.features:
        check_length(job.script, asked.duration)
    if jobs.renders_left(job) <= 0:
        raise LimitReached(
            f"video job {job_id} used all {job.max_attempts} renders it may have; "
            "ask for a new video instead",
            {"jobId": job_id, "renders": jobs.renders(job)},
        )
    again = jobs.again(
        replace(job, tier=tier),
        job_id=new_id,
        now=now,
        deadline_at=now + orch.JOB_TIMEOUT_S,
        budget=shell.setup.max_attempts,
    )
    # Counted against the tier's limits in the same write (QuotaExceededError past them),
    # and reserves its estimate of today's spend cap (SpendCapReachedError past it).
    limit = processing.counter(shell, user_id, tier, now)
    again, spending = processing.reservation(shell, again, now)
    stored, created = shell.ports.jobs.create(
        again, counter=limit, side=derived(None, again), counters=spending
    )
    log.info("job %s: retried as %s", job_id, new_id)
    return stored, not created


# ---------------------------------------------------------------------------------------------
# The web app's call shapes: a CV job id, whose parsedData is the CV.


def cv_job(shell: Shell, cv_job_id: str, user_id: str) -> dict[str, Any]:
    """The app's ``jobs/{cvJobId}`` document, checked to be the caller's."""
    doc = shell.ports.docs.get(CV_JOBS, cv_job_id)
    if doc is None or doc.get("userId") != user_id:
        raise NotFound(f"no CV job {cv_job_id}")
    return doc


def introduce(
    shell: Shell,
    *,
    cv_job_id: str,
    user_id: str,
    cv: ParsedCV | None,
    script: str | None,
    options: VideoOptions,
    tier: Tier,
    call: AppCall,
) -> tuple[Job, bool]:
    """A video job for the app's CV job: from ``script`` when given (regenerate with a custom
    script), else written from ``cv``. The CV job mirrors it from then on."""
    if script is None:
        if cv is None:
            raise WrongState("CV data not found")
        script = script_from_cv(cv, options.duration, options.style)
        if len(script.split()) < 5:
            missing = unsaid(cv)
            raise WrongState(
                "The CV has nothing to introduce you with: it holds no "
                + ", ".join(m["message"] for m in missing)
                + ". Add some of these to the CV and try again.",
                [{"field": f"parsedData.{m['field']}", "message": "missing"} for m in missing],
            )
    return processing.create_job(
        shell,
        user_id=user_id,
        script=script,
        options=options,
        tier=tier,
        cv_job_id=cv_job_id,
        app_call=call,
    )


# The app's subscription documents (CVPLUS functions/src/services/cached-subscription.service.ts
# L116-121: ``userSubscriptions/{uid}``).
SUBSCRIPTIONS = "userSubscriptions"


def app_tier(shell: Shell, user_id: str, claimed: Tier | None) -> Tier:
    """The tier of a caller of the app's callables: the claim's, else the app's own
    subscription's (`tiers.app_tier`)."""
    if claimed is not None:
        return claimed
    return tiers.app_tier(None, shell.ports.docs.get(SUBSCRIPTIONS, user_id))


def require_app_entitlement(shell: Shell, user_id: str, claimed: Tier | None) -> Tier:
    """The caller's tier for the app's premium feature; refused as the app's own guard refuses
    (permission-denied, its message) when neither the claim nor the subscription grants it."""
    subscription = shell.ports.docs.get(SUBSCRIPTIONS, user_id) if claimed is None else None
    tier = tiers.app_tier(claimed, subscription)
    if tier is Tier.FREE:
        if claimed is not None:  # an operator's "free" override
            raise PermissionDenied(tiers.app_refusal({}).message, tiers.app_refusal({}).details)
        raise tiers.app_refusal(subscription)
    return tier


def wait_for(
    shell: Shell,
    job: Job,
    *,
    budget_s: float,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> Job:
    """The job once it is terminal, or as it is after ``budget_s`` seconds (read every 0.5 s,
    then every 2 s: about 30 reads for a 50 s wait)."""
    deadline = monotonic() + budget_s
    pause = 0.5
    while not job.terminal:
        left = deadline - monotonic()
        if left <= 0:
            break
        sleep(min(pause, left))
        pause = min(pause * 1.5, 2.0)
        job = shell.ports.jobs.get(job.job_id) or job
    return job


def introduction_answer(
    shell: Shell, cv_job_id: str, job: Job, *, deduplicated: bool
) -> IntroductionResponse:
    """The answer of generate/regenerateVideoIntroduction for ``job`` as it now is: the video
    when it is ready; a refusal the app shows in words otherwise (still being made: the video
    arrives in ``jobs/{cvJobId}``; failed: why)."""
    if job.status is JobStatus.COMPLETED and job.result is not None:
        return IntroductionResponse.of(cv_job_id, job, deduplicated=deduplicated)
    if job.terminal:
        code = job.error.code if job.error else ""
        raise WrongState(
            f"The video could not be made: {userview.error_message(code)}",
            {"jobId": cv_job_id, "videoJobId": job.job_id, "code": code},
        )
    now = shell.ports.clock()
    left = userview.remaining_s(job, now)
    when = f" in about {max(1, round(left / 60))} minute(s)" if left else " in a few minutes"
    raise StillWorking(
        f"Your video is still being made ({userview.progress(job)}% done). It will appear "
        f"with your CV when it is ready{when}; there is no need to ask again.",
        {
            "jobId": cv_job_id,
            "videoJobId": job.job_id,
            "status": userview.APP_JOB_STATUS[job.status],
            "progress": userview.progress(job),
            "estimatedTime": left,
        },
    )


def introduce_cv_data(
    shell: Shell, *, user_id: str, cv: ParsedCV, options: VideoOptions, tier: Tier
) -> tuple[Job, bool]:
    """generateVideoIntroduction as the multimedia service calls it: a job from the CV given,
    with no CV job to mirror into."""
    script = script_from_cv(cv, options.duration, options.style)
    if len(script.split()) < 5:
        missing = unsaid(cv)
        raise WrongState(
            "The CV has nothing to introduce you with: it holds no "
            + ", ".join(m["message"] for m in missing)
            + ".",
            [{"field": f"cvData.{m['field']}", "message": "missing"} for m in missing],
        )
    return processing.create_job(shell, user_id=user_id, script=script, options=options, tier=tier)


def media_status(shell: Shell, *, cv_job_id: str, user_id: str) -> MediaStatusResponse:
    """getMediaStatus: the CV job's video, read from the video job it mirrors (fresher than
    the mirror, which is written once per step)."""
    doc = cv_job(shell, cv_job_id, user_id)
    intro = (doc.get("enhancedFeatures") or {}).get("videoIntroduction") or {}
    video_job_id = intro.get("videoJobId")
    job = shell.ports.jobs.get(video_job_id) if isinstance(video_job_id, str) else None
    if job is not None and job.user_id != user_id:
        job = None
    return MediaStatusResponse.of(doc, job, shell.ports.clock())


def generation_status(shell: Shell, *, job_id: str, user_id: str) -> GenerationStatusResponse:
    """getGenerationStatus: one of the caller's video jobs, as the multimedia service reads it."""
    return GenerationStatusResponse.of(owned_job(shell, job_id, user_id), shell.ports.clock())


def video_status(shell: Shell, *, cv_job_id: str, user_id: str) -> VideoStatusResponse:
    """getVideoStatus, as the app reads it: from its CV job's mirrored fields."""
    return VideoStatusResponse.of(cv_job(shell, cv_job_id, user_id))


__all__ = [
    "SUBSCRIPTIONS",
    "app_tier",
    "cancel",
    "generation_status",
    "introduce",
    "introduce_cv_data",
    "introduction_answer",
    "media_status",
    "require_app_entitlement",
    "retry",
    "video_status",
    "wait_for",
]
