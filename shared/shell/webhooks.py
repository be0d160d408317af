"""providerWebhook: verify a provider's callback with its adapter, then apply
`orchestration.notice` to the job in one transaction, and answer at once. The video of a
finished current render is not copied here (tens of MB inside the provider's request risk its
timeout and its retries): the notice schedules the job's next task now, whose status poll
copies it (`processing`)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from shared.adapters.providers.base import WebhookError as WebhookError  # the handler's too
from shared.adapters.providers.base import WebhookEvent, failure_of
from shared.adapters.providers.base import WebhookRequest as WebhookRequest
from shared.adapters.storage import DeliveryError
from shared.core import orchestration as orch
from shared.core.errors import ProviderError
from shared.core.jobs import Job, VideoResult
from shared.core.records import Record
from shared.core.tokens import ATTEMPT_PARAM, EXPIRES_PARAM, webhook_token
from shared.shell import delivery
from shared.shell.context import Shell

log = logging.getLogger("cvplus")


def on_webhook(shell: Shell, provider_id: str, request: WebhookRequest) -> str:
    """Verify and apply one provider callback. Returns what happened (for the log and the
    answer); raises WebhookError with the status to answer for a request we refuse."""
    provider = shell.ports.providers.get(provider_id)
    if provider is None:
        raise WebhookError(404, f"unknown provider {provider_id!r}")
    job_id = request.query.get("job")
    attempt = _number(request.query.get(ATTEMPT_PARAM), "attempt")
    expires_at = _number(request.query.get(EXPIRES_PARAM), "expiry")
    now = shell.ports.clock()
    if attempt is None or expires_at is None:
        # Per-job tokens (no attempt) and tokens without an expiry are no longer made.
        raise WebhookError(401, "the callback URL names no attempt or expiry")
    if now > expires_at:
        raise WebhookError(401, "the callback URL has expired")
    token = webhook_token(shell.setup.token_key, job_id, attempt, expires_at) if job_id else None
    event = provider.parse_webhook(request, expected_token=token)
    job_id = event.job_id or job_id
    if not job_id:
        raise WebhookError(400, "the callback names no job")
    _bound(shell, job_id, event, attempt)
    result = _kept(shell, job_id, event, attempt)
    # A failure, or a success the length check may refuse, can fail over: rank then.
    may_fail = event.confirmed and (not event.succeeded or event.duration_s is not None)
    candidates = shell.candidates(now) if may_fail else []
    rand = shell.ports.rand()
    setup = shell.setup

    def decide(job: Job) -> orch.Effects | None:
        return orch.notice(
            job,
            provider_id=provider_id,
            provider_job_id=event.provider_job_id,
            attempt=attempt,
            failure=_failure(event, job),
            result=result,
            candidates=candidates,
            now=now,
            rand=rand,
            setup=setup,
        )

    effects, stored = transact(shell, job_id, decide, now=now)
    if effects is None:
        return "ignored: stale or duplicate event" if stored is not None else "ignored: unknown job"
    shell.apply(effects, now=now, saved=True)
    return effects.note


def _number(raw: str | None, what: str) -> int | None:
    """A number the callback URL carries (its token is bound to it); None when absent."""
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 12:
        raise WebhookError(400, f"the callback's {what} is not a number")
    return int(raw)


def _failure(event: WebhookEvent, job: Job) -> ProviderError | None:
    """What the notice says failed: the render (or, for a success, the same length check as a
    status poll's, against the job's script). A notice whose render could not be confirmed, or
    a success without a usable video URL, reports no failure: the job's poll looks at it."""
    if not event.confirmed or (event.succeeded and not event.video_url):
        return None
    return failure_of(event, expected_duration_s=orch.spoken_length_s(job))


def _bound(shell: Shell, job_id: str, event: WebhookEvent, attempt: int) -> None:
    """A notice about the open attempt's render before its id is saved (the submit's answer is
    still on its way) is answered 409, to be delivered again (polling covers it otherwise):
    a render id is accepted only once it is the one the submission returned, so a callback
    URL cannot confirm a render that is not this attempt's."""
    job = shell.ports.jobs.get(job_id)
    if job is None or job.terminal or attempt != job.attempt:
        return
    if orch.open_attempt(job) and job.provider_id == event.provider_id:
        raise WebhookError(409, "the render is not recorded yet; deliver again later")


def _kept(
    shell: Shell, job_id: str, event: WebhookEvent, attempt: int | None
) -> VideoResult | None:
    """The finished video of a success notice about an earlier attempt's render (whose job has
    moved on: it completes with this video, kept in our bucket first). None for everything
    else: the current render's video is copied by the job's next task (module docstring), and
    nothing is copied for a failure, an unconfirmed notice, a render the length check refuses,
    or a notice that is stale or a duplicate. Without a bucket the provider's URL is the
    result."""
    if not event.confirmed or not event.succeeded or not event.video_url:
        return None
    if shell.ports.videos is None:
        return VideoResult(video_url=event.video_url)
    job = shell.ports.jobs.get(job_id)
    if job is None or job.terminal:
        return None
    pid, render = event.provider_id, event.provider_job_id
    if orch.current_render(job, pid, render, attempt=attempt):
        return None
    if not orch.earlier_render(job, pid, render, attempt):
        return None
    if _failure(event, job) is not None:
        return None
    try:
        return delivery.keep(shell.ports.videos, job, event.video_url)
    except DeliveryError as error:
        log.warning("job %s: copying the notified video failed: %s", job_id, error)
        return None
    except delivery.BadVideoError as bad:
        log.warning("job %s: the notified earlier video was refused: %s", job_id, bad.reason)
        return None


def transact(
    shell: Shell, job_id: str, decide: Callable[[Job], orch.Effects | None], *, now: float
) -> tuple[orch.Effects | None, Job | None]:
    """Run ``decide`` on the stored job and write its job and side documents with it. Returns
    the decision of the run that counted (it runs again when the job changed under it) and the
    stored job (None: no such job)."""

    def change(job: Job) -> tuple[orch.Effects | None, Job | None, tuple[Record, ...]]:
        effects = decide(job)
        if effects is None or effects.job is None:
            return effects, None, ()
        return effects, effects.job, (*effects.side, *effects.documents)

    return shell.ports.jobs.transact(job_id, change, now=now)
