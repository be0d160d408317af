"""The job state machine: a video job moves queued -> processing -> completed | failed through
pure transitions that return a new `Job`. A terminal job never changes: every transition
returns it as it is."""

from __future__ import annotations

import hashlib
import json
import operator
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any

from shared.core.degradation import Degradation
from shared.core.model import Duration, QualityLevel, Resolution, Tier, VideoOptions
from shared.core.presentation import Unhonoured
from shared.core.refusals import AlreadyExists


class JobStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"  # by its owner (cancelVideoJob)


TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
# What retryVideoJob may run again.
RETRYABLE = frozenset({JobStatus.FAILED, JobStatus.CANCELLED})


class AppCall(StrEnum):
    """The web app's callable a job came from; its CV job (``jobs/{cvJobId}``, checked to be
    the caller's) mirrors the video job. Jobs from generateVideo mirror nothing."""

    GENERATE = "generate"
    REGENERATE = "regenerate"


# Failures after which the provider may have received the submit: resubmitting to the same
# provider reuses the idempotency key, so a lost answer is never paid twice.
ANSWER_MAYBE_LOST = frozenset({"timeout", "network_error"})


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptRecord:
    """One submission to one provider (``providerHistory[]``)."""

    provider_id: str
    attempt: int
    started_at: float
    provider_job_id: str | None = None
    ended_at: float | None = None
    outcome: str | None = None  # "completed" or an error category
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobError:
    code: str
    message: str
    retryable: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class VideoResult:
    """The finished video. With a bucket (the deployment), ``video_url`` plays our copy and
    ``storage_path`` names it (``gs://bucket/name``); the provider's own URL expires."""

    video_url: str
    thumbnail_url: str | None = None
    duration_s: float | None = None
    storage_path: str | None = None
    thumbnail_path: str | None = None
    # WebVTT captions beside the video: a URL that serves them (None: none made), and the
    # object's name (``gs://bucket/name``) so it is deleted with the video.
    subtitles_url: str | None = None
    subtitles_path: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    job_id: str
    created_at: float
    deadline_at: float
    user_id: str = ""
    request_id: str | None = None
    # request_fingerprint(...) of what was asked: a reused requestId must ask the same.
    request_fingerprint: str | None = None
    cv_job_id: str | None = None
    script: str = ""
    tier: Tier = Tier.FREE
    options: VideoOptions = VideoOptions()
    status: JobStatus = JobStatus.QUEUED
    attempt: int = 0
    max_attempts: int = 4
    key_seq: int = 0
    excluded: frozenset[str] = frozenset()
    # Providers left after a passing failure (a rate limit, an overload, a hiccup): not asked
    # again before the time given, but not given up either (they are back after it).
    resting: tuple[tuple[str, float], ...] = ()  # (provider, not before), oldest first
    history: tuple[AttemptRecord, ...] = ()
    provider_id: str | None = None
    provider_job_id: str | None = None
    preferred_provider: str | None = None
    next_action_at: float | None = None
    degradations: tuple[Degradation, ...] = ()
    # What the current attempt's provider cannot present as asked (background, name card...):
    # replaced at every submit, so it is the provider that made the video's (`presentation`).
    unhonoured: tuple[Unhonoured, ...] = ()
    selection_reasoning: tuple[str, ...] = ()
    result: VideoResult | None = None
    error: JobError | None = None
    updated_at: float | None = None
    # Progress of the current render as its provider reports it (0..1), and when the render is
    # expected to be done (from the provider's typical render time).
    render_progress: float | None = None
    eta_at: float | None = None
    retry_of: str | None = None  # the failed or cancelled job this one runs again
    retries: int = 0  # how many times the job's first version was run again
    app_call: AppCall | None = None
    # USD: what the chosen provider is expected to bill for the render (set at each submit).
    estimated_cost: float | None = None
    # USD of its creation day's spend cap the job holds until it ends (`spend.reserve`).
    reserved_usd: float = 0.0

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def idempotency_key(self) -> str:
        """The key every submit of the current attempt carries (DESIGN section 6)."""
        return f"{self.job_id}-{self.key_seq}"

    @property
    def degraded(self) -> bool:
        return bool(self.degradations)

    def tries_on(self, provider_id: str, outcome: str | None = None) -> int:
        """How many submissions in a row, counting back from the last, went to ``provider_id``
        (and, when ``outcome`` is given, ended with it)."""
        n = 0
        for record in reversed(self.history):
            if record.provider_id != provider_id:
                break
            if outcome is not None and record.outcome != outcome:
                break
            n += 1
        return n


class RequestReusedError(AlreadyExists):
    """A ``requestId`` already names a job that asked for something else."""

    def __init__(self, job_id: str, request_id: str) -> None:
        self.job_id = job_id
        self.request_id = request_id
        super().__init__(
            f"requestId {request_id!r} was already used for job {job_id} with a different "
            "script or options; use a new requestId for a new video",
            {"jobId": job_id, "field": "requestId"},
        )


_PRESENTATION = frozenset({"background", "subtitles", "name_card"})


def request_fingerprint(script: str, options: VideoOptions, cv_job_id: str | None) -> str:
    """A digest of what a request asks for (script, options, cvJobId), the same in every
    process: a repeat of the same request matches, any change does not."""
    asked = {
        "script": script,
        "cvJobId": cv_job_id,
        "options": {
            f.name: sorted(v) if isinstance(v, frozenset) else v
            for f in fields(options)
            for v in [getattr(options, f.name)]
            # Presentation left as it was before it was kept: digests made then still match.
            if not (f.name in _PRESENTATION and v == f.default)
        },
    }
    canonical = json.dumps(asked, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def same_request(job: Job, fingerprint: str) -> Job:
    """``job`` when it was created by a request asking for what ``fingerprint`` says (or before
    fingerprints were kept); RequestReusedError otherwise."""
    if job.request_fingerprint is not None and job.request_fingerprint != fingerprint:
        raise RequestReusedError(job.job_id, job.request_id or "")
    return job


def job_id_for(user_id: str, request_id: str) -> str:
    """The job id of a user's request: the same ``requestId`` from the same user is the same job,
    and no one can guess another user's job id from a request id."""
    digest = hashlib.sha256(f"{user_id}\x00{request_id}".encode()).hexdigest()
    return f"vj_{digest[:32]}"


def begin_attempt(
    job: Job,
    *,
    provider_id: str,
    options: VideoOptions,
    degradations: tuple[Degradation, ...],
    reasoning: tuple[str, ...],
    now: float,
    estimated_cost: float | None = None,
    unhonoured: tuple[Unhonoured, ...] = (),
) -> Job:
    """A provider was chosen; the submission starts now (``options`` may be degraded to fit;
    ``unhonoured``: what of their presentation this provider cannot do)."""
    if job.terminal:
        return job
    record = AttemptRecord(provider_id=provider_id, attempt=job.attempt + 1, started_at=now)
    last = job.history[-1] if job.history else None
    resubmit = (
        last is not None
        and last.provider_id == provider_id
        and last.outcome in ANSWER_MAYBE_LOST
        and options == job.options
    )
    return _evolve(
        job,
        status=JobStatus.PROCESSING,
        attempt=job.attempt + 1,
        key_seq=job.key_seq if resubmit else job.key_seq + 1,
        history=(*job.history, record),
        provider_id=provider_id,
        provider_job_id=None,
        preferred_provider=None,
        next_action_at=None,
        render_progress=None,
        eta_at=None,
        options=options,
        degradations=(*job.degradations, *(d for d in degradations if d not in job.degradations)),
        unhonoured=unhonoured,
        selection_reasoning=reasoning,
        estimated_cost=estimated_cost if estimated_cost is not None else job.estimated_cost,
        updated_at=now,
    )


def submitted(
    job: Job,
    *,
    provider_job_id: str,
    follow_up_at: float,
    now: float,
    eta_at: float | None = None,
    progress: float | None = None,
) -> Job:
    """The provider accepted the render (or said it is still rendering); the next look at it is
    due at ``follow_up_at``. ``eta_at`` and ``progress`` replace the job's when given."""
    if job.terminal:
        return job
    return _evolve(
        job,
        eta_at=job.eta_at if eta_at is None else eta_at,
        render_progress=job.render_progress if progress is None else progress,
        provider_job_id=provider_job_id,
        history=_close_last(job, provider_job_id=provider_job_id),
        next_action_at=follow_up_at,
        updated_at=now,
    )


def complete(job: Job, *, result: VideoResult, now: float) -> Job:
    if job.terminal:
        return job
    return _evolve(
        job,
        status=JobStatus.COMPLETED,
        result=result,
        history=_close_last(job, ended_at=now, outcome="completed"),
        next_action_at=None,
        updated_at=now,
    )


SUPERSEDED = "superseded"  # an attempt left open when an earlier attempt's render completed


def adopt(
    job: Job,
    *,
    attempt: int,
    provider_id: str,
    provider_job_id: str,
    result: VideoResult,
    now: float,
) -> Job:
    """An earlier attempt's render finished well after the job had moved on (its submit's answer
    was lost, or it was given up as too slow): the job completes with it, since it is paid for
    and good. An attempt still open is closed as superseded."""
    if job.terminal:
        return job
    history = tuple(
        replace(r, provider_job_id=provider_job_id, ended_at=now, outcome="completed")
        if r.attempt == attempt
        else (replace(r, ended_at=now, outcome=SUPERSEDED) if r.outcome is None else r)
        for r in job.history
    )
    return _evolve(
        job,
        status=JobStatus.COMPLETED,
        result=result,
        history=history,
        provider_id=provider_id,
        provider_job_id=provider_job_id,
        next_action_at=None,
        updated_at=now,
    )


def retry_later(
    job: Job,
    *,
    at: float,
    prefer: str | None,
    exclude: str | None,
    now: float,
    rest: tuple[str, float] | None = None,
) -> Job:
    """Schedule the next attempt at ``at``, preferring ``prefer``, never using ``exclude``, and
    not using ``rest``'s provider before its time."""
    if job.terminal:
        return job
    resting = tuple((p, t) for p, t in job.resting if t > now and (rest is None or p != rest[0]))
    return _evolve(
        job,
        next_action_at=at,
        preferred_provider=prefer,
        resting=(*resting, rest) if rest is not None else resting,
        excluded=job.excluded | {exclude} if exclude else job.excluded,
        provider_job_id=None,
        updated_at=now,
    )


def degrade(job: Job, *, options: VideoOptions, step: Degradation, at: float, now: float) -> Job:
    if job.terminal:
        return job
    return _evolve(
        job,
        options=options,
        degradations=(*job.degradations, step),
        next_action_at=at,
        preferred_provider=job.provider_id,
        provider_job_id=None,
        updated_at=now,
    )


_UNDONE: dict[Degradation, dict[str, object]] = {
    Degradation.DURATION_LONG_TO_MEDIUM: {"duration": Duration.LONG},
    Degradation.DURATION_MEDIUM_TO_SHORT: {"duration": Duration.MEDIUM},
    Degradation.RESOLUTION_1080P_TO_720P: {"resolution": Resolution.P1080},
    Degradation.PREMIUM_TO_STANDARD: {"quality_level": QualityLevel.PREMIUM},
}


def asked_options(job: Job) -> VideoOptions:
    """The options the job was asked for, before the degradations it took (the first step of
    each kind names what was asked). Features dropped on the way are not restored: a retry
    asks again with what the job had when it ended, which never exceeds what was asked."""
    changes: dict[str, object] = {}
    for step in reversed(job.degradations):
        changes.update(_UNDONE.get(step, {}))
    return replace(job.options, **changes)  # type: ignore[arg-type]


def rendered(record: AttemptRecord) -> bool:
    """Whether an attempt was (or may have been) a render the provider could bill: it accepted
    the submit (a render id came back, or the attempt completed), or its answer was lost. A
    submit the provider refused made nothing and cost nothing."""
    return (
        record.provider_job_id is not None
        or record.outcome == "completed"
        or record.outcome in ANSWER_MAYBE_LOST
        or record.outcome is None  # open: its submit may be in flight
    )


def renders(job: Job) -> int:
    """How many of the job's attempts (across its retries: the history is kept) were renders:
    what ``max_attempts`` bounds. Refused submits are bounded by the deadline and backoff."""
    return sum(1 for r in job.history if rendered(r))


def renders_left(job: Job) -> int:
    return max(0, job.max_attempts - renders(job))


def record_failure(job: Job, *, category: str, message: str, now: float) -> Job:
    """Close the current attempt as failed (the recovery decision is applied separately)."""
    if job.terminal or not job.history:
        return job
    return _evolve(job, history=_close_last(job, ended_at=now, outcome=category, message=message))


def fail(job: Job, *, error: JobError, now: float) -> Job:
    if job.terminal:
        return job
    return _evolve(
        job,
        status=JobStatus.FAILED,
        error=error,
        next_action_at=None,
        updated_at=now,
    )


def cancel(job: Job, *, now: float) -> Job:
    """Its owner cancelled the job: it stops here, whatever its provider does later."""
    if job.terminal:
        return job
    error = JobError(code="cancelled", message="cancelled by its owner", retryable=True)
    return _evolve(
        job, status=JobStatus.CANCELLED, error=error, next_action_at=None, updated_at=now
    )


def retry_id(job: Job) -> str:
    """The id of the job that runs ``job`` again: the same for every retry of ``job`` (so a
    repeated call is the same retry), and of its first version's id, so retries do not nest."""
    root = job.job_id.rsplit("-r", 1)[0] if job.retry_of else job.job_id
    return f"{root}-r{job.retries + 1}"


def again(job: Job, *, job_id: str, now: float, deadline_at: float, budget: int) -> Job:
    """A new job that runs a failed or cancelled ``job`` again, keeping its history (the old
    job stays as it ended: a terminal job never changes). It inherits what is left of the
    job's render budget (`renders_left`), never more than ``budget``: a cancel and a retry do
    not buy a fresh set of renders."""
    return Job(
        job_id=job_id,
        created_at=now,
        updated_at=now,
        deadline_at=deadline_at,
        next_action_at=now,
        user_id=job.user_id,
        request_id=None,
        request_fingerprint=job.request_fingerprint,
        cv_job_id=job.cv_job_id,
        script=job.script,
        tier=job.tier,
        options=job.options,
        attempt=job.attempt,
        max_attempts=renders(job) + min(budget, renders_left(job)),
        key_seq=job.key_seq,
        history=job.history,
        degradations=job.degradations,
        retry_of=job.job_id,
        retries=job.retries + 1,
        app_call=job.app_call,
    )


def wait_for_provider(job: Job, *, until: float, reason: str, now: float) -> Job:
    """No provider can take the job now: wait until ``until`` (no attempt is spent), or fail
    when that is past the job's deadline."""
    if job.terminal:
        return job
    if until > job.deadline_at:
        error = JobError(code="no_provider_available", message=reason, retryable=True)
        return fail(job, error=error, now=now)
    return _evolve(job, next_action_at=until, updated_at=now)


_JOB_FIELDS = tuple(f.name for f in fields(Job))
_FIELD_SET = frozenset(_JOB_FIELDS)
_READ_ALL = operator.attrgetter(*_JOB_FIELDS)
_SET = object.__setattr__


def _evolve(job: Job, **changes: Any) -> Job:
    """``dataclasses.replace`` for `Job`, without re-running ``__init__``: replace() costs
    ~30 µs on a job, and a failover decision makes several (see bench.micro)."""
    if not changes.keys() <= _FIELD_SET:
        raise TypeError(f"Job has no field(s) {sorted(changes.keys() - _FIELD_SET)}")
    new = object.__new__(Job)
    for name, value in zip(_JOB_FIELDS, _READ_ALL(job), strict=True):
        _SET(new, name, value)
    for name, value in changes.items():
        _SET(new, name, value)
    return new


def _close_last(job: Job, **changes: object) -> tuple[AttemptRecord, ...]:
    if not job.history:
        return job.history
    last = replace(job.history[-1], **changes)  # type: ignore[arg-type]
    return (*job.history[:-1], last)
