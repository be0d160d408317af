"""The orchestration of one video job as pure decisions: what to do next with a job, and, after a
submit, a status answer, a render outcome or a probe, the `Effects` to write. Nothing here does
I/O; time, the random draw, the candidates and the breaker's verdict come in as values.

The shell (``shared/shell``) loads what a decision needs, makes the one provider call it asks
for, and hands the `Effects` to ``Shell.apply``. The chaos benchmark (``bench/chaos.py``) runs
the same functions in virtual time, so its figures measure this code.

    next_step(job, now)                     -> Next: stop, expire, poll, orphaned, submit
    choose(job, candidates, now, setup)     -> Ranking (try ``ranked`` in order) ...
    no_provider(job, ranking, now)          -> ... or Effects: wait for a provider, or fail
    begin(job, choice, now)                 -> the checkpointed job before the submit
    accepted / failed                       -> Effects after a submit
    still_rendering / render_lost / poll_again -> after a status poll
    completion                              -> Effects of a finished render, its video kept
    undelivered                             -> Effects of a finished render we could not copy
    notice                                  -> Effects of a verified webhook, or None (stale)
    probed                                  -> Effects of a health probe
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Concatenate, ParamSpec, TypeVar

from shared.core import billing, jobs, presentation, spend
from shared.core import breaker as br
from shared.core.cv import WORDS_PER_SECOND
from shared.core.errors import ErrorCategory, ProviderError
from shared.core.failover import fail_over, selection_for
from shared.core.jobs import Job, JobError, VideoResult
from shared.core.model import Capabilities, Feature
from shared.core.records import Metric, Record, RecoveryLog, Spend, derived
from shared.core.recovery import counts_against_breaker
from shared.core.scoring import (
    DEFAULT_RULES,
    BusinessRules,
    Candidate,
    Ranking,
    Scored,
)
from shared.core.scoring import rank as _rank
from shared.core.text import real_words
from shared.core.tracking import MetricsSnapshot, Operation, recovery_log

# A worker's lease on a job outlives its longest provider call (HeyGen's submit may take up to
# 120 s, as its CLI allows), so no other worker takes the job over while a call is in flight.
LEASE_S = 180.0
# Status polls come every POLL_INTERVAL_S, or every tenth of the provider's typical render
# time when that is longer (HeyGen: a minute, as its own guidance polls: heygen-com/skills
# heygen-video/SKILL.md:627 "then every 60s").
POLL_INTERVAL_S = 10.0
POLL_SHARE = 0.1
WEBHOOK_GRACE = 1.5  # a webhook provider gets this many typical render times before we poll
# A job not finished by then fails, whatever is left of its budget; but never while its accepted
# render is still reported in progress (up to its provider's ``render_cap_s``), and not before
# that render was looked at once more (`next_step`).
JOB_TIMEOUT_S = 30 * 60.0
POLL_RETRY_S = 20.0  # after a failed status check (the render itself may be fine)
# Past the provider's documented worst render time (and at least this), a render we cannot see
# is given up for another provider; before that, a failing status API only delays the look.
RENDER_PATIENCE_S = 10 * 60.0
RENDER_FAILURES = frozenset({ErrorCategory.PROCESSING_ERROR, ErrorCategory.QUALITY_FAILURE})
DELIVERED_QUALITY = 10.0  # quality is the share of delivered renders that pass, on 0..10
ALERTING = frozenset({ErrorCategory.AUTHENTICATION, ErrorCategory.QUOTA_EXCEEDED})


@dataclass(frozen=True, slots=True, kw_only=True)
class Setup:
    """The deployment's choices the decisions depend on (from `Settings`, read once)."""

    capabilities: Mapping[str, Capabilities]
    rules: BusinessRules = DEFAULT_RULES
    breaker_enabled: bool = True
    tracking_enabled: bool = True
    webhook_base_url: str | None = None  # None: no webhooks, completion by polling
    webhook_wait_s: float | None = None  # None: WEBHOOK_GRACE typical renders
    token_key: bytes = field(default=b"", repr=False)  # signs task bodies and callback tokens
    max_attempts: int = 4  # submissions per job, the first included
    user_jobs_per_hour: int = 100
    daily_spend_cap_usd: float | None = None  # None: no cap
    jobs_per_minute: int | None = None  # the service-wide brake on new jobs; None: none


@dataclass(frozen=True, slots=True)
class Alert:
    """An entry for the alert policy: an ERROR log marked ``alert``."""

    message: str
    fields: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Schedule:
    """Run the job again at ``at`` (a Cloud Task); ``reason`` goes into the task and the log."""

    at: float
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Effects:
    """Everything one decision wants written. ``job``: the job's new version (None: no job
    write); ``side``: metrics, spend and recovery logs written with it (in its transaction when
    there is a job); ``documents``: the job's own other documents that change with it (its
    internal document, the web app's CV job: `records.derived`); ``breaker``: outcomes to
    record, in order; ``schedule``: the job's next run."""

    job: Job | None
    side: tuple[Record, ...] = ()
    documents: tuple[Record, ...] = ()
    breaker: tuple[tuple[str, br.Outcome], ...] = ()
    schedule: Schedule | None = None
    alerts: tuple[Alert, ...] = ()
    note: str = ""  # what happened, for the log and the webhook's answer
    why: str = ""  # the reason behind a recovery decision, for the log


class Next(StrEnum):
    STOP = "stop"  # finished, or waiting for a later time
    EXPIRE = "expire"  # past its deadline
    POLL = "poll"  # a render is out: look at it
    ORPHANED = "orphaned"  # an attempt was checkpointed but its submit never answered
    SUBMIT = "submit"


E = TypeVar("E", Effects, Effects | None)
P = ParamSpec("P")


def _with_documents(decide: Callable[Concatenate[Job, P], E]) -> Callable[Concatenate[Job, P], E]:
    """A decision on ``job`` (its first argument) with the job's own other documents that its
    new version changes named in the Effects (`records.derived`)."""

    @functools.wraps(decide)
    def named(job: Job, /, *args: P.args, **kwargs: P.kwargs) -> E:
        effects = decide(job, *args, **kwargs)
        if effects is None or effects.job is None:
            return effects
        return replace(effects, documents=derived(job, effects.job))

    return named


# What to do next


def next_step(job: Job, now: float) -> Next:
    if job.terminal:
        return Next.STOP
    if now > job.deadline_at and not job.provider_job_id:
        # Whatever it waits for (the health check runs such jobs); a render that is out is
        # looked at first (`still_rendering` decides whether it may go on).
        return Next.EXPIRE
    if settled(job, now):
        return Next.STOP
    if job.provider_job_id:
        return Next.POLL
    if open_attempt(job):
        return Next.ORPHANED
    return Next.SUBMIT


def spoken_length_s(job: Job) -> float:
    """How long the job's script takes to speak (about 2.5 words a second): what a talking-head
    render's length is checked against, whatever duration was asked for. A render without a
    voice (the degradation ladder's silent clip) says nothing: it is as long as asked."""
    if Feature.VOICE not in job.options.features:
        return float(job.options.duration.seconds)
    return real_words(job.script) / WORDS_PER_SECOND


def billed_length_s(job: Job) -> float:
    """The length a render of ``job`` is billed for: the delivered video's, when known, else
    the spoken length of its script (never less than asked for a silent clip)."""
    if job.result is not None and job.result.duration_s:
        return job.result.duration_s
    return max(spoken_length_s(job), 1.0)


def abandoned(job: Job, *, now: float, setup: Setup) -> Effects:
    """A cancelled job's render that its provider cannot stop: it runs to its end and is
    billed, so it is recorded as billed now, at its length's price (the job is final, so its
    completion is never seen)."""
    side = metric(
        job, Operation.GENERATION, success=True, took=now - started(job), now=now, setup=setup
    )
    return Effects(job=None, side=side, note="render left running at its provider: billed")


def reservation_usd(job: Job, setup: Setup) -> float:
    """What a new job reserves of the day's spend cap: one render of its spoken length at the
    dearest provider that could make it (a render more needs room under the cap again)."""
    seconds = billed_length_s(job)
    able = [c for c in setup.capabilities.values() if not c.missing_for(job.options, seconds)]
    prices = [c.price(seconds) for c in able or setup.capabilities.values()]
    return max(prices, default=0.0)


def blind_resubmit(job: Job, error: ProviderError, setup: Setup) -> bool:
    """Whether submitting to ``error``'s provider again could pay a second render: the submit
    may have been accepted although no render id came back (an answer lost to a read timeout or
    a dropped connection, an unreadable answer, an instance that stopped mid-call: the
    classifier marks these ``charged``), and the provider neither honours an idempotency key
    nor lets us look the render up (`looks_up_first`). A connection refused, or any answer the
    provider sent, was certainly not a render."""
    caps = setup.capabilities.get(error.provider_id)
    maybe_accepted = error.charged and not job.provider_job_id
    safe = caps is not None and (caps.idempotent_submits or caps.finds_renders)
    return maybe_accepted and not safe


def looks_up_first(before: Job, after: Job, setup: Setup) -> bool:
    """Whether the submit of ``after`` (just begun from ``before``) sends again an attempt
    whose answer was lost (it reuses its key: `jobs.begin_attempt`) to a provider that finds
    renders by their title: then the first render is looked up, and adopted if it exists."""
    caps = setup.capabilities.get(after.provider_id or "")
    resend = after.attempt > before.attempt and after.key_seq == before.key_seq
    return resend and caps is not None and caps.finds_renders


@_with_documents
def lookup_failed(job: Job, error: ProviderError, *, now: float, setup: Setup) -> Effects:
    """Looking up the first render failed: nothing is submitted (the render may exist and be
    paid for). The attempt stays open, so its next run handles it as an orphan: the same key
    again, looked up again (`looks_up_first`)."""
    later = jobs.wait_for_provider(
        job,
        until=now + POLL_RETRY_S,
        reason=f"looking up the first render failed: {error}",
        now=now,
    )
    outcome = br.Outcome(
        success=False,
        duration_s=0.0,
        category=error.category,
        counts=counts_against_breaker(error),
    )
    return _next(
        Effects(
            job=later,
            breaker=_breaker(error.provider_id, outcome, setup),
            note=f"looking up the first render failed ({error.category.value})",
        ),
        "look the first render up again",
    )


def max_rounds(job: Job) -> int:
    """The process loop's bound: each round spends an attempt or waits."""
    return job.max_attempts * 3 + 3


def settled(job: Job, now: float) -> bool:
    """Nothing more to do for the job now: finished, or waiting for a later time."""
    return job.terminal or (job.next_action_at is not None and job.next_action_at > now)


def open_attempt(job: Job) -> bool:
    """The last attempt was checkpointed but never answered (no render id, no outcome)."""
    if not job.history or job.provider_job_id:
        return False
    last = job.history[-1]
    return last.outcome is None and last.provider_job_id is None


def current_render(
    job: Job, provider_id: str, provider_job_id: str, *, attempt: int | None = None
) -> bool:
    """Whether a provider's notice is about the job's current render: its id is the one the
    submission returned (saved). A notice before the id is saved is not (the webhook shell
    asks for it again; polling covers it): a callback cannot bind a render id of its choosing.
    ``attempt`` is kept for the callers that name it."""
    del attempt
    return job.provider_job_id is not None and job.provider_job_id == provider_job_id


def earlier_render(job: Job, provider_id: str, provider_job_id: str, attempt: int | None) -> bool:
    """Whether a notice is about the render of an attempt of this job (not the current render)
    on that provider whose outcome we never saw: no render id stored, or the same one, and no
    failure of the render itself recorded (e.g. a submit whose answer was lost)."""
    if attempt is None or attempt > job.attempt:
        return False
    if attempt == job.attempt and open_attempt(job):
        return False  # its submit's answer is on its way: only the id it returns is bound
    for record in job.history:
        if record.attempt == attempt and record.provider_id == provider_id:
            # No id stored: the submit's answer was lost, and the callback (its attempt's token)
            # is the only way to learn the render, paid for: never thrown away.
            same = record.provider_job_id in (None, provider_job_id)
            return same and record.outcome not in {c.value for c in RENDER_FAILURES}
    return False


def adopted(
    job: Job,
    attempt: int,
    provider_id: str,
    provider_job_id: str,
    result: VideoResult,
    now: float,
    setup: Setup,
) -> Effects:
    """The job completes with an earlier attempt's render (see `jobs.adopt`); billed to that
    provider, as it was paid."""
    done = jobs.adopt(
        job,
        attempt=attempt,
        provider_id=provider_id,
        provider_job_id=provider_job_id,
        result=result,
        now=now,
    )
    return completed(job, done, now, setup, note="completed by an earlier render")


def started(job: Job) -> float:
    return job.history[-1].started_at if job.history else job.created_at


@_with_documents
def expire(job: Job, now: float) -> Effects:
    return fail(job, "deadline_exceeded", "the job ran out of time", now)


@_with_documents
def fail(job: Job, code: str, message: str, now: float) -> Effects:
    failed_job = jobs.fail(job, error=JobError(code=code, message=message, retryable=True), now=now)
    return Effects(job=failed_job, side=recovery_side(failed_job))


def orphaned_error(job: Job) -> ProviderError:
    """An instance died between the checkpoint and the answer: the submit may have arrived (and
    been billed), so it is handled as a timeout whose answer was lost (a resubmit to the same
    provider reuses the idempotency key, and goes only to providers that honour it)."""
    return ProviderError(
        ErrorCategory.TIMEOUT,
        "the instance submitting this attempt stopped before the answer",
        provider_id=job.provider_id or "",
        charged=True,
    )


# Submitting


def choose(job: Job, candidates: Sequence[Candidate], *, now: float, setup: Setup) -> Ranking:
    """The providers that can take the job, best first. A half-open one (``probe``) must get
    a permit from its breaker before it is called; the next one is tried when it does not."""
    return _rank(candidates, selection_for(job), now=now, rules=setup.rules)


def needs_permit(choice: Scored, setup: Setup) -> bool:
    return choice.probe and setup.breaker_enabled


@_with_documents
def no_provider(job: Job, ranking: Ranking, now: float) -> Effects:
    """No provider took the job: wait until one may (no attempt is spent), or fail."""
    reason = "; ".join(f"{r.provider_id}: {r.reason}" for r in ranking.rejected)
    until = ranking.next_chance()
    if until is None:
        # A render whose submit answer was lost may still call back: failing the job now would
        # throw that paid video away, so the job waits for it (within its deadline).
        until = lost_render_due(job, now)
    if until is None:
        return fail(job, "no_capable_provider", f"no provider can make it: {reason}", now)
    waiting = jobs.wait_for_provider(job, until=until, reason=reason, now=now)
    return _next(Effects(job=waiting, side=recovery_side(waiting)), "retry")


def lost_render_due(job: Job, now: float) -> float | None:
    """Until when a render whose submit answer was lost (and whose provider the job left for
    that reason, `blind_resubmit`) may still call back; None when there is none."""
    waits = [
        r.started_at + RENDER_PATIENCE_S
        for r in job.history
        if r.outcome in jobs.ANSWER_MAYBE_LOST
        and r.provider_id in job.excluded
        and r.provider_job_id is None
        and r.started_at + RENDER_PATIENCE_S > now
    ]
    return min(waits, default=None)


def begin(job: Job, choice: Scored, now: float, setup: Setup | None = None) -> Job:
    """The job as checkpointed before its submit (written, lease kept), with what of the
    job's presentation the chosen provider cannot honour (`presentation`)."""
    caps = setup.capabilities.get(choice.provider_id) if setup is not None else None
    return jobs.begin_attempt(
        job,
        provider_id=choice.provider_id,
        options=choice.options,
        degradations=choice.degradations,
        reasoning=choice.reasons,
        now=now,
        estimated_cost=choice.cost,
        unhonoured=presentation.unhonoured(choice.options, caps) if caps is not None else (),
    )


def callback_url(provider_id: str, setup: Setup) -> str | None:
    """Where the provider should call back, for providers that send webhooks."""
    caps = setup.capabilities.get(provider_id)
    if not setup.webhook_base_url or caps is None or not caps.webhooks:
        return None
    return f"{setup.webhook_base_url.rstrip('/')}/providerWebhook/{provider_id}"


def poll_every(provider_id: str, setup: Setup) -> float:
    """The pace of status polls of a render on ``provider_id`` (`POLL_SHARE`)."""
    caps = setup.capabilities.get(provider_id)
    typical = caps.typical_render_s if caps is not None else 0.0
    return max(POLL_INTERVAL_S, POLL_SHARE * typical)


def render_patience_s(provider_id: str, setup: Setup) -> float:
    """How long a render on ``provider_id`` that we cannot see is waited for."""
    caps = setup.capabilities.get(provider_id)
    worst = caps.worst_render_s if caps is not None else 0.0
    return max(RENDER_PATIENCE_S, worst)


def follow_up_wait(provider_id: str, setup: Setup) -> float:
    """How long after an accepted submit the render is first looked at: a poll interval, or
    for a provider that calls back, long enough that the webhook usually comes first."""
    if callback_url(provider_id, setup) is None:
        return poll_every(provider_id, setup)
    if setup.webhook_wait_s is not None:
        return setup.webhook_wait_s
    return WEBHOOK_GRACE * setup.capabilities[provider_id].typical_render_s


@_with_documents
def accepted(
    job: Job,
    provider_job_id: str,
    *,
    permit: float | None,
    took: float,
    now: float,
    setup: Setup,
    follow_up_at: float | None = None,
) -> Effects:
    """The provider accepted the render: a success for its breaker; look at it later. (The
    generation's metric is written when it ends, once.) ``follow_up_at``: when the caller
    already knows when to look (the benchmark's simulated webhook)."""
    pid = job.provider_id or ""
    at = now + follow_up_wait(pid, setup) if follow_up_at is None else follow_up_at
    caps = setup.capabilities.get(pid)
    eta = now + caps.typical_render_s if caps is not None else None
    later = jobs.submitted(
        job, provider_job_id=provider_job_id, follow_up_at=at, now=now, eta_at=eta
    )
    outcome = br.Outcome(success=True, duration_s=took, permit=permit, probe=permit is not None)
    return _next(
        Effects(job=later, breaker=_breaker(pid, outcome, setup), note="submitted"),
        "render follow-up",
    )


@_with_documents
def failed(
    job: Job,
    error: ProviderError,
    candidates: Sequence[Candidate],
    *,
    now: float,
    rand: float,
    setup: Setup,
    permit: float | None = None,
    took: float = 0.0,
) -> Effects:
    """A submit or a render failed: count it against the provider as the recovery table says,
    and let the recovery policy decide between retry, switch, degrade and fail, knowing which
    other providers could take the job."""
    outcome = br.Outcome(
        success=False,
        duration_s=took,
        category=error.category,
        counts=counts_against_breaker(error),
        probe=permit is not None,
        permit=permit,
    )
    alerts: tuple[Alert, ...] = ()
    if error.category in ALERTING:
        alerts = (
            Alert(
                f"{error.provider_id}: {error.category.value}",
                {"provider": error.provider_id, "category": error.category.value},
            ),
        )
    fo = fail_over(job, error, candidates, now=now, rand=rand, rules=setup.rules)
    after = fo.job
    if blind_resubmit(job, error, setup):
        # The provider may have accepted (and billed) the render whose answer was lost, and a
        # second submit would be a second render: this job never sends it there again. If the
        # first render exists, its callback is adopted (`notice`).
        after = replace(after, excluded=after.excluded | {error.provider_id})
    side = metric(
        job,
        Operation.GENERATION,
        success=False,
        took=now - started(job),
        now=now,
        setup=setup,
        error=error,
    )
    return _next(
        Effects(
            job=after,
            side=(*side, *recovery_side(after)),
            breaker=_breaker(error.provider_id, outcome, setup),
            alerts=alerts,
            note=fo.decision.action.value,
            why=fo.decision.reason,
        ),
        fo.decision.action.value,
    )


# Following a render


@_with_documents
def still_rendering(
    job: Job, *, took: float, now: float, setup: Setup, progress: float | None = None
) -> Effects:
    """A status poll answered and the render is not done yet: look again later. ``progress``:
    the provider's own figure (0..1), where it reports one; it moves the job's ETA too. Past
    the job's deadline, the render goes on only within its provider's ``render_cap_s``."""
    caps = setup.capabilities.get(job.provider_id or "")
    if now > job.deadline_at and (caps is None or now - started(job) > caps.render_cap_s):
        return fail(job, "deadline_exceeded", "the job ran out of time", now)
    eta = None
    if progress is not None and 0.05 <= progress < 1.0:
        elapsed = now - started(job)
        eta = now + elapsed * (1.0 - progress) / progress
    later = jobs.submitted(
        job,
        provider_job_id=job.provider_job_id or "",
        follow_up_at=now + poll_every(job.provider_id or "", setup),
        now=now,
        eta_at=eta,
        progress=progress,
    )
    side = metric(job, Operation.STATUS_CHECK, success=True, took=took, now=now, setup=setup)
    return _next(Effects(job=later, side=side, note="still rendering"), "status poll")


def render_lost(job: Job, error: ProviderError, *, now: float, setup: Setup) -> bool:
    """Whether a failed status check means the render is lost (then it is handled by `failed`):
    it failed or fell below the quality bar, or it has been out of sight for longer than its
    provider's worst render time (`render_patience_s`). A provider whose API is down (its
    circuit open) has not lost the render it accepted: paying another provider for the same
    video would waste one that is paid for and may well be fine."""
    patience = render_patience_s(job.provider_id or error.provider_id, setup)
    return error.category in RENDER_FAILURES or now - started(job) > patience


@_with_documents
def poll_again(job: Job, error: ProviderError, *, took: float, now: float, setup: Setup) -> Effects:
    """A status check failed but the render is not lost: only the look at it failed, not the
    render, which is paid for and may well be fine; look again later rather than pay another
    provider for the same video."""
    outcome = br.Outcome(
        success=False,
        duration_s=took,
        category=error.category,
        counts=counts_against_breaker(error),
    )
    later = jobs.submitted(
        job,
        provider_job_id=job.provider_job_id or "",
        follow_up_at=now + POLL_RETRY_S,
        now=now,
    )
    side = metric(
        job, Operation.STATUS_CHECK, success=False, took=took, now=now, setup=setup, error=error
    )
    return _next(
        Effects(
            job=later,
            side=side,
            breaker=_breaker(error.provider_id, outcome, setup),
            note=f"status check failed ({error.category.value}); polling again",
        ),
        "status check failed",
    )


@_with_documents
def completion(job: Job, result: VideoResult, *, now: float, setup: Setup) -> Effects:
    """A render finished and passed the quality check: the one place a job completes, for a
    status poll and a webhook alike. The generation's metric is billed; the recovery log
    closes the job's failures, if it had any."""
    return completed(job, jobs.complete(job, result=result, now=now), now, setup)


@_with_documents
def completed(job: Job, done: Job, now: float, setup: Setup, *, note: str = "completed") -> Effects:
    """The Effects of ``job`` becoming ``done`` (completed): its billed generation metric and
    the recovery log of its failures."""
    side = metric(
        done,
        Operation.GENERATION,
        success=True,
        took=now - started(job),
        now=now,
        setup=setup,
        quality=DELIVERED_QUALITY,
    )
    return Effects(job=done, side=(*side, *recovery_side(done)), note=note)


@_with_documents
def undelivered(job: Job, message: str, *, expired: bool, now: float, setup: Setup) -> Effects:
    """A render finished but its video could not be copied into our bucket (the shell already
    asked the provider once for a fresh URL). ``expired``: the provider's URL no longer
    answers, so the job fails with ``video_expired`` rather than keep a dead link; the
    provider delivered, so the generation is billed. Otherwise (the network, our bucket) the
    render is fine: look again later, until the job's deadline."""
    if expired:
        side = metric(
            job, Operation.GENERATION, success=True, took=now - started(job), now=now, setup=setup
        )
        failed_job = jobs.fail(
            job,
            error=JobError(
                code="video_expired",
                message=f"the video was made but could not be kept: {message}",
                retryable=True,
            ),
            now=now,
        )
        return Effects(job=failed_job, side=(*side, *recovery_side(failed_job)), note=message)
    later = jobs.submitted(
        job, provider_job_id=job.provider_job_id or "", follow_up_at=now + POLL_RETRY_S, now=now
    )
    return _next(
        Effects(job=later, note=f"video copy failed ({message}); trying again"),
        "video copy failed",
    )


@_with_documents
def notice(
    job: Job,
    *,
    provider_id: str,
    provider_job_id: str,
    failure: ProviderError | None,
    result: VideoResult | None,
    candidates: Sequence[Candidate],
    now: float,
    rand: float,
    setup: Setup,
    attempt: int | None = None,
) -> Effects | None:
    """A verified webhook about ``job`` (``attempt``: the attempt its callback URL names, which
    its token proves; None for URLs from before attempts were named). None when it is stale or
    a duplicate: the job is done, or the notice is about another attempt's render and reports
    no success. Else the completion with ``result`` (the video the shell kept), or, for a
    finished current render whose video the shell could not keep (``result`` None), a status
    poll now, which fetches a fresh URL; or the failure of the current render. An earlier
    attempt's render that succeeded after all completes the job (paid for and good) when the
    shell kept its video."""
    if job.terminal:
        return None
    if not current_render(job, provider_id, provider_job_id, attempt=attempt):
        if (
            failure is None
            and result is not None
            and earlier_render(job, provider_id, provider_job_id, attempt)
        ):
            assert attempt is not None  # earlier_render needs it
            return adopted(job, attempt, provider_id, provider_job_id, result, now, setup)
        return None
    if failure is None and result is None:
        job = jobs.submitted(job, provider_job_id=provider_job_id, follow_up_at=now, now=now)
        return _next(Effects(job=job, note="render done; fetching the video"), "fetch the video")
    job = jobs.submitted(
        job, provider_job_id=provider_job_id, follow_up_at=job.next_action_at or now, now=now
    )
    if failure is None:
        return completion(job, result or VideoResult(video_url=""), now=now, setup=setup)
    # The accepted submit already counted as a success: the render's failure is counted now,
    # without a duration (the call that failed is the provider's, not ours).
    after = failed(job, failure, candidates, now=now, rand=rand, setup=setup)
    return replace(after, note=f"render failed: {after.note}")


# Health


def probed(
    provider_id: str,
    error: ProviderError | None,
    *,
    permit: float | None,
    took: float,
    now: float,
    setup: Setup,
) -> Effects:
    """A health probe answered (``error`` None) or failed. A failure always counts for the
    breaker (as the recovery table says); a success only when it held a half-open permit."""
    if error is None:
        outcomes: tuple[tuple[str, br.Outcome], ...] = ()
        if permit is not None:
            ok = br.Outcome(success=True, duration_s=took, probe=True, permit=permit)
            outcomes = _breaker(provider_id, ok, setup)
        return Effects(
            job=None,
            side=_probe_metric(provider_id, True, took, now, None, setup),
            breaker=outcomes,
            note="up",
        )
    bad = br.Outcome(
        success=False,
        duration_s=took,
        category=error.category,
        counts=counts_against_breaker(error),
        probe=permit is not None,
        permit=permit,
    )
    return Effects(
        job=None,
        side=_probe_metric(provider_id, False, took, now, error.category.value, setup),
        breaker=_breaker(provider_id, bad, setup),
        note=f"down: {error.category.value}",
    )


def transition_alert(provider_id: str, transition: br.Transition) -> Alert | None:
    """A circuit that opens is an alert; other transitions are only logged."""
    if transition.to_state is not br.CircuitState.OPEN:
        return None
    return Alert(
        f"circuit opened for {provider_id}: {transition.reason}",
        {"provider": provider_id, "transition": transition.to_state.value},
    )


# Documents written beside the job


def metric(
    job: Job,
    operation: Operation,
    *,
    success: bool,
    took: float,
    now: float,
    setup: Setup,
    error: ProviderError | None = None,
    quality: float | None = None,
) -> tuple[Record, ...]:
    """The metrics snapshot of one job operation, and for a billed one the increment of today's
    spend (counted even with tracking off: the spend cap depends on it). Billing: a generation
    is billed when it succeeded or when its provider charges for the failure; status checks
    never are. Whether a failed render is billed is its provider's fact
    (`billing.FAILED_RENDERS_BILLED`)."""
    if not job.provider_id:
        return ()
    caps = setup.capabilities.get(job.provider_id)
    charged = success or (error is not None and error.charged)
    if not success and error is not None and error.category is ErrorCategory.PROCESSING_ERROR:
        charged = billing.failed_render_billed(job.provider_id)
    billed = None
    if caps is not None and charged and operation is Operation.GENERATION:
        billed = caps.price(billed_length_s(job))
    spend_side = (Spend(spend.day_key(now), billed),) if billed else ()
    if not setup.tracking_enabled:
        return spend_side
    if error is not None and error.category is ErrorCategory.QUALITY_FAILURE:
        quality = 0.0
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
        tier=job.tier.value,
    )
    return (Metric(snap), *spend_side)


def recovery_side(job: Job) -> tuple[Record, ...]:
    """A finished job that met failures gets its recovery log (one per job: its id)."""
    if not job.terminal:
        return ()
    entry = recovery_log(job)
    return (RecoveryLog(job.job_id, entry),) if entry is not None else ()


def _probe_metric(
    pid: str, success: bool, took: float, now: float, error_type: str | None, setup: Setup
) -> tuple[Record, ...]:
    if not setup.tracking_enabled:
        return ()
    snap = MetricsSnapshot(
        provider_id=pid,
        at=now,
        operation=Operation.HEALTH_CHECK,
        success=success,
        response_time_s=took,
        error_type=error_type,
    )
    return (Metric(snap),)


def _breaker(pid: str, outcome: br.Outcome, setup: Setup) -> tuple[tuple[str, br.Outcome], ...]:
    return ((pid, outcome),) if setup.breaker_enabled else ()


def _next(effects: Effects, reason: str) -> Effects:
    """Schedule the job's next action when it has one."""
    job = effects.job
    if job is None or job.terminal or job.next_action_at is None:
        return effects
    return replace(effects, schedule=Schedule(job.next_action_at, reason))
