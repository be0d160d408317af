"""The job state machine: queued -> processing -> completed | failed, and terminal is final."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shared.core import jobs
from shared.core.degradation import Degradation
from shared.core.jobs import Job, JobError, JobStatus, VideoResult
from shared.core.model import Duration, VideoOptions

NOW = 1_000.0
SHORT = VideoOptions(duration=Duration.SHORT)
RESULT = VideoResult(video_url="https://cdn.example/v.mp4")
ERROR = JobError(code="api_failure", message="boom", retryable=False)


def new_job() -> Job:
    return Job(job_id="job-1", created_at=NOW, deadline_at=NOW + 3_600)


def started(job: Job, provider: str, *, now: float = NOW) -> Job:
    return jobs.begin_attempt(
        job, provider_id=provider, options=job.options, degradations=(), reasoning=(), now=now
    )


Transition = Callable[[Job], Job]

TRANSITIONS: dict[str, Transition] = {
    "begin_attempt": lambda j: jobs.begin_attempt(
        j,
        provider_id="did",
        options=SHORT,
        degradations=(Degradation.DURATION_MEDIUM_TO_SHORT,),
        reasoning=("r",),
        now=NOW + 1,
    ),
    "submitted": lambda j: jobs.submitted(j, provider_job_id="x", follow_up_at=NOW + 9, now=NOW),
    "complete": lambda j: jobs.complete(j, result=RESULT, now=NOW + 1),
    "retry_later": lambda j: jobs.retry_later(
        j, at=NOW + 5, prefer="heygen", exclude="did", now=NOW + 1
    ),
    "degrade": lambda j: jobs.degrade(
        j, options=SHORT, step=Degradation.DURATION_MEDIUM_TO_SHORT, at=NOW + 5, now=NOW + 1
    ),
    "record_failure": lambda j: jobs.record_failure(j, category="timeout", message="m", now=NOW),
    "fail": lambda j: jobs.fail(j, error=ERROR, now=NOW + 1),
    "wait_for_provider (within deadline)": lambda j: jobs.wait_for_provider(
        j, until=NOW + 10, reason="all busy", now=NOW + 1
    ),
    "wait_for_provider (past deadline)": lambda j: jobs.wait_for_provider(
        j, until=NOW + 10**6, reason="all busy", now=NOW + 1
    ),
}


def completed_job() -> Job:
    return jobs.complete(started(new_job(), "heygen"), result=RESULT, now=NOW)


def failed_job() -> Job:
    return jobs.fail(started(new_job(), "heygen"), error=ERROR, now=NOW)


@pytest.mark.parametrize("terminal", [completed_job, failed_job], ids=["completed", "failed"])
@pytest.mark.parametrize("transition", TRANSITIONS.values(), ids=TRANSITIONS.keys())
def test_a_terminal_job_never_changes(terminal: Callable[[], Job], transition: Transition) -> None:
    """Every transition returns a completed or failed job exactly as it was."""
    job = terminal()
    assert job.terminal
    assert transition(job) is job


@pytest.mark.parametrize("transition", TRANSITIONS.values(), ids=TRANSITIONS.keys())
def test_every_transition_changes_a_live_job(transition: Transition) -> None:
    """The terminal guard is not vacuous: the same transitions do change a processing job."""
    job = started(new_job(), "heygen")
    assert transition(job) != job


def test_begin_attempt_increments_the_attempt_and_appends_history() -> None:
    """Each start counts one attempt, records it, and clears the scheduling fields."""
    job = jobs.retry_later(new_job(), at=NOW + 5, prefer="heygen", exclude=None, now=NOW)
    first = started(job, "heygen", now=NOW + 5)
    assert first.status is JobStatus.PROCESSING
    assert first.attempt == 1
    assert [(r.provider_id, r.attempt, r.started_at) for r in first.history] == [
        ("heygen", 1, NOW + 5)
    ]
    assert first.preferred_provider is None
    assert first.next_action_at is None
    second = started(first, "did", now=NOW + 9)
    assert second.attempt == 2
    assert [(r.provider_id, r.attempt) for r in second.history] == [("heygen", 1), ("did", 2)]
    assert second.provider_id == "did"


def test_begin_attempt_records_new_degradations_once() -> None:
    """Degradations accumulate without duplicates; the job reports itself degraded."""
    step = Degradation.DURATION_MEDIUM_TO_SHORT
    job = new_job()
    for _ in range(2):
        job = jobs.begin_attempt(
            job, provider_id="p", options=SHORT, degradations=(step,), reasoning=(), now=NOW
        )
    assert job.degradations == (step,)
    assert job.degraded
    assert not new_job().degraded


@pytest.mark.parametrize(
    ("providers", "asked", "expected"),
    [
        ((), "heygen", 0),
        (("heygen",), "heygen", 1),
        (("heygen", "heygen"), "heygen", 2),
        (("heygen", "did", "heygen"), "heygen", 1),
        (("heygen", "heygen", "did"), "heygen", 0),
        (("heygen", "did", "did"), "did", 2),
    ],
)
def test_tries_on_counts_consecutive_attempts_back_from_the_last(
    providers: tuple[str, ...], asked: str, expected: int
) -> None:
    """Only the unbroken run of attempts at the end of the history counts."""
    job = new_job()
    for provider in providers:
        job = started(job, provider)
    assert job.tries_on(asked) == expected


def test_wait_for_provider_within_the_deadline_schedules_without_spending_an_attempt() -> None:
    """Waiting sets the next action and leaves the attempt count alone."""
    job = started(new_job(), "heygen")
    waiting = jobs.wait_for_provider(job, until=job.deadline_at, reason="busy", now=NOW)
    assert waiting.status is JobStatus.PROCESSING
    assert waiting.next_action_at == job.deadline_at
    assert waiting.attempt == job.attempt


def test_wait_for_provider_past_the_deadline_fails_the_job() -> None:
    """A wait ending after the deadline fails the job as retryable no_provider_available."""
    job = new_job()
    failed = jobs.wait_for_provider(job, until=job.deadline_at + 1, reason="all open", now=NOW)
    assert failed.status is JobStatus.FAILED
    assert failed.error == JobError(
        code="no_provider_available", message="all open", retryable=True
    )
    assert failed.next_action_at is None


def test_submitted_then_complete_closes_the_attempt() -> None:
    """The provider job id and the outcome land on the current attempt record."""
    job = started(new_job(), "heygen")
    job = jobs.submitted(job, provider_job_id="v-1", follow_up_at=NOW + 30, now=NOW)
    assert job.next_action_at == NOW + 30
    done = jobs.complete(job, result=RESULT, now=NOW + 60)
    assert done.status is JobStatus.COMPLETED
    assert done.result == RESULT
    last = done.history[-1]
    assert (last.provider_job_id, last.outcome, last.ended_at) == ("v-1", "completed", NOW + 60)


def test_record_failure_closes_the_attempt_and_keeps_the_job_live() -> None:
    """A failed attempt is recorded with its category; the decision is applied separately."""
    job = jobs.record_failure(started(new_job(), "did"), category="timeout", message="m", now=5.0)
    assert job.status is JobStatus.PROCESSING
    assert (job.history[-1].outcome, job.history[-1].message) == ("timeout", "m")


def test_record_failure_without_an_attempt_changes_nothing() -> None:
    """No attempt started: nothing to close."""
    job = new_job()
    assert jobs.record_failure(job, category="timeout", message="m", now=5.0) is job


def test_retry_later_excludes_and_prefers() -> None:
    """Exclusions accumulate; the preference is replaced."""
    job = jobs.retry_later(new_job(), at=1.0, prefer=None, exclude="did", now=NOW)
    job = jobs.retry_later(job, at=2.0, prefer="heygen", exclude="runwayml", now=NOW)
    assert job.excluded == {"did", "runwayml"}
    assert job.preferred_provider == "heygen"
    assert job.next_action_at == 2.0


@pytest.mark.parametrize(
    ("outcome", "next_provider", "next_options", "same_key"),
    [
        ("timeout", "heygen", VideoOptions(), True),
        ("network_error", "heygen", VideoOptions(), True),
        ("timeout", "did", VideoOptions(), False),
        ("timeout", "heygen", SHORT, False),
        ("api_failure", "heygen", VideoOptions(), False),
        ("rate_limit", "heygen", VideoOptions(), False),
    ],
)
def test_a_resubmit_after_a_lost_answer_reuses_the_idempotency_key(
    outcome: str, next_provider: str, next_options: VideoOptions, same_key: bool
) -> None:
    """Only the same request to the same provider after a maybe-lost answer keeps the key."""
    job = started(new_job(), "heygen")
    job = jobs.record_failure(job, category=outcome, message="m", now=NOW)
    again = jobs.begin_attempt(
        job, provider_id=next_provider, options=next_options, degradations=(), reasoning=(), now=NOW
    )
    assert (again.idempotency_key == job.idempotency_key) is same_key
    assert again.idempotency_key.startswith(job.job_id)


def test_job_ids_are_stable_per_user_and_request_and_distinct_across_users() -> None:
    """The same requestId from the same user is the same job; another user's is not."""
    assert jobs.job_id_for("u1", "r1") == jobs.job_id_for("u1", "r1")
    assert jobs.job_id_for("u1", "r1") != jobs.job_id_for("u2", "r1")
    assert jobs.job_id_for("u1", "r1") != jobs.job_id_for("u1", "r2")
    assert "r1" not in jobs.job_id_for("u1", "r1")
