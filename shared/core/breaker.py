"""The circuit breaker of one provider as a pure state machine (DESIGN section 8): every function
takes the state, the time and the policy, and returns the new state with the transition, if any.

    closed --(failures in window | slow calls | auth/quota at once)--> open
    open --(recovery timeout elapsed, a probe permit is taken)--> half_open
    half_open --(success_threshold probe successes)--> closed
    half_open --(a probe fails)--> open (the recovery timeout grows with each opening)
    manual forced_open / forced_closed override everything until reset; a forced open may
    carry an ``until`` (a maintenance window): past it, the breaker admits probes again.

Stores keep the state; in Firestore the window buckets are incremented apart from the state
document, and `evaluate` decides on them inside a transaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

from shared.core.errors import ErrorCategory


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Override(StrEnum):
    FORCED_OPEN = "forced_open"
    FORCED_CLOSED = "forced_closed"


class ManualAction(StrEnum):
    OPEN = "open"
    CLOSE = "close"
    RESET = "reset"


class Admission(StrEnum):
    ALLOW = "allow"  # closed (or forced closed): call freely
    PROBE = "probe"  # a probe permit must be acquired first (open past its timeout, or half-open)
    REJECT = "reject"


_CLOSED, _OPEN, _HALF_OPEN = CircuitState.CLOSED, CircuitState.OPEN, CircuitState.HALF_OPEN
_ALLOW, _PROBE, _REJECT = Admission.ALLOW, Admission.PROBE, Admission.REJECT
_FORCED_OPEN = Override.FORCED_OPEN


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerPolicy:
    """Tunables of one provider's breaker. Opening needs both ``failure_threshold`` failures
    within ``window_s`` and a failure ratio of at least ``failure_rate_threshold`` among the calls
    of the last ``rate_window_s`` (at least ``rate_min_calls`` of them, reaching further back when
    traffic is thin) — so a busy, healthy provider with a few random failures stays
    closed, and one that starts failing outright opens quickly however busy it was before.
    The recovery timeout after the n-th consecutive opening is
    ``min(max_recovery_timeout_s, recovery_timeout_s * growth ** (n-1))``.
    """

    failure_threshold: int = 5
    failure_rate_threshold: float = 0.5
    window_s: float = 300.0
    rate_window_s: float = 10.0
    rate_min_calls: int = 10
    bucket_s: float = 5.0
    slow_call_s: float = 60.0
    recovery_timeout_s: float = 60.0
    recovery_growth: float = 2.0
    max_recovery_timeout_s: float = 900.0
    half_open_max_calls: int = 3
    success_threshold: int = 3
    probe_timeout_s: float = 120.0
    immediate_open: frozenset[ErrorCategory] = frozenset(
        {ErrorCategory.AUTHENTICATION, ErrorCategory.QUOTA_EXCEEDED}
    )

    def recovery_timeout(self, open_count: int) -> float:
        grown = self.recovery_timeout_s * self.recovery_growth ** max(0, open_count - 1)
        return min(self.max_recovery_timeout_s, grown)


POLICIES: dict[str, BreakerPolicy] = {
    "heygen": BreakerPolicy(failure_threshold=5, slow_call_s=60.0, recovery_timeout_s=60.0),
    "runwayml": BreakerPolicy(failure_threshold=4, slow_call_s=80.0, recovery_timeout_s=90.0),
    "did": BreakerPolicy(failure_threshold=4, slow_call_s=60.0, recovery_timeout_s=60.0),
}


@dataclass(frozen=True, slots=True)
class Bucket:
    """Outcome counts of one ``bucket_s`` slice of the window, keyed by its start time, and
    (when a store keeps them) the times of its latest counted failure and success."""

    start: float
    calls: int = 0
    failures: int = 0
    slow: int = 0
    last_failure_at: float | None = None
    last_success_at: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ManualOverride:
    """``until``: the end of a maintenance window (forced open only); None holds until reset."""

    mode: Override
    by: str
    reason: str
    at: float
    until: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerState:
    provider_id: str
    state: CircuitState = CircuitState.CLOSED
    buckets: tuple[Bucket, ...] = ()
    opened_at: float | None = None
    next_attempt_at: float | None = None
    open_count: int = 0
    permits: tuple[float, ...] = ()  # grant times of half-open probes not yet reported
    probe_successes: int = 0
    override: ManualOverride | None = None
    last_failure_at: float | None = None
    last_success_at: float | None = None
    last_reason: str = ""
    # Outcomes counted before this time are history: set when the breaker closes or is reset, so
    # buckets kept apart from the state (Firestore) cannot reopen it with old failures.
    counts_since: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    provider_id: str
    from_state: CircuitState
    to_state: CircuitState
    reason: str
    at: float
    by: str | None = None  # who, for manual transitions


@dataclass(frozen=True, slots=True)
class Step:
    state: BreakerState
    transition: Transition | None = None


def user_allowance(policy: BreakerPolicy) -> int:
    """How many of a breaker's failures in its window one user's jobs may add: one fewer than
    opening takes, so no single user (a script every provider refuses, a bot) opens a
    provider's circuit for everyone; failures beyond it are logged, not counted. Health probes
    and other users still count in full."""
    return max(1, policy.failure_threshold - 1)


def share_window(policy: BreakerPolicy, now: float) -> int:
    """The window a user's counted failures fall in (``window_s`` long, aligned); a user's
    share is this window's count plus the previous one's, which covers any sliding window."""
    return int(now // policy.window_s)


def within_share(counted: int, policy: BreakerPolicy) -> bool:
    """Whether a user's failure may still count, ``counted`` being theirs already counted in
    this window and the one before (this one included)."""
    return counted <= user_allowance(policy)


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """One finished call. ``counts`` is the recovery table's verdict for the failure category;
    ``probe`` says the call held a half-open permit, and ``permit`` which one (its grant time,
    from `Grant.permit`): a probe whose permit is no longer out — reclaimed, or from an earlier
    half-open episode — is stale and decides nothing. Without ``permit`` the oldest is freed."""

    success: bool
    duration_s: float = 0.0
    category: ErrorCategory | None = None
    counts: bool = True
    probe: bool = False
    permit: float | None = None


@dataclass(frozen=True, slots=True)
class WindowCounts:
    calls: int
    failures: int
    slow: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """What ``circuit_breaker_states/{provider}`` shows beside the state (the original fields):
    the counts of the current window since the last close or reset, and the latest times."""

    calls: int
    failures: int
    slow: int
    last_failure_at: float | None
    last_success_at: float | None

    @property
    def successes(self) -> int:
        return self.calls - self.failures


@dataclass(frozen=True, slots=True)
class Grant:
    """``permit``: the grant time of the probe permit taken, to report with the outcome."""

    step: Step
    granted: bool
    probe: bool = False
    permit: float | None = None


def admission(state: BreakerState, now: float, policy: BreakerPolicy) -> Admission:
    """What a caller holding a cached ``state`` may do at ``now``. Cheap: the hot path
    (enum members are read from module constants: class attribute access is slow on 3.11)."""
    override = state.override
    if override is not None:
        if override.mode is not _FORCED_OPEN:
            return _ALLOW
        if override.until is None or now < override.until:
            return _REJECT
        return _PROBE  # the maintenance window is over: probe as a recovering breaker does
    current = state.state
    if current is _CLOSED:
        return _ALLOW
    if current is _OPEN:
        due = state.next_attempt_at
        return _PROBE if due is None or now >= due else _REJECT
    live = _live_permits(state.permits, now, policy)
    return _PROBE if len(live) < policy.half_open_max_calls else _REJECT


def acquire(state: BreakerState, *, now: float, policy: BreakerPolicy) -> Grant:
    """Ask to make one call. Closed admits freely; open past its timeout turns half-open and
    grants the first probe; half-open grants while fewer than ``half_open_max_calls`` permits are
    out (permits not reported within ``probe_timeout_s`` are reclaimed). Run transactionally."""
    verdict = admission(state, now, policy)
    if verdict is Admission.ALLOW:
        return Grant(Step(state), granted=True)
    if verdict is Admission.REJECT:
        return Grant(Step(state), granted=False)
    if state.state is CircuitState.OPEN:
        ended = state.override is not None  # admission said PROBE: its window is over
        half = replace(
            state,
            state=CircuitState.HALF_OPEN,
            permits=(now,),
            probe_successes=0,
            override=None,
            last_reason="maintenance window over" if ended else "recovery timeout elapsed",
        )
        return Grant(
            Step(half, _transition(state, half, now)), granted=True, probe=True, permit=now
        )
    permits = (*_live_permits(state.permits, now, policy), now)
    return Grant(Step(replace(state, permits=permits)), granted=True, probe=True, permit=now)


def add_outcome(
    buckets: tuple[Bucket, ...],
    outcome: Outcome,
    *,
    now: float,
    policy: BreakerPolicy,
    since: float | None = None,
) -> tuple[Bucket, ...]:
    """The window with ``outcome`` counted in the bucket of ``now``; expired buckets dropped."""
    start = bucket_start(now, policy, since)
    failed = 0 if outcome.success or not outcome.counts else 1
    slow = 1 if outcome.duration_s >= policy.slow_call_s else 0
    kept = [b for b in buckets if b.start > now - policy.window_s]
    if kept and kept[-1].start == start:
        last = kept[-1]
        kept[-1] = Bucket(start, last.calls + 1, last.failures + failed, last.slow + slow)
    else:
        kept.append(Bucket(start, 1, failed, slow))
    return tuple(kept)


def bucket_start(now: float, policy: BreakerPolicy, since: float | None = None) -> float:
    """The start of the bucket ``now`` is counted in. The first bucket after a reset at ``since``
    (``counts_since``) starts at the reset, so the window, which counts buckets from there on,
    never drops outcomes that came after it nor mixes in those before."""
    start = math.floor(now / policy.bucket_s) * policy.bucket_s
    if since is not None and start < since <= now:
        return since
    return start


def window(
    buckets: tuple[Bucket, ...],
    *,
    now: float,
    policy: BreakerPolicy,
    span_s: float | None = None,
    since: float | None = None,
) -> WindowCounts:
    """Counts of the buckets that started within ``span_s`` (default: the whole window) and, when
    ``since`` is given, not before it."""
    cutoff = now - (policy.window_s if span_s is None else span_s)
    first = since if since is not None else -math.inf
    calls = failures = slow = 0
    for b in buckets:
        if b.start > cutoff and b.start >= first:
            calls += b.calls
            failures += b.failures
            slow += b.slow
    return WindowCounts(calls, failures, slow)


def summarize(
    state: BreakerState, buckets: tuple[Bucket, ...], *, now: float, policy: BreakerPolicy
) -> Summary:
    """The summary of ``state`` whose window is ``buckets`` (the state's own when empty)."""
    counted = buckets or state.buckets
    counts = window(counted, now=now, policy=policy, since=state.counts_since)
    return Summary(
        calls=counts.calls,
        failures=counts.failures,
        slow=counts.slow,
        last_failure_at=_latest(state.last_failure_at, *(b.last_failure_at for b in counted)),
        last_success_at=_latest(state.last_success_at, *(b.last_success_at for b in counted)),
    )


def _latest(*times: float | None) -> float | None:
    known = [t for t in times if t is not None]
    return max(known) if known else None


def record(state: BreakerState, outcome: Outcome, *, now: float, policy: BreakerPolicy) -> Step:
    """Count ``outcome`` and apply what it implies."""
    buckets = add_outcome(state.buckets, outcome, now=now, policy=policy, since=state.counts_since)
    counted = replace(state, buckets=buckets)
    if outcome.success:
        counted = replace(counted, last_success_at=now)
    elif outcome.counts:
        counted = replace(counted, last_failure_at=now)
    return judge(counted, outcome, now=now, policy=policy)


def judge(state: BreakerState, outcome: Outcome, *, now: float, policy: BreakerPolicy) -> Step:
    """The transition ``outcome`` implies for a state whose window already counts it."""
    if state.override is not None:
        return Step(state)
    slow = outcome.duration_s >= policy.slow_call_s
    failed = not outcome.success and outcome.counts
    if state.state is CircuitState.HALF_OPEN:
        if not outcome.probe:
            return Step(state)
        if outcome.permit is None:
            permits = state.permits[1:]
        elif outcome.permit in state.permits:
            i = state.permits.index(outcome.permit)
            permits = state.permits[:i] + state.permits[i + 1 :]
        else:
            return Step(state)
        if failed or slow:
            why = f"probe {'was slow' if slow and not failed else _failure(outcome)}"
            return _open(replace(state, permits=permits), why, now=now, policy=policy)
        successes = state.probe_successes + 1
        if successes >= policy.success_threshold:
            closed = BreakerState(
                provider_id=state.provider_id,
                last_success_at=now,
                last_failure_at=state.last_failure_at,
                last_reason=f"{successes} probes succeeded",
                counts_since=now,
            )
            return Step(closed, _transition(state, closed, now))
        return Step(replace(state, permits=permits, probe_successes=successes))
    if state.state is CircuitState.OPEN:
        return Step(state)
    if failed and outcome.category in policy.immediate_open:
        return _open(state, f"{_failure(outcome)} opens at once", now=now, policy=policy)
    return evaluate(state, now=now, policy=policy)


def evaluate(state: BreakerState, *, now: float, policy: BreakerPolicy) -> Step:
    """Open a closed breaker whose window holds too many failures or slow calls."""
    if state.override is not None or state.state is not CircuitState.CLOSED:
        return Step(state)
    since = state.counts_since
    counts = window(state.buckets, now=now, policy=policy, since=since)
    recent = _recent(state.buckets, now=now, policy=policy, since=since)
    rate = policy.failure_rate_threshold
    span = f"in {policy.window_s:g} s"
    if counts.failures >= policy.failure_threshold and recent.failures >= rate * recent.calls:
        why = (
            f"{counts.failures} failures of {counts.calls} calls {span}, "
            f"{recent.failures} of the last {recent.calls}"
        )
        return _open(state, why, now=now, policy=policy)
    if counts.slow >= policy.failure_threshold and recent.slow >= rate * recent.calls:
        why = f"{counts.slow} calls slower than {policy.slow_call_s:g} s {span}"
        return _open(state, why, now=now, policy=policy)
    return Step(state)


def _recent(
    buckets: tuple[Bucket, ...], *, now: float, policy: BreakerPolicy, since: float | None
) -> WindowCounts:
    """The calls the failure ratio is taken over: the last ``rate_window_s``, reaching further
    back (bucket by bucket, within the window) until at least ``rate_min_calls`` — so a quiet
    provider is not judged on one or two calls."""
    first = max(now - policy.window_s, since if since is not None else -math.inf)
    calls = failures = slow = 0
    for b in sorted(buckets, key=lambda b: b.start, reverse=True):
        if b.start <= now - policy.window_s or b.start < first:
            break
        if b.start <= now - policy.rate_window_s and calls >= policy.rate_min_calls:
            break
        calls += b.calls
        failures += b.failures
        slow += b.slow
    return WindowCounts(calls, failures, slow)


def force(
    state: BreakerState,
    action: ManualAction,
    *,
    by: str,
    reason: str,
    now: float,
    policy: BreakerPolicy,
    until: float | None = None,
) -> Step:
    """A manual override: open and close hold until reset; reset returns to a clean closed.
    An open with ``until`` (a maintenance window) admits probes again from then on, and jobs
    that have nowhere else to go wait for it (``next_attempt_at``)."""
    why = f"manual {action.value} by {by}: {reason}"
    if until is not None and action is ManualAction.OPEN:
        why += f" (until {until:.0f})"
    if action is ManualAction.RESET:
        after = BreakerState(provider_id=state.provider_id, last_reason=why, counts_since=now)
    else:
        opening = action is ManualAction.OPEN
        mode = Override.FORCED_OPEN if opening else Override.FORCED_CLOSED
        ends = until if opening else None
        after = replace(
            state,
            state=CircuitState.OPEN if opening else CircuitState.CLOSED,
            override=ManualOverride(mode=mode, by=by, reason=reason, at=now, until=ends),
            permits=(),
            probe_successes=0,
            next_attempt_at=ends,
            last_reason=why,
        )
    return Step(after, _transition(state, after, now, by=by, force=True))


def _open(state: BreakerState, why: str, *, now: float, policy: BreakerPolicy) -> Step:
    count = state.open_count + 1
    timeout = policy.recovery_timeout(count)
    opened = replace(
        state,
        state=CircuitState.OPEN,
        opened_at=now,
        next_attempt_at=now + timeout,
        open_count=count,
        permits=(),
        probe_successes=0,
        last_reason=f"{why}; retry in {timeout:g} s",
    )
    return Step(opened, _transition(state, opened, now))


def _transition(
    before: BreakerState,
    after: BreakerState,
    now: float,
    *,
    by: str | None = None,
    force: bool = False,
) -> Transition | None:
    if before.state is after.state and not force:
        return None
    return Transition(
        provider_id=after.provider_id,
        from_state=before.state,
        to_state=after.state,
        reason=after.last_reason,
        at=now,
        by=by,
    )


def _live_permits(
    permits: tuple[float, ...], now: float, policy: BreakerPolicy
) -> tuple[float, ...]:
    if not permits or now - permits[0] < policy.probe_timeout_s:
        return permits
    return tuple(t for t in permits if now - t < policy.probe_timeout_s)


def _failure(outcome: Outcome) -> str:
    return outcome.category.value if outcome.category is not None else "failure"
