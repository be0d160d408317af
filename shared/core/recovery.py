"""Recovery policy: one table category -> strategy, and the pure decision of what a job does
after a provider error (retry the same provider after a delay, switch, degrade, or fail)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from shared.core import degradation, jobs
from shared.core.backoff import BackoffKind, BackoffPolicy, delay
from shared.core.errors import ErrorCategory as C
from shared.core.errors import ProviderError
from shared.core.jobs import Job, JobError


class Action(StrEnum):
    RETRY_SAME = "retry_same_provider"
    SWITCH_PROVIDER = "switch_provider"
    DEGRADE = "graceful_degradation"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class Strategy:
    """``max_retries`` bounds retries on the same provider; ``action`` is what comes first."""

    action: Action
    max_retries: int
    backoff: BackoffKind
    counts_against_breaker: bool


_E, _L, _F, _RA, _N = (
    BackoffKind.EXPONENTIAL,
    BackoffKind.LINEAR,
    BackoffKind.FIXED,
    BackoffKind.RETRY_AFTER,
    BackoffKind.NONE,
)

# TRANSIENT retries 3 and API_FAILURE 1 (the original design: 2). API_FAILURE switches provider
# first, so its count matters only when no other provider can take the job, and each extra
# retry is one more refused call on a provider that just failed: its breaker reopens with a
# doubled recovery timeout (BENCHMARKS.md, "Recovery table", has the measurements).
STRATEGIES: Mapping[C, Strategy] = MappingProxyType(
    {
        # Passing hiccups: the same provider will most likely answer next time.
        C.TRANSIENT: Strategy(Action.RETRY_SAME, 3, _E, True),
        C.NETWORK_ERROR: Strategy(Action.RETRY_SAME, 2, _E, True),
        # Safe to resubmit: the idempotency key keeps a lost answer from being paid twice.
        C.TIMEOUT: Strategy(Action.RETRY_SAME, 1, _E, True),
        # The provider told us to go away: go elsewhere, or come back no earlier than asked.
        C.RATE_LIMIT: Strategy(Action.SWITCH_PROVIDER, 2, _RA, True),
        C.PROVIDER_OVERLOAD: Strategy(Action.SWITCH_PROVIDER, 1, _L, True),
        # Will not get better by waiting minutes: switch, and open the breaker at once.
        C.QUOTA_EXCEEDED: Strategy(Action.SWITCH_PROVIDER, 0, _N, True),
        C.AUTHENTICATION: Strategy(Action.SWITCH_PROVIDER, 0, _N, True),
        C.API_FAILURE: Strategy(Action.SWITCH_PROVIDER, 1, _E, True),
        # The render failed: elsewhere as asked if possible, else again, else ask for less.
        C.PROCESSING_ERROR: Strategy(Action.DEGRADE, 1, _F, True),
        # A video came back but is not good enough: another provider may do better.
        C.QUALITY_FAILURE: Strategy(Action.SWITCH_PROVIDER, 1, _F, False),
        # Our own fault: retry, and never hold it against the provider.
        C.SYSTEM_ERROR: Strategy(Action.RETRY_SAME, 2, _E, False),
    }
)

# Refused submits that may pass although the table does not retry them later: a 500 on a
# submit that made no render (a job that may not switch waits it out, as for an overload).
REFUSED_LATER = frozenset({C.API_FAILURE})
MIN_REST_S = 5.0  # the shortest a job leaves a provider alone after a passing failure
RETRYABLE_LATER = frozenset(
    {C.TRANSIENT, C.NETWORK_ERROR, C.TIMEOUT, C.RATE_LIMIT, C.PROVIDER_OVERLOAD, C.SYSTEM_ERROR}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoveryPolicy:
    """``max_wait_s``: the longest provider ``Retry-After`` worth waiting for on the same
    provider; ``switch_delay_s``: the pause before trying another provider."""

    strategies: Mapping[C, Strategy] = field(default_factory=lambda: STRATEGIES)
    backoff: BackoffPolicy = BackoffPolicy()
    max_wait_s: float = 300.0
    switch_delay_s: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    action: Action
    delay_s: float
    reason: str
    strategy: Strategy
    # A switch after a passing failure: how long the job leaves that provider alone before it
    # may come back to it (None: never, the failure will not pass).
    rest_s: float | None = None


def decide(
    error: ProviderError,
    job: Job,
    policy: RecoveryPolicy = RecoveryPolicy(),
    *,
    alternatives: bool,
    rand: float,
    as_asked: bool | None = None,
) -> Decision:
    """What ``job`` does after ``error`` on its current attempt.

    ``alternatives`` says whether another provider could take the job now, ``as_asked`` whether
    one could without degrading it (None: same as ``alternatives``); ``rand`` in [0, 1)
    feeds the backoff jitter. The job's attempt budget and ``allowFallback`` (which also gates
    degradation) always win; a provider's ``Retry-After`` is never undercut.
    """
    strategy = policy.strategies[error.category]
    cat = error.category.value
    if jobs.renders(job) >= job.max_attempts:
        return Decision(
            action=Action.FAIL,
            delay_s=0.0,
            reason=f"{cat}; all {job.max_attempts} renders used",
            strategy=strategy,
        )
    # A submit the provider refused made no render and cost nothing: it does not use up the
    # render budget, and with nowhere else to go a passing refusal is tried again (spaced by
    # the backoff and the breaker) until the deadline. A refusal about the request itself
    # would be refused again: it is never retried on the same provider.
    refused = refused_submit(error, job)
    tries = max(1, job.tries_on(error.provider_id, cat))
    retries_left = strategy.max_retries - (tries - 1)
    fallback = job.options.allow_fallback
    can_switch = fallback and alternatives
    wait_ok = error.retry_after is None or error.retry_after <= policy.max_wait_s

    def retry_same(why: str) -> Decision:
        wait = delay(
            strategy.backoff, tries, rand=rand, policy=policy.backoff, retry_after=error.retry_after
        )
        if refused and tries > strategy.max_retries:
            wait = max(wait, MIN_REST_S)  # past the table's retries: no tight refusal loop
        return Decision(action=Action.RETRY_SAME, delay_s=wait, reason=why, strategy=strategy)

    def switch(why: str) -> Decision:
        rest = None
        if error.category in RETRYABLE_LATER:
            rest = delay(
                strategy.backoff,
                tries,
                rand=rand,
                policy=policy.backoff,
                retry_after=error.retry_after,
            )
        return Decision(
            action=Action.SWITCH_PROVIDER,
            delay_s=policy.switch_delay_s,
            reason=why,
            strategy=strategy,
            rest_s=rest,
        )

    # A failed render: another provider gets the request when one can make it as asked;
    # otherwise the same provider tries again, then the job moves or asks for less.
    if strategy.action is Action.DEGRADE and can_switch and as_asked is not False:
        return switch(f"{cat}: switching provider")
    if strategy.action is Action.DEGRADE and retries_left > 0 and wait_ok:
        return retry_same(f"{cat}: retry {tries} of {strategy.max_retries} as asked")
    if strategy.action is Action.DEGRADE and fallback and degradation.next_step(job.options):
        return Decision(
            action=Action.DEGRADE,
            delay_s=delay(
                strategy.backoff,
                tries,
                rand=rand,
                policy=policy.backoff,
                retry_after=error.retry_after,  # a degraded retry still goes to the same provider
            ),
            reason=f"{cat}: asking for less",
            strategy=strategy,
        )
    if (
        strategy.action is Action.RETRY_SAME
        and retries_left > 0
        and wait_ok
        and not error.about_request
    ):
        return retry_same(f"{cat}: retry {tries} of {strategy.max_retries} on the same provider")
    if can_switch:
        return switch(f"{cat}: switching provider")
    if error.about_request:
        return Decision(
            action=Action.FAIL,
            delay_s=0.0,
            reason=f"{cat}: the provider refused the request itself ({error.message})",
            strategy=strategy,
        )
    passing = error.category in RETRYABLE_LATER or (refused and error.category in REFUSED_LATER)
    if (retries_left > 0 or passing) and wait_ok:
        # With nowhere else to go, a passing failure is worth the rest of the attempt budget.
        why = "no other provider can take the job" if fallback else "fallback not allowed"
        return retry_same(f"{cat}: {why}; retrying the same provider")
    why = (
        f"{cat}: provider asked to wait {error.retry_after:g} s"
        if not wait_ok and error.retry_after is not None
        else f"{cat}: no recovery left"
    )
    return Decision(action=Action.FAIL, delay_s=0.0, reason=why, strategy=strategy)


def counts_against_breaker(error: ProviderError) -> bool:
    """Whether ``error`` counts against its provider's breaker: as the table says, except a
    refusal of the request itself, which is about the job, not the provider."""
    return STRATEGIES[error.category].counts_against_breaker and not error.about_request


def refused_submit(error: ProviderError, job: Job) -> bool:
    """Whether ``error`` ended a submit the provider refused: no render id came back and the
    provider cannot have started a render (``charged`` is false)."""
    last = job.history[-1] if job.history else None
    return not error.charged and (last is None or last.provider_job_id is None)


def recover(
    job: Job,
    error: ProviderError,
    *,
    now: float,
    policy: RecoveryPolicy = RecoveryPolicy(),
    alternatives: bool,
    rand: float,
    as_asked: bool | None = None,
) -> tuple[Job, Decision]:
    """Close the failed attempt, decide, and apply the decision to the job."""
    failed = jobs.record_failure(job, category=error.category.value, message=error.message, now=now)
    decision = decide(
        error, failed, policy, alternatives=alternatives, rand=rand, as_asked=as_asked
    )
    at = now + decision.delay_s
    match decision.action:
        case Action.RETRY_SAME:
            after = jobs.retry_later(failed, at=at, prefer=error.provider_id, exclude=None, now=now)
        case Action.SWITCH_PROVIDER if decision.rest_s is not None:
            # A passing failure: elsewhere now, and back to this provider after a rest if
            # the others cannot take the job by then.
            rest = (error.provider_id, now + max(decision.rest_s, MIN_REST_S))
            after = jobs.retry_later(failed, at=at, prefer=None, exclude=None, rest=rest, now=now)
        case Action.SWITCH_PROVIDER:
            after = jobs.retry_later(failed, at=at, prefer=None, exclude=error.provider_id, now=now)
        case Action.DEGRADE:
            step = degradation.next_step(failed.options)
            assert step is not None  # decide() only degrades when a rung is left
            after = jobs.degrade(failed, options=step[0], step=step[1], at=at, now=now)
        case Action.FAIL:
            retryable = error.category in RETRYABLE_LATER
            job_error = JobError(
                code=error.category.value, message=decision.reason, retryable=retryable
            )
            after = jobs.fail(failed, error=job_error, now=now)
    return after, decision
