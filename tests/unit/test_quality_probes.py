"""A provider filtered out for failed quality checks gets probes (a small,
stable share of the jobs that may fall back) instead of staying out for a day, and an admin can
reset its quality; the health check then counts only later renders."""

from __future__ import annotations

from shared.core.breaker import BreakerState
from shared.core.model import VideoOptions
from shared.core.scoring import BusinessRules, Candidate, SelectionRequest, rank
from shared.core.tracking import MetricsSnapshot, Operation, aggregate
from tests.support.scoring import NOW, caps, healthy

# Two failed quality checks in ten renders: (8 * 10 + 45) / 15 = 8.3 with the prior, < 8.5.
LOCKED = healthy("heygen", quality=8.0, quality_samples=10)


def _candidates() -> list[Candidate]:
    return [
        Candidate(
            capabilities=caps("heygen"), stats=LOCKED, breaker=BreakerState(provider_id="heygen")
        ),
        Candidate(
            capabilities=caps("did", priority=2),
            stats=healthy("did"),
            breaker=BreakerState(provider_id="did"),
        ),
    ]


def _firsts(rules: BusinessRules, *, allow_fallback: bool = True, jobs: int = 2000) -> list[str]:
    firsts = []
    for i in range(jobs):
        request = SelectionRequest(
            job_key=f"job-{i}", options=VideoOptions(allow_fallback=allow_fallback)
        )
        ranking = rank(_candidates(), request, now=NOW, rules=rules)
        assert ranking.best is not None
        firsts.append(ranking.best.provider_id)
    return firsts


def test_a_provider_below_the_quality_bar_gets_a_small_share_of_jobs_as_probes() -> None:
    firsts = _firsts(BusinessRules(quality_probe_share=0.05))
    share = firsts.count("heygen") / len(firsts)
    assert 0.03 < share < 0.07
    request = SelectionRequest(job_key="job-x", options=VideoOptions())
    again = rank(_candidates(), request, now=NOW, rules=BusinessRules(quality_probe_share=0.05))
    assert again == rank(
        _candidates(), request, now=NOW, rules=BusinessRules(quality_probe_share=0.05)
    )


def test_a_quality_probe_goes_first_and_says_why() -> None:
    rules = BusinessRules(quality_probe_share=1.0)
    request = SelectionRequest(job_key="job-1", options=VideoOptions())
    best = rank(_candidates(), request, now=NOW, rules=rules).best
    assert best is not None
    assert best.provider_id == "heygen"
    assert best.quality_probe
    assert any(r.startswith("quality probe") for r in best.reasons)


def test_jobs_that_may_not_fall_back_never_probe_and_a_share_of_zero_turns_probes_off() -> None:
    assert "heygen" not in _firsts(BusinessRules(quality_probe_share=1.0), allow_fallback=False)
    assert "heygen" not in _firsts(BusinessRules(quality_probe_share=0.0), jobs=200)


def _render(at: float, quality: float) -> MetricsSnapshot:
    return MetricsSnapshot(
        provider_id="heygen",
        at=at,
        operation=Operation.GENERATION,
        success=quality > 0,
        response_time_s=60.0,
        quality=quality,
    )


def test_after_a_quality_reset_only_later_renders_count() -> None:
    renders = [_render(NOW - 600 + i, 0.0 if i < 2 else 10.0) for i in range(10)]
    renders.append(_render(NOW - 10, 10.0))
    before = aggregate(renders, provider_id="heygen", now=NOW, concurrency_limit=10).stats
    assert (before.quality, before.quality_samples) == (90.0 / 11, 11)
    after = aggregate(
        renders, provider_id="heygen", now=NOW, concurrency_limit=10, quality_since=NOW - 60
    ).stats
    assert (after.quality, after.quality_samples) == (10.0, 1)


def test_the_stats_carry_this_hour_of_day_and_the_predicted_optimal_load() -> None:
    """The inputs selection reads for time of day and load spreading."""
    day = 86_400.0
    renders = [_render(NOW - k * day - 60, 10.0 if k % 2 else 0.0) for k in range(1, 7)]
    renders += [_render(NOW - k * 60, 10.0) for k in range(1, 30)]
    stats = aggregate(renders, provider_id="heygen", now=NOW, concurrency_limit=10).stats
    assert stats.same_hour_calls >= 6
    assert stats.same_hour_success_rate is not None
    assert stats.same_hour_success_rate < 1.0
    assert stats.recommended_concurrency is not None
    assert 1 <= stats.recommended_concurrency <= 10
