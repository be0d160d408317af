"""Recovery: one strategy per category, and what a job does after each kind of failure."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.core import jobs
from shared.core.backoff import BackoffKind
from shared.core.degradation import Degradation
from shared.core.errors import ErrorCategory as C
from shared.core.errors import ProviderError
from shared.core.jobs import Job, JobStatus
from shared.core.model import Duration, Feature, Resolution, VideoOptions
from shared.core.recovery import (
    RETRYABLE_LATER,
    STRATEGIES,
    Action,
    Decision,
    RecoveryPolicy,
    decide,
    recover,
)

NOW = 10_000.0
SAME_PROVIDER = {Action.RETRY_SAME, Action.DEGRADE}
BOTTOM = VideoOptions(duration=Duration.SHORT, resolution=Resolution.P720, features=frozenset())


def failed_on(
    *providers: str,
    outcome: C = C.API_FAILURE,
    options: VideoOptions | None = None,
    max_attempts: int = 4,
    rendered: bool = True,
) -> Job:
    """A job whose attempts went to ``providers`` in order, each failing with ``outcome``;
    ``rendered``: each was a render the provider accepted (else a submit it refused)."""
    job = Job(
        job_id="job-1",
        created_at=NOW,
        deadline_at=NOW + 3_600,
        options=options or VideoOptions(),
        max_attempts=max_attempts,
    )
    for provider in providers:
        job = jobs.begin_attempt(
            job, provider_id=provider, options=job.options, degradations=(), reasoning=(), now=NOW
        )
        if rendered:
            job = accepted(job)
        job = jobs.record_failure(job, category=outcome.value, message="m", now=NOW)
    return job


def accepted(job: Job) -> Job:
    """``job``'s current submit accepted: a render is out."""
    return jobs.submitted(job, provider_job_id=f"r-{job.attempt}", follow_up_at=NOW + 10, now=NOW)


def error(category: C, provider: str = "heygen", retry_after: float | None = None) -> ProviderError:
    return ProviderError(
        category, f"{category.value} happened", provider_id=provider, retry_after=retry_after
    )


def test_every_category_has_a_strategy() -> None:
    """The table is complete: no category is left without a recovery."""
    assert set(STRATEGIES) == set(C)
    assert RecoveryPolicy().strategies is STRATEGIES
    for strategy in STRATEGIES.values():
        assert strategy.max_retries >= 0
        assert strategy.backoff in set(BackoffKind)


@pytest.mark.parametrize(
    ("category", "action", "counts"),
    [
        (C.TRANSIENT, Action.RETRY_SAME, True),
        (C.NETWORK_ERROR, Action.RETRY_SAME, True),
        (C.TIMEOUT, Action.RETRY_SAME, True),
        (C.RATE_LIMIT, Action.SWITCH_PROVIDER, True),
        (C.PROVIDER_OVERLOAD, Action.SWITCH_PROVIDER, True),
        (C.QUOTA_EXCEEDED, Action.SWITCH_PROVIDER, True),
        (C.AUTHENTICATION, Action.SWITCH_PROVIDER, True),
        (C.API_FAILURE, Action.SWITCH_PROVIDER, True),
        (C.PROCESSING_ERROR, Action.DEGRADE, True),
        (C.QUALITY_FAILURE, Action.SWITCH_PROVIDER, False),
        (C.SYSTEM_ERROR, Action.RETRY_SAME, False),
    ],
)
def test_the_strategy_table_says_what_comes_first_and_what_the_breaker_counts(
    category: C, action: Action, counts: bool
) -> None:
    """Each category's first action and breaker verdict are as designed."""
    assert STRATEGIES[category].action is action
    assert STRATEGIES[category].counts_against_breaker is counts


@pytest.mark.parametrize("category", list(C))
@pytest.mark.parametrize("alternatives", [True, False])
@pytest.mark.parametrize("fallback", [True, False])
def test_decide_handles_every_category_for_a_fresh_job(
    category: C, alternatives: bool, fallback: bool
) -> None:
    """Every category yields a well-formed decision after a job's first failed attempt."""
    job = failed_on("heygen", options=VideoOptions(allow_fallback=fallback))
    decision = decide(error(category), job, alternatives=alternatives, rand=0.5)
    assert isinstance(decision, Decision)
    assert decision.action in set(Action)
    assert decision.delay_s >= 0.0
    assert category.value in decision.reason
    assert decision.strategy == STRATEGIES[category]
    if decision.action is Action.SWITCH_PROVIDER:
        assert alternatives
        assert fallback


@pytest.mark.parametrize("category", list(C))
@pytest.mark.parametrize("alternatives", [True, False])
def test_an_exhausted_attempt_budget_fails_whatever_the_category(
    category: C, alternatives: bool
) -> None:
    """The job's attempt budget always wins."""
    job = failed_on("did", "runwayml", "heygen", max_attempts=3)
    decision = decide(error(category), job, alternatives=alternatives, rand=0.5)
    assert decision.action is Action.FAIL
    assert "all 3 renders used" in decision.reason


@pytest.mark.parametrize("category", list(C))
@pytest.mark.parametrize("alternatives", [True, False])
@pytest.mark.parametrize("tries", [1, 2, 3])
def test_without_fallback_a_job_never_switches_nor_degrades(
    category: C, alternatives: bool, tries: int
) -> None:
    """allowFallback false keeps the job on its provider and its options as asked."""
    job = failed_on(
        *["heygen"] * tries, outcome=category, options=VideoOptions(allow_fallback=False)
    )
    decision = decide(error(category), job, alternatives=alternatives, rand=0.5)
    assert decision.action in {Action.RETRY_SAME, Action.FAIL}


@pytest.mark.parametrize("category", [C.AUTHENTICATION, C.QUOTA_EXCEEDED])
def test_auth_and_quota_switch_when_another_provider_can_take_the_job(category: C) -> None:
    """Waiting will not fix a bad key or an empty account: go elsewhere at once."""
    decision = decide(error(category), failed_on("heygen"), alternatives=True, rand=0.5)
    assert decision.action is Action.SWITCH_PROVIDER


@pytest.mark.parametrize("category", [C.AUTHENTICATION, C.QUOTA_EXCEEDED])
def test_auth_and_quota_fail_when_no_other_provider_can_take_the_job(category: C) -> None:
    """With nowhere to go, retrying the same provider is pointless: fail."""
    decision = decide(error(category), failed_on("heygen"), alternatives=False, rand=0.5)
    assert decision.action is Action.FAIL


@pytest.mark.parametrize("category", [C.TRANSIENT, C.NETWORK_ERROR, C.TIMEOUT, C.SYSTEM_ERROR])
def test_a_retry_category_retries_the_same_provider_up_to_max_retries_then_switches(
    category: C,
) -> None:
    """Consecutive failures on one provider use its retries, then the job moves on."""
    max_retries = STRATEGIES[category].max_retries
    actions = [
        decide(
            error(category),
            failed_on(*["heygen"] * tries, outcome=category, max_attempts=10),
            alternatives=True,
            rand=0.5,
        ).action
        for tries in range(1, max_retries + 2)
    ]
    assert actions == [Action.RETRY_SAME] * max_retries + [Action.SWITCH_PROVIDER]


def test_retries_count_only_consecutive_failures_on_the_provider() -> None:
    """A failure on another provider in between starts the count afresh."""
    job = failed_on("heygen", "heygen", "did", "heygen", outcome=C.TRANSIENT, max_attempts=10)
    decision = decide(error(C.TRANSIENT), job, alternatives=True, rand=0.5)
    assert decision.action is Action.RETRY_SAME


def test_a_switch_category_without_alternatives_retries_the_same_provider() -> None:
    """A rate-limited job with nowhere else to go comes back after the provider's wait."""
    decision = decide(
        error(C.RATE_LIMIT, retry_after=30.0), failed_on("heygen"), alternatives=False, rand=0.5
    )
    assert decision.action is Action.RETRY_SAME
    assert decision.delay_s == 30.0
    assert "no other provider" in decision.reason


@pytest.mark.parametrize("category", list(C))
@given(
    retry_after=st.floats(min_value=0.0, max_value=300.0),
    rand=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    tries=st.integers(min_value=1, max_value=3),
    alternatives=st.booleans(),
)
def test_going_back_to_the_same_provider_never_undercuts_retry_after(
    category: C, retry_after: float, rand: float, tries: int, alternatives: bool
) -> None:
    """Any decision that returns to the failed provider waits at least its Retry-After."""
    job = failed_on(*["heygen"] * tries, outcome=category, max_attempts=10)
    decision = decide(
        error(category, retry_after=retry_after), job, alternatives=alternatives, rand=rand
    )
    if decision.action in SAME_PROVIDER:
        assert decision.delay_s >= retry_after


def test_retry_after_is_a_floor_for_a_retry_same_category() -> None:
    """A transient error with Retry-After 45 s waits 45 s, not the 2 s backoff."""
    decision = decide(
        error(C.TRANSIENT, retry_after=45.0), failed_on("heygen"), alternatives=True, rand=0.5
    )
    assert decision.action is Action.RETRY_SAME
    assert decision.delay_s == 45.0


@pytest.mark.parametrize("category", [C.TRANSIENT, C.RATE_LIMIT, C.PROVIDER_OVERLOAD])
def test_a_wait_beyond_max_wait_without_alternative_fails_naming_the_wait(category: C) -> None:
    """Retry-After longer than max_wait_s with nowhere else to go fails, saying why."""
    policy = RecoveryPolicy(max_wait_s=300.0)
    decision = decide(
        error(category, retry_after=900.0),
        failed_on("heygen"),
        policy,
        alternatives=False,
        rand=0.5,
    )
    assert decision.action is Action.FAIL
    assert "900 s" in decision.reason


@pytest.mark.parametrize("category", [C.TRANSIENT, C.RATE_LIMIT, C.PROVIDER_OVERLOAD])
def test_a_wait_beyond_max_wait_with_an_alternative_switches(category: C) -> None:
    """Rather than wait too long, another provider takes the job."""
    decision = decide(
        error(category, retry_after=900.0), failed_on("heygen"), alternatives=True, rand=0.5
    )
    assert decision.action is Action.SWITCH_PROVIDER


def test_a_failed_render_goes_elsewhere_as_asked_when_another_provider_can_take_it() -> None:
    """The user keeps the video they asked for while another provider can make it."""
    for tries in (1, 2):
        job = failed_on(*["heygen"] * tries, outcome=C.PROCESSING_ERROR)
        decision = decide(error(C.PROCESSING_ERROR), job, alternatives=True, rand=0.5)
        assert decision.action is Action.SWITCH_PROVIDER


def test_with_nowhere_else_to_go_a_failed_render_is_retried_then_degraded() -> None:
    """No other provider: retry once as asked, then ask for less while a rung is left."""
    first = decide(
        error(C.PROCESSING_ERROR),
        failed_on("heygen", outcome=C.PROCESSING_ERROR),
        alternatives=False,
        rand=0.5,
    )
    assert first.action is Action.RETRY_SAME
    second = decide(
        error(C.PROCESSING_ERROR),
        failed_on("heygen", "heygen", outcome=C.PROCESSING_ERROR),
        alternatives=False,
        rand=0.5,
    )
    assert second.action is Action.DEGRADE


@pytest.mark.parametrize(
    ("alternatives", "tries", "expected"),
    [
        (True, 1, Action.SWITCH_PROVIDER),
        (False, 1, Action.RETRY_SAME),
        (True, 2, Action.SWITCH_PROVIDER),
        (False, 2, Action.FAIL),
    ],
)
def test_processing_error_at_the_bottom_of_the_ladder_retries_switches_or_fails(
    alternatives: bool, tries: int, expected: Action
) -> None:
    """Nothing left to give up: another provider, else one retry as asked, then failure."""
    job = failed_on(*["heygen"] * tries, outcome=C.PROCESSING_ERROR, options=BOTTOM)
    decision = decide(error(C.PROCESSING_ERROR), job, alternatives=alternatives, rand=0.5)
    assert decision.action is expected


def test_without_alternatives_a_passing_failure_uses_the_whole_attempt_budget() -> None:
    """With nowhere else to go, a transient error keeps retrying until attempts run out."""
    actions = [
        decide(
            error(C.TRANSIENT),
            failed_on(*["heygen"] * tries, outcome=C.TRANSIENT, max_attempts=6),
            alternatives=False,
            rand=0.5,
        ).action
        for tries in range(1, 7)
    ]
    assert actions == [Action.RETRY_SAME] * 5 + [Action.FAIL]


def test_retries_are_counted_per_category() -> None:
    """An earlier transient error does not use up the retry of a later, different failure."""
    job = failed_on("heygen", "heygen", outcome=C.TRANSIENT, max_attempts=10)
    job = jobs.begin_attempt(
        job, provider_id="heygen", options=job.options, degradations=(), reasoning=(), now=NOW
    )
    job = jobs.record_failure(job, category=C.TIMEOUT.value, message="m", now=NOW)
    decision = decide(error(C.TIMEOUT), job, alternatives=True, rand=0.5)
    assert decision.action is Action.RETRY_SAME


def test_recover_on_switch_excludes_the_failed_provider() -> None:
    """A switch schedules the job elsewhere and never back to the provider that failed."""
    job = failed_on("did")
    job = jobs.begin_attempt(
        job, provider_id="heygen", options=job.options, degradations=(), reasoning=(), now=NOW
    )
    after, decision = recover(
        job, error(C.AUTHENTICATION), now=NOW + 1, alternatives=True, rand=0.5
    )
    assert decision.action is Action.SWITCH_PROVIDER
    assert "heygen" in after.excluded
    assert after.preferred_provider is None
    assert after.next_action_at == NOW + 1 + decision.delay_s
    assert after.history[-1].outcome == "authentication"
    assert after.status is JobStatus.PROCESSING


def test_recover_on_retry_prefers_the_same_provider_after_the_delay() -> None:
    """A retry keeps the provider eligible and asks for it first."""
    job = jobs.begin_attempt(
        failed_on(),
        provider_id="heygen",
        options=VideoOptions(),
        degradations=(),
        reasoning=(),
        now=NOW,
    )
    after, decision = recover(
        job, error(C.TRANSIENT, retry_after=20.0), now=NOW, alternatives=True, rand=0.5
    )
    assert decision.action is Action.RETRY_SAME
    assert after.preferred_provider == "heygen"
    assert "heygen" not in after.excluded
    assert after.next_action_at == NOW + 20.0


def test_recover_on_degrade_records_the_step_and_lowers_the_options() -> None:
    """A degradation is never silent: the step is on the job and the options changed."""
    asked = VideoOptions(duration=Duration.LONG, features=frozenset({Feature.VOICE}))
    job = jobs.begin_attempt(
        failed_on("heygen", outcome=C.PROCESSING_ERROR, options=asked),
        provider_id="heygen",
        options=asked,
        degradations=(),
        reasoning=(),
        now=NOW,
    )
    after, decision = recover(job, error(C.PROCESSING_ERROR), now=NOW, alternatives=False, rand=0.5)
    assert decision.action is Action.DEGRADE
    assert after.degradations == (Degradation.DURATION_LONG_TO_MEDIUM,)
    assert after.degraded
    assert after.options.duration is Duration.MEDIUM
    assert after.preferred_provider == "heygen"


@pytest.mark.parametrize(
    ("category", "retryable"),
    [(c, c in RETRYABLE_LATER) for c in (C.AUTHENTICATION, C.RATE_LIMIT, C.TRANSIENT)],
)
def test_recover_on_fail_carries_the_error_code_and_whether_to_try_later(
    category: C, retryable: bool
) -> None:
    """A failed job says what went wrong and whether a later retry could succeed."""
    job = jobs.begin_attempt(
        failed_on(max_attempts=1),
        provider_id="heygen",
        options=VideoOptions(),
        degradations=(),
        reasoning=(),
        now=NOW,
    )
    after, decision = recover(accepted(job), error(category), now=NOW, alternatives=True, rand=0.5)
    assert decision.action is Action.FAIL
    assert after.status is JobStatus.FAILED
    assert after.error is not None
    assert after.error.code == category.value
    assert after.error.retryable is retryable
    assert after.error.message == decision.reason


def test_retryable_later_marks_the_waitable_categories() -> None:
    """Auth, quota, API, processing and quality failures will not pass by waiting."""
    assert {C.AUTHENTICATION, C.QUOTA_EXCEEDED, C.API_FAILURE} & RETRYABLE_LATER == set()
    assert {C.TRANSIENT, C.RATE_LIMIT, C.TIMEOUT} <= RETRYABLE_LATER


def test_a_failed_render_stays_as_asked_rather_than_move_to_a_provider_that_must_degrade_it() -> (
    None
):
    """If the only other provider would drop part of the request, retry as asked first."""
    job = failed_on("heygen", outcome=C.PROCESSING_ERROR)
    decision = decide(error(C.PROCESSING_ERROR), job, alternatives=True, as_asked=False, rand=0.5)
    assert decision.action is Action.RETRY_SAME


# A passing failure rests the provider instead of giving it up


@pytest.mark.parametrize("category", [C.RATE_LIMIT, C.PROVIDER_OVERLOAD])
def test_a_switch_after_a_passing_failure_rests_the_provider_and_keeps_it(category: C) -> None:
    """Before, the provider was excluded for the rest of the job, even when it was the first
    to serve again."""
    job = jobs.begin_attempt(
        failed_on(), provider_id="heygen", options=VideoOptions(), degradations=(),
        reasoning=(), now=NOW,
    )  # fmt: skip
    after, decision = recover(
        job, error(category, retry_after=42.0), now=NOW + 1, alternatives=True, rand=0.5
    )
    assert decision.action is Action.SWITCH_PROVIDER
    assert "heygen" not in after.excluded
    ((who, until),) = after.resting
    assert who == "heygen"
    assert decision.rest_s is not None
    assert until == NOW + 1 + max(decision.rest_s, 5.0)
    if category is C.RATE_LIMIT:
        assert until >= NOW + 1 + 42.0  # its Retry-After is never undercut


def test_a_failure_that_will_not_pass_still_gives_the_provider_up() -> None:
    after, decision = recover(
        failed_on("heygen", outcome=C.QUOTA_EXCEEDED),
        error(C.QUOTA_EXCEEDED),
        now=NOW + 1,
        alternatives=True,
        rand=0.5,
    )
    assert decision.action is Action.SWITCH_PROVIDER
    assert decision.rest_s is None
    assert "heygen" in after.excluded
    assert after.resting == ()


def test_rests_that_are_over_are_forgotten_and_a_new_one_replaces_the_old() -> None:
    job = failed_on("did")
    job = jobs.retry_later(job, at=NOW, prefer=None, exclude=None, rest=("did", NOW + 10), now=NOW)
    job = jobs.retry_later(
        job, at=NOW, prefer=None, exclude=None, rest=("heygen", NOW + 30), now=NOW
    )
    assert dict(job.resting) == {"did": NOW + 10, "heygen": NOW + 30}
    later = jobs.retry_later(
        job, at=NOW + 20, prefer=None, exclude=None, rest=("heygen", NOW + 60), now=NOW + 20
    )
    assert later.resting == (("heygen", NOW + 60),)


def test_retry_counts_against_the_original_design() -> None:
    """TRANSIENT retries 3 as in the original; API_FAILURE 1 (original 2), for
    the measured reason in the table's comment."""
    from shared.core.recovery import STRATEGIES

    assert STRATEGIES[C.TRANSIENT].max_retries == 3
    assert STRATEGIES[C.API_FAILURE].max_retries == 1


def test_refused_submits_do_not_use_up_the_render_budget() -> None:
    """Four 503s on submits (no render made) leave the whole budget of four renders."""
    job = failed_on(*["heygen"] * 4, outcome=C.PROVIDER_OVERLOAD, rendered=False)
    decision = decide(error(C.PROVIDER_OVERLOAD), job, alternatives=False, rand=0.5)
    assert jobs.renders(job) == 0
    assert decision.action is Action.RETRY_SAME


def test_a_no_fallback_job_waits_out_refused_api_failures_with_a_floor() -> None:
    """500s on submits of a job that may not switch are retried past the table's one retry,
    never sooner than the minimum rest."""
    job = failed_on("heygen", "heygen", options=VideoOptions(allow_fallback=False), rendered=False)
    decision = decide(error(C.API_FAILURE), job, alternatives=True, rand=0.0)
    assert decision.action is Action.RETRY_SAME
    assert decision.delay_s >= 5.0


def test_a_failed_render_still_uses_the_budget_and_api_failures_after_it_fail() -> None:
    """A 500 after a render was accepted (the render is paid) keeps the table's one retry."""
    job = failed_on("heygen", "heygen", options=VideoOptions(allow_fallback=False))
    decision = decide(error(C.API_FAILURE), job, alternatives=False, rand=0.5)
    assert decision.action is Action.FAIL


def test_a_refusal_of_the_request_itself_is_never_retried_on_the_same_provider() -> None:
    """A 4xx about the request moves the job elsewhere, or fails it; it never asks again."""
    refusal = ProviderError(
        C.API_FAILURE, "HTTP 400 script", provider_id="heygen", status=400, about_request=True
    )
    job = failed_on("heygen", rendered=False, options=VideoOptions(allow_fallback=False))
    assert decide(refusal, job, alternatives=True, rand=0.5).action is Action.FAIL
    anywhere = failed_on("heygen", rendered=False)
    assert decide(refusal, anywhere, alternatives=True, rand=0.5).action is Action.SWITCH_PROVIDER
