"""Provider scoring and selection (DESIGN section 9): properties over random measured data, and
the hard filters, degradation, preference and load spreading by example."""

from __future__ import annotations

from dataclasses import replace
from itertools import product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.core.breaker import (
    BreakerPolicy,
    BreakerState,
    CircuitState,
    ManualAction,
    Outcome,
    force,
    record,
)
from shared.core.degradation import Degradation
from shared.core.errors import ErrorCategory
from shared.core.model import (
    Capabilities,
    Duration,
    Feature,
    QualityLevel,
    Resolution,
    Tier,
    Urgency,
    VideoOptions,
)
from shared.core.scoring import (
    COMPONENTS,
    LOAD_WAIT_S,
    BusinessRules,
    Candidate,
    ProviderStats,
    Ranking,
    ScoreWeights,
    SelectionRequest,
    rank,
)
from tests.support.scoring import NOW, caps, healthy

BP = BreakerPolicy()
ROUNDING = 0.01 * len(COMPONENTS)  # each component may be rounded to the cent

# --- builders -----------------------------------------------------------------------------------


def candidate(
    pid: str,
    *,
    breaker: BreakerState | None = None,
    in_flight: int = 0,
    stats: ProviderStats | None = None,
    **cap_changes: object,
) -> Candidate:
    return Candidate(
        capabilities=caps(pid, **cap_changes),
        stats=stats or healthy(pid),
        breaker=breaker or BreakerState(provider_id=pid),
        in_flight=in_flight,
    )


def ask(job_key: str = "job-1", **changes: object) -> SelectionRequest:
    return replace(SelectionRequest(job_key=job_key, options=VideoOptions()), **changes)  # type: ignore[arg-type]


def open_breaker(pid: str, *, at: float = NOW) -> BreakerState:
    """Opened by an authentication failure at ``at``: due for a probe 60 s later."""
    failed = Outcome(success=False, category=ErrorCategory.AUTHENTICATION)
    state = record(BreakerState(provider_id=pid), failed, now=at, policy=BP).state
    assert state.state is CircuitState.OPEN
    return state


def scores(ranking: Ranking) -> dict[str, float]:
    return {s.provider_id: s.score for s in ranking.ranked}


# --- strategies ---------------------------------------------------------------------------------


# Strategies are built once: constructing them inside a composite dominates generation time.
_COUNT_1H, _COUNT_24H = st.integers(0, 500), st.integers(0, 10_000)
_SHARE = st.floats(0.0, 1.0)
_P50 = st.none() | st.floats(0.0, 600.0)
_P95_EXTRA = st.none() | st.floats(0.0, 600.0)
_QUALITY = st.none() | st.floats(0.0, 10.0)
_SAMPLES = st.integers(0, 500)
_COST = st.none() | st.floats(0.0, 20.0)
_STREAK = st.integers(0, 20)
_PREDICTED = st.none() | st.floats(0.0, 1.0)
_BREAKER_KIND = st.sampled_from(["closed", "open", "open_due", "half_open", "forced"])
_PERMITS = st.integers(0, BP.half_open_max_calls)
_FORCED = st.sampled_from([ManualAction.OPEN, ManualAction.CLOSE])
_LIMIT = st.integers(1, 10)
_PRIORITY = st.integers(1, 4)
_FEATURES = st.frozensets(st.sampled_from(list(Feature)))
_MAX_DURATION = st.sampled_from([10, 30, 60, 90])
_RESOLUTIONS = st.frozensets(st.sampled_from(list(Resolution)), min_size=1)
_PRICE = st.floats(0.0, 10.0)
_RENDER = st.floats(1.0, 600.0)
_LOAD = st.floats(0.0, 1.0)


@st.composite
def stats_for(draw: st.DrawFn, pid: str) -> ProviderStats:
    calls_1h, calls_24h = draw(_COUNT_1H), draw(_COUNT_24H)
    p50, extra = draw(_P50), draw(_P95_EXTRA)
    return ProviderStats(
        provider_id=pid,
        calls_1h=calls_1h,
        successes_1h=round(calls_1h * draw(_SHARE)),
        calls_24h=calls_24h,
        successes_24h=round(calls_24h * draw(_SHARE)),
        latency_p50_s=p50,
        latency_p95_s=None if p50 is None or extra is None else p50 + extra,
        quality=draw(_QUALITY),
        quality_samples=draw(_SAMPLES),
        cost_per_video=draw(_COST),
        consecutive_failures=draw(_STREAK),
        predicted_failure_rate=draw(_PREDICTED),
    )


@st.composite
def breakers(draw: st.DrawFn, pid: str) -> BreakerState:
    kind = draw(_BREAKER_KIND)
    fresh = BreakerState(provider_id=pid)
    if kind == "closed":
        return fresh
    if kind in ("open", "open_due"):
        return open_breaker(pid, at=NOW - (100.0 if kind == "open_due" else 10.0))
    if kind == "half_open":
        return replace(
            open_breaker(pid, at=NOW - 100.0),
            state=CircuitState.HALF_OPEN,
            permits=tuple(NOW - i for i in range(draw(_PERMITS))),
        )
    return force(fresh, draw(_FORCED), by="ops", reason="r", now=NOW, policy=BP).state


@st.composite
def candidates(draw: st.DrawFn, pid: str) -> Candidate:
    limit = draw(_LIMIT)
    return Candidate(
        capabilities=Capabilities(
            provider_id=pid,
            priority=draw(_PRIORITY),
            features=draw(_FEATURES),
            max_duration_s=draw(_MAX_DURATION),
            resolutions=draw(_RESOLUTIONS),
            price_per_video=draw(_PRICE),
            concurrency_limit=limit,
            typical_render_s=draw(_RENDER),
        ),
        stats=draw(stats_for(pid)),
        breaker=draw(breakers(pid)),
        in_flight=round(limit * draw(_LOAD)),
    )


_CANDIDATE = {pid: candidates(pid) for pid in ["heygen", "did", "runwayml", "synthesia"]}


@st.composite
def pools(draw: st.DrawFn) -> tuple[Candidate, ...]:
    """One to four providers with distinct ids."""
    n = draw(st.integers(1, len(_CANDIDATE)))
    return tuple(draw(strategy) for strategy in list(_CANDIDATE.values())[:n])


options_st = st.builds(
    VideoOptions,
    duration=st.sampled_from(list(Duration)),
    urgency=st.sampled_from(list(Urgency)),
    quality_level=st.sampled_from(list(QualityLevel)),
    resolution=st.sampled_from(list(Resolution)),
    allow_fallback=st.booleans(),
    features=st.frozensets(st.sampled_from(list(Feature))),
)

rules_st = st.builds(
    BusinessRules,
    quality_threshold=st.floats(0.0, 9.5),
    max_cost_per_video=st.none() | st.floats(0.5, 10.0),
    cost_optimization=st.booleans(),
    prioritize_speed=st.booleans(),
    prioritize_quality=st.booleans(),
)

pool_st = pools()

request_st = st.builds(
    SelectionRequest,
    job_key=st.text(min_size=1, max_size=12),
    options=options_st,
    tier=st.sampled_from(list(Tier)),
)


# --- properties ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("speed", "quality", "cost"), list(product([False, True], repeat=3)))
def test_normalised_weights_sum_to_one_for_every_priority_mix(
    speed: bool, quality: bool, cost: bool
) -> None:
    """Whatever is prioritised, the seven weights sum to 1 and none is negative."""
    w = ScoreWeights().normalised(speed=speed, quality=quality, cost=cost)
    assert len(w) == len(COMPONENTS)
    assert sum(w) == pytest.approx(1.0)
    assert min(w) >= 0.0


def test_prioritising_shifts_weight_where_asked() -> None:
    """Speed raises performance, cost raises cost, quality raises business."""
    plain = ScoreWeights().normalised(speed=False, quality=False, cost=False)
    idx = {name: i for i, name in enumerate(COMPONENTS)}
    for flags, component in [
        ({"speed": True}, "performance"),
        ({"cost": True}, "cost"),
        ({"quality": True}, "business"),
    ]:
        boosted = ScoreWeights().normalised(
            **{"speed": False, "quality": False, "cost": False, **flags}
        )
        assert boosted[idx[component]] > plain[idx[component]]


@given(
    raw=st.lists(st.floats(0.01, 1_000.0), min_size=7, max_size=7),
    flags=st.tuples(st.booleans(), st.booleans(), st.booleans()),
)
def test_any_positive_weights_normalise_to_one(raw: list[float], flags: tuple[bool, ...]) -> None:
    """Normalisation holds for configured weights too, not just the defaults."""
    weights = ScoreWeights(**dict(zip(COMPONENTS, raw, strict=True)))
    speed, quality, cost = flags
    assert sum(weights.normalised(speed=speed, quality=quality, cost=cost)) == pytest.approx(1.0)


@settings(max_examples=300)
@given(pool=pool_st, request=request_st, rules=rules_st)
def test_every_score_is_within_0_and_100_and_is_the_sum_of_its_breakdown(
    pool: tuple[Candidate, ...], request: SelectionRequest, rules: BusinessRules
) -> None:
    """Scores span 0-100; each candidate's seven components add up to its score."""
    ranking = rank(pool, request, now=NOW, rules=rules)
    assert len(ranking.ranked) + len(ranking.rejected) == len(pool)
    for s in ranking.ranked:
        assert 0.0 <= s.score <= 100.0 + 1e-9
        assert set(s.breakdown) == set(COMPONENTS)
        assert all(points >= 0.0 for points in s.breakdown.values())
        assert sum(s.breakdown.values()) == pytest.approx(s.score, abs=ROUNDING)
        assert s.reasons
        assert s.provider_id not in {r.provider_id for r in ranking.rejected}
    for r in ranking.rejected:
        assert r.reason


@settings(max_examples=200)
@given(pool=pool_st, request=request_st, rules=rules_st)
def test_same_inputs_give_the_same_ranking(
    pool: tuple[Candidate, ...], request: SelectionRequest, rules: BusinessRules
) -> None:
    """Ranking is a pure function: twice, or with the candidates shuffled, the same order."""
    first = rank(pool, request, now=NOW, rules=rules)
    assert rank(pool, request, now=NOW, rules=rules) == first
    reordered = rank(tuple(reversed(pool)), request, now=NOW, rules=rules)
    assert reordered.ranked == first.ranked
    assert sorted(reordered.rejected, key=lambda r: r.provider_id) == sorted(
        first.rejected, key=lambda r: r.provider_id
    )


@settings(max_examples=300)
@given(
    pool=pool_st,
    request=request_st,
    rules=rules_st,
    which=st.sampled_from(["1h", "24h"]),
    data=st.data(),
)
def test_better_health_never_lowers_a_providers_score(
    pool: tuple[Candidate, ...],
    request: SelectionRequest,
    rules: BusinessRules,
    which: str,
    data: st.DataObject,
) -> None:
    """More successes out of the same number of calls (last hour or last day) never hurt."""
    calls = data.draw(st.integers(1, 10_000), label="calls")
    low = data.draw(st.integers(0, calls - 1), label="successes")
    high = data.draw(st.integers(low + 1, calls), label="more successes")
    field = {"1h": ("calls_1h", "successes_1h"), "24h": ("calls_24h", "successes_24h")}[which]
    # The provider under test always qualifies, so its score exists before and after.
    target = replace(
        pool[0],
        capabilities=caps(pool[0].capabilities.provider_id, priority=pool[0].capabilities.priority),
        breaker=BreakerState(provider_id=pool[0].capabilities.provider_id),
        in_flight=0,
    )
    relaxed = replace(rules, quality_threshold=0.0, max_cost_per_video=None)

    def score_with(successes: int) -> float:
        stats = replace(target.stats, **{field[0]: calls, field[1]: successes})
        ranked = scores(
            rank((replace(target, stats=stats), *pool[1:]), request, now=NOW, rules=relaxed)
        )
        return ranked[target.capabilities.provider_id]

    assert score_with(high) >= score_with(low)


def test_a_perfect_provider_scores_at_most_100() -> None:
    """Components rounded one by one must not add up past the cap."""
    perfect = ProviderStats(
        provider_id="p",
        calls_1h=10**9,
        successes_1h=10**9,
        calls_24h=10**9,
        successes_24h=10**9,
        latency_p50_s=0.0,
        latency_p95_s=0.0,
        quality=10.0,
        quality_samples=10**9,
        cost_per_video=0.0,
        predicted_failure_rate=0.0,
        user_satisfaction=5.0,
        satisfaction_samples=10**9,
    )
    ranking = rank([candidate("p", stats=perfect, price_per_video=0.0)], ask(), now=NOW)
    assert ranking.best is not None
    assert 99.9 <= ranking.best.score <= 100.0


# --- hard filters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "request_", "rules", "reason"),
    [
        (candidate("bad"), ask(excluded=frozenset({"bad"})), BusinessRules(), "already failed"),
        (candidate("bad", breaker=open_breaker("bad")), ask(), BusinessRules(), "circuit open"),
        (candidate("bad", in_flight=10), ask(), BusinessRules(), "concurrency limit (10)"),
        (
            candidate("bad", price_per_video=3.0),
            ask(),
            BusinessRules(max_cost_per_video=2.0),
            "costs $3.00 > $2.00",
        ),
        (
            candidate("bad", stats=healthy("bad", quality=6.0, quality_samples=500)),
            ask(),
            BusinessRules(quality_threshold=8.5),
            "below threshold 8.5",
        ),
        (
            candidate(
                "bad",
                breaker=force(
                    BreakerState(provider_id="bad"),
                    ManualAction.OPEN,
                    by="ops",
                    reason="maintenance",
                    now=NOW,
                    policy=BP,
                ).state,
            ),
            ask(),
            BusinessRules(),
            "circuit open",
        ),
    ],
    ids=[
        "excluded",
        "breaker open",
        "at concurrency limit",
        "too expensive",
        "low quality",
        "forced open",
    ],
)
def test_a_candidate_failing_a_hard_filter_is_rejected_with_a_reason(
    bad: Candidate, request_: SelectionRequest, rules: BusinessRules, reason: str
) -> None:
    """The filtered provider is not ranked; the good one is; the rejection says why."""
    ranking = rank([bad, candidate("good", priority=2)], request_, now=NOW, rules=rules)
    assert [s.provider_id for s in ranking.ranked] == ["good"]
    assert [r.provider_id for r in ranking.rejected] == ["bad"]
    assert reason in ranking.rejected[0].reason


def test_an_open_breaker_says_when_it_will_admit_a_probe() -> None:
    """A rejection by an open breaker carries its next attempt time; a capability one none."""
    ranking = rank(
        [candidate("open", breaker=open_breaker("open")), candidate("tiny", max_duration_s=5)],
        ask(),
        now=NOW + 1.0,
    )
    until = {r.provider_id: r.until for r in ranking.rejected}
    assert until == {"open": NOW + BP.recovery_timeout_s, "tiny": None}


def test_an_open_breaker_past_its_timeout_is_a_probe_candidate() -> None:
    """Once due, an open provider is ranked and flagged as needing a probe permit."""
    due = rank([candidate("p", breaker=open_breaker("p"))], ask(), now=NOW + BP.recovery_timeout_s)
    assert due.best is not None
    assert due.best.probe
    assert any("probe" in r for r in due.best.reasons)


RUNWAY = {"features": frozenset(), "priority": 2}


def test_a_provider_without_voice_is_rejected_when_fallback_is_not_allowed() -> None:
    """RunwayML has no voice or lip-sync: a talking-head job that may not degrade skips it."""
    ranking = rank(
        [candidate("runwayml", **RUNWAY)],
        ask(options=VideoOptions(allow_fallback=False)),
        now=NOW,
    )
    assert ranking.ranked == ()
    assert ranking.rejected[0].reason == "cannot do lip_sync, voice"


def test_a_provider_without_voice_is_accepted_degraded_when_fallback_is_allowed() -> None:
    """With fallback allowed it is ranked, asked for a silent video, and says so."""
    ranking = rank([candidate("runwayml", **RUNWAY)], ask(), now=NOW)
    best = ranking.best
    assert best is not None
    assert best.degradations == (Degradation.DROP_VOICE,)
    assert best.options.features == frozenset()
    assert any("degraded to fit" in r for r in best.reasons)


def test_a_degraded_fit_scores_below_the_same_provider_serving_as_asked() -> None:
    """A video with less than was asked is worth less."""
    full = rank([candidate("a")], ask(), now=NOW).best
    silent = rank([candidate("a", features=frozenset())], ask(), now=NOW).best
    assert full is not None
    assert silent is not None
    assert silent.score < full.score


def test_a_half_open_breaker_lowers_health_and_needs_a_probe() -> None:
    """A recovering provider is ranked, flagged as a probe, and scored lower on health."""
    half = replace(open_breaker("a", at=NOW - 100.0), state=CircuitState.HALF_OPEN, permits=())
    probing = rank([candidate("a", breaker=half)], ask(), now=NOW).best
    closed = rank([candidate("a")], ask(), now=NOW).best
    assert probing is not None
    assert closed is not None
    assert probing.probe
    assert not closed.probe
    assert probing.breakdown["health"] < closed.breakdown["health"]


def test_an_open_breaker_due_for_a_probe_scores_no_healthier_than_a_half_open_one() -> None:
    """Due for a probe, an open provider is as doubtful as a half-open one, not as a closed one."""
    half = replace(open_breaker("a", at=NOW - 100.0), state=CircuitState.HALF_OPEN, permits=())
    due = open_breaker("a", at=NOW - BP.recovery_timeout_s - 1.0)
    probing = rank([candidate("a", breaker=half)], ask(), now=NOW).best
    reopening = rank([candidate("a", breaker=due)], ask(), now=NOW).best
    assert probing is not None
    assert reopening is not None
    assert reopening.probe
    assert reopening.breakdown["health"] == probing.breakdown["health"]


def test_a_zero_cost_limit_is_a_limit_not_an_absence() -> None:
    """max_cost_per_video=0 rejects every paid provider instead of being ignored."""
    ranking = rank([candidate("a")], ask(), now=NOW, rules=BusinessRules(max_cost_per_video=0.0))
    assert ranking.best is None


def test_load_near_the_concurrency_limit_is_penalised() -> None:
    """A provider at 9 of 10 in flight scores below the same one idle."""
    busy = rank([candidate("a", in_flight=9)], ask(), now=NOW).best
    idle = rank([candidate("a", in_flight=0)], ask(), now=NOW).best
    assert busy is not None
    assert idle is not None
    assert busy.breakdown["context"] < idle.breakdown["context"]


# --- ordering, preference, spreading ------------------------------------------------------------


def test_the_preferred_provider_comes_first_when_it_qualifies() -> None:
    """A retry on the same provider keeps it first even when another scores higher."""
    pool = [candidate("heygen", priority=1), candidate("did", priority=3)]
    plain = rank(pool, ask(), now=NOW)
    assert plain.ranked[0].provider_id == "heygen"
    assert plain.ranked[0].score - plain.ranked[1].score > BusinessRules().spread_margin
    preferred = rank(pool, ask(prefer="did"), now=NOW)
    assert [s.provider_id for s in preferred.ranked] == ["did", "heygen"]


def test_a_preferred_provider_that_does_not_qualify_is_not_forced_in() -> None:
    """Preference never overrides a hard filter."""
    pool = [candidate("heygen"), candidate("did", breaker=open_breaker("did"))]
    ranking = rank(pool, ask(prefer="did"), now=NOW)
    assert [s.provider_id for s in ranking.ranked] == ["heygen"]


def first_choices(pool: list[Candidate], jobs: int = 1_000) -> dict[str, int]:
    counts = {c.capabilities.provider_id: 0 for c in pool}
    for i in range(jobs):
        best = rank(pool, ask(job_key=f"job-{i}"), now=NOW).best
        assert best is not None
        counts[best.provider_id] += 1
    return counts


def test_near_equal_candidates_share_traffic_across_jobs() -> None:
    """Two equal providers each take between 30 % and 70 % of 1000 jobs."""
    counts = first_choices([candidate("heygen"), candidate("did")])
    assert all(300 <= n <= 700 for n in counts.values()), counts


def test_a_clearly_better_candidate_takes_every_job() -> None:
    """Outside the spread margin, the best provider is first for every job."""
    worse = healthy("did", successes_1h=50, successes_24h=500, consecutive_failures=3)
    pool = [candidate("heygen"), candidate("did", stats=worse, priority=2)]
    assert first_choices(pool) == {"heygen": 1_000, "did": 0}


def test_each_ranked_candidate_explains_itself() -> None:
    """Every Scored carries readable reasons: priority, success, latency, quality, load."""
    ranking = rank([candidate("heygen"), candidate("did", priority=2)], ask(), now=NOW)
    for s in ranking.ranked:
        text = " | ".join(s.reasons)
        for word in ("priority", "success", "p50", "quality", "load"):
            assert word in text


def test_a_job_that_may_not_fall_back_takes_no_probe_permit() -> None:
    """Probes are left to jobs with a way out; the rejection says when to look again."""
    due = open_breaker("p")
    ranking = rank(
        [candidate("p", breaker=due)],
        ask(options=VideoOptions(allow_fallback=False)),
        now=NOW + BP.recovery_timeout_s,
    )
    assert ranking.ranked == ()
    assert "probes are left to jobs that may fall back" in ranking.rejected[0].reason
    assert ranking.next_chance() is not None


def test_the_silent_clip_is_for_providers_that_are_out_not_busy() -> None:
    """A provider that can make only a 10 s silent clip is ranked when the others are out, and
    held (the job waits LOAD_WAIT_S) while one that could do better is only at its limit."""
    clip = candidate("clip", features=frozenset(), max_duration_s=10)
    down = candidate("spoken", breaker=open_breaker("spoken"))
    out = rank([down, clip], ask(), now=NOW + 1.0)
    assert [s.provider_id for s in out.ranked] == ["clip"]
    assert out.ranked[0].degradations[-1] is Degradation.SHORT_TO_CLIP

    busy = candidate("spoken", in_flight=10, concurrency_limit=10)
    held = rank([busy, clip], ask(), now=NOW)
    assert held.ranked == ()
    assert {r.provider_id: r.until for r in held.rejected} == {
        "spoken": NOW + LOAD_WAIT_S,
        "clip": NOW + LOAD_WAIT_S,
    }
    assert "held while spoken is only busy" in held.rejected[1].reason

    resting = rank([candidate("spoken"), clip], ask(resting={"spoken": NOW + 30}), now=NOW)
    assert resting.ranked == ()
    assert resting.next_chance() == NOW + 30  # back when the resting provider is


def test_owner_ratings_feed_the_performance_score_through_a_prior() -> None:
    """UserSatisfaction moves the performance component, a few ratings a
    little and many a lot, as the other measured inputs do."""

    def performance(**figures: object) -> float:
        ranking = rank([candidate("p", stats=healthy("p", **figures))], ask(), now=NOW)
        assert ranking.best is not None
        return ranking.best.breakdown["performance"]

    unrated = performance()
    assert performance(user_satisfaction=1.0, satisfaction_samples=2) < unrated
    assert performance(user_satisfaction=1.0, satisfaction_samples=200) < performance(
        user_satisfaction=1.0, satisfaction_samples=2
    )
    assert performance(user_satisfaction=5.0, satisfaction_samples=200) > unrated


def _breakdown(**figures: object) -> dict[str, float]:
    c = candidate("p", stats=healthy("p", **{k: v for k, v in figures.items() if k != "in_flight"}))
    c = replace(c, in_flight=int(figures.get("in_flight", 0)))  # type: ignore[call-overload]
    ranking = rank([c], ask(), now=NOW)
    assert ranking.best is not None
    return dict(ranking.best.breakdown)


def test_time_of_day_consistency_and_optimal_load_enter_the_score() -> None:
    """The context score weighs how the provider did at this hour of the day,
    the reliability score its consistency (p50 / p95), and load spreading measures load
    against the predicted optimal concurrency instead of the plan's limit."""
    base = _breakdown()
    bad_hour = _breakdown(same_hour_calls=200, same_hour_success_rate=0.5)
    good_hour = _breakdown(same_hour_calls=200, same_hour_success_rate=1.0)
    assert bad_hour["context"] < base["context"] < good_hour["context"]
    steady = _breakdown(latency_p50_s=60.0, latency_p95_s=61.0)
    erratic = _breakdown(latency_p50_s=60.0, latency_p95_s=240.0)
    assert erratic["reliability"] < steady["reliability"]
    busy_for_limit = _breakdown(in_flight=3)
    busy_for_prediction = _breakdown(in_flight=3, recommended_concurrency=3)
    assert busy_for_prediction["context"] < busy_for_limit["context"]
    assert (
        _breakdown(in_flight=3, recommended_concurrency=50)["context"] == busy_for_limit["context"]
    )
