"""The circuit breaker as a pure state machine (DESIGN section 8): every transition, by example
and under random sequences of calls, outcomes, time and manual overrides."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from shared.core.breaker import (
    POLICIES,
    Admission,
    BreakerPolicy,
    BreakerState,
    CircuitState,
    ManualAction,
    Outcome,
    Override,
    Step,
    Transition,
    acquire,
    admission,
    evaluate,
    force,
    record,
    window,
)
from shared.core.errors import ErrorCategory as C
from shared.core.recovery import STRATEGIES

CLOSED, OPEN, HALF = CircuitState.CLOSED, CircuitState.OPEN, CircuitState.HALF_OPEN

P = BreakerPolicy(
    failure_threshold=3,
    failure_rate_threshold=0.5,
    window_s=60.0,
    rate_window_s=30.0,
    rate_min_calls=3,
    bucket_s=10.0,
    slow_call_s=30.0,
    recovery_timeout_s=60.0,
    recovery_growth=2.0,
    max_recovery_timeout_s=200.0,
    half_open_max_calls=2,
    success_threshold=2,
    probe_timeout_s=30.0,
)


def fresh() -> BreakerState:
    return BreakerState(provider_id="heygen")


def failure(category: C = C.API_FAILURE, *, probe: bool = False) -> Outcome:
    return Outcome(success=False, duration_s=1.0, category=category, probe=probe)


def success(duration_s: float = 1.0, *, probe: bool = False) -> Outcome:
    return Outcome(success=True, duration_s=duration_s, probe=probe)


def feed(state: BreakerState, outcomes: list[Outcome], *, at: float = 0.0) -> Step:
    """Record ``outcomes`` one per second from ``at``; the last step (and its transition)."""
    step = Step(state)
    for i, outcome in enumerate(outcomes):
        step = record(step.state, outcome, now=at + i, policy=P)
    return step


def opened(at: float = 0.0) -> BreakerState:
    """A breaker just opened by threshold failures, due for a probe at ``at + 60``."""
    state = feed(fresh(), [failure()] * 3, at=at - 2).state
    assert state.state is OPEN
    return state


def half_open(at: float = 60.0) -> BreakerState:
    grant = acquire(opened(at - 60.0), now=at, policy=P)
    assert grant.granted
    assert grant.step.state.state is HALF
    return grant.step.state


# --- closed -> open -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "failures", "expected"),
    [
        (0, 2, CLOSED),  # below the threshold
        (0, 3, OPEN),  # threshold reached, 100 % failing
        (3, 3, OPEN),  # 50 %: at the rate threshold
        (4, 3, CLOSED),  # 3 of 7: busy and mostly healthy
        (10, 5, CLOSED),  # a third failing
        (5, 6, OPEN),
    ],
)
def test_failures_open_the_breaker_only_at_threshold_count_and_share(
    successes: int, failures: int, expected: CircuitState
) -> None:
    """Opening needs failure_threshold failures and at least failure_rate_threshold of calls."""
    step = feed(fresh(), [success()] * successes + [failure()] * failures)
    assert step.state.state is expected


def test_opening_on_failures_says_why_and_when_it_will_probe() -> None:
    """The transition carries the counts; the breaker is due for a probe after the timeout."""
    step = feed(fresh(), [failure()] * 3, at=100.0)
    assert step.transition is not None
    assert (step.transition.from_state, step.transition.to_state) == (CLOSED, OPEN)
    assert "3 failures of 3 calls" in step.transition.reason
    assert step.state.opened_at == 102.0
    assert step.state.next_attempt_at == 102.0 + 60.0
    assert step.state.open_count == 1


@pytest.mark.parametrize(
    ("gap", "expected"),
    [(P.window_s - P.bucket_s, OPEN), (P.window_s + P.bucket_s, CLOSED)],
)
def test_only_failures_within_the_window_count(gap: float, expected: CircuitState) -> None:
    """Two old failures plus a new one open only while the old ones are inside the window."""
    state = feed(fresh(), [failure()] * 2, at=0.0).state
    assert state.state is CLOSED
    step = record(state, failure(), now=1.0 + gap, policy=P)
    assert step.state.state is expected


@pytest.mark.parametrize(("recent_successes", "expected"), [(0, OPEN), (2, OPEN), (4, CLOSED)])
def test_the_failure_ratio_is_taken_over_recent_calls(
    recent_successes: int, expected: CircuitState
) -> None:
    """A provider busy and healthy a minute ago that now fails outright opens all the same."""
    state = feed(fresh(), [success()] * 20, at=0.0).state  # buckets 0 and 10: out of the last 30 s
    step = feed(state, [success()] * recent_successes + [failure()] * 3, at=40.0)
    assert window(step.state.buckets, now=50.0, policy=P).calls == 23 + recent_successes
    assert step.state.state is expected


def test_the_window_counts_forget_expired_buckets() -> None:
    """window() sums only buckets that started within window_s of now."""
    state = feed(fresh(), [failure(), success()], at=0.0).state
    assert window(state.buckets, now=5.0, policy=P).failures == 1
    assert window(state.buckets, now=P.window_s + 1.0, policy=P).calls == 0


def test_the_window_drops_expired_buckets_so_the_state_stays_small() -> None:
    """A day of traffic keeps at most window_s / bucket_s + 1 buckets in the state."""
    state = fresh()
    for t in range(0, 86_400, 7):
        state = record(state, success(), now=float(t), policy=P).state
    assert len(state.buckets) <= P.window_s / P.bucket_s + 1
    assert state.buckets[-1].start == (86_394 // P.bucket_s) * P.bucket_s


def test_slow_calls_open_the_breaker() -> None:
    """Successful but slow calls count: enough of them open it."""
    step = feed(fresh(), [success(duration_s=P.slow_call_s)] * 3)
    assert step.state.state is OPEN
    assert step.transition is not None
    assert "slower than" in step.transition.reason


def test_fast_calls_do_not_count_as_slow() -> None:
    """Calls just under the slow threshold keep it closed."""
    assert feed(fresh(), [success(duration_s=P.slow_call_s - 0.1)] * 10).state.state is CLOSED


@pytest.mark.parametrize("category", sorted(P.immediate_open))
def test_auth_and_quota_failures_open_it_at_once(category: C) -> None:
    """A bad key or an empty account opens the breaker on the first failure."""
    state = feed(fresh(), [success()] * 20).state
    step = record(state, failure(category), now=30.0, policy=P)
    assert step.state.state is OPEN
    assert step.transition is not None
    assert category.value in step.transition.reason


def test_failures_that_do_not_count_never_open_it() -> None:
    """Our own errors (counts=False) are not held against the provider."""
    ours = Outcome(success=False, category=C.SYSTEM_ERROR, counts=False)
    step = feed(fresh(), [ours] * 20)
    assert step.state.state is CLOSED
    assert window(step.state.buckets, now=20.0, policy=P).failures == 0


def test_evaluate_opens_a_closed_breaker_whose_window_is_bad() -> None:
    """evaluate() decides on buckets counted elsewhere (the Firestore path)."""
    counted = feed(fresh(), [failure()] * 2).state
    bad = replace(counted, buckets=feed(fresh(), [failure()] * 4).state.buckets)
    assert evaluate(counted, now=3.0, policy=P).state.state is CLOSED
    assert evaluate(bad, now=3.0, policy=P).state.state is OPEN


# --- open -> half_open --------------------------------------------------------------------------


@pytest.mark.parametrize("now", [0.0, 30.0, 59.9])
def test_an_open_breaker_rejects_before_its_next_attempt(now: float) -> None:
    """Before the recovery timeout nothing goes through, and nothing changes."""
    state = opened(at=0.0)
    assert admission(state, now, P) is Admission.REJECT
    grant = acquire(state, now=now, policy=P)
    assert not grant.granted
    assert grant.step == Step(state)


def test_the_first_acquire_after_the_timeout_turns_it_half_open_with_a_probe() -> None:
    """At next_attempt_at the caller gets a probe permit and the breaker goes half-open."""
    state = opened(at=0.0)
    assert admission(state, 60.0, P) is Admission.PROBE
    grant = acquire(state, now=60.0, policy=P)
    assert grant.granted
    assert grant.probe
    assert grant.step.state.state is HALF
    assert grant.step.state.permits == (60.0,)
    assert grant.step.transition is not None
    assert (grant.step.transition.from_state, grant.step.transition.to_state) == (OPEN, HALF)


def test_outcomes_while_open_change_nothing() -> None:
    """Late answers of calls made before the opening do not move an open breaker."""
    state = opened(at=0.0)
    for outcome in (success(), failure(), failure(C.AUTHENTICATION)):
        assert record(state, outcome, now=10.0, policy=P).state.state is OPEN


# --- half_open ----------------------------------------------------------------------------------


def test_half_open_grants_at_most_half_open_max_calls_permits() -> None:
    """Probes are limited across all callers sharing the state."""
    state = opened(at=0.0)
    granted = 0
    for t in range(10):
        grant = acquire(state, now=60.0 + t, policy=P)
        state = grant.step.state
        if grant.granted:
            granted += 1
            assert grant.probe
    assert granted == P.half_open_max_calls
    assert admission(state, 70.0, P) is Admission.REJECT


def test_success_threshold_probe_successes_close_it_clean() -> None:
    """Enough successful probes close the breaker and forget the bad window."""
    state = half_open(at=60.0)
    state = acquire(state, now=61.0, policy=P).step.state
    first = record(state, success(probe=True), now=62.0, policy=P)
    assert first.transition is None
    assert first.state.state is HALF
    second = record(first.state, success(probe=True), now=63.0, policy=P)
    assert second.state.state is CLOSED
    assert second.transition is not None
    assert (second.transition.from_state, second.transition.to_state) == (HALF, CLOSED)
    assert second.state.permits == ()
    assert second.state.buckets == ()
    assert second.state.open_count == 0


def test_outcomes_of_calls_without_a_probe_permit_do_not_close_it() -> None:
    """Only probes judge a half-open breaker."""
    state = half_open(at=60.0)
    for t in range(5):
        state = record(state, success(), now=61.0 + t, policy=P).state
    assert state.state is HALF
    assert state.probe_successes == 0


@pytest.mark.parametrize(
    "outcome", [failure(probe=True), success(duration_s=P.slow_call_s, probe=True)]
)
def test_a_failed_or_slow_probe_reopens_it_with_a_grown_timeout(outcome: Outcome) -> None:
    """Each consecutive opening waits longer: 60 s, then 120 s."""
    state = half_open(at=60.0)
    step = record(state, outcome, now=65.0, policy=P)
    assert step.state.state is OPEN
    assert step.transition is not None
    assert (step.transition.from_state, step.transition.to_state) == (HALF, OPEN)
    assert "probe" in step.transition.reason
    assert step.state.next_attempt_at == 65.0 + 120.0
    assert step.state.permits == ()


def test_the_recovery_timeout_grows_up_to_its_cap() -> None:
    """Repeated failed probes: 60, 120, 200 (capped), 200 s."""
    state = opened(at=0.0)
    timeouts = [state.next_attempt_at - state.opened_at]  # type: ignore[operator]
    for _ in range(3):
        now = state.next_attempt_at
        assert now is not None
        state = acquire(state, now=now, policy=P).step.state
        state = record(state, failure(probe=True), now=now, policy=P).state
        timeouts.append(state.next_attempt_at - now)  # type: ignore[operator]
    assert timeouts == [60.0, 120.0, 200.0, 200.0]
    assert [P.recovery_timeout(n) for n in range(1, 5)] == timeouts


def test_closing_resets_the_growth_of_the_recovery_timeout() -> None:
    """After a recovery, the next opening starts again from the base timeout."""
    state = half_open(at=60.0)
    state = acquire(state, now=60.0, policy=P).step.state
    for t in (61.0, 62.0):
        state = record(state, success(probe=True), now=t, policy=P).state
    assert state.state is CLOSED
    state = record(state, failure(C.AUTHENTICATION), now=100.0, policy=P).state
    assert state.next_attempt_at == 100.0 + P.recovery_timeout_s


def test_a_reported_probe_frees_its_permit() -> None:
    """With every permit out, a probe's answer lets the next probe in."""
    state = half_open(at=60.0)
    state = acquire(state, now=61.0, policy=P).step.state
    assert admission(state, 62.0, P) is Admission.REJECT
    state = record(state, success(probe=True), now=62.0, policy=P).state
    assert state.state is HALF
    assert len(state.permits) == P.half_open_max_calls - 1
    assert acquire(state, now=62.0, policy=P).granted


def test_expired_probe_permits_are_reclaimed() -> None:
    """A probe that never reports frees its permit after probe_timeout_s."""
    state = half_open(at=60.0)
    state = acquire(state, now=61.0, policy=P).step.state
    assert len(state.permits) == P.half_open_max_calls
    assert not acquire(state, now=60.0 + P.probe_timeout_s - 0.1, policy=P).granted
    grant = acquire(state, now=60.0 + P.probe_timeout_s, policy=P)
    assert grant.granted
    assert grant.step.state.permits == (61.0, 60.0 + P.probe_timeout_s)


# --- manual overrides ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "action", "to_state", "verdict"),
    [
        (fresh, ManualAction.OPEN, OPEN, Admission.REJECT),
        (opened, ManualAction.CLOSE, CLOSED, Admission.ALLOW),
        (half_open, ManualAction.OPEN, OPEN, Admission.REJECT),
        (half_open, ManualAction.CLOSE, CLOSED, Admission.ALLOW),
        (opened, ManualAction.RESET, CLOSED, Admission.ALLOW),
        (fresh, ManualAction.RESET, CLOSED, Admission.ALLOW),
    ],
)
def test_a_manual_action_transitions_with_who_and_why(
    start: object, action: ManualAction, to_state: CircuitState, verdict: Admission
) -> None:
    """Force open, close and reset each log a transition carrying by and reason."""
    before: BreakerState = start()  # type: ignore[operator]
    step = force(before, action, by="ops@cvplus", reason="incident 42", now=70.0, policy=P)
    assert step.transition == Transition(
        provider_id="heygen",
        from_state=before.state,
        to_state=to_state,
        reason=step.state.last_reason,
        at=70.0,
        by="ops@cvplus",
    )
    assert "ops@cvplus" in step.transition.reason
    assert "incident 42" in step.transition.reason
    assert step.state.state is to_state
    assert step.state.permits == ()
    assert admission(step.state, 70.0, P) is verdict


@pytest.mark.parametrize(
    ("action", "outcomes", "held"),
    [
        (ManualAction.OPEN, [success()] * 10, OPEN),
        (ManualAction.CLOSE, [failure()] * 10, CLOSED),
        (ManualAction.CLOSE, [failure(C.AUTHENTICATION)] * 3, CLOSED),
        (ManualAction.CLOSE, [success(duration_s=P.slow_call_s)] * 10, CLOSED),
    ],
)
def test_a_forced_state_ignores_outcomes_and_time(
    action: ManualAction, outcomes: list[Outcome], held: CircuitState
) -> None:
    """Until reset, neither failures, successes nor elapsed time move a forced breaker."""
    state = force(fresh(), action, by="ops", reason="r", now=0.0, policy=P).state
    step = feed(state, outcomes, at=1.0)
    assert step.state.state is held
    assert step.transition is None
    later = acquire(step.state, now=10_000.0, policy=P)
    assert later.granted is (held is CLOSED)
    assert later.step.state.state is held


def test_reset_clears_the_override_and_the_counts() -> None:
    """After a reset the breaker is a fresh closed one."""
    state = force(opened(), ManualAction.OPEN, by="ops", reason="r", now=1.0, policy=P).state
    assert state.override is not None
    assert state.override.mode is Override.FORCED_OPEN
    reset = force(state, ManualAction.RESET, by="ops", reason="fixed", now=2.0, policy=P).state
    assert reset.override is None
    assert reset.buckets == ()
    assert reset.open_count == 0
    assert admission(reset, 2.0, P) is Admission.ALLOW


def test_failures_right_after_a_mid_bucket_reset_count() -> None:
    """Reset 3 s into a 10 s bucket: the failures of the next 3 s are counted and open it, and
    the failures before the reset, in the same bucket, are not."""
    before = feed(fresh(), [failure(), failure()], at=100.0).state  # bucket 100, not yet open
    reset = force(before, ManualAction.RESET, by="ops", reason="fixed", now=103.0, policy=P).state
    assert feed(reset, [failure(), failure()], at=104.0).state.state is CLOSED
    step = feed(reset, [failure()] * 3, at=104.0)  # 104-106: all in the bucket of 100
    assert step.state.state is OPEN
    assert step.transition is not None
    assert step.transition.reason.startswith("3 failures of 3 calls")


def test_the_provider_policies_match_the_spec() -> None:
    """Thresholds: HeyGen 5, RunwayML 4, D-ID 4; recovery HeyGen 60 s, RunwayML 90 s."""
    assert {p: POLICIES[p].failure_threshold for p in POLICIES} == {
        "heygen": 5,
        "runwayml": 4,
        "did": 4,
    }
    assert POLICIES["heygen"].recovery_timeout_s == 60.0
    assert POLICIES["runwayml"].recovery_timeout_s == 90.0
    assert all(p.half_open_max_calls == 3 and p.success_threshold == 3 for p in POLICIES.values())


# --- random sequences ---------------------------------------------------------------------------

SP = BreakerPolicy(
    failure_threshold=2,
    failure_rate_threshold=0.5,
    window_s=60.0,
    bucket_s=5.0,
    slow_call_s=20.0,
    recovery_timeout_s=10.0,
    recovery_growth=2.0,
    max_recovery_timeout_s=40.0,
    half_open_max_calls=2,
    success_threshold=2,
    probe_timeout_s=15.0,
)


def note(what: str) -> None:
    """Count ``what`` in Hypothesis statistics (``--hypothesis-show-statistics``)."""
    if currently_in_test_context():
        event(what)


class BreakerMachine(RuleBasedStateMachine):
    """Callers acquire, call and report; time passes; operators force. The breaker stays sane."""

    def __init__(self, seen: set[tuple[CircuitState, CircuitState]] | None = None) -> None:
        super().__init__()
        self.state = BreakerState(provider_id="did")
        self.now = 0.0
        # (granted at, probe permit, episode, the permit's grant time to report)
        self.calls: list[tuple[float, bool, int, float | None]] = []
        self.episode = 0  # counts the breaker's half-open periods
        self.seen = seen if seen is not None else set()

    def apply(self, step: Step, *, by: str | None = None) -> None:
        before, after = self.state, step.state
        if step.transition is None:
            assert after.state is before.state
        else:
            t = step.transition
            assert t.from_state is before.state
            assert t.to_state is after.state
            assert t.at == self.now
            assert t.by == by
            self.seen.add((t.from_state, t.to_state))
            if t.to_state is HALF:
                self.episode += 1
            note(f"transition {t.from_state.value} -> {t.to_state.value}")
        self.state = after

    @rule(dt=st.sampled_from([0.0, 1.0, 4.0, 9.0, 16.0, 30.0]))
    def advance(self, dt: float) -> None:
        self.now += dt

    @rule()
    def acquire_a_call(self) -> None:
        grant = acquire(self.state, now=self.now, policy=SP)
        self.apply(grant.step)
        if grant.granted:
            self.calls.append((self.now, grant.probe, self.episode, grant.permit))

    @precondition(lambda self: bool(self.calls))
    @rule(
        pick=st.integers(min_value=0),
        ok=st.booleans(),
        category=st.sampled_from(list(C)),
    )
    def report_a_call(self, pick: int, ok: bool, category: C) -> None:
        started, probe, _, permit = self.calls.pop(pick % len(self.calls))
        outcome = Outcome(
            success=ok,
            duration_s=self.now - started,
            category=None if ok else category,
            counts=ok or STRATEGIES[category].counts_against_breaker,
            probe=probe,
            permit=permit,
        )
        self.apply(record(self.state, outcome, now=self.now, policy=SP))

    @rule(
        # Operators act now and then (None: not this time); a reset ends every drill.
        action=st.sampled_from([*[None] * 8, *ManualAction, ManualAction.RESET]),
        by=st.sampled_from(["ops", "oncall"]),
    )
    def force_it(self, action: ManualAction | None, by: str) -> None:
        if action is None:
            return
        step = force(self.state, action, by=by, reason="drill", now=self.now, policy=SP)
        assert step.transition is not None
        assert by in step.transition.reason
        self.apply(step, by=by)

    @invariant()
    def never_more_probe_permits_than_the_limit(self) -> None:
        assert len(self.state.permits) <= SP.half_open_max_calls
        if self.state.state is HALF:
            # Probes granted in this half-open period, not reported, not yet expired.
            out = [
                c
                for c in self.calls
                if c[1] and c[2] == self.episode and self.now - c[0] < SP.probe_timeout_s
            ]
            assert len(out) <= SP.half_open_max_calls

    @invariant()
    def a_manual_override_always_wins(self) -> None:
        override = self.state.override
        if override is None:
            return
        grant = acquire(self.state, now=self.now, policy=SP)
        if override.mode is Override.FORCED_OPEN:
            assert self.state.state is OPEN
            assert admission(self.state, self.now, SP) is Admission.REJECT
            assert not grant.granted
        else:
            assert self.state.state is CLOSED
            assert admission(self.state, self.now, SP) is Admission.ALLOW
            assert grant.granted

    @invariant()
    def an_open_breaker_admits_nothing_before_its_next_attempt(self) -> None:
        s = self.state
        if s.state is not OPEN:
            return
        if s.override is None:
            assert s.next_attempt_at is not None
        if s.next_attempt_at is None or self.now < s.next_attempt_at:
            assert admission(s, self.now, SP) is not Admission.ALLOW
            assert not acquire(s, now=self.now, policy=SP).granted

    @invariant()
    def a_closed_breaker_holds_no_permits(self) -> None:
        if self.state.state is CLOSED:
            assert self.state.permits == ()
            assert self.state.probe_successes == 0

    @invariant()
    def half_open_is_never_forced(self) -> None:
        if self.state.state is HALF:
            assert self.state.override is None
            assert self.state.probe_successes < SP.success_threshold

    @invariant()
    def note_the_state(self) -> None:
        note(f"state {self.state.state.value}")


TestBreakerMachine = BreakerMachine.TestCase
TestBreakerMachine.settings = settings(max_examples=150, stateful_step_count=80, deadline=None)


def test_the_machine_rules_reach_every_transition() -> None:
    """The random walks are not vacuous: their rules open, half-open, close and reopen it."""
    seen: set[tuple[CircuitState, CircuitState]] = set()
    m = BreakerMachine(seen)

    def check() -> None:
        m.never_more_probe_permits_than_the_limit()
        m.a_manual_override_always_wins()
        m.an_open_breaker_admits_nothing_before_its_next_attempt()
        m.a_closed_breaker_holds_no_permits()
        m.half_open_is_never_forced()

    script = [
        *[m.acquire_a_call] * 2,
        *[lambda: m.report_a_call(0, ok=False, category=C.API_FAILURE)] * 2,  # -> open (10 s)
        lambda: m.advance(16.0),
        m.acquire_a_call,  # -> half-open
        lambda: m.report_a_call(0, ok=False, category=C.TIMEOUT),  # -> open (20 s)
        lambda: m.advance(30.0),
        *[m.acquire_a_call] * 2,  # -> half-open, two probes
        *[lambda: m.report_a_call(0, ok=True, category=C.TIMEOUT)] * 2,  # -> closed
        lambda: m.force_it(ManualAction.OPEN, by="ops"),
        lambda: m.force_it(ManualAction.RESET, by="ops"),
    ]
    for action in script:
        action()
        check()
    assert seen == {(CLOSED, OPEN), (OPEN, HALF), (HALF, OPEN), (HALF, CLOSED), (OPEN, CLOSED)}
    assert m.state == BreakerState(
        provider_id="did", last_reason=m.state.last_reason, counts_since=m.now
    )


def test_a_stale_probe_decides_nothing_and_frees_no_current_permit() -> None:
    """A probe from an earlier half-open episode neither counts nor frees today's permits."""
    state = opened(at=0.0)
    old = acquire(state, now=60.0, policy=P)
    assert old.permit == 60.0
    reopened = record(old.step.state, failure(probe=True), now=61.0, policy=P).state
    later = reopened.next_attempt_at
    assert later is not None
    current = acquire(reopened, now=later, policy=P)
    assert current.permit == later
    stale = Outcome(success=True, duration_s=1.0, probe=True, permit=old.permit)
    after = record(current.step.state, stale, now=later + 1, policy=P).state
    assert after.permits == current.step.state.permits
    assert after.probe_successes == 0


def test_a_probe_frees_exactly_its_own_permit() -> None:
    """Reporting the second of two probes leaves the first one's permit out."""
    first = acquire(opened(at=0.0), now=60.0, policy=P)
    second = acquire(first.step.state, now=61.0, policy=P)
    assert second.step.state.permits == (60.0, 61.0)
    done = Outcome(success=True, duration_s=1.0, probe=True, permit=second.permit)
    after = record(second.step.state, done, now=62.0, policy=P).state
    assert after.permits == (60.0,)
    assert after.probe_successes == 1


def test_failures_counted_before_a_reset_cannot_reopen_the_breaker() -> None:
    """Buckets kept apart from the state (Firestore) still hold old failures; after a reset or a
    close they are history."""
    state = feed(fresh(), [failure()] * 2, at=0.0).state
    reset = force(state, ManualAction.RESET, by="ops", reason="fixed", now=5.0, policy=P).state
    kept = replace(reset, buckets=state.buckets)  # as if the buckets survived the reset
    after = record(kept, failure(), now=10.0, policy=P)
    assert after.transition is None
    assert window(after.state.buckets, now=10.0, policy=P, since=reset.counts_since).failures == 1


def test_a_quiet_provider_is_not_judged_on_its_last_call_alone() -> None:
    """With few recent calls the ratio reaches back until rate_min_calls: one failure after a
    run of successes does not open it, however many failures the window holds."""
    quiet = replace(P, rate_min_calls=10, failure_threshold=3)
    state = fresh()
    t = 0.0
    for k in range(30):  # a call every 2 s, one in ten failing: 3 failures in the window
        outcome = failure() if k % 10 == 9 else success()
        state = record(state, outcome, now=t, policy=quiet).state
        t += 2.0
    assert window(state.buckets, now=t, policy=quiet).failures == 3
    assert state.state is CLOSED


def test_a_maintenance_window_rejects_until_its_end_then_admits_a_probe() -> None:
    """A forced open with ``until`` holds until then, then probes its way back."""
    from shared.core.breaker import (
        Admission,
        BreakerPolicy,
        BreakerState,
        CircuitState,
        ManualAction,
        acquire,
        admission,
        force,
    )

    policy = BreakerPolicy()
    step = force(
        BreakerState(provider_id="heygen"),
        ManualAction.OPEN,
        by="ops",
        reason="maintenance",
        now=100.0,
        policy=policy,
        until=400.0,
    )
    opened = step.state
    assert opened.next_attempt_at == 400.0
    assert opened.override is not None
    assert opened.override.until == 400.0
    assert admission(opened, 399.0, policy) is Admission.REJECT
    assert admission(opened, 400.0, policy) is Admission.PROBE
    grant = acquire(opened, now=401.0, policy=policy)
    assert grant.granted
    assert grant.probe
    assert grant.step.state.state is CircuitState.HALF_OPEN
    assert grant.step.state.override is None
    assert grant.step.transition is not None
    assert grant.step.transition.reason == "maintenance window over"
    held = force(
        BreakerState(provider_id="did"),
        ManualAction.OPEN,
        by="ops",
        reason="until reset",
        now=100.0,
        policy=policy,
    ).state
    assert held.next_attempt_at is None
    assert admission(held, 10_000.0, policy) is Admission.REJECT
